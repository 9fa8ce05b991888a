"""Evaluation splits with the semantics of the peers we compare against.

- RO 8:1:1 (RecBole's general protocol, ``eval_args`` ``RS [0.8,0.1,0.1]``, ``order RO``,
  ``group_by user``): interactions are shuffled, grouped by user, and each user's list is cut
  with RecBole's ``_calcu_split_ids`` arithmetic (valid and test get ``int(0.1 * n)`` each).
- LOO (LlamaRec's protocol): keep items with >= 5 interactions, then users with >= 5 (one pass,
  as LlamaRec's ``filter_triplets``); per user sort by (timestamp, item), the last item is test,
  the second last validation, the rest training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from catalog.behaviour import BehaviourWeights, aggregate_interactions
from catalog.types import Dataset

Protocol = Literal["ro811", "loo"]
Part = Literal["train", "valid", "test"]


def _entries(frame: pd.DataFrame, n_users: int, by_time: bool, weights: BehaviourWeights | None) -> pd.DataFrame:
    """The frame in history order, one row per (user, item) with a ``weight`` column."""
    if by_time and not frame.empty:
        cols = ["user_idx", "timestamp", "item_idx"] if "timestamp" in frame.columns else ["user_idx", "item_idx"]
        frame = frame.sort_values(cols, kind="stable")
    return aggregate_interactions(frame, weights)


def _per_user(u: np.ndarray, values: np.ndarray, n_users: int) -> list[np.ndarray]:
    order = np.argsort(u, kind="stable")
    u, values = u[order], values[order]
    bounds = np.searchsorted(u, np.arange(n_users + 1))
    return [values[bounds[k] : bounds[k + 1]] for k in range(n_users)]


def user_histories(frame: pd.DataFrame, n_users: int, *, by_time: bool = False) -> list[np.ndarray]:
    """Item indices per user (``int64``; index = ``user_idx``, empty for users without rows).

    The one history builder: every ranker, explainer, evaluation and the agent reads histories
    from here. Each item appears once per user, however many behaviours the user had on it (a
    rated, verified purchase is one entry, not two). ``by_time`` orders each user's items by
    (timestamp, item) of their first event, as LOO and the agent do; otherwise the frame's own
    order is kept (RO's random order, what RecBole trains on).
    """
    e = _entries(frame, n_users, by_time, None)
    return _per_user(e["user_idx"].to_numpy(dtype=np.int64), e["item_idx"].to_numpy(dtype=np.int64), n_users)


def user_history_weights(
    frame: pd.DataFrame, n_users: int, *, by_time: bool = False, weights: BehaviourWeights | None = None
) -> list[np.ndarray]:
    """The weight of each entry of :func:`user_histories` (same order; ``float32``): the combined
    :class:`~catalog.behaviour.BehaviourWeights` of the user's events on the item (1.0 for a rating)."""
    e = _entries(frame, n_users, by_time, weights)
    return _per_user(e["user_idx"].to_numpy(dtype=np.int64), e["weight"].to_numpy(dtype=np.float32), n_users)


@dataclass(frozen=True)
class Split:
    """Train/validation/test interactions of one dataset (rows of ``dataset.interactions``).

    Attributes:
        protocol: Which protocol made it.
        train, valid, test: Interaction frames with ``user_idx`` and ``item_idx``.
        item_mask: Items eligible for ranking under this protocol (bool per ``item_idx``).
        user_mask: Users evaluated under this protocol (bool per ``user_idx``).
    """

    protocol: Protocol
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    item_mask: np.ndarray
    user_mask: np.ndarray
    seed: int

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    @property
    def n_users(self) -> int:
        return int(self.user_mask.size)

    def histories(self, part: Part = "train", *, by_time: bool = False) -> list[np.ndarray]:
        """Item indices per user of one part (see :func:`user_histories`)."""
        frames = {"train": self.train, "valid": self.valid, "test": self.test}
        if part not in frames:
            raise ValueError(f"part must be train, valid or test, got {part!r}")
        return user_histories(frames[part], self.n_users, by_time=by_time)

    def weights(self, part: Part = "train", *, by_time: bool = False) -> list[np.ndarray]:
        """The behaviour weight of each entry of :meth:`histories` (see :func:`user_history_weights`)."""
        frames = {"train": self.train, "valid": self.valid, "test": self.test}
        if part not in frames:
            raise ValueError(f"part must be train, valid or test, got {part!r}")
        return user_history_weights(frames[part], self.n_users, by_time=by_time)


def _ratio_counts(total: int, ratios: tuple[float, ...]) -> list[int]:
    """RecBole's ``_calcu_split_ids`` counts (the first part absorbs rounding)."""
    cnt = [int(r * total) for r in ratios]
    cnt[0] = total - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * total < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def ro_split(
    dataset: Dataset,
    *,
    seed: int = 2020,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    weights: BehaviourWeights | None = None,
) -> Split:
    """Random-ordered per-user split (RecBole ``RS`` + ``RO`` + ``group_by user``).

    It splits (user, item) entries, not events: a user's view, cart and purchase of one item are one
    entry (:func:`~catalog.behaviour.aggregate_interactions`), so an item is never both trained on and
    held out. Ratings-only data has one event per entry and splits exactly as RecBole does.
    """
    df = aggregate_interactions(dataset.interactions, weights)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    shuffled = df.iloc[order]
    # stable sort by user keeps the shuffled order inside each user
    shuffled = shuffled.iloc[np.argsort(shuffled["user_idx"].to_numpy(), kind="stable")]
    users = shuffled["user_idx"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    part = np.empty(len(users), dtype=np.int8)
    for s, e in zip(starts, ends, strict=True):
        c = _ratio_counts(int(e - s), ratios)
        part[s : s + c[0]] = 0
        part[s + c[0] : s + c[0] + c[1]] = 1
        part[s + c[0] + c[1] : e] = 2
    return Split(
        protocol="ro811",
        train=shuffled[part == 0],
        valid=shuffled[part == 1],
        test=shuffled[part == 2],
        item_mask=np.ones(dataset.n_items, dtype=bool),
        user_mask=np.isin(np.arange(dataset.n_users), users),
        seed=seed,
    )


def loo_split(
    dataset: Dataset, *, min_user: int = 5, min_item: int = 5, seed: int = 0, weights: BehaviourWeights | None = None
) -> Split:
    """Leave-one-out by time after LlamaRec's 5-core filter (deterministic; ``seed`` unused), over
    (user, item) entries as :func:`ro_split`; an entry's time is its first event's."""
    df = aggregate_interactions(dataset.interactions, weights)
    item_counts = df["item_idx"].value_counts()
    df = df[df["item_idx"].isin(item_counts.index[item_counts >= min_item])]
    user_counts = df["user_idx"].value_counts()
    df = df[df["user_idx"].isin(user_counts.index[user_counts >= min_user])]
    # LlamaRec sorts by (timestamp, sid), sid being the densified item index in id order
    df = df.sort_values(["user_idx", "timestamp", "item_idx"], kind="stable")
    pos_from_end = df.groupby("user_idx").cumcount(ascending=False).to_numpy()
    item_mask = np.zeros(dataset.n_items, dtype=bool)
    item_mask[df["item_idx"].unique()] = True
    user_mask = np.zeros(dataset.n_users, dtype=bool)
    user_mask[df["user_idx"].unique()] = True
    return Split(
        protocol="loo",
        train=df[pos_from_end >= 2],
        valid=df[pos_from_end == 1],
        test=df[pos_from_end == 0],
        item_mask=item_mask,
        user_mask=user_mask,
        seed=seed,
    )


def make_split(
    dataset: Dataset, protocol: Protocol, *, seed: int = 2020, weights: BehaviourWeights | None = None
) -> Split:
    """The split for ``protocol`` (``ro811`` or ``loo``), over entries weighted by ``weights``."""
    if protocol == "ro811":
        return ro_split(dataset, seed=seed, weights=weights)
    if protocol == "loo":
        return loo_split(dataset, weights=weights)
    raise ValueError(f"unknown protocol {protocol!r}; use 'ro811' or 'loo'")
