"""Ranking metrics (RecBole 1.2.1 definitions) and the ro811 / loo evaluation protocols."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.metrics import full_ranking_metrics, metrics_from_hits, topk_indices
from evals.ranking import (
    EvalSet,
    evaluate,
    evaluate_set,
    history_profiles,
    ranking_models,
    register_ranking_model,
    time_evaluation,
)
from ranker.base import Profile, Ranker

# ------------------------------------------------------------------------------------------ metrics


def test_hand_computed_single_user() -> None:
    # ranking by score: items 4, 2, 0, 3, 1 ; targets {2, 1} -> hits at ranks 2 and 5
    scores = np.array([[0.6, 0.1, 0.8, 0.3, 0.9]])
    m = full_ranking_metrics(scores, [np.array([2, 1])], ks=(1, 2, 5))
    assert m["hit@1"] == 0.0 and m["mrr@1"] == 0.0 and m["ndcg@1"] == 0.0
    assert m["recall@2"] == pytest.approx(0.5)
    assert m["precision@2"] == pytest.approx(0.5)
    assert m["mrr@2"] == pytest.approx(0.5)
    # DCG@2 = 1/log2(3); IDCG@2 = 1 + 1/log2(3)
    assert m["ndcg@2"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert m["recall@5"] == pytest.approx(1.0)
    assert m["precision@5"] == pytest.approx(0.4)
    assert m["ndcg@5"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(6)) / (1 + 1 / np.log2(3)))


def test_ideal_dcg_uses_min_of_targets_and_k() -> None:
    # 3 targets, k=2, both top-2 are hits -> NDCG@2 = 1 (ideal over min(3, 2) = 2 ranks)
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    m = full_ranking_metrics(scores, [np.array([0, 1, 4])], ks=(2,))
    assert m["ndcg@2"] == pytest.approx(1.0)
    assert m["recall@2"] == pytest.approx(2 / 3)


def test_averaging_over_users() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    m = full_ranking_metrics(scores, [np.array([0]), np.array([2])], ks=(1, 3))
    assert m["hit@1"] == pytest.approx(0.5)
    assert m["mrr@3"] == pytest.approx((1.0 + 1 / 3) / 2)


def test_masked_target_is_never_a_hit() -> None:
    scores = np.array([[-np.inf, 1.0, 0.5]])
    m = full_ranking_metrics(scores, [np.array([0])], ks=(3,))
    assert m["hit@3"] == 0.0 and m["recall@3"] == 0.0


def test_topk_ties_break_by_item_index() -> None:
    s = np.array([[1.0, 2.0, 2.0, 0.0, 2.0]])
    assert topk_indices(s, 3).tolist() == [[1, 2, 4]]


def test_users_without_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        metrics_from_hits(np.zeros((1, 5), dtype=bool), np.array([0]), ks=(5,))


def _naive(scores: np.ndarray, targets: Sequence[np.ndarray], k: int) -> dict[str, float]:
    """RecBole's formulas written out per user, with a stable argsort."""
    out = {f"{m}@{k}": 0.0 for m in ("recall", "mrr", "ndcg", "hit", "precision")}
    for s, t in zip(scores, targets, strict=True):
        order = np.argsort(-s, kind="stable")[:k]
        hits = [bool(i in set(t.tolist()) and np.isfinite(s[i])) for i in order]
        n = len(hits)
        dcg = sum(1 / np.log2(r + 2) for r in range(n) if hits[r])
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(t), k)))
        first = next((r + 1 for r in range(n) if hits[r]), None)
        out[f"recall@{k}"] += sum(hits) / len(t)
        out[f"mrr@{k}"] += 0.0 if first is None else 1 / first
        out[f"ndcg@{k}"] += dcg / idcg
        out[f"hit@{k}"] += float(any(hits))
        out[f"precision@{k}"] += sum(hits) / k
    return {key: v / len(targets) for key, v in out.items()}


@st.composite
def _problems(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray], int]:
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(2, 30))
    k = draw(st.integers(1, n_items + 3))
    # small integer scores create ties; some -inf masks
    scores = np.array(
        draw(
            st.lists(
                st.lists(st.integers(-3, 3), min_size=n_items, max_size=n_items), min_size=n_users, max_size=n_users
            )
        ),
        dtype=np.float64,
    )
    mask = np.array(
        draw(st.lists(st.lists(st.booleans(), min_size=n_items, max_size=n_items), min_size=n_users, max_size=n_users))
    )
    scores[mask & (scores < -1)] = -np.inf
    targets = []
    for _ in range(n_users):
        t = draw(st.sets(st.integers(0, n_items - 1), min_size=1, max_size=n_items))
        targets.append(np.array(sorted(t)))
    return scores, targets, k


