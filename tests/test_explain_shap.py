"""SHAP attributions on real ml-100k with real EASE: additivity, known answers, deletion test, evidence."""

from __future__ import annotations

import numpy as np
import pytest
from explain_helpers import GroupedRanker, SaturatingRanker, calibrator, counts, data, ease, histories, profile_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranker.base import recommend
from ranker.explain import ShapConfig, ShapExplainer, explain_recommendations

__all__ = ["calibrator", "counts", "data", "ease", "histories"]  # fixtures used by name below

USERS = (0, 195, 404, 654)  # light to heavy histories


def test_additive_path_matches_known_terms(ease, histories) -> None:
    """EASE: score = sum_j B[h_j, i], so each Shapley value is exactly its B entry."""
    prof = profile_of(histories, 195)
    items = recommend(ease, prof, 10).item_idx
    ex = ShapExplainer(ease, additive=True).explain_history(prof, items)
    assert ex.method == "additive"
    assert ex.positions.size == prof.history.size
    expected = ease.B[prof.history][:, items].T  # (items, history)
    np.testing.assert_allclose(ex.values, expected, atol=1e-5)
    np.testing.assert_allclose(ex.base_values, 0.0, atol=1e-6)
    assert ex.additivity_error.max() <= 1e-4


@pytest.mark.parametrize("user", USERS)
def test_permutation_path_is_additive_on_a_nonlinear_ranker(ease, histories, user: int) -> None:
    ranker = SaturatingRanker(ease)
    prof = profile_of(histories, user)
    items = recommend(ranker, prof, 10).item_idx
    ex = ShapExplainer(ranker, ShapConfig(max_history=20, n_permutations=2)).explain_history(prof, items)
    assert ex.method in ("permutation", "exact")
    assert ex.positions.size == min(20, prof.history.size)
    assert ex.additivity_error.max() <= 1e-4
    # the context (non-players) stays: the base value is the context-only score, not the empty profile
    if prof.history.size > 20:
        assert not np.allclose(ex.base_values, ranker.score([prof.without(np.arange(prof.history.size))], items)[0])


def test_permutation_recovers_exact_values_of_an_additive_game(ease, histories) -> None:
    """Antithetic permutations are exact for additive games: the sampled path must equal the fast path."""
    prof = profile_of(histories, 404)
    items = recommend(ease, prof, 5).item_idx
    sampled = ShapExplainer(ease, ShapConfig(method="permutation", max_history=15), additive=False)
    ex = sampled.explain_history(prof, items)
    exact = ease.B[prof.history[ex.positions]][:, items].T
    np.testing.assert_allclose(ex.values, exact, atol=1e-5)


def test_exact_explainer_for_small_windows(ease, histories) -> None:
    ranker = SaturatingRanker(ease)
    prof = profile_of(histories, 195)
    items = recommend(ranker, prof, 4).item_idx
    ex = ShapExplainer(ranker, ShapConfig(max_history=6, exact_max_features=6)).explain_history(prof, items)
    assert ex.method == "exact"
    assert ex.positions.size == 6
    assert ex.additivity_error.max() <= 1e-4


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=st.integers(0, 942), m=st.integers(1, 12))
def test_additivity_property(ease, histories, user: int, m: int) -> None:
    ranker = SaturatingRanker(ease, k=2.0)
    prof = profile_of(histories, user)
    items = recommend(ranker, prof, 3).item_idx
    ex = ShapExplainer(ranker, ShapConfig(max_history=m, n_permutations=1, exact_max_features=4)).explain_history(
        prof, items
    )
    assert ex.additivity_error.max() <= 1e-4


def test_feature_groups_exact_and_additive(ease, histories, counts) -> None:
    ranker = GroupedRanker(ease, counts)
    prof = profile_of(histories, 195)
    items = recommend(ranker, prof, 10).item_idx
    fx = ShapExplainer(ranker).explain_features(prof, items)
    assert fx is not None and fx.groups == ("collaborative", "popularity")
    assert fx.additivity_error.max() <= 1e-6
    comps = ranker.score_components([prof], None)
    np.testing.assert_allclose(fx.values[:, 1], comps["popularity"][0, items] - comps["popularity"][0].mean())
    assert ShapExplainer(ease).explain_features(prof, items) is None  # plain Ranker: no feature groups


