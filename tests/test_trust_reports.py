"""Calibration, trust reports, cold start, list metrics and MMR on real ml-100k with real EASE."""

from __future__ import annotations

import numpy as np
import pytest
from explain_helpers import calibrator, counts, data, ease, histories, profile_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranker.base import Profile
from ranker.calibration import Calibrator, calibrator_path, ensure_calibrator
from ranker.diversity import ItemSimilarity, catalog_coverage, intra_list_diversity, mmr_rerank, novelty
from ranker.explain import RecommendationExplainer
from ranker.trust import TrustConfig

__all__ = ["calibrator", "counts", "data", "ease", "histories"]


# ------------------------------------------------------------------------------------ calibration


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.floats(-5, 5, allow_nan=False), min_size=4, max_size=200),
    seed=st.integers(0, 2**16),
    method=st.sampled_from(["isotonic", "platt"]),
)
def test_calibration_is_monotone(scores: list[float], seed: int, method: str) -> None:
    x = np.asarray(scores)
    rng = np.random.default_rng(seed)
    y = (rng.random(x.size) < 1 / (1 + np.exp(-x))).astype(float)
    y[0], y[1] = 0.0, 1.0  # both classes present
    cal = Calibrator.fit(x, y, rng.uniform(0.5, 2.0, x.size), method=method)
    grid = np.linspace(-7, 7, 301)
    p = cal.predict(grid)
    assert np.all(np.diff(p) >= -1e-12)
    assert np.all((p >= 0) & (p <= 1))


