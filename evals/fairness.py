"""Popularity bias, user-group gaps, popularity debiasing and the MMR accuracy/diversity trade-off.

All figures come from the full-ranking test pass of :mod:`evals.ranking` (same profiles and masks):

- ``arp``: average recommendation popularity, the mean training interaction count of the
  recommended items (averaged over lists).
- ``gini``: Gini index of how often each catalog item is recommended over all top-``n`` lists
  (0 = every item equally often, 1 = one item everywhere).
- ``coverage``: share of the catalog recommended to at least one user.
- ``novelty`` and ``ild`` (intra-list diversity, genre Jaccard) from :mod:`ranker.diversity`.
- ``ndcg@10`` overall and by user group: gender, and age bands (<25, 25-34, 35-44, 45-54, 55+).

Popularity debiasing (``betas``): ``score' = score - beta * sd_u * z(log(1 + count))``, where
``sd_u`` is the user's score standard deviation over eligible items and ``z`` standardises log
popularity over the catalog, so ``beta`` is unit-free (``beta = 0`` is the plain ranking); each beta
reports NDCG@10 (its cost) next to the bias figures. MMR (``mmr_lambdas``) re-ranks each user's top
``pool`` with :func:`ranker.diversity.mmr_rerank`; each lambda reports NDCG@10 next to ILD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from catalog.splits import Split
from catalog.types import Dataset
from evals.metrics import metrics_from_hits, topk_indices
from evals.ranking import history_profiles
from ranker.base import Ranker
from ranker.diversity import ItemSimilarity, intra_list_diversity, item_popularity, mmr_rerank, novelty

__all__ = ["AGE_BANDS", "age_band", "evaluate_fairness", "gini"]

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("<25", 0, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55+", 55, 200),
)


def age_band(age: Any) -> str:
    """The age band label of an age (``"unknown"`` when missing)."""
    try:
        a = int(age)
    except (TypeError, ValueError):
        return "unknown"
    for name, lo, hi in AGE_BANDS:
        if lo <= a <= hi:
            return name
    return "unknown"


def gini(counts: np.ndarray) -> float:
    """Gini index of a non-negative count vector (0 = equal)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * ranks - n - 1) @ x / (n * x.sum()))


def _list_stats(
    lists: np.ndarray,
    hits: np.ndarray,
    n_pos: np.ndarray,
    counts: np.ndarray,
    n_users: int,
    sim: ItemSimilarity,
    k: int,
) -> dict[str, Any]:
    rec_counts = np.bincount(lists.ravel(), minlength=counts.size)
    per = metrics_from_hits(hits, n_pos, (k,))
    return {
        f"ndcg@{k}": float(per[f"ndcg@{k}"].mean()),
        f"recall@{k}": float(per[f"recall@{k}"].mean()),
        "arp": float(counts[lists].mean()),
        "gini": gini(rec_counts),
        "coverage": float((rec_counts > 0).mean()),
        "novelty": float(np.mean([novelty(row, counts, n_users) for row in lists])),
        "ild": float(np.mean([intra_list_diversity(row, sim) for row in lists])),
        "_per_user_ndcg": per[f"ndcg@{k}"],
    }


def evaluate_fairness(
    ranker: Ranker,
    dataset: Dataset,
    split: Split,
    *,
    n: int = 10,
    betas: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0),
    mmr_lambdas: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3),
    pool: int = 100,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Bias, group gaps, debiasing and diversity trade-off figures (see the module docstring)."""
    say = progress or (lambda _m: None)
    es = history_profiles(dataset, split, "test")
    counts = item_popularity(split.train["item_idx"].to_numpy(), dataset.n_items)
    sim = ItemSimilarity.from_categories(dataset)
    say(f"scoring {len(es)} test users")
    blocks = []
    for start in range(0, len(es), 512):
        stop = min(start + 512, len(es))
        s = np.array(ranker.score(es.profiles[start:stop]), dtype=np.float64, copy=True)
        s[es.mask(start, stop)] = -np.inf
        blocks.append(s)
    scores = np.concatenate(blocks)
    targets = es.targets_matrix()
    n_pos = targets.sum(axis=1)
    finite = np.isfinite(scores)
    sd_u = np.array([row[m].std() if m.any() else 1.0 for row, m in zip(scores, finite, strict=True)])
    logpop = np.log1p(counts.astype(np.float64))
    zpop = (logpop - logpop.mean()) / (logpop.std() or 1.0)

    users = es.user_idx
    gender = np.array([str(dataset.users[u].attributes.get("gender", "unknown")) for u in users])
    band = np.array([age_band(dataset.users[u].attributes.get("age")) for u in users])

    debias = []
    base_stats: dict[str, Any] | None = None
    for beta in betas:
        say(f"popularity debiasing beta={beta}")
        adj = scores - beta * sd_u[:, None] * zpop[None, :]
        top = topk_indices(adj, n)
        hits = np.take_along_axis(targets, top, axis=1) & np.isfinite(np.take_along_axis(adj, top, axis=1))
        st = _list_stats(top, hits, n_pos, counts, dataset.n_users, sim, n)
        if base_stats is None:
            base_stats = st
        debias.append({"beta": float(beta), **{k: v for k, v in st.items() if not k.startswith("_")}})
    assert base_stats is not None
    per_user = base_stats["_per_user_ndcg"]

    def by(groups: np.ndarray) -> dict[str, dict[str, float]]:
        out = {}
        for g in sorted(set(groups.tolist())):
            m = groups == g
            out[g] = {"users": int(m.sum()), f"ndcg@{n}": float(per_user[m].mean())}
        vals = [v[f"ndcg@{n}"] for v in out.values() if v["users"] > 0]
        out["_max_gap"] = {f"ndcg@{n}": float(max(vals) - min(vals)) if vals else 0.0, "users": 0}
        return out

    mmr = []
    top_pool = topk_indices(scores, pool)
    for lam in mmr_lambdas:
        say(f"MMR lambda={lam}")
        lists = np.stack(
            [
                mmr_rerank(top_pool[r], scores[r, top_pool[r]], sim, n, lam)
                if np.isfinite(scores[r, top_pool[r]]).all()
                else top_pool[r, :n]
                for r in range(len(es))
            ]
        )
        hits = np.take_along_axis(targets, lists, axis=1)
        st = _list_stats(lists, hits, n_pos, counts, dataset.n_users, sim, n)
        mmr.append({"lambda": float(lam), **{k: v for k, v in st.items() if not k.startswith("_")}})

    plain = {k: v for k, v in base_stats.items() if not k.startswith("_")}
    return {
        "protocol": split.protocol,
        "users": len(es),
        "n": n,
        "recommendations": plain,
        "by_gender": by(gender),
        "by_age_band": by(band),
        "popularity_debiasing": debias,
        "mmr_tradeoff": mmr,
    }
