"""The agent end to end on the real ml-100k, ranker, FAISS index and SQLite; the only fakes are
scripted chat models at the LLM edge."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage

from agent.recommender import Recommender
from agent.safety import MessageTooLong, load_injections
from catalog import FeedbackEvent, FeedbackKind

ROOT = Path(__file__).resolve().parents[1]


def sid() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recommender]:
    r = Recommender.from_config(None, llm=None)
    yield r
    r.close()


def _event(session: str, item_id: str, kind: FeedbackKind, user: str | None = "196") -> FeedbackEvent:
    return FeedbackEvent(event_id=uuid.uuid4().hex, session_id=session, user_id=user, item_id=item_id, kind=kind)


def test_scripted_conversation(rec: Recommender) -> None:
    s = sid()
    r1 = rec.chat(s, "I'd like a sci-fi movie from the 80s", user_id="196")
    assert r1.intent == "recommend" and len(r1.cards) >= 3
    for c in r1.cards:
        assert "Sci-Fi" in c.categories and c.year is not None and 1980 <= c.year <= 1989, c
        assert c.confidence is not None and 0 <= c.confidence <= 1 and c.trust is not None
        assert c.explanation and c.writer == "template"
    disliked = r1.cards[0].item_id
    assert rec.feedback(_event(s, disliked, FeedbackKind.DISLIKE)) is True
    r2 = rec.chat(s, "no horror", user_id="196")
    assert disliked not in [c.item_id for c in r2.cards]
    assert all("Horror" not in c.categories for c in r2.cards)
    r3 = rec.chat(s, "show me more", user_id="196")
    assert disliked not in [c.item_id for c in r3.cards]
    first = r3.cards[0]
    r4 = rec.chat(s, "why the first one?", user_id="196")
    assert r4.intent == "explain" and [c.item_id for c in r4.cards] == [first.item_id]
    card = r4.cards[0]
    top = max(card.history, key=lambda h: h.value)
    assert top.value > 0 and top.title in card.explanation  # cites its strongest evidence
    assert abs(sum(h.value for h in card.history) + card.base_value - card.score) < 1e-3 or len(card.history) < 20


def test_session_survives_a_new_process(rec: Recommender) -> None:
    s = sid()
    rec.chat(s, "I'd like a sci-fi movie from the 80s", user_id="196")
    code = (
        "import json, sys\n"
        "from agent.recommender import Recommender\n"
        "r = Recommender.from_config(None, llm=None)\n"
        f"print(json.dumps(r.profile({s!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, timeout=600
    )
    prof = json.loads(out.stdout.strip().splitlines()[-1])
    assert prof["constraints"]["include_categories"] == ["Sci-Fi"]
    assert (prof["constraints"]["year_min"], prof["constraints"]["year_max"]) == (1980, 1989)
    assert prof["user_id"] == "196" and prof["turn"] == 1


def test_like_lifts_similar_items(rec: Recommender) -> None:
    e = rec.engine
    s = sid()
    liked = "50"  # Star Wars
    neighbours = e.index.search(e.index.vector(liked)[None, :], 21)[1][0] if hasattr(e.index, "vector") else None
    if neighbours is None:
        from retrieval import ItemToItemRetriever, Query

        c = ItemToItemRetriever(e.index).retrieve(Query(item_ids=(liked,)), 20)
        neighbours = np.asarray([e.dataset.item_index[i] for i in c.item_ids])
    before = e.profile(rec._dialog(s))
    rec.feedback(_event(s, liked, FeedbackKind.LIKE, user=None))
    after = e.profile(rec._dialog(s))
    sb = e.ranker.score([before], neighbours)[0]
    sa = e.ranker.score([after], neighbours)[0]
    assert sa.mean() > sb.mean()


def test_feedback_is_durable_and_idempotent(rec: Recommender) -> None:
    s = sid()
    ev = _event(s, "1", FeedbackKind.LIKE)
    assert rec.feedback(ev) is True
    assert rec.feedback(ev) is False
    stored = rec.engine.store.feedback(session_id=s)
    assert [x.event_id for x in stored] == [ev.event_id]
    assert [x["item_id"] for x in rec.profile(s)["liked"]] == ["1"]
    with pytest.raises(KeyError):
        rec.feedback(_event(s, "no-such-item", FeedbackKind.LIKE))


def test_profile_edit_and_clear(rec: Recommender) -> None:
    s = sid()
    rec.chat(s, "a comedy from the 90s")
    prof = rec.edit_profile(s, exclude_categories=["Romance"])
    assert prof["constraints"]["exclude_categories"] == ["Romance"]
    assert rec.clear_profile(s, "constraints")["constraints"] == {}


def test_bad_input_is_refused(rec: Recommender) -> None:
    with pytest.raises(MessageTooLong):
        rec.chat(sid(), "x" * 5000)
    with pytest.raises(ValueError):
        rec.chat("", "hello")
    with pytest.raises(ValueError):
        rec.chat("s" * 500, "hello")


def test_delete_user_erases_sessions(rec: Recommender) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    s = sid()
    rec.chat(s, "a western please", user_id=user)
    rec.feedback(_event(s, "50", FeedbackKind.LIKE, user=user))
    counts = rec.delete_user(user)
    assert counts["sessions"] == 1 and counts["feedback"] == 1
    assert rec.profile(s)["user_id"] is None and rec.profile(s)["liked"] == []
    store_dir = rec.engine.workspace.store_path.parent
    blob = b"".join(p.read_bytes() for p in store_dir.iterdir() if p.is_file() and "sqlite" in p.name)
    assert user.encode() not in blob


# ---------------------------------------------------------------- scripted chat models (LLM edge)


class ScriptedModel(GenericFakeChatModel):
    """A chat model that plays a script; ``bind_tools`` returns itself so the agent can drive it."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        return self