def test_isotonic_known_answer() -> None:
    # PAV pools the violating pair (0.6, 0.2) into 0.4
    cal = Calibrator.fit(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0, 1.0]), method="isotonic")
    np.testing.assert_allclose(cal.params["y"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(cal.params["x"], [0.0, 1.5, 3.0])


def test_calibrator_round_trip_and_ensure(tmp_path, ease, data) -> None:
    _, split = data
    path = calibrator_path(tmp_path, "ease", "ro811")
    from ranker.calibration import CalibrationConfig

    cfg = CalibrationConfig(max_users=100)
    cal, fitted = ensure_calibrator(ease, split, path, cfg)
    assert fitted and path.is_file()
    again, fitted2 = ensure_calibrator(ease, split, path, cfg)
    assert not fitted2
    grid = np.linspace(-0.5, 1.5, 50)
    np.testing.assert_allclose(again.predict(grid), cal.predict(grid))
    with pytest.raises(ValueError, match="both relevant and irrelevant"):
        Calibrator.fit(np.ones(3), np.zeros(3))


def test_calibration_on_test_data(ease, data, tmp_path) -> None:
    """Fitted on validation, the top-10 confidence is calibrated on TEST data (ECE <= 0.05)."""
    from evals.calibration import evaluate_calibration

    ds, split = data
    png = tmp_path / "rel.png"
    res = evaluate_calibration(ease, ds, split, diagram=png)
    assert png.is_file() and png.stat().st_size > 1000
    assert res["calibrator"]["fitted_on"] == "valid"
    assert res["top_10"]["ece"] <= 0.05
    assert res["sampled"]["ece"] <= 0.05
    assert 0 <= res["top_10"]["brier"] <= 1


# ------------------------------------------------------------------------------------ trust reports


def _explainer(ease, data, calibrator, counts, **trust):  # type: ignore[no-untyped-def]
    from ranker.explain import ExplainConfig

    ds, _ = data
    cfg = ExplainConfig(trust=TrustConfig(**trust))
    return RecommendationExplainer(ease, ds, calibrator, counts, cfg, additive=True)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=st.integers(0, 942), n=st.integers(1, 15))
def test_trust_components_in_range(ease, data, histories, calibrator, counts, user: int, n: int) -> None:
    rx = _explainer(ease, data, calibrator, counts, n_samples=6)
    out = rx(profile_of(histories, user), n)
    assert len(out.items) == n
    for ev in out.items:
        t = ev.trust
        assert t is not None
        assert 0 <= t.confidence <= 1 and 0 <= t.composite <= 1 and t.uncertainty >= 0
        assert set(t.components) == {"confidence", "stability", "support", "fidelity"}
        assert all(0 <= v <= 1 for v in t.components.values())
        assert t.user_support == np.unique(histories[user]).size
        w = {"confidence": 0.4, "stability": 0.2, "support": 0.2, "fidelity": 0.2}
        assert t.composite == pytest.approx(sum(w[k] * v for k, v in t.components.items()), abs=1e-9)
    lr = out.list_report
    assert 0 <= lr.intra_list_diversity <= 1 and lr.novelty >= 0
    assert lr.best_utility + 1e-12 >= lr.expected_utility and lr.regret >= 0


def test_cold_start_user_gets_low_support_and_flag(ease, data, histories, calibrator, counts) -> None:
    rx = _explainer(ease, data, calibrator, counts)
    heavy = rx(profile_of(histories, 404), 10)
    cold = rx(Profile(histories[404][:2]), 10)  # a new user with two interactions
    for ev in cold.items:
        assert ev.trust is not None and ev.trust.cold_start and ev.trust.user_support == 2
    cold_support = np.mean([ev.trust.components["support"] for ev in cold.items if ev.trust])
    heavy_support = np.mean([ev.trust.components["support"] for ev in heavy.items if ev.trust])
    assert cold_support < 0.5 < heavy_support
    assert not any(ev.trust.cold_start for ev in heavy.items if ev.trust and ev.trust.item_support >= 5)
    # a rare item is flagged even for a heavy user
    rare = np.flatnonzero((counts > 0) & (counts < 5))[:3]
    out = rx(profile_of(histories, 404), 3, candidates=rare)
    assert all(ev.trust is not None and ev.trust.cold_start for ev in out.items)


def test_regret_of_a_diversified_list(ease, data, histories, calibrator, counts) -> None:
    rx = _explainer(ease, data, calibrator, counts, n_samples=4)
    prof = profile_of(histories, 195)
    plain = rx(prof, 10)
    diverse = rx(prof, 10, mmr_lambda=0.3)
    assert plain.list_report.regret == pytest.approx(0.0, abs=1e-9)
    assert diverse.list_report.regret > 0
    assert diverse.list_report.intra_list_diversity > plain.list_report.intra_list_diversity


# ------------------------------------------------------------------------------------ diversity


def test_mmr_known_answer() -> None:
    emb = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])  # items 0 and 1 nearly identical
    sim = ItemSimilarity.from_embeddings(emb)
    items, scores = np.arange(3), np.array([1.0, 0.95, 0.6])
    np.testing.assert_array_equal(mmr_rerank(items, scores, sim, 2, 1.0), [0, 1])
    np.testing.assert_array_equal(mmr_rerank(items, scores, sim, 2, 0.5), [0, 2])
    with pytest.raises(ValueError):
        mmr_rerank(items, scores, sim, 2, 1.5)


def test_mmr_raises_measured_diversity(ease, data, histories) -> None:
    from ranker.base import top_n

    ds, _ = data
    sim = ItemSimilarity.from_categories(ds)
    ild = {1.0: [], 0.5: []}
    for u in range(0, 943, 47):
        prof = profile_of(histories, u)
        s = ease.score([prof])[0]
        pool = top_n(s, 100, exclude=prof.history)
        for lam in ild:
            ild[lam].append(intra_list_diversity(mmr_rerank(pool, s[pool], sim, 10, lam), sim))
    assert np.mean(ild[0.5]) > np.mean(ild[1.0]) + 0.02


def test_list_metric_definitions(data, counts) -> None:
    ds, _ = data
    sim = ItemSimilarity.from_categories(ds)
    same = np.array([ds.item_index["1"], ds.item_index["1"]])  # identical genres -> ILD 0
    assert intra_list_diversity(same, sim) == pytest.approx(0.0)
    assert novelty(np.array([int(np.argmax(counts))]), counts, ds.n_users) < novelty(
        np.array([int(np.argmin(np.where(counts > 0, counts, 10**9)))]), counts, ds.n_users
    )
    assert catalog_coverage([np.array([0, 1]), np.array([1, 2])], 10) == pytest.approx(0.3)
