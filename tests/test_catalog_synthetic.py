"""The synthetic shop generator: structure, determinism, funnels, and the Amazon 2023 file round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog import DataConfig, Workspace, load_dataset
from catalog.errors import DataError
from catalog.loaders import load_amazon_reviews
from catalog.synthetic import SYNTHETIC_NOTE, SyntheticShopConfig, generate_shop, shop_vocabulary, write_amazon_jsonl


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return generate_shop(SyntheticShopConfig())


def test_default_shop_is_small_and_structured(shop) -> None:  # type: ignore[no-untyped-def]
    it, inter = shop.items, shop.interactions
    assert len(it) == 300 and it["category"].nunique() == 5
    first5 = [c["name"] for c in shop_vocabulary()["categories"][:5]]
    assert sorted(it["category"].unique()) == sorted(first5)
    assert it["item_id"].is_unique and it["title"].is_unique
    # each category has several brands, and every title is brand + features + the category noun + a code
    assert (it.groupby("category")["brand"].nunique() >= 2).all()
    noun = dict(zip(shop.categories["name"], shop.categories["noun"], strict=True))
    for r in it.itertuples():
        assert r.title.startswith(r.brand + " ") and f" {noun[r.category]} " in r.title
        assert r.features[0] in r.title
    # prices fall in plausible bands: premium items of a category cost more than budget ones
    med = it.groupby(["category", "tier"])["price"].median().unstack()
    assert (med[2] > med[0]).all()
    assert 550 <= len(shop.users) <= 600 and 10_000 < len(inter) < 40_000
    # every user has 1-3 interests; their views mostly fall inside them
    assert shop.users["interests"].map(len).between(1, 3).all()


def test_popularity_and_activity_are_skewed(shop) -> None:  # type: ignore[no-untyped-def]
    views = shop.interactions[shop.interactions["kind"] == "view"]
    per_item = views["item_id"].value_counts().to_numpy()
    top = per_item[: max(1, len(per_item) // 10)].sum() / per_item.sum()
    assert top > 0.3  # the top tenth of items take far more than a tenth of views (Zipf)
    per_user = shop.interactions.groupby("user_id").size().to_numpy()
    assert per_user.max() > 6 * np.median(per_user)  # a heavy tail of very active users


def test_funnel_narrows_and_follows_fit(shop) -> None:  # type: ignore[no-untyped-def]
    inter = shop.interactions
    k = inter["kind"].value_counts()
    assert k["view"] > k["click"] > k["cart"] > k["purchase"] > k["rating"] > 0
    assert inter.loc[inter["kind"] == "rating", "value"].between(1, 5).all()
    amounts = inter.loc[inter["kind"] == "purchase", "amount"]
    assert (amounts.dropna() > 0).all() and amounts.notna().mean() > 0.3
    # users buy in their interest categories far more often than outside them
    cat = dict(zip(shop.items["item_id"], shop.items["category"], strict=True))
    interests = dict(zip(shop.users["user_id"], shop.users["interests"], strict=True))

    def inside(rows: pd.DataFrame) -> float:
        return float(np.mean([cat[i] in interests[u] for u, i in zip(rows["user_id"], rows["item_id"], strict=True)]))

    assert inside(inter[inter["kind"] == "purchase"]) > inside(inter[inter["kind"] == "view"]) > 0.8
    # each click follows a view of the same item by the same user, no earlier
    v = inter[inter["kind"] == "view"].groupby(["user_id", "item_id"])["timestamp"].min()
    c = inter[inter["kind"] == "click"].groupby(["user_id", "item_id"])["timestamp"].min()
    assert (c.index.isin(v.index)).all() and (c >= v.loc[c.index]).all()


def test_same_seed_same_shop_other_seed_other_shop() -> None:
    a = generate_shop(SyntheticShopConfig(n_items=120, n_users=100, seed=3))
    b = generate_shop(SyntheticShopConfig(n_items=120, n_users=100, seed=3))
    c = generate_shop(SyntheticShopConfig(n_items=120, n_users=100, seed=4))
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    assert a.items["title"].tolist() == b.items["title"].tolist()
    assert a.items["title"].tolist() != c.items["title"].tolist()


def test_many_categories_use_qualifiers() -> None:
    n_base = len(shop_vocabulary()["categories"])
    s = generate_shop(SyntheticShopConfig(n_items=3000, n_categories=n_base + 40, n_users=50))
    assert s.items["category"].nunique() == n_base + 40
    with pytest.raises(ValueError, match=r"shop_vocab\.yaml"):
        generate_shop(SyntheticShopConfig(n_items=10, n_categories=1000, n_users=5))


def test_amazon_jsonl_round_trip_through_the_real_loader(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = write_amazon_jsonl(shop, tmp_path)
    meta = [json.loads(line) for line in paths["meta"].read_text().splitlines()]
    assert set(meta[0]) >= {"main_category", "title", "average_rating", "rating_number", "features", "store",
                            "categories", "details", "parent_asin", "price"}  # fmt: skip
    review = json.loads(paths["reviews"].read_text().splitlines()[0])
    assert review["verified_purchase"] is True and review["timestamp"] > 1.5e12  # milliseconds
    loaded = load_amazon_reviews(paths["reviews"], paths["meta"], events=paths["events"])
    mem = shop.to_dataset()
    cols = ["user_id", "item_id", "kind", "timestamp", "value", "dwell_seconds", "amount"]

    def canon(df: pd.DataFrame) -> pd.DataFrame:
        return df[cols].sort_values(cols[:4]).reset_index(drop=True)

    pd.testing.assert_frame_equal(canon(loaded.interactions), canon(mem.interactions), check_dtype=False)
    assert {u.user_id for u in loaded.users} == {u.user_id for u in mem.users}
    for item in mem.items[:50]:
        got = loaded.item(item.item_id)
        assert (got.title, got.brand, got.price, got.categories, got.description) == (
            item.title, item.brand, item.price, item.categories, item.description,
        )  # fmt: skip
        assert got.rating == item.rating
    # loading the folder through the config keeps the synthetic label
    cfg = DataConfig(dataset="amazon", path=paths["reviews"], items_path=paths["meta"], events_path=paths["events"])
    ds = load_dataset(cfg, Workspace(tmp_path / "ws"))
    assert ds.note == SYNTHETIC_NOTE and "SYNTHETIC" in ds.stats()["note"]


def test_events_file_errors_name_line_and_field(tmp_path: Path) -> None:
    shop = generate_shop(SyntheticShopConfig(n_items=40, n_users=20))
    paths = write_amazon_jsonl(shop, tmp_path)
    lines = paths["events"].read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "kind": "wishlist"})
    paths["events"].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_amazon_reviews(paths["reviews"], paths["meta"], events=paths["events"])
    assert e.value.line == 2 and e.value.field == "kind" and "wishlist" in e.value.problem


def test_dataset_option_generates_in_memory_and_is_labelled(tmp_path: Path) -> None:
    cfg = DataConfig(dataset="synthetic-shop", synthetic=SyntheticShopConfig(n_items=80, n_users=60, seed=1))
    ds = load_dataset(cfg, Workspace(tmp_path))
    assert ds.name == "synthetic-shop" and ds.n_items == 80 and ds.note == SYNTHETIC_NOTE
    assert set(ds.interactions["kind"]) == {"view", "click", "cart", "purchase", "rating"}
    it = ds.items[0]
    assert it.brand and it.price and it.categories and it.attributes["features"]


def test_gzipped_category_files_load_as_they_come(tmp_path: Path) -> None:
    import gzip

    shop = generate_shop(SyntheticShopConfig(n_items=30, n_users=20))
    paths = write_amazon_jsonl(shop, tmp_path)
    for k in ("reviews", "meta"):
        with gzip.open(str(paths[k]) + ".gz", "wt", encoding="utf-8") as f:
            f.write(paths[k].read_text())
    gz = load_amazon_reviews(str(paths["reviews"]) + ".gz", str(paths["meta"]) + ".gz")
    plain = load_amazon_reviews(paths["reviews"], paths["meta"])
    assert len(gz.interactions) == len(plain.interactions) > 0 and gz.n_items == plain.n_items == 30
