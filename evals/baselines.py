"""Classical baselines with RecBole 1.2.1's default hyperparameters, as :class:`ranker.base.Ranker` s.

Every baseline scores from the profile's history (not from a stored user row), so a session profile
(history plus this session's likes) works without retraining:

- :class:`PopRanker`: training interaction counts (RecBole ``Pop``).
- :class:`ItemKNNRanker`: cosine item-item similarity, top-``k`` neighbours per item, ``shrink``
  (RecBole ``ItemKNN``: k=100, shrink=0.0); score = history vector @ W.
- :class:`EASERanker`: closed-form EASE (RecBole ``EASE``: reg_weight=250.0); score = history vector @ B.
- :class:`BPRRanker`: matrix factorisation with the BPR loss (RecBole ``BPR``), torch on CPU; the
  learnt user embedding for known users, the weighted mean of the history item embeddings otherwise.

Usage: ``EASERanker().fit(dataset, split).score(profiles)``. ``fit`` reads only ``split.train``
(and, for BPR's early stopping, ``split.valid``), never ``split.test``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from catalog.splits import Split
from catalog.types import Dataset
from ranker.base import Profile

if TYPE_CHECKING:
    import torch

__all__ = [
    "BPRConfig",
    "BPRRanker",
    "EASEConfig",
    "EASERanker",
    "ItemKNNConfig",
    "ItemKNNRanker",
    "PopConfig",
    "PopRanker",
    "history_matrix",
    "train_matrix",
]


def train_matrix(dataset: Dataset, split: Split) -> sp.csr_matrix:
    """Binary ``(n_users, n_items)`` CSR matrix of the split's training interactions (float32)."""
    tr = split.train
    u = tr["user_idx"].to_numpy(dtype=np.int64)
    i = tr["item_idx"].to_numpy(dtype=np.int64)
    x = sp.csr_matrix((np.ones(u.size, dtype=np.float32), (u, i)), shape=(dataset.n_users, dataset.n_items))
    x.sum_duplicates()
    x.data[:] = 1.0  # repeated interactions count once, as RecBole's inter_matrix on deduplicated data
    return x


def history_matrix(profiles: Sequence[Profile], n_items: int) -> sp.csr_matrix:
    """``(len(profiles), n_items)`` CSR matrix of profile histories, weighted by ``Profile.weights``.

    Repeated history entries add up. Raises ValueError for an item index outside ``[0, n_items)``.
    """
    lengths = np.fromiter((p.history.size for p in profiles), dtype=np.int64, count=len(profiles))
    if lengths.sum() == 0:
        return sp.csr_matrix((len(profiles), n_items), dtype=np.float32)
    cols = np.concatenate([p.history for p in profiles])
    if cols.min() < 0 or cols.max() >= n_items:
        raise ValueError(f"profile history holds an item index outside [0, {n_items}); map item ids with the dataset")
    vals = np.concatenate([p.weights for p in profiles]).astype(np.float32)
    indptr = np.r_[0, np.cumsum(lengths)]
    x = sp.csr_matrix((vals, cols, indptr), shape=(len(profiles), n_items))
    x.sum_duplicates()
    return x


def _columns(items: np.ndarray | None) -> np.ndarray | slice:
    return slice(None) if items is None else np.asarray(items, dtype=np.int64).reshape(-1)


class _Fitted:
    """Shared plumbing: ``n_items`` and a clear error when used before ``fit``."""

    _n_items: int | None = None

    @property
    def n_items(self) -> int:
        if self._n_items is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call .fit(dataset, split) first")
        return self._n_items

    def _check_fitted(self) -> None:
        _ = self.n_items


# ---------------------------------------------------------------------------------------------- EASE


class EASEConfig(BaseModel):
    """EASE (Steck 2019) hyperparameters; defaults are RecBole's ``EASE.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reg_weight: float = Field(250.0, gt=0, description="L2 weight added to the Gram matrix diagonal (RecBole: 250.0).")


class EASERanker(_Fitted):
    """Closed-form EASE: ``B = -P / diag(P)`` with ``P = (X^T X + reg I)^-1`` and ``diag(B) = 0``.

    Score of a profile = (weighted history vector) @ B, exactly RecBole's ``X[user] @ B`` for a
    training user's profile.
    """

    name = "ease"

    def __init__(self, config: EASEConfig | None = None) -> None:
        self.config = config or EASEConfig()
        self.B: np.ndarray | None = None

    def fit(self, dataset: Dataset, split: Split) -> EASERanker:
        """Learn ``B`` from ``split.train``. Returns self."""
        return self.fit_matrix(train_matrix(dataset, split))

    def fit_matrix(self, x: sp.spmatrix) -> EASERanker:
        """Learn ``B`` from a ``(n_users, n_items)`` interaction matrix. Returns self."""
        x = sp.csr_matrix(x, dtype=np.float64)
        g = (x.T @ x).toarray()
        g[np.diag_indices_from(g)] += self.config.reg_weight
        p = np.linalg.inv(g)
        b = p / (-np.diag(p))
        np.fill_diagonal(b, 0.0)
        self.B = b.astype(np.float32)
        self._n_items = int(b.shape[0])
        return self

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))`` (all items when ``items`` is None)."""
        self._check_fitted()
        assert self.B is not None
        h = history_matrix(profiles, self.n_items)
        return np.asarray(h @ self.B[:, _columns(items)], dtype=np.float32)
