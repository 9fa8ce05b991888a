"""The suite runner: YAML suites, the check registry, thresholds, exit status and the reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evals.report import write_reports
from evals.suite import (
    CheckUnavailable,
    SuiteContext,
    check_kinds,
    flatten_metrics,
    load_suite,
    register_check,
    run_suite,
)


def _toy(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """A check with a known answer: metrics from params, one plot of each common type."""
    v = float(params["value"])
    return {
        "metrics": {"score": v, "nested": {"half": v / 2}, "examples": [1, 2]},
        "artifacts": {
            "bars": {"type": "bars", "title": "toy bars", "labels": ["a", "b"], "series": {"v": [v, v / 2]}},
            "curve": {"type": "lines", "title": "toy curve", "x": [0, 1, 2], "series": {"c": [1.0, 0.5, 0.2]}},
        },
    }


def _missing(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    raise CheckUnavailable("toy dependency is not installed")


def _crash(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    raise RuntimeError("boom")


for _kind, _fn in (("toy", _toy), ("toy-missing", _missing), ("toy-crash", _crash)):
    register_check(_kind, _fn, replace=True)


SUITE = """
name: tiny
description: one passing check and one missed threshold
checks:
  - name: good
    kind: toy
    params: {value: 0.9}
    thresholds:
      score: {min: 0.5}
      nested.half: {max: 0.5}
  - name: bad
    kind: toy
    params: {value: 0.1}
    thresholds:
      score: {min: 0.5}
"""


@pytest.fixture()
def ctx(tmp_path: Path) -> SuiteContext:
    from agent.config import load_config

    c = SuiteContext(load_config({"home": str(tmp_path / "ws")}), tmp_path / "out", work_dir=tmp_path / "work")
    yield c
    c.close()


def test_builtin_suites_load_and_name_registered_kinds() -> None:
    for name in ("smoke", "full"):
        spec = load_suite(name)
        assert spec.name == name
        assert {c.kind for c in spec.checks} <= set(check_kinds())
    kinds = {c.kind for c in load_suite("full").checks}
    assert {"ranking", "explanations", "calibration", "fairness", "conversation", "robustness", "reliability"} <= kinds


def test_bad_suites_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither a built-in suite"):
        load_suite(tmp_path / "absent.yaml")
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nchecks:\n  - {name: a, kind: no-such-kind}\n")
    with pytest.raises(ValueError, match="unknown check kind"):
        load_suite(p)
    p.write_text("name: x\nchecks:\n  - {name: a, kind: toy, thresholds: {score: {}}}\n")
    with pytest.raises(ValueError, match="min, max or both"):
        load_suite(p)
    p.write_text("name: x\nchecks:\n  - {name: a, kind: toy}\n  - {name: a, kind: toy}\n")
    with pytest.raises(ValueError, match="duplicate check names"):
        load_suite(p)


def test_thresholds_statuses_and_reports(tmp_path: Path, ctx: SuiteContext) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(
        SUITE
        + """
  - {name: absent, kind: toy-missing, thresholds: {score: {min: 0}}}
  - {name: absent-optional, kind: toy-missing, optional: true}
  - {name: crash, kind: toy-crash}
