"""Behaviour weights and one history entry per (user, item): the history builder, the splits, EASE and
the explanations all see an item once, however many behaviours the user had on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catalog import Dataset, Item, User, load_amazon_reviews, make_split
from catalog.behaviour import BehaviourWeights, aggregate_interactions
from catalog.splits import user_histories, user_history_weights
from catalog.synthetic import SyntheticShopConfig, generate_shop_dataset
from tests.conftest import FIXTURES


def _shop_rows() -> Dataset:
    items = [Item(item_id=f"i{k}", title=f"Item {k}") for k in range(4)]
    rows = [
        ("u1", "i0", "view", None, 100.0, 12.0, None),
        ("u1", "i0", "click", None, 101.0, None, None),
        ("u1", "i1", "view", None, 150.0, 5.0, None),
        ("u1", "i0", "cart", None, 102.0, None, None),
        ("u1", "i0", "purchase", None, 200.0, None, 30.0),
        ("u1", "i0", "rating", 4.0, 200.0, None, None),
        ("u1", "i0", "view", None, 300.0, 8.0, None),
        ("u2", "i2", "rating", 5.0, 50.0, None, None),
        ("u2", "i2", "rating", 2.0, 60.0, None, None),
    ]
    cols = ["user_id", "item_id", "kind", "value", "timestamp", "dwell_seconds", "amount"]
    return Dataset("t", items, [User(user_id="u1"), User(user_id="u2")], pd.DataFrame(rows, columns=cols))


def test_repeated_events_are_one_entry_with_a_combined_weight() -> None:
    ds = _shop_rows()
    w = BehaviourWeights(view=0.1, click=0.3, cart=0.6, purchase=2.0, rating=1.0, combine="sum")
    agg = aggregate_interactions(ds.interactions, w)
    assert len(agg) == 3 and not agg.duplicated(["user_idx", "item_idx"]).any()
    i0 = agg[agg["item_id"] == "i0"].iloc[0]
    assert i0["kind"] == "rating" and i0["value"] == 4.0 and i0["timestamp"] == 100.0
    assert i0["weight"] == pytest.approx(0.1 + 0.3 + 0.6 + 2.0 + 1.0 + 0.1)
    assert i0["dwell_seconds"] == pytest.approx(20.0) and i0["amount"] == pytest.approx(30.0)
    assert np.isnan(agg[agg["item_id"] == "i1"].iloc[0]["amount"])
    assert agg[agg["item_id"] == "i2"].iloc[0]["value"] == 2.0  # the latest rating
    mx = aggregate_interactions(ds.interactions, w.model_copy(update={"combine": "max"}))
    assert mx[mx["item_id"] == "i0"].iloc[0]["weight"] == pytest.approx(2.0)
    # histories: each item once, in the order of first events; weights aligned
    hist = user_histories(ds.interactions, ds.n_users, by_time=True)
    weights = user_history_weights(ds.interactions, ds.n_users, by_time=True, weights=w)
    assert hist[0].tolist() == [0, 1] and weights[0].tolist() == pytest.approx([4.1, 0.1])
    assert hist[1].tolist() == [2]


def test_a_rated_verified_purchase_is_one_history_entry() -> None:
    ds = load_amazon_reviews(FIXTURES / "amazon_reviews.jsonl", FIXTURES / "amazon_meta.jsonl")
    assert ds.interactions.duplicated(["user_idx", "item_idx"]).any()  # rating + purchase rows
    for h in user_histories(ds.interactions, ds.n_users):
        assert h.size == np.unique(h).size


def test_ratings_only_data_is_unchanged(ml100k) -> None:  # type: ignore[no-untyped-def]
    agg = aggregate_interactions(ml100k.interactions)
    assert agg.index.equals(ml100k.interactions.index) and (agg["weight"] == 1.0).all()
    split = make_split(ml100k, "ro811", seed=2020)
    assert split.sizes() == {"train": 80808, "valid": 9596, "test": 9596}  # as before: RecBole's arithmetic
    assert all((w == 1.0).all() for w in split.weights("train"))


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return generate_shop_dataset(SyntheticShopConfig(n_items=200, n_users=300, seed=2))


@pytest.mark.parametrize("protocol", ["ro811", "loo"])
def test_splits_never_hold_out_an_item_they_train_on(shop: Dataset, protocol: str) -> None:
    split = make_split(shop, protocol, seed=2020)  # type: ignore[arg-type]
    parts = [split.train, split.valid, split.test]
    keys = [set(zip(p["user_idx"], p["item_idx"], strict=True)) for p in parts]
    assert not keys[0] & keys[2] and not keys[0] & keys[1] and not keys[1] & keys[2]
    assert sum(len(k) for k in keys) == sum(len(p) for p in parts)  # one row per entry
    assert (split.train["weight"] > 0).all()


def test_ease_learns_from_weights_and_explanations_name_an_item_once(shop: Dataset) -> None:
    from ranker.base import Profile
    from ranker.baselines import EASERanker, train_matrix
    from ranker.calibration import CalibrationConfig, fit_calibrator
    from ranker.diversity import item_popularity
    from ranker.explain import explain_recommendations

    split = make_split(shop, "ro811", seed=2020)
    x = train_matrix(shop, split)
    assert x.data.max() == 3.0 and x.data.min() == 1.0  # a purchase weighs 3, a view 1 (the defaults)
    ease = EASERanker().fit(shop, split)
    cal = fit_calibrator(ease, split, CalibrationConfig(max_users=200))
    counts = item_popularity(split.train["item_idx"].to_numpy(), shop.n_items)
    hist, weights = split.histories("train"), split.weights("train")
    u = int(np.argmax([h.size for h in hist]))
    out = explain_recommendations(
        ease, shop, Profile(hist[u], weights[u], user_idx=u), 5, calibrator=cal, item_counts=counts, additive=True
    )
    for ev in out.items:
        named = [h.item_id for h in ev.history]
        assert len(named) == len(set(named)) > 0


def test_shown_confidence_uses_the_calibrator_of_each_profile_size() -> None:
    from evals.calibration import shown_confidence
    from ranker.calibration import Calibrator
    from ranker.coldstart import SizeAwareCalibrator

    rng = np.random.default_rng(0)
    s = rng.random(400)
    fit = {  # three calibrators with clearly different hit rates at the same score
        name: Calibrator.fit(s, (rng.random(400) < rate * s).astype(float), method="platt")
        for name, rate in (("new", 0.1), ("short", 0.4), ("warm", 0.9))
    }
    cal = SizeAwareCalibrator(fit["warm"], {(0, 0): fit["new"], (1, 5): fit["short"]})
    scores = np.array([0.7, 0.7, 0.7])
    users = np.array([0, 1, 2])
    sizes = np.array([0, 3, 40])
    p = shown_confidence(cal, scores, users, sizes)
    want = [fit[k].predict(scores[:1])[0] for k in ("new", "short", "warm")]
    assert p.tolist() == pytest.approx(want) and want[0] < want[1] < want[2]
    assert shown_confidence(fit["warm"], scores, users, sizes).tolist() == pytest.approx([want[2]] * 3)
