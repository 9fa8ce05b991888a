"""Vectorised full-ranking metrics with RecBole 1.2.1's definitions (``recbole/evaluator/metrics.py``).

For one user with target set ``T`` (``|T|`` = ``n_pos``) and the top-``k`` list ``r_1..r_k``:

- ``recall@k``    = hits / |T|
- ``precision@k`` = hits / k
- ``hit@k``       = 1 if any hit else 0
- ``mrr@k``       = 1 / rank of the first hit within k (0 when none)
- ``ndcg@k``      = sum_{hit at rank i} 1/log2(i+1), divided by the ideal DCG over min(|T|, k) ranks

Metrics are averaged over users (users without targets must be left out by the caller). Masked items
carry a score of ``-inf`` and never count as hits, even when they are targets. Keys read
``"<metric>@<k>"``, e.g. ``"ndcg@10"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["METRICS", "full_ranking_metrics", "hits_at", "metrics_from_hits", "targets_matrix", "topk_indices"]

METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg", "hit", "precision")
"""Metric names, in RecBole's default order."""


def topk_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest scores per row, best first.

    Ties break towards the lower item index, so results are deterministic.

    Args:
        scores: ``(n_users, n_items)`` scores; masked items are ``-inf``.
        k: List length; clipped to ``n_items``.

    Returns:
        ``(n_users, min(k, n_items))`` int64 indices.
    """
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-d (users x items), got shape {s.shape}")
    k = min(int(k), s.shape[1])
    if k <= 0:
        return np.zeros((s.shape[0], 0), dtype=np.int64)
    if k < s.shape[1]:
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        # argpartition picks arbitrary members of a tie at the k-th score; take the lowest indices instead
        kth = np.take_along_axis(s, part, axis=1).min(axis=1, keepdims=True)
        tied = np.flatnonzero((s >= kth).sum(axis=1) > k)
        if tied.size:
            st, kt = s[tied], kth[tied]
            above = st > kt
            at = st == kt
            need = k - above.sum(axis=1, keepdims=True)
            chosen = above | (at & (np.cumsum(at, axis=1) <= need))
            part[tied] = np.nonzero(chosen)[1].reshape(tied.size, k)
    else:
        part = np.broadcast_to(np.arange(s.shape[1]), s.shape).copy()
    part_scores = np.take_along_axis(s, part, axis=1)
    # lexsort: last key is primary -> sort by -score, then by item index
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64, copy=False)


def targets_matrix(targets: Sequence[np.ndarray] | np.ndarray, n_items: int) -> np.ndarray:
    """A boolean ``(n_users, n_items)`` matrix from per-user target index arrays (or pass one through)."""
    if isinstance(targets, np.ndarray) and targets.dtype == bool and targets.ndim == 2:
        if targets.shape[1] != n_items:
            raise ValueError(f"targets matrix has {targets.shape[1]} columns, expected {n_items}")
        return targets
    mat = np.zeros((len(targets), n_items), dtype=bool)
    lengths = np.fromiter((len(t) for t in targets), dtype=np.int64, count=len(targets))
    if lengths.sum():
        rows = np.repeat(np.arange(len(targets)), lengths)
        cols = np.concatenate([np.asarray(t, dtype=np.int64).reshape(-1) for t in targets])
        mat[rows, cols] = True
    return mat


def hits_at(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """Boolean ``(n_users, k)``: whether the item at each rank of the top-k is a target.

    Args:
        scores: ``(n_users, n_items)`` with masked items at ``-inf`` (never a hit).
        targets: Boolean ``(n_users, n_items)`` target matrix.
        k: Deepest rank needed.
    """
    top = topk_indices(scores, k)
    hits = np.take_along_axis(targets, top, axis=1)
    finite = np.isfinite(np.take_along_axis(np.asarray(scores), top, axis=1))
    return hits & finite


def metrics_from_hits(hits: np.ndarray, n_pos: np.ndarray, ks: Sequence[int] = (5, 10, 20)) -> dict[str, np.ndarray]:
    """Per-user metric values from a hit matrix (RecBole's ``metric_info`` formulas).

    Args:
        hits: Boolean ``(n_users, K)``, ``K >= max(ks)`` or the number of rankable items.
        n_pos: Number of targets per user (all > 0).
        ks: Cut-offs.

    Returns:
        ``{"recall@k": (n_users,) array, ...}`` for every metric in :data:`METRICS` and k in ``ks``.
    """
    hits = np.asarray(hits, dtype=bool)
    n_pos = np.asarray(n_pos, dtype=np.float64).reshape(-1)
    if hits.shape[0] != n_pos.shape[0]:
        raise ValueError(f"{hits.shape[0]} hit rows but {n_pos.shape[0]} target counts")
    if np.any(n_pos <= 0):
        raise ValueError("every user needs at least one target; drop users without targets first")
    kmax = max(ks)
    width = hits.shape[1]
    if width < kmax:  # fewer rankable items than k: the missing ranks are misses
        hits = np.pad(hits, ((0, 0), (0, kmax - width)))
    hits = hits[:, :kmax]
    ranks = np.arange(1, kmax + 1, dtype=np.float64)
    cum_hits = np.cumsum(hits, axis=1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)
    cum_dcg = np.cumsum(np.where(hits, discounts, 0.0), axis=1)
    cum_idcg = np.cumsum(discounts)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, kmax + 1)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        h = cum_hits[:, k - 1]
        idcg = cum_idcg[np.minimum(n_pos, k).astype(np.int64) - 1]
        out[f"recall@{k}"] = h / n_pos
        out[f"mrr@{k}"] = np.where(first <= k, 1.0 / first, 0.0)
        out[f"ndcg@{k}"] = cum_dcg[:, k - 1] / idcg
        out[f"hit@{k}"] = (h > 0).astype(np.float64)
        out[f"precision@{k}"] = h / k
    return out


def full_ranking_metrics(
    scores: np.ndarray,
    targets: Sequence[np.ndarray] | np.ndarray,
    ks: Sequence[int] = (5, 10, 20),
    *,
    per_user: bool = False,
) -> dict[str, float] | dict[str, np.ndarray]:
    """Full-ranking metrics of a score matrix against per-user targets.

    Args:
        scores: ``(n_users, n_items)``; set masked items (history, ineligible items) to ``-inf``.
        targets: Per-user arrays of target item indices, or a boolean ``(n_users, n_items)`` matrix.
            Every user needs at least one target.
        ks: Cut-offs (default 5, 10, 20).
        per_user: Return per-user arrays instead of means.

    Returns:
        ``{"recall@10": value, "ndcg@10": value, ...}`` (means over users, or per-user arrays).
    """
    s = np.asarray(scores)
    t = targets_matrix(targets, s.shape[1])
    if t.shape[0] != s.shape[0]:
        raise ValueError(f"{s.shape[0]} score rows but {t.shape[0]} target rows")
    per = metrics_from_hits(hits_at(s, t, max(ks)), t.sum(axis=1), ks)
    if per_user:
        return per
    return {k: float(v.mean()) if v.size else float("nan") for k, v in per.items()}