@given(_problems())
@settings(max_examples=150, deadline=None)
def test_matches_naive_recbole_formulas_and_bounds(problem: tuple[np.ndarray, list[np.ndarray], int]) -> None:
    scores, targets, k = problem
    fast = full_ranking_metrics(scores, targets, ks=(k,))
    slow = _naive(scores, targets, k)
    for key, v in slow.items():
        assert fast[key] == pytest.approx(v, abs=1e-9), key
        assert 0.0 <= fast[key] <= 1.0 + 1e-12


@given(_problems())
@settings(max_examples=80, deadline=None)
def test_perfect_ranking_scores_one(problem: tuple[np.ndarray, list[np.ndarray], int]) -> None:
    scores, targets, k = problem
    perfect = np.zeros_like(scores)
    for u, t in enumerate(targets):
        perfect[u, t] = 10.0 + np.arange(len(t))
    m = full_ranking_metrics(perfect, targets, ks=(k,), per_user=True)
    n_t = np.array([len(t) for t in targets])
    np.testing.assert_allclose(m[f"ndcg@{k}"], 1.0)
    np.testing.assert_allclose(m[f"mrr@{k}"], 1.0)
    np.testing.assert_allclose(m[f"hit@{k}"], 1.0)
    np.testing.assert_allclose(m[f"recall@{k}"], np.minimum(n_t, k) / n_t)
    np.testing.assert_allclose(m[f"precision@{k}"], np.minimum(n_t, k) / k)


@given(_problems())
@settings(max_examples=60, deadline=None)
def test_recall_and_hit_grow_with_k(problem: tuple[np.ndarray, list[np.ndarray], int]) -> None:
    scores, targets, _ = problem
    ks = (1, 2, 3, 5, 8)
    m = full_ranking_metrics(scores, targets, ks=ks)
    for a, b in itertools.pairwise(ks):
        assert m[f"recall@{a}"] <= m[f"recall@{b}"] + 1e-12
        assert m[f"hit@{a}"] <= m[f"hit@{b}"] + 1e-12
        assert m[f"mrr@{a}"] <= m[f"mrr@{b}"] + 1e-12


# ---------------------------------------------------------------------------------------- protocols


@pytest.fixture(scope="module")
def ro(ml100k):  # type: ignore[no-untyped-def]
    from catalog import ro_split

    return ro_split(ml100k, seed=2020)


@pytest.fixture(scope="module")
def loo(ml100k):  # type: ignore[no-untyped-def]
    from catalog import loo_split

    return loo_split(ml100k)


def _pairs(df) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return set(zip(df["user_idx"].tolist(), df["item_idx"].tolist(), strict=True))


