"""Streamed turns on the real ml-100k, ranker, FAISS index, SHAP and SQLite: cards first, words after,
and the background warm-up never makes a turn wait. The only stand-in is the LLM at the process edge
(tests/llm_helpers.GatedModel), which blocks until the test releases it."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.recommender import Recommender
from agent.reply import CardEvent, CardsEvent, ReplyEvent, TextEvent
from agent.warmup import Warmup, install_llm
from tests.llm_helpers import GatedModel


def sid() -> str:
    return f"stream-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recommender]:
    r = Recommender.from_config(None, llm=None)
    yield r
    r.close()


def _fork(base: Recommender, tmp: Path, model: Any | None) -> Recommender:
    """A recommender on the same real components with its own writer (``model`` installed) and sessions."""
    e = dataclasses.replace(base.engine, warming=set())
    e.semantic = base.engine.semantic  # type: ignore[attr-defined]
    if model is not None:
        install_llm(e, model)
    return Recommender(e, sessions_path=tmp / f"sessions-{uuid.uuid4().hex[:6]}.sqlite3")


def test_cards_come_before_any_llm_text(base: Recommender, tmp_path: Path) -> None:
    model = GatedModel(messages=iter([]))
    rec = _fork(base, tmp_path, model)
    it = rec.stream(sid(), "a sci-fi movie from the 80s", user_id="196")
    seen: list[Any] = []
    for ev in it:
        seen.append(ev)
        if isinstance(ev, CardsEvent):
            break
    # the LLM has not written a word yet (its gate is shut), and every card is already here
    assert model.calls == 0
    assert isinstance(seen[0], TextEvent) and isinstance(seen[-1], CardsEvent)
    cards = seen[-1].cards
    assert len(cards) >= 3
    assert all(c.writer == "template" and c.explanation and c.trust is not None for c in cards)
    assert all(c.history or c.features for c in cards), "SHAP evidence comes with the first cards"
    model.gate.set()
    rest = list(it)
    updates = [ev for ev in rest if isinstance(ev, CardEvent)]
    assert updates and all(u.card.writer == "llm" and u.card.grounded for u in updates)
    assert model.calls >= len(updates)
    assert isinstance(rest[-1], ReplyEvent)
    final = {c.position: c for c in rest[-1].reply.cards}
    for u in updates:
        assert final[u.card.position] == u.card
    # only the LLM's text changed: score, trust and attributions are those of the first cards
    for first in cards:
        assert final[first.position].model_copy(update={"explanation": "", "writer": "template"}) == first.model_copy(
            update={"explanation": ""}
        )


def test_stream_ends_with_the_reply_chat_returns(base: Recommender, tmp_path: Path) -> None:
    model = GatedModel(messages=iter([]))
    model.gate.set()
    rec = _fork(base, tmp_path, model)
    msg = "something like Star Wars"
    streamed = list(rec.stream(sid(), msg, user_id="196"))
    reply = rec.chat(sid(), msg, user_id="196")
    final = streamed[-1]
    assert isinstance(final, ReplyEvent)
    assert [ev.kind for ev in streamed if not isinstance(ev, CardEvent)][:2] == ["text", "cards"]
    assert final.reply.cards == reply.cards
    assert final.reply.text == reply.text
    assert any(c.writer == "llm" for c in reply.cards)


def test_a_turn_before_the_warm_up_answers_with_templates(base: Recommender, tmp_path: Path) -> None:
    model = GatedModel(messages=iter([]))  # loading the LLM blocks until the gate opens
    rec = _fork(base, tmp_path, None)
    e = rec.engine
    loaded = threading.Event()

    def load(_e: Any) -> tuple[Any, str]:
        assert model.gate.wait(120), "never released"
        loaded.set()
        return model, "gated stand-in"

    warm = Warmup(e, llm=True, load_llm=load).start()
    try:
        assert "llm" in e.warming and not warm.ready
        reply = rec.chat(sid(), "a comedy from the 90s", user_id="196")
        assert not loaded.is_set(), "the turn did not wait for the LLM"
        assert reply.cards and all(c.writer == "template" and c.explanation for c in reply.cards)
        assert any("still loading" in n for n in reply.notes)
        assert warm.status().parts["llm"].state == "loading"
    finally:
        model.gate.set()
    assert warm.wait(300)
    st = warm.status()
    assert st.ready and st.parts["llm"].state == "ready" and st.parts["explainer"].state == "ready"
    assert not e.warming and e.llm is model
    after = rec.chat(sid(), "a comedy from the 90s", user_id="196")
    assert any(c.writer == "llm" for c in after.cards)
    assert not any("still loading" in n for n in after.notes)


def test_a_failed_llm_load_leaves_templates_and_says_why(base: Recommender, tmp_path: Path) -> None:
    rec = _fork(base, tmp_path, None)

    def broken(_e: Any) -> tuple[Any, str]:
        raise OSError("weights missing")

    warm = Warmup(rec.engine, llm=True, load_llm=broken).start()
    assert warm.wait(300)
    part = warm.status().parts["llm"]
    assert part.state == "failed" and "weights missing" in part.detail
    assert rec.engine.llm is None and not rec.engine.warming
    reply = rec.chat(sid(), "a comedy from the 90s", user_id="196")
    assert reply.cards and all(c.writer == "template" for c in reply.cards)
