"""The public API other apps embed: :class:`Recommender`.

One instance per process serves many sessions. Every turn runs through a LangGraph graph whose
state (constraints, session feedback, shown items) is checkpointed in SQLite by session id, so a
session survives a restart. Feedback is stored durably (idempotent by event id) before it is
applied to the session.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.config import TrustrecConfig, load_config
from agent.engine import Engine
from agent.reply import CardEvent, CardsEvent, ItemCard, Reply, ReplyEvent, TextEvent, TurnEvent
from agent.safety import check_message
from agent.sessions import Sessions
from agent.state import DialogState, MemoryPart
from agent.tools_mode import run_tools_turn
from catalog import FeedbackEvent
from catalog.errors import BadInput, UnknownItem

MAX_ID_CHARS = 128


def _check_id(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise BadInput(f"{name} must be a non-empty string of at most {MAX_ID_CHARS} characters")
    return value


class Recommender:
    """The conversational recommender.

    Args:
        engine: The built components (:meth:`Engine.build`).
        sessions_path: SQLite file or PostgreSQL URL for the dialog checkpoints (default: the workspace's
            ``sessions_target``: the configured PostgreSQL store, else ``sessions.sqlite3`` beside the store).

    Use :meth:`from_config` rather than the constructor.
    """

    def __init__(self, engine: Engine, *, sessions_path: Path | None = None) -> None:
        self.engine = engine
        path = sessions_path or engine.workspace.sessions_target
        cfg = engine.config.agent
        self.sessions = Sessions(
            engine,
            path,
            max_locks=cfg.max_sessions_cached,
            busy_timeout_s=cfg.session_busy_timeout_s,
            turn_bound_s=cfg.turn_timeout_s,
        )
        self.mode = _mode(engine.config)

    @classmethod
    def from_config(
        cls,
        source: str | Path | dict[str, Any] | TrustrecConfig | None = None,
        *,
        progress: Callable[[str], None] | None = None,
        llm: Any = "config",
        warm_up: bool = True,
    ) -> Recommender:
        """Build from a TOML path, a dict, a config object, or the default locations.

        Args:
            source: Config source (see :func:`agent.config.load_config`).
            progress: Called with one line per set-up step (the first run trains and indexes).
            llm: ``"config"`` (build the configured model), ``None`` (templates only) or a chat model.
            warm_up: Warm the explainer up before returning; False leaves it to :class:`agent.warmup.Warmup`.
        """
        cfg = source if isinstance(source, TrustrecConfig) else load_config(source)
        return cls(Engine.build(cfg, progress=progress, llm=llm, warm_up=warm_up))

    # ---------------------------------------------------------------- sessions
    def _dialog(self, session_id: str) -> DialogState:
        return self.sessions.dialog(session_id)

    # ---------------------------------------------------------------- chat
    def _input(self, session_id: str, message: str, user_id: str | None) -> dict[str, Any]:
        _check_id("session_id", session_id)
        if user_id is not None:
            _check_id("user_id", user_id)
        text = check_message(message, self.engine.config.agent.understand.safety)
        self.engine.sync_tombstones()  # a user deleted on another replica is not served from memory here
        self.sessions.remember(session_id, user_id)
        # every key of the turn is given, so nothing of an earlier turn's input (intent) lingers in the checkpoint
        return {"session_id": session_id, "message": text, "user_id": user_id, "llm_ok": True, "intent": None}

    def chat(self, session_id: str, message: str, user_id: str | None = None) -> Reply:
        """One turn: understand, retrieve, rank, explain, write.

        Raises:
            ValueError: Empty or too long ids; ``MessageTooLong`` (a ValueError) for a long message.
        """
        inp = self._input(session_id, message, user_id)
        with self.sessions.turn(session_id):
            if self.mode == "tools":
                return run_tools_turn(self.engine, self.sessions, inp)
            out = self.sessions.invoke(inp)
        return Reply.model_validate(out["reply"])

    async def achat(self, session_id: str, message: str, user_id: str | None = None) -> Reply:
        """:meth:`chat` without blocking the event loop."""
        return await asyncio.to_thread(self.chat, session_id, message, user_id)

    def stream(self, session_id: str, message: str, user_id: str | None = None) -> Iterator[TurnEvent]:
        """One turn as it happens: cards first, words after.

        Yields :data:`agent.reply.TurnEvent` objects: the headline (:class:`TextEvent`); every card with
        its template explanation, trust and attributions as soon as ranking is done (:class:`CardsEvent`);
        a :class:`CardEvent` each time LLM text that passed the grounding guard and the claim checker
        replaces a card's template text; any trailing text; last the :class:`ReplyEvent`, whose reply
        equals what :meth:`chat` returns for the same turn.

        Raises:
            ValueError: As :meth:`chat`, before the first event.
        """
        inp = self._input(session_id, message, user_id)
        with self.sessions.turn(session_id):
            if self.mode == "tools":
                reply = run_tools_turn(self.engine, self.sessions, inp)
                yield TextEvent(text=reply.text)
                if reply.cards:
                    yield CardsEvent(cards=reply.cards)
                yield ReplyEvent(reply=reply)
                return
            final: dict[str, Any] | None = None
            for mode, chunk in self.sessions.stream(inp):
                if mode == "custom" and isinstance(chunk, dict):
                    event = _event(chunk)
                    if event is not None:
                        yield event
                elif mode == "values":
                    final = chunk
        assert final is not None and final.get("reply") is not None
        yield ReplyEvent(reply=Reply.model_validate(final["reply"]))

    def recommend(self, user_id: str | None, n: int, session_id: str | None = None) -> Reply:
        """A list of ``n`` recommendations with evidence, without a chat message to parse.

        Args:
            user_id: A known user (their history is used) or None (cold start).
            n: List length (1..MAX_N of the dialog constraints).
            session_id: The session to record the list in; a fresh one when None.

        Raises:
            ValueError: Bad ids or ``n`` out of range.
        """
        sid = session_id or f"rec-{uuid.uuid4().hex}"
        _check_id("session_id", sid)
        if user_id is not None:
            _check_id("user_id", user_id)
        self.engine.sync_tombstones()
        self.sessions.remember(sid, user_id)
        with self.sessions.turn(sid):
            d = self._dialog(sid)
            if user_id is not None:
                d.user_id = user_id
            d.edit_constraints(n=n)
            self.sessions.save(d)
            # a typed call: the graph gets the intent, not a word to parse
            inp = {"session_id": sid, "message": "", "user_id": user_id, "llm_ok": True, "intent": "recommend"}
            out = self.sessions.invoke(inp)
        return Reply.model_validate(out["reply"])

    def explain(self, session_id: str, item_id: str, user_id: str | None = None) -> ItemCard:
        """Explain one item for a session's user as if it were recommended now.

        Raises:
            KeyError: The item is not in the catalog.
            ValueError: Bad ids.
        """
        _check_id("session_id", session_id)
        e = self.engine
        e.sync_tombstones()
        i = e.item_idx(item_id)
        if i is None:
            raise UnknownItem(f"unknown item_id {item_id!r}")
        d = self._dialog(session_id)
        if user_id is not None:
            d.user_id = _check_id("user_id", user_id)
        ev = e.explain_item(d, i)
        card = ItemCard.from_evidence(1, ev, description=e.description(item_id), item=e.dataset.item(item_id))
        x = e.writer.write(ev)
        card.explanation, card.writer, card.grounded = x.text, x.writer, x.grounded
        return card

    # ---------------------------------------------------------------- feedback and memory
    def feedback(self, event: FeedbackEvent) -> bool:
        """Store a user's feedback durably, then apply it to the session at once (while the same session's
        turn runs, right after that turn, before the session's next one: :meth:`Sessions.feedback`).

        Returns:
            False when this ``event_id`` was seen before (nothing changes), else True.

        Raises:
            KeyError: The item is not in the catalog.
            SessionBusy: Hundreds of events already wait for the session's running turn.
        """
        if self.engine.item_idx(event.item_id) is None:
            raise UnknownItem(f"unknown item_id {event.item_id!r}")
        new = self.engine.store.add_feedback(event)
        self.sessions.feedback(event)  # at once, or right after the session's running turn (agent.sessions)
        return new

    def profile(self, session_id: str) -> dict[str, Any]:
        """The editable preference memory of a session: constraints, likes, dislikes (with titles)."""
        _check_id("session_id", session_id)
        d = self.sessions.dialog(session_id, pending=True)  # a like sent during a running turn is shown
        mem = d.memory()
        label = self.engine.vocab.label
        return {
            "session_id": session_id,
            "user_id": d.user_id,
            "turn": d.turn,
            "constraints": mem["constraints"],
            "liked": [{"item_id": i, "title": label(i)} for i in mem["liked"]],
            "disliked": [{"item_id": i, "title": label(i)} for i in mem["disliked"]],
            "not_interested": [{"item_id": i, "title": label(i)} for i in mem["not_interested"]],
            "shown": [{"item_id": i, "title": label(i)} for i in d.shown],
        }

    def edit_profile(self, session_id: str, **constraints: Any) -> dict[str, Any]:
        """Set constraint fields (validated) and return the new profile."""
        with self.sessions.turn(session_id):
            d = self._dialog(session_id)
            d.edit_constraints(**constraints)
            self.sessions.save(d)
        return self.profile(session_id)

    def clear_profile(self, session_id: str, part: MemoryPart = "all") -> dict[str, Any]:
        """Forget part of the memory (constraints, likes, dislikes, not_interested, ratings, feedback, all)."""
        with self.sessions.turn(session_id):
            d = self._dialog(session_id)
            d.clear(part)
            self.sessions.save(d)
        return self.profile(session_id)

    def sessions_of(self, user_id: str) -> list[str]:
        """The ids of every session that acted for ``user_id``."""
        _check_id("user_id", user_id)
        return self.sessions.of_user(user_id)

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Erase a user: their store rows, tokens and every session they had, leaving no trace in the files.

        A tombstone (a hash of the id) makes the next training leave them out; until then their
        history is neither used nor shown (they are served like a new user).
        """
        _check_id("user_id", user_id)
        e = self.engine
        sids = self.sessions_of(user_id)
        forgot = e.store.forget_user(user_id, sids)
        counts = e.store.delete_user(user_id)
        history = e.forget_in_memory(user_id)  # other replicas learn of it from the store (sync_tombstones)
        counts = {**counts, "history": history, "tokens": forgot["tokens"]}
        if e.batch is not None:
            counts["batch_results"] = e.batch.delete_user(user_id)
        return {**counts, "sessions": self.sessions.erase_user(user_id)}

    def close(self) -> None:
        self.sessions.close()
        self.engine.close()


def _event(chunk: dict[str, Any]) -> TurnEvent | None:
    """A streamed graph event as a typed :data:`TurnEvent` (None for anything else a node streams)."""
    kind = chunk.get("kind")
    if kind == "text":
        return TextEvent.model_validate(chunk)
    if kind == "cards":
        return CardsEvent.model_validate(chunk)
    if kind == "card":
        return CardEvent.model_validate(chunk)
    return None


def _mode(cfg: TrustrecConfig) -> str:
    if cfg.agent.mode != "auto":
        return cfg.agent.mode
    return "tools" if cfg.llm.backend == "openai" else "guided"
