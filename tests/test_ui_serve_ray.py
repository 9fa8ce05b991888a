"""`trustrec serve --engine ray --replicas N` (issue 14, part 3): the real command on a local Ray
cluster with a real PostgreSQL store. One session's turns (plain and streamed) and its feedback go
through Serve's proxy; both API replicas answer, the session continues across them with every
acknowledged like remembered, the streamed turn arrives as events, the browser app answers at ``/``,
and Ctrl-C stops everything with exit code 0. More than one replica over SQLite is refused before
anything starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.config import TrustrecConfig
from ui.cli import app


def test_more_than_one_replica_over_sqlite_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text("")  # the default store: the workspace's SQLite file
    res = CliRunner().invoke(app, ["serve", "--engine", "ray", "--replicas", "2", "--config", str(cfg)])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "needs a shared store" in text and "[store] url" in text and "postgresql://" in text
    res = CliRunner().invoke(app, ["serve", "--replicas", "2", "--config", str(cfg)])
    assert res.exit_code == 2 and "need --engine ray" in res.output


@pytest.mark.slow  # a Ray cluster, three replicas each loading the engine: minutes on 2 busy cores
@pytest.mark.heavy
def test_two_serve_replicas_share_one_session_through_the_proxy(pg_url: str, tmp_path: Path) -> None:
    from evals.replicas import ray_serve_session

    cfg = TrustrecConfig(store={"url": pg_url})  # type: ignore[arg-type]
    fig = ray_serve_session(cfg, Path(os.environ["TRUSTREC_HOME"]), tmp_path, replicas=2, turns=6, progress=print)
    print(json.dumps({k: v for k, v in fig.items() if k != "log_tail"}, indent=1))
    assert set(fig["statuses"]) == {"200"}, fig
    assert len(fig["replicas_seen"]) == 2, f"one replica answered every request: {fig['answered']}"
    assert fig["health"]["status"] == "ok" and fig["health"]["replica"], fig["health"]  # the UI replica
    assert fig["health"]["replica"] not in fig["replicas_seen"]  # /v1 went to the API replicas only
    assert fig["page_status"] == 200 and fig["page_is_app"]
    assert fig["session_turn"] == fig["turns"], "a turn was lost between replicas"
    assert fig["acknowledged_likes"] and fig["lost_likes"] == [], fig
    for names in fig["streams"]:  # streamed through the proxy: events, the reply last
        assert names[0] == "text" and "cards" in names and names[-1] == "reply", names
    assert fig["exit_code"] == 0, fig["log_tail"]