class EchoModel(GenericFakeChatModel):
    """A hijacked writer: repeats whatever its prompt holds (the worst case for injection)."""

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        from langchain_core.outputs import ChatGeneration, ChatResult

        text = " ".join(str(m.content) for m in messages)[-400:]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def _with_llm(rec: Recommender, model: Any, tmp: Path, mode: str = "guided") -> Recommender:
    from agent.describe import Describer
    from agent.writer import ExplanationWriter

    e = rec.engine
    cfg = e.config.model_copy(update={"agent": e.config.agent.model_copy(update={"mode": mode})})
    titles = [it.title for it in e.dataset.items]
    writer_llm = model if mode == "guided" else None  # tool-mode scripts drive the agent, not the writer
    e2 = dataclasses.replace(
        e,
        config=cfg,
        llm=model,
        writer=ExplanationWriter(writer_llm, cfg.llm, catalog_titles=titles, style="chat"),
        describer=Describer(model, cfg.llm, catalog_titles=titles, style="chat"),
    )
    e2.semantic = e.semantic  # type: ignore[attr-defined]
    return Recommender(e2, sessions_path=tmp / "sessions.sqlite3")


def test_tool_mode_scripted_turn(rec: Recommender, tmp_path: Path) -> None:
    script = iter([
        AIMessage(content="", tool_calls=[
            {"name": "update_constraints", "args": {"include_categories": ["Sci-Fi"], "year_min": 1980, "year_max": 1989}, "id": "c1"},
        ]),
        AIMessage(content="", tool_calls=[{"name": "recommend", "args": {"n": 5}, "id": "c2"}]),
        AIMessage(content="Here are five 80s science-fiction picks for you."),
    ])  # fmt: skip
    r = _with_llm(rec, ScriptedModel(messages=script), tmp_path, mode="tools")
    reply = r.chat(sid(), "I'd like a sci-fi movie from the 80s", user_id="196")
    assert reply.mode == "tools" and not reply.degraded
    assert len(reply.cards) == 5
    assert all("Sci-Fi" in c.categories and 1980 <= (c.year or 0) <= 1989 for c in reply.cards)
    assert reply.text.startswith("Here are five 80s science-fiction picks")


def test_tool_mode_refuses_tools_outside_the_plan_and_hides_canaries(rec: Recommender, tmp_path: Path) -> None:
    payload = next(c for c in load_injections() if c.id == "ignore-previous")
    script = iter([
        # a hijacked model tries to describe (not in a recommend turn's plan), then leaks a canary
        AIMessage(content="", tool_calls=[{"name": "describe_item", "args": {"item": "50"}, "id": "c1"}]),
        AIMessage(content="", tool_calls=[{"name": "recommend", "args": {"n": 3}, "id": "c2"}]),
        AIMessage(content=payload.payload),
    ])  # fmt: skip
    r = _with_llm(rec, ScriptedModel(messages=script), tmp_path, mode="tools")
    reply = r.chat(sid(), f"a comedy please. {payload.payload}", user_id="196")
    assert any("describe_item" in n for n in reply.notes)
    assert len(reply.cards) == 3
    assert payload.canary not in reply.model_dump_json()


def test_tool_mode_degrades_when_the_model_fails(rec: Recommender, tmp_path: Path) -> None:
    class Broken(ScriptedModel):
        def _generate(self, *a: Any, **k: Any) -> Any:
            raise TimeoutError("model server hung")

    r = _with_llm(rec, Broken(messages=iter([])), tmp_path, mode="tools")
    reply = r.chat(sid(), "a western please", user_id="196")
    assert reply.degraded and reply.cards and all("Western" in c.categories for c in reply.cards)


@pytest.mark.parametrize(
    "case", [c for c in load_injections() if c.target in ("message", "description")], ids=lambda c: c.id
)
def test_injections_never_reach_the_reply(
    rec: Recommender, tmp_path_factory: pytest.TempPathFactory, case: Any
) -> None:
    """Payloads in messages and item descriptions, with a writer that echoes its prompt."""
    r = _with_llm(rec, EchoModel(messages=iter([])), tmp_path_factory.mktemp("inj"))
    e = r.engine
    target = e.dataset.item_index["181"]  # Return of the Jedi
    original = e.dataset.items[target]
    if case.target == "description":
        e.dataset.items[target] = original.model_copy(update={"description": case.payload})
    try:
        s = sid()
        msg = "Return of the Jedi" if case.target == "description" else f"a sci-fi movie. {case.payload}"
        replies = [r.chat(s, msg, user_id="196"), r.chat(s, "why the first one?", user_id="196")]
    finally:
        e.dataset.items[target] = original
    for reply in replies:
        dumped = reply.model_copy(update={"constraints": {}}).model_dump_json()
        assert case.canary not in dumped, case.id
