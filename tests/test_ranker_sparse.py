"""Large-catalog item-item models: the sparse / low-rank forms agree with the dense ones where they should
(full rank, k = all items), the size threshold switches between them, and scoring and SHAP run on them.

Real ml-100k train data throughout; the threshold is lowered so the large-catalog path runs on it.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from catalog.splits import make_split
from catalog.types import Dataset
from ranker.base import Profile
from ranker.baselines import EASEConfig, EASERanker, ItemKNNConfig, ItemKNNRanker, train_matrix
from ranker.config import RankerConfig
from ranker.explain import ShapExplainer
from ranker.features import ItemFeatures, fit_features, rp3_matrix, rp3_topk, transition_csr, transition_matrix
from ranker.model import JointRanker
from ranker.sparse import LowRankEASE, topk_per_row


@pytest.fixture(scope="module")
def split(ml100k: Dataset):  # type: ignore[no-untyped-def]
    return make_split(ml100k, "ro811", seed=2020)


def _profiles(ds: Dataset, split, users: range) -> list[Profile]:  # type: ignore[no-untyped-def]
    hist = split.histories("train")
    return [Profile(hist[u], user_idx=u) for u in users]


#: Users the low-rank tests keep, so a full-rank spectrum stays cheap to compute.
USERS = 300


def _top(scores: np.ndarray, n: int = 10) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :n]


def _overlap(a: np.ndarray, b: np.ndarray, n: int = 10) -> float:
    """Mean share of each row's top ``n`` that the two score matrices have in common."""
    return float(np.mean([np.intersect1d(x, y).size / n for x, y in zip(_top(a, n), _top(b, n), strict=True)]))


def test_topk_per_row_keeps_the_largest_entries_of_each_row() -> None:
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((40, 60)) < 0.3, rng.random((40, 60)), 0.0)
    cut = topk_per_row(sp.csr_matrix(dense), 5).toarray()
    for r in range(40):
        nz = np.flatnonzero(dense[r])
        want = nz[np.argsort(-dense[r, nz])[:5]]
        assert set(np.flatnonzero(cut[r])) == set(want)
        np.testing.assert_array_equal(cut[r, want], dense[r, want])


def test_low_rank_ease_is_exact_at_full_rank_and_close_below(ml100k: Dataset, split) -> None:  # type: ignore[no-untyped-def]
    x = train_matrix(ml100k, split)[:USERS]  # USERS users: a Gram matrix of rank <= USERS
    dense = EASERanker().fit_matrix(x)
    profiles = _profiles(ml100k, split, range(0, 943, 7))
    want = dense.score(profiles)
    # keeping every eigenpair is EASE itself
    full = EASERanker(EASEConfig(sparse_above=1, rank=USERS)).fit_matrix(x)
    assert isinstance(full.B, LowRankEASE) and isinstance(dense.B, np.ndarray)
    got = full.score(profiles)
    np.testing.assert_allclose(got, want, atol=2e-3 * np.abs(want).max())
    assert (_top(got) == _top(want)).mean() > 0.97
    # candidates: the same columns as the full ranking
    items = np.array([5, 50, 500, 1000])
    np.testing.assert_allclose(full.score(profiles, items), got[:, items], rtol=1e-5, atol=1e-6)
    # a truncated spectrum is an approximation: most of the top 10 survive
    low = EASERanker(EASEConfig(sparse_above=1, rank=64)).fit_matrix(x).score(profiles)
    assert 0.4 < _overlap(low, want) < 1.0


def test_ease_threshold_switches_between_dense_and_low_rank(ml100k: Dataset, split) -> None:  # type: ignore[no-untyped-def]
    x = train_matrix(ml100k, split)[:USERS]
    n = ml100k.n_items
    assert isinstance(EASERanker(EASEConfig(sparse_above=n)).fit_matrix(x).B, np.ndarray)
    assert isinstance(EASERanker(EASEConfig(sparse_above=n - 1, rank=32)).fit_matrix(x).B, LowRankEASE)


