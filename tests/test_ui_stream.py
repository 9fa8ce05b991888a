"""The streaming chat endpoint and the bounded turn pool, on the real recommender (ml-100k, trained
ranker, FAISS, SHAP, SQLite); the only stand-in is the LLM at the process edge (GatedModel)."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from agent.config import AuthConfig
from agent.recommender import Recommender
from agent.reply import Reply
from agent.warmup import install_llm
from tests.llm_helpers import GatedModel
from tests.ui_helpers import running_server, shared_recommender
from ui.auth import create_token
from ui.pool import PoolBusy, TurnPool


def _events(lines: Iterator[str]) -> list[tuple[str, dict[str, Any]]]:
    """Parse server-sent events: ``event:`` name and one JSON ``data:`` line each, blank line between."""
    out, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            assert name is not None, "data before an event name"
            out.append((name, json.loads(line[len("data: ") :])))
            name = None
    return out


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Recommender, GatedModel]]:
    """The shared real recommender with a gated stand-in LLM writing explanations (its own sessions file)."""
    base = shared_recommender()
    e = dataclasses.replace(base.engine, warming=set())
    e.semantic = base.engine.semantic  # type: ignore[attr-defined]
    model = GatedModel(messages=iter([]))
    install_llm(e, model)
    rec = Recommender(e, sessions_path=tmp_path_factory.mktemp("sse") / "sessions.sqlite3")
    yield rec, model
    model.gate.set()


def test_sse_event_sequence_and_final_reply(gated: tuple[Recommender, GatedModel]) -> None:
    from ui.api import create_api

    rec, model = gated
    model.gate.set()
    client = TestClient(create_api(rec, ui=False))
    body = {"message": "a sci-fi movie from the 80s", "user_id": "196"}
    with client.stream("POST", "/v1/chat/stream", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.iter_lines())
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["text", "cards"] and kinds[-1] == "reply"
    assert set(kinds[2:-1]) <= {"card", "text"} and "card" in kinds
    first = events[1][1]["cards"]
    assert first and all(c["writer"] == "template" and c["trust"] and c["explanation"] for c in first)
    reply = Reply.model_validate(events[-1][1]["reply"])
    cards = {c.position: c for c in reply.cards}
    for name, data in events:
        if name == "card":  # each update is the final state of that card, LLM-written and grounded
            assert data["card"]["writer"] == "llm" and data["card"]["grounded"]
            assert cards[data["card"]["position"]].model_dump(mode="json") == data["card"]
    # the plain endpoint answers the same turn with the same cards
    plain = client.post("/v1/chat", json=body)
    assert plain.status_code == 200
    assert [c["item_id"] for c in plain.json()["cards"]] == [c.item_id for c in reply.cards]
    assert [c["explanation"] for c in plain.json()["cards"]] == [c.explanation for c in reply.cards]


def test_sse_bad_input_gets_the_plain_endpoints_status() -> None:
    from ui.api import create_api

    client = TestClient(create_api(shared_recommender(), ui=False), raise_server_exceptions=False)
    assert client.post("/v1/chat/stream", json={"message": ""}).status_code == 422
    assert client.post("/v1/chat/stream", json={"message": "hi", "user_id": "no-such-user"}).status_code == 404
    long = "a" * 20_000  # over the recommender's message cap, under the body limit
    assert client.post("/v1/chat/stream", json={"message": long}).status_code == 413


def test_sse_needs_a_token_and_counts_against_its_rate_limit() -> None:
    from ui.api import create_api

    rec = shared_recommender()
    api = create_api(rec, ui=False, auth=AuthConfig(mode="token", rate_limit_per_minute=2))
    client = TestClient(api, raise_server_exceptions=False)
    assert client.post("/v1/chat/stream", json={"message": "a comedy"}).status_code == 401
    tok = create_token(rec.engine.store, "user", user_id="196")["token"]
    auth = {"Authorization": f"Bearer {tok}"}
    for _ in range(2):
        r = client.post("/v1/chat/stream", json={"message": "a comedy"}, headers=auth)
        assert r.status_code == 200 and _events(iter(r.text.splitlines()))[-1][0] == "reply"
    r = client.post("/v1/chat/stream", json={"message": "a comedy"}, headers=auth)
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_turn_pool_is_bounded() -> None:
    pool = TurnPool(workers=1, max_pending=1)
    release = threading.Event()
    started = threading.Event()

    def job(k: int) -> int:
        started.set()
        assert release.wait(60)
        return k

    a = pool.submit(job, 1)
    assert started.wait(60)
    b = pool.submit(job, 2)  # waits for the one worker
    assert pool.in_flight == 2
    with pytest.raises(PoolBusy):
        pool.submit(job, 3)
    release.set()
    assert (a.result(60), b.result(60)) == (1, 2)
    c = pool.submit(job, 4)  # slots come back when turns finish
    assert c.result(60) == 4
    pool.close()


def test_a_full_pool_answers_503_and_the_event_loop_stays_free(gated: tuple[Recommender, GatedModel]) -> None:
    """A turn stuck in the LLM occupies the only worker: the server still answers /healthz, and one more
    turn than the pool holds gets 503 with Retry-After instead of waiting without bound."""
    from ui.api import create_api

    rec, _ = gated
    model = GatedModel(messages=iter([]))  # shut: the turn blocks in the writer
    e = dataclasses.replace(rec.engine, warming=set())
    e.semantic = rec.engine.semantic  # type: ignore[attr-defined]
    install_llm(e, model)
    stuck = Recommender(e, sessions_path=rec.engine.workspace.store_path.with_name(f"s-{uuid.uuid4().hex}.sqlite3"))
    api = create_api(stuck, ui=False, pool=TurnPool(workers=1, max_pending=0))
    results: dict[str, Any] = {}
    try:
        with running_server(api) as url:

            def first() -> None:
                results["first"] = httpx.post(f"{url}/v1/chat", json={"message": "a western", "user_id": "196"},
                                              timeout=300)  # fmt: skip

            t = threading.Thread(target=first)
            t.start()
            busy = None
            for _ in range(600):  # until the first turn holds the worker
                h = httpx.get(f"{url}/healthz", timeout=60)
                assert h.status_code == 200
                if h.json()["turns_in_flight"] == 1:
                    busy = httpx.post(f"{url}/v1/chat", json={"message": "a comedy"}, timeout=60)
                    break
                threading.Event().wait(0.05)
            assert busy is not None and busy.status_code == 503 and busy.headers["Retry-After"]
            assert t.is_alive(), "the first turn is still waiting on the LLM"
            assert httpx.get(f"{url}/readyz", timeout=60).status_code == 200
            model.gate.set()
            t.join(300)
    finally:
        model.gate.set()
    assert results["first"].status_code == 200
    assert any(c["writer"] == "llm" for c in results["first"].json()["cards"])
