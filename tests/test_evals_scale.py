"""`trustrec bench scale` on tiny synthetic shops: both model forms run, figures and exponents are consistent.

Cost figures are printed by the benchmark, never asserted; this checks the plumbing and the invariants
that do not depend on the machine (sizes, model forms, additivity, the exponent arithmetic).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evals.scale import exponents, plot, run_scale


@pytest.mark.slow  # two child processes, each generating a shop and fitting two models (~30 s)
def test_scale_runs_each_size_in_a_child_and_switches_forms(tmp_path: Path) -> None:
    seen: list[str] = []
    res = run_scale([(400, 300, 3_000), (1_600, 600, 9_000)], requests=3, sparse_above=1_000, progress=seen.append)
    small, large = res["sizes"]
    assert small["items"] == 400 and large["items"] == 1_600
    assert small["interactions"] > 1_000 and large["interactions"] > small["interactions"]
    # below the threshold the dense EASE, above it the low-rank one; ItemKNN is CSR either way
    assert small["models"]["ease"]["form"] == "ndarray" and large["models"]["ease"]["form"] == "LowRankEASE"
    assert {r["models"]["itemknn"]["form"] for r in res["sizes"]} == {"csr_matrix"}
    for r in res["sizes"]:
        assert r["peak_rss_mb"] > 50
        for m in r["models"].values():
            assert m["max_additivity_error"] < 1e-4 and m["disk_mb"] > 0
            assert 0 < m["recommend_explain"]["p50_ms"] <= m["recommend_explain"]["p95_ms"]
    # a dense 400 x 400 float32 EASE against a rank-256 factor of 1,600 items
    assert small["models"]["ease"]["disk_mb"] == pytest.approx(400 * 400 * 4 / 2**20, rel=0.05)
    (e,) = res["exponents"]
    want = math.log(large["peak_rss_mb"] / small["peak_rss_mb"]) / math.log(
        large["interactions"] / small["interactions"]
    )
    assert e["peak_rss"]["vs_interactions"] == pytest.approx(want)
    assert any("child process starts" in m for m in seen)
    png = plot(res, tmp_path / "scale.png")
    assert png.stat().st_size > 10_000
    json.dumps(res)  # the CLI's --json form


def test_exponents_are_log_log_slopes() -> None:
    row = lambda items, inter, rss, fit: {  # noqa: E731
        "items": items, "interactions": inter, "peak_rss_mb": rss,
        "models": {"ease": {"fit_s": fit, "disk_mb": 1.0, "recommend_explain": {"p50_ms": 2.0}}},
    }  # fmt: skip
    (e,) = exponents([row(10, 100, 50.0, 1.0), row(100, 1_000, 500.0, 100.0)])
    assert e["peak_rss"]["vs_interactions"] == pytest.approx(1.0)
    assert e["ease"]["fit_s"]["vs_items"] == pytest.approx(2.0)
    assert e["ease"]["disk_mb"]["vs_items"] == pytest.approx(0.0)
