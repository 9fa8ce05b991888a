"""`trustrec batch recommend --llm`: every item's text written by the LLM behind an OpenAI-compatible endpoint
(a local server on loopback replaying vLLM's format, at the process edge) with the real trained ranker,
explainer and checks; stored under the prompt and model's version, skipped when current, left for the next
run when the endpoint is down, and served online without asking the LLM again unless a stored text fails
the checks now."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.batch import BatchStore, run_batch
from agent.config import TrustrecConfig
from catalog.config import isolated_workspace
from tests.llm_helpers import EvidenceServer

pytestmark = pytest.mark.slow  # the trained model, loaded by the batch actor and by the online engine

USERS = ["196", "13", "405"]


@pytest.fixture(scope="module")
def server() -> Iterator[EvidenceServer]:
    s = EvidenceServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    real = Path(os.environ["TRUSTREC_HOME"])
    return isolated_workspace(real, tmp_path_factory.mktemp("batch-llm-ws"))


def _cfg(home: Path, server: EvidenceServer) -> TrustrecConfig:
    llm = {"backend": "openai", "base_url": server.url, "model": "served", "max_retries": 0, "timeout_s": 20}
    return TrustrecConfig(home=home, llm=llm)


@pytest.fixture(scope="module")
def users_file(home: Path) -> Path:
    f = home / "users.txt"
    f.write_text("\n".join(USERS) + "\n")
    return f


@pytest.fixture(scope="module")
def stored(home: Path, server: EvidenceServer, users_file: Path) -> Any:
    """The LLM batch run of USERS, after a first run during which the endpoint was down."""
    cfg = _cfg(home, server)
    server.down = True
    try:
        down = run_batch(cfg, str(users_file), engine="local", llm=True, max_retries=1)
    finally:
        server.down = False
    up = run_batch(cfg, str(users_file), engine="local", llm=True)
    with BatchStore(cfg.workspace().store_target) as s:
        texts = {u: s.get(u, up.model_version, up.prompt_version).explanations for u in USERS}  # type: ignore[union-attr]
    return cfg, down, up, texts


def test_an_unreachable_endpoint_stores_nothing_and_the_next_run_computes_everyone(stored: Any) -> None:
    _cfg, down, up, _texts = stored
    assert (down.users_failed, down.users_done, down.llm_texts) == (len(USERS), 0, 0)
    assert any("run the command again" in n for n in down.notes)
    assert (up.users_failed, up.users_skipped, up.users_done) == (0, 0, len(USERS))
    assert up.prompt_version == "explain-chat/1@served"


def test_every_item_is_llm_written_checked_and_a_rerun_asks_the_llm_nothing(
    stored: Any, server: EvidenceServer, users_file: Path
) -> None:
    cfg, _down, up, _texts = stored
    n = cfg.agent.default_n
    assert up.llm_texts == up.explanations == len(USERS) * n
    with BatchStore(cfg.workspace().store_target) as s:
        assert s.duplicates() == 0
        got = s.get("196", up.model_version, up.prompt_version)
        assert got is not None and got.writers == ["llm"] * n
        assert all(t.startswith("Because you liked") for t in got.explanations)
        assert s.get("196", up.model_version, "template/1") is None  # another prompt version is another key
    before = server.requests
    again = run_batch(cfg, str(users_file), engine="local", llm=True)
    assert (again.users_skipped, again.users_done, server.requests) == (len(USERS), 0, before)


@pytest.fixture(scope="module")
def rec(stored: Any) -> Iterator[Any]:
    from agent import Recommender

    cfg, _down, _up, _texts = stored
    r = Recommender.from_config(cfg)  # the configured LLM: the same endpoint, prompt and model
    yield r
    r.close()


def test_online_cards_show_the_stored_llm_texts_without_asking_the_llm(
    rec: Any, stored: Any, server: EvidenceServer
) -> None:
    cfg, _down, _up, texts = stored
    n = cfg.agent.default_n
    assert n > cfg.agent.llm_explanations  # live, only the first cards would be LLM-written
    before = server.requests
    reply = rec.recommend("196", n)
    assert [(c.source, c.writer) for c in reply.cards] == [("batch", "llm")] * n
    assert [c.explanation for c in reply.cards] == texts["196"]
    assert server.requests == before


def test_a_stored_text_that_fails_the_checks_now_is_written_live(rec: Any, stored: Any, server: EvidenceServer) -> None:
    cfg, _down, up, _texts = stored
    n = cfg.agent.default_n
    with BatchStore(cfg.workspace().store_target) as s:
        first = s.get("13", up.model_version, up.prompt_version)
    assert first is not None
    false = f"Because you liked {first.evidence[0].title}, you may enjoy it: the best of 1850."
    with sqlite3.connect(cfg.workspace().store_target) as db:  # the row as a tampered or stale store would hold it
        db.execute(
            "UPDATE batch_items SET explanation=? WHERE user_id='13' AND position=1 AND prompt_version=?",
            (false, up.prompt_version),
        )
    before = server.requests
    reply = rec.recommend("13", n)
    assert all(c.source == "batch" for c in reply.cards)
    assert reply.cards[0].explanation != false and reply.cards[0].writer == "llm"
    assert server.requests == before + 1  # only the failing card was written again
    assert [c.explanation for c in reply.cards[1:]] == first.explanations[1:]


def test_an_older_store_gains_the_writer_column_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as c:  # the batch_items table as the first release created it
        c.execute(
            "CREATE TABLE batch_items (user_id TEXT NOT NULL, item_id TEXT NOT NULL, model_version TEXT NOT NULL, "
            "prompt_version TEXT NOT NULL, position INTEGER NOT NULL, score REAL NOT NULL, evidence TEXT, "
            "explanation TEXT, grounded INTEGER, PRIMARY KEY (user_id, item_id, model_version, prompt_version))"
        )
        c.execute("INSERT INTO batch_items VALUES('u1','1','m1','template/1',1,0.5,NULL,'because',1)")
    with BatchStore(db) as s:
        assert s.counts()["batch_items"] == 1
    with sqlite3.connect(db) as c:
        cols = [r[1] for r in c.execute("PRAGMA table_info(batch_items)")]
        assert "writer" in cols and c.execute("SELECT writer FROM batch_items").fetchone() == (None,)


def test_ray_actors_write_the_same_llm_texts_without_duplicates(
    ray_cluster: Any, stored: Any, server: EvidenceServer, users_file: Path
) -> None:
    cfg, _down, up, texts = stored
    before = server.requests
    rep = run_batch(cfg, str(users_file), engine="ray", workers=2, llm=True, batch_size=1, force=True)
    assert (rep.users_done, rep.users_failed, rep.llm_texts) == (len(USERS), 0, len(USERS) * cfg.agent.default_n)
    assert server.requests - before == rep.llm_texts  # one request per text: at most one in flight per actor
    with BatchStore(cfg.workspace().store_target) as s:
        assert s.duplicates() == 0
        for u in USERS:
            got = s.get(u, up.model_version, up.prompt_version)
            assert got is not None
            assert got.explanations == texts[u], f"user {u}: Ray's texts differ from this process's"


def test_where_the_batch_llm_failed_the_checks_the_template_is_shown_without_asking_again(
    rec: Any, stored: Any, server: EvidenceServer
) -> None:
    cfg, _down, up, texts = stored
    with sqlite3.connect(cfg.workspace().store_target) as db:  # as stored when every LLM try failed the checks
        db.execute(
            "UPDATE batch_items SET writer='template' WHERE user_id='405' AND position=1 AND prompt_version=?",
            (up.prompt_version,),
        )
    before = server.requests
    reply = rec.recommend("405", cfg.agent.default_n)
    assert [c.writer for c in reply.cards] == ["template"] + ["llm"] * (len(reply.cards) - 1)
    assert reply.cards[0].explanation != texts["405"][0] and reply.cards[0].explanation.startswith("Recommended")
    assert server.requests == before
