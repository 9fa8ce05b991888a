"""`trustrec batch recommend` on a real local Ray cluster (one per test session, 2 CPUs) with the real
trained ranker, explainer and calibrator: Ray's lists equal the in-process ones, a rerun skips what is
current, a worker killed mid-run is retried without duplicates, and the online path serves the stored
list (source 'batch') exactly when profile and versions match."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.batch import BatchStore, run_batch
from agent.config import TrustrecConfig
from catalog.config import isolated_workspace

pytestmark = pytest.mark.slow  # a Ray cluster and the trained model: about a minute on 2 cores

USERS = ["1", "13", "42", "196", "305", "405", "655", "880"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of its own (own store), linking the trained model, data and index."""
    real = Path(os.environ["TRUSTREC_HOME"])
    return isolated_workspace(real, tmp_path_factory.mktemp("batch-ws"))


@pytest.fixture(scope="module")
def users_file(home: Path) -> Path:
    f = home / "users.txt"
    f.write_text("\n".join(USERS) + "\n")
    return f


def _cfg(home: Path) -> TrustrecConfig:
    return TrustrecConfig(home=home)


def _lists(home: Path, cfg: TrustrecConfig, version: str) -> dict[str, list[tuple[str, float]]]:
    with BatchStore(cfg.workspace().store_target) as s:
        out = {}
        for u in USERS:
            got = s.get(u, version, "template/1")
            assert got is not None, f"user {u} has no stored list"
            out[u] = [(e.item_id, e.score) for e in got.evidence]
        return out


@pytest.fixture(scope="module")
def local_lists(home: Path, users_file: Path) -> tuple[dict[str, list[tuple[str, float]]], str]:
    cfg = _cfg(home)
    rep = run_batch(cfg, str(users_file), engine="local", explain=True)
    assert rep.users_done == len(USERS) and rep.explanations == len(USERS) * cfg.agent.default_n
    lists = _lists(home, cfg, rep.model_version)
    with BatchStore(cfg.workspace().store_target) as s:  # clear, so the Ray run has to compute everything
        for u in USERS:
            s.delete_user(u)
    return lists, rep.model_version


def test_ray_lists_equal_local_and_rerun_skips(
    ray_cluster: Any, home: Path, users_file: Path, local_lists: Any, tmp_path: Path
) -> None:
    cfg = _cfg(home)
    expected, version = local_lists
    marker = tmp_path / "crash-once"
    marker.write_text("kill the first actor that sees this")
    rep = run_batch(cfg, str(users_file), engine="ray", workers=2, explain=True, batch_size=2,
                    crash_marker=str(marker))  # fmt: skip
    assert not marker.exists(), "no actor ran the crash hook"
    assert rep.users_done == len(USERS) and rep.model_version == version
    got = _lists(home, cfg, version)
    for u in USERS:
        assert [i for i, _ in got[u]] == [i for i, _ in expected[u]], f"user {u}: Ray's list differs"
        assert [s for _, s in got[u]] == pytest.approx([s for _, s in expected[u]], abs=1e-5)
    with BatchStore(cfg.workspace().store_target) as s:
        assert s.duplicates() == 0
        assert s.counts() == {"batch_lists": len(USERS), "batch_items": len(USERS) * cfg.agent.default_n}
    again = run_batch(cfg, str(users_file), engine="ray", workers=2, explain=True)
    assert (again.users_skipped, again.users_done) == (len(USERS), 0)


@pytest.fixture(scope="module")
def rec(home: Path, local_lists: Any) -> Iterator[Any]:
    from agent import Recommender

    cfg = _cfg(home)
    run_batch(cfg, str(home / "users.txt"), engine="local", explain=True)  # stored again (skips when current)
    r = Recommender.from_config(cfg, llm=None)
    yield r
    r.close()


def test_online_path_uses_stored_list_only_when_it_matches(rec: Any, local_lists: Any) -> None:
    from catalog import FeedbackEvent, FeedbackKind

    expected, _version = local_lists
    n = rec.engine.config.agent.default_n
    reply = rec.recommend("196", n)
    assert [c.source for c in reply.cards] == ["batch"] * n
    assert [c.item_id for c in reply.cards] == [i for i, _ in expected["196"]]
    assert all(c.explanation and c.trust is not None for c in reply.cards)
    # the same request computed live gives the same list: the stored one is not stale
    rec.engine.batch, kept = None, rec.engine.batch
    try:
        live = rec.recommend("196", n)
    finally:
        rec.engine.batch = kept
    assert [c.source for c in live.cards] == ["live"] * n
    assert [c.item_id for c in live.cards] == [c.item_id for c in reply.cards]
    assert [c.score for c in live.cards] == pytest.approx([c.score for c in reply.cards], abs=1e-5)
    # a user the batch did not cover, another length, or a session that said something: computed live
    assert {c.source for c in rec.recommend("2", n).cards} == {"live"}
    assert {c.source for c in rec.recommend("196", n - 1).cards} == {"live"}
    sid = "batch-liked"
    rec.feedback(FeedbackEvent(event_id="b1", session_id=sid, user_id="196", item_id="50", kind=FeedbackKind.LIKE))
    assert {c.source for c in rec.recommend("196", n, session_id=sid).cards} == {"live"}
