"""The ranker contract every scorer implements (the joint model, baselines, test doubles).

Batch-first: :meth:`Ranker.score` takes many profiles and returns one score matrix; a
``Profile`` is a user's history plus this session's feedback, so a session scores without
retraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Profile:
    """What a ranker knows about one user at scoring time.

    Attributes:
        history: Item indices the user interacted with (training history, in time order when known).
        weights: One weight per history entry (1.0 = ordinary interaction; session likes may be
            larger, dislikes negative). Same length as ``history``.
        user_idx: Dense user index when the user is known to the model; None for a new user.
        exclude: Extra item indices never to recommend (session dislikes, "not interested").
        regime_size: The profile size that sets a size-dependent ranker's regime (the new-user blend of
            :mod:`ranker.coldstart`); None = this profile's own :func:`profile_size`. Explanations fix it
            to the explained profile's size, so every coalition and bootstrap sample is scored by the
            same function as the shown score.
    """

    history: np.ndarray
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    user_idx: int | None = None
    exclude: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    regime_size: int | None = None

    def __post_init__(self) -> None:
        h = np.asarray(self.history, dtype=np.int64).reshape(-1)
        object.__setattr__(self, "history", h)
        w = np.asarray(self.weights, dtype=np.float32).reshape(-1)
        if w.size == 0:
            w = np.ones(h.size, dtype=np.float32)
        if w.size != h.size:
            raise ValueError(f"Profile: {w.size} weights for {h.size} history items")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "exclude", np.asarray(self.exclude, dtype=np.int64).reshape(-1))

    def without(self, positions: np.ndarray | Sequence[int]) -> Profile:
        """This profile with the history entries at ``positions`` removed (for attributions)."""
        keep = np.ones(self.history.size, dtype=bool)
        keep[np.asarray(positions, dtype=np.int64)] = False
        return Profile(self.history[keep], self.weights[keep], self.user_idx, self.exclude, self.regime_size)


def profile_size(profile: Profile) -> int:
    """Distinct items with a positive weight (history plus session likes): what a score can rest on."""
    return int(np.unique(profile.history[profile.weights > 0]).size)


def regime_size(profile: Profile) -> int:
    """The size that picks a size-dependent ranker's regime: ``profile.regime_size``, else its own size."""
    return profile_size(profile) if profile.regime_size is None else int(profile.regime_size)


@dataclass(frozen=True)
class Recommendations:
    """Top-n for one profile: item indices and scores, best first."""

    item_idx: np.ndarray
    scores: np.ndarray


@runtime_checkable
class Ranker(Protocol):
    """Scores items for profiles. Higher is better."""

    @property
    def n_items(self) -> int: ...

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores of shape ``(len(profiles), len(items))`` (all items when ``items`` is None)."""
        ...


@runtime_checkable
class FeatureRanker(Ranker, Protocol):
    """A ranker whose score is a sum of interpretable feature-group contributions plus a bias.

    ``score_components(...)[g]`` has the shape of :meth:`score`; the groups plus ``bias``
    add up to the score exactly, so feature-group Shapley values are exact and cheap.
    """

    feature_groups: tuple[str, ...]

    def score_components(
        self, profiles: Sequence[Profile], items: np.ndarray | None = None
    ) -> dict[str, np.ndarray]: ...


def check_profiles(profiles: Sequence[Profile], n_items: int) -> None:
    """Every ranker's first step: refuse a history item outside ``[0, n_items)`` (ValueError) instead of
    scoring a wrong row or failing deep inside."""
    if not profiles:
        return
    h = np.concatenate([p.history for p in profiles])  # one pass: SHAP scores thousands of coalitions per call
    if h.size and (h.min() < 0 or h.max() >= n_items):
        raise ValueError(f"profile history holds an item index outside [0, {n_items}); map item ids with the dataset")


def top_n(scores: np.ndarray, n: int, *, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` largest scores (best first) of a 1-d array, skipping ``exclude``."""
    s = np.asarray(scores, dtype=np.float64).copy()
    if exclude is not None and exclude.size:
        s[exclude] = -np.inf
    n = min(n, int(np.isfinite(s).sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-s, n - 1)[:n]
    return part[np.argsort(-s[part], kind="stable")]


def recommend(
    ranker: Ranker, profile: Profile, n: int, *, candidates: np.ndarray | None = None, exclude_seen: bool = True
) -> Recommendations:
    """Top-n items for one profile, optionally restricted to ``candidates``."""
    items = None if candidates is None else np.asarray(candidates, dtype=np.int64)
    scores = ranker.score([profile], items)[0]
    banned = [profile.exclude]
    if exclude_seen:
        banned.append(profile.history)
    ban_idx = np.concatenate(banned)
    if items is None:
        idx = top_n(scores, n, exclude=ban_idx)
        return Recommendations(idx, scores[idx])
    local_ban = np.flatnonzero(np.isin(items, ban_idx))
    pos = top_n(scores, n, exclude=local_ban)
    return Recommendations(items[pos], scores[pos])
