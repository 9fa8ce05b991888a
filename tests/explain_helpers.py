"""Shared fixtures for the explanation and trust tests: real ml-100k, its ro811 split, real EASE,
and two small rankers with a known structure built on it (one saturating, hence not additive in
history; one with additive feature groups)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ranker.base import Profile


class SaturatingRanker:
    """``tanh(k * EASE score)``: monotone in EASE but not additive in the history entries."""

    def __init__(self, inner, k: float = 4.0) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.k = k

    @property
    def n_items(self) -> int:
        return int(self.inner.n_items)

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        return np.tanh(self.k * np.asarray(self.inner.score(profiles, items), dtype=np.float64))


class GroupedRanker:
    """A FeatureRanker: ``collaborative`` (EASE) + ``popularity`` (0.05 * log count) + bias 0.3."""

    feature_groups = ("collaborative", "popularity")

    def __init__(self, inner, counts: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.pop = 0.05 * np.log1p(np.asarray(counts, dtype=np.float64))

    @property
    def n_items(self) -> int:
        return int(self.inner.n_items)

    def score_components(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> dict[str, np.ndarray]:
        sel = slice(None) if items is None else np.asarray(items, dtype=np.int64)
        collab = np.asarray(self.inner.score(profiles, items), dtype=np.float64)
        pop = np.broadcast_to(self.pop[sel], collab.shape).copy()
        return {"collaborative": collab, "popularity": pop, "bias": np.full(collab.shape, 0.3)}

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        c = self.score_components(profiles, items)
        return c["collaborative"] + c["popularity"] + c["bias"]


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    from catalog import load_dataset, ro_split

    ds = load_dataset()
    return ds, ro_split(ds)


@pytest.fixture(scope="module")
def ease(data):  # type: ignore[no-untyped-def]
    from ranker.baselines import EASERanker

    ds, split = data
    return EASERanker().fit(ds, split)


@pytest.fixture(scope="module")
def histories(data):  # type: ignore[no-untyped-def]

    _, split = data
    return split.histories("train")


@pytest.fixture(scope="module")
def counts(data):  # type: ignore[no-untyped-def]
    from ranker.diversity import item_popularity

    ds, split = data
    return item_popularity(split.train["item_idx"].to_numpy(), ds.n_items)


@pytest.fixture(scope="module")
def calibrator(ease, data):  # type: ignore[no-untyped-def]
    from ranker.calibration import CalibrationConfig, fit_calibrator

    _, split = data
    return fit_calibrator(ease, split, CalibrationConfig(max_users=300))


def profile_of(histories, u: int) -> Profile:  # type: ignore[no-untyped-def]
    return Profile(histories[u], user_idx=u)
