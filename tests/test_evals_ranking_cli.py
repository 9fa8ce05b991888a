"""`trustrec eval ranking` end to end on real ml-100k (cheap models only)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ui.cli import app


def test_eval_ranking_writes_json_and_table(tmp_path: Path) -> None:
    out = tmp_path / "ranking.json"
    res = CliRunner().invoke(app, ["eval", "ranking", "--protocol", "ro811", "--models", "pop,ease", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "N@10" in res.output and "ease" in res.output
    data = json.loads(out.read_text())
    assert set(data["ro811"]) == {"pop", "ease"}
    assert data["ro811"]["ease"]["ndcg@10"] > data["ro811"]["pop"]["ndcg@10"] > 0.1
    assert set(data["valid"]["ro811"]) == {"pop", "ease"}
    assert data["valid"]["ro811"]["ease"]["ndcg@10"] != data["ro811"]["ease"]["ndcg@10"]
    assert {"recall@10", "mrr@10", "ndcg@10", "hit@10", "precision@10", "ndcg@5", "ndcg@20"} <= set(
        data["ro811"]["ease"]
    )


def test_eval_ranking_rejects_unknown_names() -> None:
    res = CliRunner().invoke(app, ["eval", "ranking", "--models", "pop,nosuchmodel"])
    assert res.exit_code == 2 and "nosuchmodel" in res.output
    res = CliRunner().invoke(app, ["eval", "ranking", "--protocol", "lol"])
    assert res.exit_code == 2 and "protocol" in res.output
