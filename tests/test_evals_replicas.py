"""Reliability across processes (issue 14, part 4): two real `trustrec serve` processes over one real
PostgreSQL store; sessions alternate between them, one is killed with SIGKILL mid-turn, and the
sessions continue on the other with no acknowledged feedback lost, no session lost, no duplicate
event and no 5xx."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.config import TrustrecConfig
from evals.replicas import replica_failover

pytestmark = pytest.mark.slow  # two servers start (a minute or more each on 2 busy cores)


def test_two_replicas_share_sessions_and_survive_a_kill(pg_url: str, tmp_path: Path) -> None:
    cfg = TrustrecConfig(store={"url": pg_url})  # type: ignore[arg-type]
    real_home = Path(os.environ["TRUSTREC_HOME"])
    fig = replica_failover(cfg, real_home, tmp_path, sessions=3, turns=3, progress=print)
    print(json.dumps(fig, indent=1))
    assert fig["acknowledged_events"] >= 3, fig
    assert fig["lost_events"] == 0 and fig["duplicate_events"] == 0, fig
    assert fig["retries_stored_twice"] == 0, fig  # the retried event on the other replica was not stored again
    assert fig["lost_sessions"] == 0, fig
    assert fig["status_5xx"] == 0, fig
    assert fig["killed"]["in_flight"]["events"], "the killed turn had not started"
