"""The one result type every candidate generator returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """Candidate items for one request, best first.

    Attributes:
        item_ids: External item ids, distinct.
        scores: float32, higher is better, non-increasing. Their scale depends on ``sources``:
            cosine similarity for index searches, reciprocal-rank-fusion sums for hybrid lists.
        sources: Per candidate, the generator(s) that proposed it ("semantic", "user",
            "item", or several joined with "+" after fusion).
        item_idx: Per candidate, the index's integer label; equal to ``Dataset.item_idx`` when
            the index was built by :func:`retrieval.build_or_load_index`.
    """

    item_ids: tuple[str, ...]
    scores: np.ndarray
    sources: tuple[str, ...]
    item_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_ids", tuple(self.item_ids))
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32).reshape(-1))
        idx = np.asarray(self.item_idx, dtype=np.int64).reshape(-1)
        if idx.size == 0 and self.item_ids:
            idx = np.full(len(self.item_ids), -1, dtype=np.int64)
        object.__setattr__(self, "item_idx", idx)
        n = len(self.item_ids)
        if not (self.scores.size == len(self.sources) == idx.size == n):
            raise ValueError(
                f"Candidates: {n} ids, {self.scores.size} scores, {len(self.sources)} sources, {idx.size} labels"
            )

    @classmethod
    def empty(cls) -> Candidates:
        """No candidates."""
        return cls((), np.zeros(0, dtype=np.float32), ())

    def __len__(self) -> int:
        return len(self.item_ids)

    def top(self, n: int) -> Candidates:
        """The first ``n`` candidates."""
        return Candidates(self.item_ids[:n], self.scores[:n], self.sources[:n], self.item_idx[:n])

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per candidate (item_id, score, source, item_idx)."""
        return [
            {"item_id": i, "score": float(s), "source": src, "item_idx": int(x)}
            for i, s, src, x in zip(self.item_ids, self.scores, self.sources, self.item_idx, strict=True)
        ]


def reciprocal_rank_fusion(lists: Sequence[Candidates], *, k: int = 60, n: int | None = None) -> Candidates:
    """Fuse ranked lists: each item scores the sum over lists of ``1 / (k + rank)`` (rank from 1).

    Ties break by the best rank an item reached, then by item id, so the result is deterministic.
    Sources of a fused item are those of every list that contained it, joined with "+".
    """
    score: dict[str, float] = {}
    best: dict[str, int] = {}
    srcs: dict[str, list[str]] = {}
    label: dict[str, int] = {}
    for cands in lists:
        for rank, (iid, src, lab) in enumerate(zip(cands.item_ids, cands.sources, cands.item_idx, strict=True), 1):
            score[iid] = score.get(iid, 0.0) + 1.0 / (k + rank)
            best[iid] = min(best.get(iid, rank), rank)
            for s in src.split("+"):
                if s not in srcs.setdefault(iid, []):
                    srcs[iid].append(s)
            label.setdefault(iid, int(lab))
    order = sorted(score, key=lambda i: (-score[i], best[i], i))
    if n is not None:
        order = order[:n]
    return Candidates(
        tuple(order),
        np.array([score[i] for i in order], dtype=np.float32),
        tuple("+".join(srcs[i]) for i in order),
        np.array([label[i] for i in order], dtype=np.int64),
    )
