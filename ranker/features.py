"""Interpretable item-side features of the additive head, fit in closed form on the train split only.

- ``ease``: closed-form item-item weights (EASE, Steck 2019) of the binary train matrix; with text,
  the Gram matrix gets ``ease_text * T T^T`` added (T: the language model's unit item-text vectors),
  so items the LM describes alike share evidence (the LM's say inside the collaborative model).
- ``rp3``: RP3beta (Paudel et al. 2017): three-step random-walk item-item probabilities
  ``P_iu^a P_ui^a`` divided by the target's popularity to the power ``beta``.
- ``seq``: a closed-form next-item model (SLIST-like ridge regression, Choi et al. 2021): the next
  item of each train position regressed on the recency-decayed window of items before it (the
  sequential signal of LOO; under random-order splits it is another item-item model).
- ``transition``: how often item j follows item i within a few steps in users' time-ordered train
  histories, row-normalised.
- ``users``: the binary train matrix (user-kNN neighbours are found against its rows at scoring time).
- ``popularity``: log train counts, standardised.
- ``genres`` / ``year``: item attribute indicator matrices (multi-hot genres, one-hot year bucket).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from catalog.splits import user_histories
from catalog.types import Dataset

#: Item-by-item matrices among the features (scored as ``history_weights @ matrix``).
ITEM_ITEM: tuple[str, ...] = ("ease", "rp3", "seq", "transition")
_KEYS: tuple[str, ...] = ("ease", "rp3", "seq", "transition", "users", "popularity", "genres", "year")


@dataclass
class ItemFeatures:
    """Item-side feature matrices (numpy, float32)."""

    ease: np.ndarray  # (n_items, n_items), zero diagonal
    transition: np.ndarray  # (n_items, n_items)
    popularity: np.ndarray  # (n_items,)
    genres: np.ndarray  # (n_items, n_genres)
    year: np.ndarray  # (n_items, n_year_buckets)
    rp3: np.ndarray | None = None  # (n_items, n_items), zero diagonal
    seq: np.ndarray | None = None  # (n_items, n_items)
    users: np.ndarray | None = None  # (n_users, n_items) binary train matrix

    def __post_init__(self) -> None:
        ni = self.ease.shape[0]
        for k in ("rp3", "seq"):
            if getattr(self, k) is None:
                setattr(self, k, np.zeros((ni, ni), dtype=np.float32))
        if self.users is None:
            self.users = np.zeros((0, ni), dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in _KEYS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ItemFeatures:
        """Rebuild from :meth:`arrays`; features missing from older checkpoints become zeros."""
        return cls(**{k: np.asarray(arrays[k], dtype=np.float32) for k in _KEYS if k in arrays})


def attribute_indices(dataset: Dataset, year_buckets: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Genre multi-hot ``(n_items, n_genres)``, year bucket per item (``year_buckets`` = unknown) and genre names."""
    names = dataset.categories()
    pos = {g: k for k, g in enumerate(names)}
    genres = np.zeros((dataset.n_items, max(1, len(names))), dtype=np.float32)
    years = np.full(dataset.n_items, np.nan)
    for i, it in enumerate(dataset.items):
        for g in it.categories:
            genres[i, pos[g]] = 1.0
        if it.year is not None:
            years[i] = it.year
    bucket = np.full(dataset.n_items, year_buckets, dtype=np.int64)
    known = ~np.isnan(years)
    if known.any():
        edges = np.unique(np.quantile(years[known], np.linspace(0, 1, year_buckets + 1)[1:-1]))
        bucket[known] = np.searchsorted(edges, years[known], side="right")
    return genres, bucket, names


def interaction_matrix(seqs: list[np.ndarray], n_items: int) -> np.ndarray:
    """Binary ``(n_users, n_items)`` matrix of the sequences' items (float64)."""
    x = np.zeros((len(seqs), n_items), dtype=np.float64)
    for u, s in enumerate(seqs):
        x[u, s] = 1.0
    return x


def ease_matrix(
    x: np.ndarray | sp.spmatrix, lam: float, text: np.ndarray | None = None, text_weight: float = 0.0
) -> np.ndarray:
    """EASE item-item weights of a user-item matrix ``x`` (dense or sparse) with L2 penalty ``lam`` (zero diagonal).

    ``text`` (``(n_items, d)`` unit vectors) with ``text_weight > 0`` adds ``text_weight * text @ text.T``
    to the Gram matrix, as if every pair of items co-occurred in proportion to their text similarity.
    """
    gram = x.T @ x
    gram = np.asarray(gram.toarray() if sp.issparse(gram) else gram, dtype=np.float64)
    if text is not None and text_weight > 0:
        t = np.asarray(text, dtype=np.float64)
        gram += text_weight * (t @ t.T)
    gram[np.diag_indices(gram.shape[0])] += lam
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


