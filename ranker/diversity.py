"""List-level diversity: item similarity, intra-list diversity, novelty, coverage and MMR re-ranking.

Definitions (used by the trust report and the evals):

- **Intra-list diversity (ILD)**: ``1 - mean pairwise similarity`` over the list's item pairs, the
  similarity being cosine of item embeddings when the ranker exposes them, else the Jaccard index
  of the items' categories (genres on ml-100k). In [0, 1] for Jaccard; in [0, 2] for cosine.
- **Novelty**: mean ``-log2 p(i)`` over the list, ``p(i)`` = share of users who interacted with
  item ``i`` in the training data (unseen items count as one interaction, so the value is finite).
- **Catalog coverage**: share of the catalog that appears in at least one of a set of lists.
- **MMR** (maximal marginal relevance, Carbonell & Goldstein 1998): greedily pick
  ``argmax lambda * rel(i) - (1 - lambda) * max_{j in S} sim(i, j)``, with ``rel`` the score
  min-max normalised over the candidates, so ``lambda = 1`` is the plain ranking and smaller
  values trade relevance for diversity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from catalog.types import Dataset


class DiversityConfig(BaseModel):
    """Controllable diversity (MMR re-ranking)."""

    mmr_lambda: float = Field(
        1.0, ge=0.0, le=1.0, description="Relevance weight in MMR: 1 = plain ranking, 0 = only diversity."
    )
    pool: int = Field(100, ge=1, description="Re-rank among this many top-scored candidates.")


class ItemSimilarity:
    """Pairwise item similarity: cosine of embeddings, or Jaccard of categories.

    Args:
        matrix: Either a dense ``(n_items, d)`` embedding matrix (``kind="cosine"``) or a binary
            ``(n_items, n_categories)`` incidence matrix (``kind="jaccard"``).
        kind: ``"cosine"`` or ``"jaccard"``.
    """

    def __init__(self, matrix: np.ndarray, kind: str) -> None:
        if kind not in ("cosine", "jaccard"):
            raise ValueError(f"similarity kind {kind!r}; use 'cosine' or 'jaccard'")
        m = np.asarray(matrix, dtype=np.float32)
        if kind == "cosine":
            norms = np.linalg.norm(m, axis=1, keepdims=True)
            m = m / np.maximum(norms, 1e-12)
        self.kind = kind
        self._m = m
        self._size = m.sum(axis=1)

    @classmethod
    def from_categories(cls, dataset: Dataset) -> ItemSimilarity:
        """Jaccard similarity of item categories (genres on ml-100k)."""
        cats = dataset.categories()
        pos = {c: k for k, c in enumerate(cats)}
        inc = np.zeros((dataset.n_items, max(len(cats), 1)), dtype=np.float32)
        for i, it in enumerate(dataset.items):
            for c in it.categories:
                inc[i, pos[c]] = 1.0
        return cls(inc, "jaccard")

    @classmethod
    def from_embeddings(cls, embeddings: np.ndarray) -> ItemSimilarity:
        """Cosine similarity of item embeddings."""
        return cls(embeddings, "cosine")

    @property
    def n_items(self) -> int:
        return int(self._m.shape[0])

    def pairwise(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """Similarity matrix of shape ``(len(a), len(b))`` (``b`` defaults to ``a``)."""
        a = np.asarray(a, dtype=np.int64)
        b = a if b is None else np.asarray(b, dtype=np.int64)
        inter = self._m[a] @ self._m[b].T
        if self.kind == "cosine":
            return np.asarray(inter, dtype=np.float64)
        union = self._size[a][:, None] + self._size[b][None, :] - inter
        # two items without categories are treated as unrelated, not identical
        return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float64)


def intra_list_diversity(items: np.ndarray, similarity: ItemSimilarity) -> float:
    """``1 - mean pairwise similarity`` of the list (0.0 for lists shorter than 2)."""
    items = np.asarray(items, dtype=np.int64)
    k = items.size
    if k < 2:
        return 0.0
    s = similarity.pairwise(items)
    off = (s.sum() - np.trace(s)) / (k * (k - 1))
    return float(1.0 - off)


def item_popularity(train_items: np.ndarray, n_items: int) -> np.ndarray:
    """Interaction count per item from an array of training ``item_idx`` values."""
    return np.bincount(np.asarray(train_items, dtype=np.int64), minlength=n_items).astype(np.int64)


def novelty(items: np.ndarray, counts: np.ndarray, n_users: int) -> float:
    """Mean self-information ``-log2(count / n_users)`` of the list (counts floored at 1)."""
    items = np.asarray(items, dtype=np.int64)
    if items.size == 0:
        return 0.0
    p = np.maximum(counts[items], 1) / max(n_users, 1)
    return float(np.mean(-np.log2(np.minimum(p, 1.0))))


def catalog_coverage(lists: Sequence[np.ndarray], n_items: int) -> float:
    """Share of the catalog appearing in at least one list."""
    if not lists:
        return 0.0
    seen = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in lists]))
    return float(seen.size / max(n_items, 1))


def mmr_rerank(
    items: np.ndarray, scores: np.ndarray, similarity: ItemSimilarity, n: int, mmr_lambda: float
) -> np.ndarray:
    """Re-rank ``items`` (with relevance ``scores``) by maximal marginal relevance.

    Args:
        items: Candidate item indices.
        scores: Their relevance scores (any scale; min-max normalised here).
        similarity: Item similarity used for the redundancy term.
        n: List length.
        mmr_lambda: Relevance weight in [0, 1]; 1 returns the candidates by score.

    Returns:
        Up to ``n`` item indices in MMR order.
    """
    if not 0.0 <= mmr_lambda <= 1.0:
        raise ValueError(f"mmr_lambda must be in [0, 1], got {mmr_lambda}")
    items = np.asarray(items, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    n = min(n, items.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-s, kind="stable")
    items, s = items[order], s[order]
    if mmr_lambda >= 1.0:
        return items[:n]
    span = s.max() - s.min()
    rel = (s - s.min()) / span if span > 0 else np.ones_like(s)
    sim = similarity.pairwise(items)
    chosen = [0]
    max_sim = sim[0].copy()
    avail = np.ones(items.size, dtype=bool)
    avail[0] = False
    for _ in range(n - 1):
        gain = mmr_lambda * rel - (1.0 - mmr_lambda) * max_sim
        gain[~avail] = -np.inf
        j = int(np.argmax(gain))
        chosen.append(j)
        avail[j] = False
        max_sim = np.maximum(max_sim, sim[j])
    return items[np.asarray(chosen)]