def test_itemknn_blockwise_neighbours_equal_the_dense_ones(ml100k: Dataset, split) -> None:  # type: ignore[no-untyped-def]
    x = train_matrix(ml100k, split)
    dense = ItemKNNRanker().fit_matrix(x)
    blockwise = ItemKNNRanker(ItemKNNConfig(sparse_above=1)).fit_matrix(x)
    assert dense.W is not None and blockwise.W is not None
    diff = abs(dense.W - blockwise.W)
    # only ties at the k-th neighbour may differ (which of the equal items is kept)
    differing_cols = np.unique(diff.nonzero()[1])
    for c in differing_cols:
        a, b = dense.W[:, [c]].toarray().ravel(), blockwise.W[:, [c]].toarray().ravel()
        np.testing.assert_allclose(np.sort(a), np.sort(b), rtol=1e-5)  # same values, tied items swapped
    profiles = _profiles(ml100k, split, range(0, 943, 5))
    assert _overlap(dense.score(profiles), blockwise.score(profiles)) > 0.97  # ties reorder a few


def test_rp3_and_transition_sparse_forms_equal_the_dense_ones(ml100k: Dataset, split) -> None:  # type: ignore[no-untyped-def]
    seqs = split.histories("train")
    x = train_matrix(ml100k, split)
    n = ml100k.n_items
    np.testing.assert_allclose(rp3_topk(x, 0.8, 0.6, n).toarray(), rp3_matrix(x.toarray(), 0.8, 0.6), atol=1e-6)
    cut = rp3_topk(x, 0.8, 0.6, 50)
    assert np.diff(cut.indptr).max() <= 50
    dense_rp3 = rp3_matrix(x.toarray(), 0.8, 0.6)
    row = int(np.argmax(np.diff(cut.indptr)))
    assert cut[row].toarray().min(where=cut[row].toarray() > 0, initial=1.0) >= np.sort(dense_rp3[row])[-50] - 1e-6
    np.testing.assert_allclose(
        transition_csr(seqs, n, window=3, smoothing=1.0).toarray(),
        transition_matrix(seqs, n, window=3, smoothing=1.0),
        atol=1e-6,
    )


def _joint(ds: Dataset, feats: ItemFeatures, split) -> JointRanker:  # type: ignore[no-untyped-def]
    from ranker.features import attribute_indices

    cfg = RankerConfig()
    _, bucket, _ = attribute_indices(ds, cfg.year_buckets)
    torch.manual_seed(0)
    m = JointRanker(
        cfg, n_users=ds.n_users, features=feats, year_bucket=bucket, text_vecs=None, ablation="id-only",
        item_mask=split.item_mask,
    )  # fmt: skip
    m.head.update(ease=1.0, rp3=0.5, transition=0.3, uknn=0.4, popularity=0.2, two_tower=0.1, genre=0.1, seq=0.0)
    return m


@pytest.mark.slow  # sampled SHAP over the joint model: ~25 s on a quiet 2-core machine
def test_joint_ranker_scores_and_explains_on_sparse_features(ml100k: Dataset, split) -> None:  # type: ignore[no-untyped-def]
    kw = dict(ease_lambda=250.0, window=3, smoothing=1.0, year_buckets=8)
    train = split.train[split.train["user_idx"] < USERS]  # a full-rank spectrum stays cheap
    dense_f = fit_features(ml100k, train, **kw)  # type: ignore[arg-type]
    n = ml100k.n_items
    sparse_f = fit_features(ml100k, train, **kw, sparse_above=1, sparse_k=n, ease_rank=USERS)  # type: ignore[arg-type]
    assert not dense_f.sparse and sparse_f.sparse
    assert sp.issparse(sparse_f.rp3) and sp.issparse(sparse_f.users) and isinstance(sparse_f.ease, LowRankEASE)
    dense, large = _joint(ml100k, dense_f, split), _joint(ml100k, sparse_f, split)
    profiles = _profiles(ml100k, split, range(3, 943, 31))
    profiles.append(Profile(np.array([10, 20, 30]), weights=np.array([1.0, 2.0, -1.0])))  # session likes/dislikes
    want, got = dense.score(profiles), large.score(profiles)
    np.testing.assert_allclose(got, want, atol=2e-3 * np.abs(want).max())
    items = np.array([1, 100, 900])
    np.testing.assert_allclose(large.score(profiles, items), got[:, items], rtol=1e-5, atol=1e-6)

    # checkpoint arrays round-trip the sparse and low-rank forms
    back = ItemFeatures.from_arrays(sparse_f.arrays())
    assert back.sparse and (abs(back.rp3 - sparse_f.rp3)).max() == 0
    np.testing.assert_allclose(_joint(ml100k, back, split).score(profiles[:3]), got[:3], rtol=1e-5, atol=1e-7)

    # SHAP over history (sampled: the joint model is not declared additive) and feature groups
    shap = ShapExplainer(large)
    top = _top(got[:1], 3)[0]
    hist = shap.explain_history(profiles[0], top)
    assert hist.additivity_error.max() < 1e-4
    feats = shap.explain_features(profiles[0], top)
    assert feats is not None and feats.additivity_error.max() < 1e-6


