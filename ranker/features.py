"""Interpretable item-side features of the additive head, fit on the train split only.

- ``ease``: closed-form item-item weights (EASE, Steck 2019) of the binary train matrix.
- ``transition``: how often item j follows item i within a few steps in users' time-ordered train
  histories, row-normalised (the sequential signal; weak under random-order splits).
- ``popularity``: log train counts, standardised.
- ``genres`` / ``year``: item attribute indicator matrices (multi-hot genres, one-hot year bucket).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from catalog.types import Dataset


@dataclass
class ItemFeatures:
    """Item-side feature matrices (numpy, float32)."""

    ease: np.ndarray  # (n_items, n_items), zero diagonal
    transition: np.ndarray  # (n_items, n_items)
    popularity: np.ndarray  # (n_items,)
    genres: np.ndarray  # (n_items, n_genres)
    year: np.ndarray  # (n_items, n_year_buckets)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "ease": self.ease, "transition": self.transition, "popularity": self.popularity,
            "genres": self.genres, "year": self.year,
        }  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ItemFeatures:
        return cls(
            **{
                k: np.asarray(arrays[k], dtype=np.float32)
                for k in ("ease", "transition", "popularity", "genres", "year")
            }
        )


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


def train_sequences(train: pd.DataFrame, n_users: int) -> list[np.ndarray]:
    """Per-user train item sequences, in the frame's order (time order for LOO, random for RO)."""
    seqs: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in range(n_users)]
    users = train["user_idx"].to_numpy()
    items = train["item_idx"].to_numpy()
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if users.size else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], users.size]
    for s, e in zip(starts, ends, strict=True):
        seqs[int(users[s])] = items[s:e].astype(np.int64)
    return seqs


def fit_features(
    dataset: Dataset, train: pd.DataFrame, *, ease_lambda: float, window: int, smoothing: float, year_buckets: int
) -> ItemFeatures:
    """Fit every item-side feature on ``train`` (interactions of the train split only)."""
    ni = dataset.n_items
    x = np.zeros((dataset.n_users, ni), dtype=np.float64)
    x[train["user_idx"].to_numpy(), train["item_idx"].to_numpy()] = 1.0
    gram = x.T @ x
    gram[np.diag_indices(ni)] += ease_lambda
    p = np.linalg.inv(gram)
    ease = -p / np.diag(p)
    np.fill_diagonal(ease, 0.0)
    trans = np.zeros((ni, ni), dtype=np.float64)
    for seq in train_sequences(train, dataset.n_users):
        for d in range(1, window + 1):
            if seq.size > d:
                np.add.at(trans, (seq[:-d], seq[d:]), 1.0 / d)
    trans /= trans.sum(1, keepdims=True) + smoothing
    counts = x.sum(0)
    logpop = np.log1p(counts)
    logpop = (logpop - logpop.mean()) / (logpop.std() + 1e-9)
    genres, bucket, _ = attribute_indices(dataset, year_buckets)
    year = np.zeros((ni, year_buckets + 1), dtype=np.float32)
    year[np.arange(ni), bucket] = 1.0
    return ItemFeatures(
        ease=ease.astype(np.float32), transition=trans.astype(np.float32), popularity=logpop.astype(np.float32),
        genres=genres, year=year[:, :year_buckets],
    )  # fmt: skip