"""
    )
    res = run_suite(load_suite(p), ctx)
    by = {c.name: c for c in res.checks}
    assert by["good"].status == "passed" and all(t["passed"] for t in by["good"].thresholds)
    assert by["bad"].status == "failed"
    assert by["bad"].thresholds[0]["reason"] == "0.1 < min 0.5"
    assert by["absent"].status == "unavailable"
    assert by["absent"].error == "not available: toy dependency is not installed"
    assert by["absent-optional"].status == "skipped" and by["absent-optional"].ok
    assert by["crash"].status == "error" and "boom" in (by["crash"].error or "")
    assert not res.passed
    paths = write_reports(res.to_dict(), tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data["passed"] is False and data["counts"]["failed"] == 1
    html = paths["html"].read_text()
    assert re.search(r"<img alt=[^>]*src=\'data:image/png;base64,[A-Za-z0-9+/=]{200,}\'>", html)
    assert "not available: toy dependency is not installed" in html
    md = paths["markdown"].read_text()
    assert "FAIL" in md and "](plots/good-bars.png)" in md
    assert (tmp_path / "out" / "plots" / "good-curve.png").stat().st_size > 1000


def test_only_selects_checks(tmp_path: Path, ctx: SuiteContext) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(SUITE)
    res = run_suite(load_suite(p), ctx, only=["good"])
    assert [c.name for c in res.checks] == ["good"] and res.passed
    with pytest.raises(ValueError, match="no check"):
        run_suite(load_suite(p), ctx, only=["nope"])


def test_flatten_metrics() -> None:
    flat = flatten_metrics({"a": {"b": 1, "c": {"d": 2.5}}, "e": [1, 2], "f": "x"})
    assert flat == {"a.b": 1, "a.c.d": 2.5, "f": "x"}


def test_cli_exit_status_and_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.cli import app

    monkeypatch.setenv("TRUSTREC_HOME", str(tmp_path / "ws"))
    p = tmp_path / "tiny.yaml"
    p.write_text(SUITE)
    runner = CliRunner()
    out = tmp_path / "rep"
    r = runner.invoke(app, ["eval", "suite", str(p), "--report-dir", str(out), "--out", str(tmp_path / "r.json")])
    assert r.exit_code == 1, r.output
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is False
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert (out / "report.md").is_file() and (out / "results.json").is_file()
    # a bare YAML path after `eval` runs the suite too; only the passing check -> exit 0
    r = runner.invoke(app, ["eval", str(p), "--check", "good", "--report-dir", str(tmp_path / "rep2"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passed"] is True  # --json: stdout holds the JSON and nothing else
    r = runner.invoke(app, ["eval", "run", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2


def test_robustness_check_on_real_loaders_store_and_payloads(ctx: SuiteContext) -> None:
    out = check_kinds()["robustness"]({"agent": "off"}, ctx)
    m = out["metrics"]
    assert m["cases"] >= 20
    assert m["failed"] == 0, out["notes"]
    assert m["injections"]["payloads"] >= 10 and m["injections"]["agent_checked"] == 0


def test_conversation_check_is_unavailable_without_the_agent(ctx: SuiteContext) -> None:
    import agent

    if hasattr(agent, "Recommender"):
        pytest.skip("agent.Recommender exists: the unavailable path does not apply")
    from evals.suite import CheckSpec, run_check

    r = run_check(CheckSpec(name="c", kind="conversation", params={"scripts": [{"turns": []}]}), ctx)
    assert r.status == "unavailable" and r.error is not None and r.error.startswith("not available: agent.Recommender")


@pytest.mark.slow
def test_conversation_check_reports_new_users_next_to_known_ones(tmp_path: Path) -> None:
    from tests.ui_helpers import shared_recommender

    rec = shared_recommender()
    c = SuiteContext(rec.engine.config, tmp_path / "out", work_dir=tmp_path / "work")
    c.cache["recommender"] = rec
    try:
        out = check_kinds()["conversation"]({"simulated": {"users": 2, "seed": 1, "cohort": "both"}}, c)
        m = out["metrics"]
        assert m["simulated"]["users"] == 2 and m["simulated"]["cohort"] == "both"
        cold = m["simulated_cold"]
        assert cold["users"] == 2 and cold["cohort"] == "cold" and 0 <= cold["success_rate"] <= 1
        assert {"long_tail_success_rate", "long_tail_users", "onboarding_offered_rate"} <= set(cold)
        assert set(out["artifacts"]["success_by_turn"]["series"]) == {"success rate", "new users"}
        only_cold = check_kinds()["conversation"]({"simulated": {"users": 2, "seed": 1, "cohort": "cold"}}, c)
        assert "simulated" not in only_cold["metrics"] and only_cold["metrics"]["simulated_cold"]["users"] == 2
    finally:
        c.close()