def test_candidate_first_scoring_matches_the_full_ranking_on_the_candidates(ml100k: Dataset, split) -> None:  # type: ignore[no-untyped-def]
    from ranker.calibration import Calibrator
    from ranker.explain import ExplainConfig, RecommendationExplainer
    from ranker.sparse import neighbour_candidates

    x = train_matrix(ml100k, split)
    knn = ItemKNNRanker().fit_matrix(x)
    counts = np.asarray(x.sum(0)).ravel()
    rng = np.random.default_rng(0)
    cal = Calibrator.fit(rng.normal(size=200), (rng.random(200) < 0.3).astype(float), method="platt")
    full = RecommendationExplainer(knn, ml100k, cal, counts, ExplainConfig())
    first = RecommendationExplainer(
        knn, ml100k, cal, counts, ExplainConfig(candidate_first_above=1, candidate_pool=100)
    )
    assert first.neighbours is knn.W or (abs(first.neighbours - knn.W)).max() == 0  # the ranker's own neighbours
    for profile in _profiles(ml100k, split, range(0, 943, 97)):
        all_scores = knn.score([profile])[0].astype(np.float64)
        # given candidates: exactly the full ranking restricted to them
        cand = rng.choice(ml100k.n_items, 300, replace=False)
        got = first(profile, 10, candidates=cand, mmr_lambda=1.0)
        masked = np.full(ml100k.n_items, -np.inf)
        keep = np.setdiff1d(cand, profile.history)
        masked[keep] = all_scores[keep]
        want = np.argsort(-masked, kind="stable")[:10]
        got_idx = np.array([ml100k.item_index[e.item_id] for e in got.items])
        np.testing.assert_allclose(all_scores[got_idx], masked[want], rtol=1e-6)
        assert got.max_additivity_error < 1e-4
        # no candidates: the history's neighbours and the most popular are scored, and the top 10
        # of the full ranking are almost all among them (a neighbour-free item scores 0 under ItemKNN)
        auto = first.candidates_for(profile)
        assert np.array_equal(auto, neighbour_candidates(profile, knn.W, counts, 100, 20))
        got = first(profile, 10, mmr_lambda=1.0)
        got_idx = np.array([ml100k.item_index[e.item_id] for e in got.items])
        assert np.isin(got_idx, auto).all()
        top_full = [ml100k.item_index[e.item_id] for e in full(profile, 10, mmr_lambda=1.0).items]
        assert np.intersect1d(got_idx, top_full).size >= 7


def test_gather_columns_equals_dense_indexing_with_repeats() -> None:
    from ranker.sparse import gather_columns

    rng = np.random.default_rng(1)
    m = sp.random(7, 50, density=0.2, format="csr", random_state=2)
    items = rng.integers(0, 50, 30)  # repeats and unsorted
    np.testing.assert_array_equal(gather_columns(m, items), m.toarray()[:, items])
    np.testing.assert_array_equal(gather_columns(m, None), m.toarray())
    assert gather_columns(sp.csr_matrix((3, 50)), items).shape == (3, 30)