def rp3_matrix(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """RP3beta item-item weights ``(P_iu^alpha @ P_ui^alpha) / pop_j^beta`` (zero diagonal)."""
    p_ui = x / np.maximum(x.sum(1, keepdims=True), 1.0)
    p_iu = x.T / np.maximum(x.sum(0)[:, None], 1.0)
    w = (p_iu**alpha) @ (p_ui**alpha)
    w /= np.maximum(x.sum(0), 1.0)[None, :] ** beta
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32)


def seq_gram(seqs: list[np.ndarray], n_items: int, *, decay: float, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sufficient statistics ``(H^T H, H^T Y)`` of the next-item regression (see :func:`seq_matrix`)."""
    import scipy.sparse as sp

    rows, cols, vals, ys = [], [], [], []
    r = 0
    w_full = decay ** np.arange(window - 1, -1, -1, dtype=np.float64)
    for s in seqs:
        for k in range(1, s.size):
            h = s[max(0, k - window) : k]
            rows.append(np.full(h.size, r))
            cols.append(h)
            vals.append(w_full[-h.size :])
            ys.append(s[k])
            r += 1
    if r == 0:
        z = np.zeros((n_items, n_items))
        return z, z.copy()
    h_mat = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_items))
    y_mat = sp.csr_matrix((np.ones(r), (np.arange(r), np.asarray(ys))), shape=(r, n_items))
    return (h_mat.T @ h_mat).toarray(), (h_mat.T @ y_mat).toarray()


def seq_matrix(gram: tuple[np.ndarray, np.ndarray], lam: float) -> np.ndarray:
    """Closed-form next-item weights ``(H^T H + lam I)^-1 H^T Y`` from :func:`seq_gram`'s statistics.

    Row ``k`` of ``H`` is the window of items before train position ``k`` weighted by
    ``decay**age``; ``Y`` is the one-hot item at that position. Scoring uses the same weighting
    of a profile's last ``window`` items.
    """
    hth, hty = gram
    a = hth.copy()
    a[np.diag_indices(a.shape[0])] += lam
    return np.linalg.solve(a, hty).astype(np.float32)


def transition_matrix(seqs: list[np.ndarray], n_items: int, *, window: int, smoothing: float) -> np.ndarray:
    """Row-normalised counts of item j following item i within ``window`` steps (weight ``1/step``)."""
    trans = np.zeros((n_items, n_items), dtype=np.float64)
    for seq in seqs:
        for d in range(1, window + 1):
            if seq.size > d:
                np.add.at(trans, (seq[:-d], seq[d:]), 1.0 / d)
    trans /= np.maximum(trans.sum(1, keepdims=True) + smoothing, 1e-12)  # items never followed: zero rows
    return trans.astype(np.float32)


def fit_features(
    dataset: Dataset,
    train: pd.DataFrame,
    *,
    ease_lambda: float,
    window: int,
    smoothing: float,
    year_buckets: int,
    rp3_alpha: float = 0.8,
    rp3_beta: float = 0.6,
    seq_decay: float = 0.85,
    seq_window: int = 30,
    seq_lambda: float = 200.0,
    text: np.ndarray | None = None,
    ease_text: float = 0.0,
) -> ItemFeatures:
    """Fit every item-side feature on ``train`` (interactions of the train split only)."""
    ni = dataset.n_items
    seqs = user_histories(train, dataset.n_users)
    x = interaction_matrix(seqs, ni)
    counts = x.sum(0)
    logpop = np.log1p(counts)
    logpop = (logpop - logpop.mean()) / (logpop.std() + 1e-9)
    genres, bucket, _ = attribute_indices(dataset, year_buckets)
    year = np.zeros((ni, year_buckets + 1), dtype=np.float32)
    year[np.arange(ni), bucket] = 1.0
    return ItemFeatures(
        ease=ease_matrix(x, ease_lambda, text, ease_text),
        transition=transition_matrix(seqs, ni, window=window, smoothing=smoothing),
        popularity=logpop.astype(np.float32),
        genres=genres,
        year=year[:, :year_buckets],
        rp3=rp3_matrix(x, rp3_alpha, rp3_beta),
        seq=seq_matrix(seq_gram(seqs, ni, decay=seq_decay, window=seq_window), seq_lambda),
        users=x.astype(np.float32),
    )