def test_deletion_test_quality_floor(ease, data) -> None:
    """Removing the top-3 attributed items lowers the score (>= 90%) and beats 3 random (>= 80%)."""
    from evals.explanations import evaluate_explanations

    ds, split = data
    res = evaluate_explanations(ease, ds, split, n_users=20, n=10, additive=True, seed=1)
    assert res["explained"] == 200
    assert res["additivity"]["max_error"] <= 1e-4
    assert res["deletion_test"]["lowered_rate"] >= 0.9
    assert res["deletion_test"]["beats_random_rate"] >= 0.8
    assert res["deletion_curve"]["attribution"]["auc"] < res["deletion_curve"]["random"]["auc"]
    assert res["insertion_curve"]["attribution"]["auc"] > res["insertion_curve"]["random"]["auc"]
    assert res["comprehensiveness"]["attribution"] > res["comprehensiveness"]["random"]
    assert res["sufficiency"]["attribution"] < res["sufficiency"]["random"]


def test_explain_recommendations_evidence(ease, data, histories, calibrator, counts) -> None:
    ds, _ = data
    prof = profile_of(histories, 195)
    out = explain_recommendations(ease, ds, prof, 10, calibrator=calibrator, item_counts=counts, additive=True)
    assert len(out.items) == 10
    assert out.max_additivity_error <= 1e-4
    shown = {e.item_id for e in out.items}
    seen = {ds.items[i].item_id for i in prof.history}
    assert not shown & seen
    scores = [e.score for e in out.items]
    assert scores == sorted(scores, reverse=True)
    for ev in out.items:
        assert ev.history, "every item has history attributions"
        assert {h.item_id for h in ev.history} <= seen
        vals = [abs(h.value) for h in ev.history]
        assert vals == sorted(vals, reverse=True)
        assert ev.trust is not None and 0 <= ev.trust.composite <= 1
    assert out.list_report.n == 10 and out.list_report.regret >= 0


def test_explain_recommendations_feature_ranker(ease, data, histories, calibrator, counts) -> None:
    ds, _ = data
    ranker = GroupedRanker(ease, counts)
    cal = calibrator  # scores shift by a constant; only ranges matter here
    out = explain_recommendations(
        ranker, ds, profile_of(histories, 12), 5, calibrator=cal, item_counts=counts,
        config=None,
    )  # fmt: skip
    for ev in out.items:
        assert set(ev.features) == {"collaborative", "popularity"}
        assert ev.feature_base_value is not None
        assert abs(sum(ev.features.values()) + ev.feature_base_value - ev.score) <= 1e-4
    assert out.feature_max_additivity_error is not None and out.feature_max_additivity_error <= 1e-4


@pytest.mark.slow
def test_trained_joint_model_explanations(data, histories, counts) -> None:
    """On the trained joint model (skipped until `trustrec train --protocol ro811` has run)."""
    from catalog import Workspace
    from ranker.calibration import CalibrationConfig, fit_calibrator

    try:
        from ranker.train import load_trained

        model = load_trained(Workspace(), "ro811")
    except (FileNotFoundError, ImportError) as e:
        pytest.skip(f"no trained joint model: {e}")
    ds, split = data
    cal = fit_calibrator(model, split, CalibrationConfig(max_users=100))
    for u in (195, 404):
        out = explain_recommendations(model, ds, profile_of(histories, u), 5, calibrator=cal, item_counts=counts)
        assert out.history_method in ("permutation", "exact")
        assert out.max_additivity_error <= 1e-4
        assert out.feature_max_additivity_error is not None and out.feature_max_additivity_error <= 1e-4
        for ev in out.items:
            assert set(ev.features) == set(model.feature_groups)
            assert ev.trust is not None and 0 <= ev.trust.composite <= 1


class _Counting:
    """Counts ranker.score calls (to check that coalitions are batched)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.calls, self.rows = inner, 0, 0

    @property
    def n_items(self) -> int:
        return int(self.inner.n_items)

    def score(self, profiles, items=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        self.rows += len(profiles)
        return self.inner.score(profiles, items)


def test_coalitions_are_scored_in_one_call(ease, histories) -> None:
    ranker = _Counting(SaturatingRanker(ease))
    prof = profile_of(histories, 404)
    items = recommend(ranker, prof, 10).item_idx
    ranker.calls = ranker.rows = 0
    ex = ShapExplainer(ranker, ShapConfig(max_history=20, n_permutations=4)).explain_history(prof, items)
    # one call for the full score, one for the window screening, one for every coalition of the game
    assert ranker.calls == 3
    assert ex.additivity_error.max() <= 1e-4
    # distinct coalitions only: the full profile is shared by every permutation
    assert ranker.rows <= 1 + 50 + 4 * (2 * 20 + 1)