class TableRanker:
    """A ranker scoring from a fixed (n_users, n_items) table by profile.user_idx (test double)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    @property
    def n_items(self) -> int:
        return int(self.table.shape[1])

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        s = self.table[[p.user_idx for p in profiles]]
        return s if items is None else s[:, items]


def test_ro_profiles_follow_recbole(ml100k, ro) -> None:  # type: ignore[no-untyped-def]
    train, valid, test = _pairs(ro.train), _pairs(ro.valid), _pairs(ro.test)
    for on, targets_pairs in (("valid", valid), ("test", test)):
        es = history_profiles(ml100k, ro, on)
        assert len(es) == ro.test["user_idx"].nunique() == 943
        got_targets = {(p.user_idx, int(i)) for p, t in zip(es.profiles, es.targets, strict=True) for i in t}
        assert got_targets == targets_pairs
        got_hist = {(p.user_idx, int(i)) for p in es.profiles for i in p.history}
        assert got_hist == train  # history is the training part only, for both passes
        got_excl = {(p.user_idx, int(i)) for p in es.profiles for i in p.exclude}
        assert got_excl == (valid if on == "test" else set())
        mask = es.mask()
        for row, p in enumerate(es.profiles[:50]):
            assert mask[row, p.history].all() and mask[row, p.exclude].all()
            assert not mask[row, es.targets[row]].any()
            assert mask[row].sum() == p.history.size + p.exclude.size


def test_loo_profiles_follow_llamarec(ml100k, loo) -> None:  # type: ignore[no-untyped-def]
    es_valid = history_profiles(ml100k, loo, "valid")
    es_test = history_profiles(ml100k, loo, "test")
    valid_item = dict(zip(loo.valid["user_idx"].tolist(), loo.valid["item_idx"].tolist(), strict=True))
    test_item = dict(zip(loo.test["user_idx"].tolist(), loo.test["item_idx"].tolist(), strict=True))
    ts = loo.train.set_index(["user_idx", "item_idx"])["timestamp"]
    for pv, pt, tv, tt in zip(es_valid.profiles, es_test.profiles, es_valid.targets, es_test.targets, strict=True):
        u = pv.user_idx
        assert tv.tolist() == [valid_item[u]] and tt.tolist() == [test_item[u]]
        assert pt.history[-1] == valid_item[u]  # test history = train + valid, in time order
        np.testing.assert_array_equal(pt.history[:-1], pv.history)
        stamps = ts.loc[[(u, i) for i in pv.history[:20]]].to_numpy()
        assert np.all(np.diff(stamps) >= 0)
    mask = es_test.mask(0, 10)
    assert mask[:, ~loo.item_mask].all()  # items outside the 5-core are never ranked


def test_no_history_item_is_ever_counted(ml100k, ro, loo) -> None:  # type: ignore[no-untyped-def]
    """A ranker that puts every seen item first scores exactly as if it had not: masks remove them."""
    rng = np.random.default_rng(0)
    base = rng.random((ml100k.n_users, ml100k.n_items))
    for split in (ro, loo):
        seen = base.copy()
        for df in (split.train, split.valid):
            seen[df["user_idx"].to_numpy(), df["item_idx"].to_numpy()] += 100.0
        seen[:, ~split.item_mask] += 1000.0  # and ineligible items above everything
        a = evaluate(TableRanker(seen), ml100k, split, on="test")
        b = evaluate(TableRanker(base), ml100k, split, on="test")
        assert a == b
        assert a["ndcg@10"] < 0.1  # random order


def test_oracle_scores_one(ml100k, ro) -> None:  # type: ignore[no-untyped-def]
    table = np.zeros((ml100k.n_users, ml100k.n_items))
    table[ro.test["user_idx"].to_numpy(), ro.test["item_idx"].to_numpy()] = 1.0
    m = evaluate(TableRanker(table), ml100k, ro, on="test")
    assert m["ndcg@10"] == pytest.approx(1.0) and m["hit@5"] == pytest.approx(1.0)
    v = evaluate(TableRanker(table), ml100k, ro, on="valid")
    assert v["ndcg@10"] < 0.1  # test targets are not validation targets


def test_evaluate_set_checks_shape(ml100k, ro) -> None:  # type: ignore[no-untyped-def]
    es = history_profiles(ml100k, ro, "valid")
    bad = TableRanker(np.zeros((ml100k.n_users, 5)))
    with pytest.raises(ValueError, match="shape"):
        evaluate_set(bad, es)
    with pytest.raises(ValueError, match="on must be"):
        history_profiles(ml100k, ro, "train")  # type: ignore[arg-type]


def test_batching_and_per_user(ml100k, loo) -> None:  # type: ignore[no-untyped-def]
    table = np.random.default_rng(1).random((ml100k.n_users, ml100k.n_items))
    es = history_profiles(ml100k, loo, "test")
    whole = evaluate_set(TableRanker(table), es)
    small = evaluate_set(TableRanker(table), es, batch_size=100)
    per = evaluate_set(TableRanker(table), es, per_user=True)
    assert whole == pytest.approx(small)
    assert per["ndcg@10"].shape == (len(es),)
    assert float(per["ndcg@10"].mean()) == pytest.approx(whole["ndcg@10"])
    assert time_evaluation(TableRanker(table), es, repeats=1) > 0.0


def test_registry() -> None:
    models = ranking_models()
    assert {"pop", "itemknn", "ease", "bpr"} <= set(models)

    def factory(dataset, split) -> Ranker:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    register_ranking_model("test-only-model", factory)
    try:
        assert "test-only-model" in ranking_models()
        with pytest.raises(ValueError, match="already registered"):
            register_ranking_model("test-only-model", factory)
        with pytest.raises(ValueError, match="bad model name"):
            register_ranking_model("a,b", factory)
    finally:
        from evals import ranking

        ranking._MODELS.pop("test-only-model", None)
    assert "test-only-model" not in ranking_models()


def test_evalset_is_reusable_type(ml100k, ro) -> None:  # type: ignore[no-untyped-def]
    es = history_profiles(ml100k, ro, "test")
    assert isinstance(es, EvalSet)
    np.testing.assert_array_equal(es.user_idx, np.arange(943))


def test_package_exports_are_pinned_and_lazy() -> None:
    import subprocess
    import sys

    import evals

    assert evals.__all__ == sorted(
        [
            "BPRRanker", "EASERanker", "EvalSet", "ItemKNNRanker", "METRICS", "PopRanker", "evaluate", "evaluate_set",
            "full_ranking_metrics", "history_profiles", "ranking_models", "register_ranking_model", "time_evaluation",
        ]
    )  # fmt: skip
    for name in evals.__all__:
        assert getattr(evals, name) is not None
    code = "import sys, evals, evals.ranking, evals.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
