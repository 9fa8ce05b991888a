"""Splits on the real ml-100k: exact sizes, no leakage, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd

from catalog import loo_split, make_split, ro_split
from catalog.splits import _ratio_counts


def _pairs(df: pd.DataFrame) -> set[tuple[int, int, float]]:
    return set(zip(df["user_idx"], df["item_idx"], df["timestamp"], strict=True))


def test_ro811_exact_sizes_and_per_user_counts(ml100k) -> None:  # type: ignore[no-untyped-def]
    s = ro_split(ml100k, seed=2020)
    assert s.sizes() == {"train": 80808, "valid": 9596, "test": 9596}
    per_user = ml100k.interactions.groupby("user_idx").size()
    for part, idx in ((s.valid, 1), (s.test, 2)):
        got = part.groupby("user_idx").size().reindex(per_user.index, fill_value=0)
        expected = per_user.map(lambda n: _ratio_counts(int(n), (0.8, 0.1, 0.1))[idx])
        assert (got == expected).all()


def test_ro811_no_leakage_and_cover(ml100k) -> None:  # type: ignore[no-untyped-def]
    s = ro_split(ml100k, seed=7)
    idx = [set(p.index) for p in (s.train, s.valid, s.test)]
    assert not (idx[0] & idx[1]) and not (idx[0] & idx[2]) and not (idx[1] & idx[2])
    assert set().union(*idx) == set(ml100k.interactions.index)
    # ml-100k has no duplicate (user, item) pairs, so no test pair is also a train pair
    train_pairs = set(zip(s.train.user_idx, s.train.item_idx, strict=True))
    assert not train_pairs & set(zip(s.test.user_idx, s.test.item_idx, strict=True))


def test_ro811_deterministic_by_seed(ml100k) -> None:  # type: ignore[no-untyped-def]
    a, b, c = ro_split(ml100k, seed=1), ro_split(ml100k, seed=1), ro_split(ml100k, seed=2)
    assert list(a.test.index) == list(b.test.index)
    assert list(a.test.index) != list(c.test.index)


def test_loo_five_core_last_item_by_time(ml100k) -> None:  # type: ignore[no-untyped-def]
    s = loo_split(ml100k)
    kept = pd.concat([s.train, s.valid, s.test])
    assert (kept.groupby("item_idx").size() >= 5).all()
    assert (kept.groupby("user_idx").size() >= 5).all()
    assert len(s.test) == len(s.valid) == int(s.user_mask.sum()) == 943
    assert int(s.item_mask.sum()) == kept["item_idx"].nunique()
    last_train = s.train.groupby("user_idx")["timestamp"].max()
    assert (s.valid.set_index("user_idx")["timestamp"] >= last_train.reindex(s.valid.user_idx).to_numpy()).all()
    assert (
        s.test.set_index("user_idx")["timestamp"].sort_index()
        >= s.valid.set_index("user_idx")["timestamp"].sort_index()
    ).all()
    assert _pairs(s.train).isdisjoint(_pairs(s.test))
    assert make_split(ml100k, "loo").sizes() == s.sizes()


def test_item_mask_shapes(ml100k) -> None:  # type: ignore[no-untyped-def]
    s = ro_split(ml100k)
    assert s.item_mask.shape == (ml100k.n_items,) and s.item_mask.all()
    assert s.user_mask.dtype == np.bool_ and s.user_mask.all()
