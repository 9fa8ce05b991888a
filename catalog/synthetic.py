"""A seeded generator of synthetic shop catalogs in the Amazon Reviews 2023 format.

Clearly synthetic: every dataset it makes is named ``synthetic-shop`` and says so in its statistics.
The structure follows what shop logs look like, not any real shop:

- categories from the word lists in ``catalog/data/shop_vocab.yaml`` (the first ``n_categories``; past
  the list, a qualifier plus a category), each with a department, a typical price range, feature words
  and shoppers' needs;
- brands per category (a few shared within a department), each with a price tier;
- items: brand + one or two feature words + the category noun + a model code as title, a price drawn
  around the category's range by the brand's tier, a latent quality, Zipf popularity;
- users with power-law activity, 1-3 interest categories, a price band and, per interest, sometimes a
  favourite brand;
- behaviour funnels: every view may lead to a click, a click to a cart, a cart to a purchase, and some
  purchases are rated (1-5, higher when the item fits the user and is good); the closer the item fits
  the user, the further down the funnel they go. Timestamps spread over each user's active period.

Everything is vectorised numpy: 1M items and 10M interactions take minutes on one core.
:func:`generate_shop` returns the frames, :meth:`ShopFrames.to_dataset` the :class:`~catalog.types.Dataset`,
and :func:`write_amazon_jsonl` the real Amazon 2023 files (reviews and item metadata) plus the behaviours
those files cannot hold (views, clicks, carts, unreviewed purchases) as an events JSONL, all of which
:func:`catalog.loaders.load_amazon_reviews` reads back into the same dataset.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field

from catalog.types import INTERACTION_COLUMNS, Dataset, InteractionKind, Item, RatingStats, User

SYNTHETIC_NAME = "synthetic-shop"
SYNTHETIC_NOTE = "SYNTHETIC data: a generated shop catalog (catalog/synthetic.py), not real users or products"

MANIFEST = "synthetic.json"
# 2019-01-01 .. 2023-09-01 UTC, the span of Amazon Reviews 2023
_T0, _T1 = 1546300800.0, 1693526400.0
_TIER_NAMES = ("budget", "mid", "premium")

Progress = Callable[[str], None]


class SyntheticShopConfig(BaseModel):
    """Size, seed and behaviour of a generated shop (``[data.synthetic]`` in the config)."""

    n_items: int = Field(300, ge=1, le=20_000_000, description="Number of products.")
    n_categories: int = Field(5, ge=1, le=1000, description="Number of categories (5 = the shop of issue 19).")
    n_users: int = Field(600, ge=1, le=50_000_000, description="Number of users (those with no event are dropped).")
    events_per_user: float = Field(
        40.0, gt=0, le=10_000, description="Mean behaviours per user (views, clicks, carts, purchases, ratings)."
    )
    seed: int = Field(0, description="Seed: the same settings and seed give the same shop.")
    zipf_items: float = Field(1.0, ge=0, le=3, description="Zipf exponent of item popularity within a category.")
    zipf_categories: float = Field(0.6, ge=0, le=3, description="Zipf exponent of category popularity.")
    activity_alpha: float = Field(
        1.6, gt=1, le=5, description="Pareto exponent of user activity (smaller: heavier tail of very active users)."
    )
    explore: float = Field(0.1, ge=0, le=1, description="Share of views outside the user's interest categories.")
    brand_loyalty: float = Field(
        0.35, ge=0, le=1, description="Share of views of a user's favourite brand, where they have one."
    )
    price_loyalty: float = Field(0.3, ge=0, le=1, description="Share of views within the user's price band.")
    rate_share: float = Field(0.5, ge=0, le=1, description="Share of purchases that get a rating (a review).")


@dataclass
class ShopFrames:
    """A generated shop as frames (no per-row Python objects, so 1M items stay cheap).

    Attributes:
        items: One row per product: ``item_id`` (a parent_asin), ``title``, ``category``,
            ``department``, ``brand``, ``price``, ``tier`` (0 budget, 1 mid, 2 premium within the
            category), ``features`` (list), ``description``, ``quality``, ``popularity`` (weight
            within the category), ``rating_count``, ``rating_mean``.
        users: One row per user with events: ``user_id``, ``interests`` (category names),
            ``price_band`` (budget/mid/premium), ``brands`` (favourite brand per interest or None).
            The generating truth, for simulators; never part of the :class:`Dataset`.
        interactions: :data:`~catalog.types.INTERACTION_COLUMNS`, time-ordered per user.
        categories: The category table: ``name``, ``noun``, ``department``, ``needs``.
        config: The settings that made it.
    """

    items: pd.DataFrame
    users: pd.DataFrame
    interactions: pd.DataFrame
    categories: pd.DataFrame
    config: SyntheticShopConfig

    def to_dataset(self) -> Dataset:
        """The shop as a :class:`Dataset` named ``synthetic-shop``: what loading its JSONL files gives."""
        it = self.items
        details = [{"Department": d} for d in it["department"].tolist()]
        items = [
            Item.model_construct(
                item_id=iid,
                title=title,
                description=desc,
                categories=(cat,),
                brand=brand,
                price=float(price),
                year=None,
                rating=RatingStats.model_construct(count=int(n), mean=float(m) if n else None),
                attributes={"features": list(feats), "details": det},
            )
            for iid, title, desc, cat, brand, price, feats, n, m, det in zip(
                it["item_id"].tolist(), it["title"].tolist(), it["description"].tolist(), it["category"].tolist(),
                it["brand"].tolist(), it["price"].tolist(), it["features"].tolist(), it["rating_count"].tolist(),
                it["rating_mean"].tolist(), details, strict=True,
            )
        ]  # fmt: skip
        users = [User.model_construct(user_id=u, attributes={}) for u in self.users["user_id"].tolist()]
        return Dataset(
            name=SYNTHETIC_NAME, items=items, users=users, interactions=self.interactions, note=SYNTHETIC_NOTE
        )


@cache
def shop_vocabulary() -> dict[str, Any]:
    """The word lists (``catalog/data/shop_vocab.yaml``), checked for the keys the generator needs."""
    text = resources.files("catalog.data").joinpath("shop_vocab.yaml").read_text(encoding="utf-8")
    vocab = yaml.safe_load(text)
    need = ["categories", "qualifiers", "brand_prefixes", "brand_suffixes", "brand_extra", "model_letters", "reviews"]
    missing = [k for k in need if k not in vocab]
    if missing:
        raise ValueError(f"catalog/data/shop_vocab.yaml lacks {missing}")
    for i, c in enumerate(vocab["categories"]):
        lack = [k for k in ("name", "noun", "department", "price", "features", "needs") if k not in c]
        if lack:
            raise ValueError(f"catalog/data/shop_vocab.yaml: category {i} ({c.get('name')!r}) lacks {lack}")
    return dict(vocab)


def _categories(n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    base = shop_vocabulary()["categories"]
    out = [dict(c) for c in base[:n]]
    if n > len(base):
        pairs = [(q, c) for q in shop_vocabulary()["qualifiers"] for c in base]
        if n > len(base) + len(pairs):
            raise ValueError(
                f"n_categories = {n} is more than the word lists make ({len(base) + len(pairs)}); "
                "add categories or qualifiers to catalog/data/shop_vocab.yaml"
            )
        for k in rng.permutation(len(pairs))[: n - len(base)]:
            q, c = pairs[int(k)]
            out.append({**c, "name": f"{q} {c['name']}", "noun": f"{q} {c['noun']}"})
    return out


def _brands(cats: list[dict[str, Any]], n_items: int, rng: np.random.Generator) -> tuple[list[list[int]], list[str]]:
    """Brand indices per category and the brand names (unique), a few shared within a department."""
    v = shop_vocabulary()
    pool = [p + s for p in v["brand_prefixes"] for s in v["brand_suffixes"]]
    pool = [pool[int(k)] for k in rng.permutation(len(pool))] + list(v["brand_extra"])
    names: list[str] = []
    by_dept: dict[str, list[int]] = {}
    per_cat: list[list[int]] = []
    items_per_cat = max(1, n_items // max(1, len(cats)))
    for c in cats:
        k = int(np.clip(round(np.sqrt(items_per_cat) * 0.6), 2, 40)) + int(rng.integers(0, 3))
        mine: list[int] = []
        dept = by_dept.setdefault(c["department"], [])
        for _ in range(k):
            others = [b for b in dept if b not in mine]
            if others and rng.random() < 0.25:  # a brand already making something else in this department
                b = others[int(rng.integers(len(others)))]
            elif len(names) < len(pool):
                b = len(names)
                names.append(pool[b])
                dept.append(b)
            else:  # the word lists are used up: reuse any brand
                b = int(rng.integers(len(names)))
            if b not in mine:
                mine.append(b)
        per_cat.append(mine)
    return per_cat, names


def _group_sampler(keys: np.ndarray, weights: np.ndarray) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """Draw one item per requested group key, within the group by ``weights`` (vectorised inverse CDF).

    Requests for a key no item has return -1.
    """
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    cum = np.cumsum(weights[order].astype(np.float64))
    uk, start = np.unique(sk, return_index=True)
    end = np.r_[start[1:], sk.size]
    lo = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    hi = cum[end - 1]

    def draw(req: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        g = np.searchsorted(uk, req)
        ok = (g < uk.size) & (uk[np.minimum(g, uk.size - 1)] == req)
        g = np.minimum(g, uk.size - 1)
        x = lo[g] + rng.random(req.size) * (hi[g] - lo[g])
        pos = np.clip(np.searchsorted(cum, x, side="right"), start[g], end[g] - 1)
        return np.where(ok, order[pos], -1)

    return draw


def _ids(prefix: str, n: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct ids: ``prefix`` plus ``width`` base-36 digits of a seeded random permutation."""
    alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    space = 36**width
    codes = rng.choice(space, size=n, replace=False) if space < 4 * n else _distinct(rng, n, space)
    digits = np.stack([alphabet[(codes // 36**k) % 36] for k in range(width - 1, -1, -1)], axis=1)
    words = np.ascontiguousarray(digits).view(f"<U{width}").reshape(-1)  # each row's characters as one string
    return (prefix + pd.Series(words, dtype=object)).to_numpy(dtype=object)


def _distinct(rng: np.random.Generator, n: int, space: int) -> np.ndarray:
    out = np.unique(rng.integers(0, space, size=int(n * 1.1) + 16))
    while out.size < n:
        out = np.unique(np.r_[out, rng.integers(0, space, size=n)])
    return rng.permutation(out)[:n]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate_shop(config: SyntheticShopConfig | None = None, *, progress: Progress | None = None) -> ShopFrames:
    """Generate a shop (see the module docstring). Same config, same shop.

    Args:
        config: Sizes, seed and behaviour; the small default (300 items, 5 categories, 600 users) suits tests.
        progress: Called with one line per step (long runs: 1M items take a minute or two).

    Raises:
        ValueError: More categories than the word lists can name.
    """
    cfg = config or SyntheticShopConfig()
    say = progress or (lambda _m: None)
    rng = np.random.default_rng(cfg.seed)
    v = shop_vocabulary()

    # ---- categories and brands
    cats = _categories(cfg.n_categories, rng)
    n_c = len(cats)
    cat_pop = 1.0 / np.arange(1, n_c + 1) ** cfg.zipf_categories
    cat_pop = cat_pop[rng.permutation(n_c)] if n_c > 5 else cat_pop  # the first five keep their order
    cat_pop /= cat_pop.sum()
    brands_of, brand_names = _brands(cats, cfg.n_items, rng)
    brand_tier = rng.choice(3, size=len(brand_names), p=[0.35, 0.45, 0.20])
    brand_share = rng.lognormal(0.0, 0.7, size=len(brand_names))  # some brands make many more products

    # ---- items: category, brand, price, tier, quality, popularity
    say(f"items: {cfg.n_items:,} in {n_c} categories, {len(brand_names)} brands")
    n = cfg.n_items
    # every category gets at least one item where there are enough; the rest follows category popularity
    base = np.arange(min(n, n_c))
    extra = rng.choice(n_c, size=n - base.size, p=cat_pop) if n > base.size else np.zeros(0, dtype=np.int64)
    cat = np.sort(np.r_[base, extra]).astype(np.int64)
    brand = np.empty(n, dtype=np.int64)
    bounds = np.searchsorted(cat, np.arange(n_c + 1))
    for c in range(n_c):
        s, e = bounds[c], bounds[c + 1]
        if e > s:
            bs = np.asarray(brands_of[c])
            p = brand_share[bs] / brand_share[bs].sum()
            brand[s:e] = bs[rng.choice(bs.size, size=e - s, p=p)]
            brand[s : s + min(bs.size, e - s)] = bs[: e - s]  # every brand of the category makes something
    lo_p = np.array([float(c["price"][0]) for c in cats])
    hi_p = np.array([float(c["price"][1]) for c in cats])
    mu, sig = (np.log(lo_p) + np.log(hi_p)) / 2, (np.log(hi_p) - np.log(lo_p)) / (2 * 1.2816)
    tier_shift = np.array([-0.9, 0.0, 1.0])[brand_tier[brand]]
    log_price = mu[cat] + sig[cat] * (0.8 * tier_shift + 0.6 * rng.standard_normal(n))
    price = np.maximum(np.round(np.exp(log_price)) - 0.01, 0.99)
    # tier = the item's price tercile within its category (what "budget" and "premium" mean in a shop)
    pct = pd.Series(price).groupby(cat).rank(pct=True).to_numpy()
    tier = np.minimum((pct * 3).astype(np.int64), 2) if n else np.zeros(0, dtype=np.int64)
    quality = rng.standard_normal(n) + 0.2 * (brand_tier[brand] - 1)
    # popularity: Zipf by rank within the category, the rank leaning towards quality
    score = 0.6 * quality + rng.standard_normal(n)
    rank = pd.Series(-score).groupby(cat).rank(method="first").to_numpy()
    popularity = 1.0 / rank**cfg.zipf_items

    # ---- titles, features, descriptions
    say("titles and features")
    feats = [list(c["features"]) for c in cats]
    n_feat = np.array([len(f) for f in feats])
    f1 = (rng.random(n) * n_feat[cat]).astype(np.int64)
    f2 = (f1 + 1 + (rng.random(n) * (n_feat[cat] - 1)).astype(np.int64)) % n_feat[cat]
    two = rng.random(n) < 0.5
    f3 = (f2 + 1 + (rng.random(n) * np.maximum(n_feat[cat] - 2, 1)).astype(np.int64)) % n_feat[cat]
    f3 = np.where(f3 == f1, (f3 + 1) % n_feat[cat], f3)
    nouns = np.array([c["noun"] for c in cats], dtype=object)
    names = np.array(brand_names, dtype=object)
    feat_tab = {(c, k): feats[c][k] for c in range(n_c) for k in range(len(feats[c]))}
    letters = np.array(v["model_letters"], dtype=object)
    # model code: a line letter and a number unique within (brand, category), so titles are unique
    grp = pd.Series(np.zeros(n)).groupby([brand, cat]).cumcount().to_numpy()
    start = rng.integers(10, 60, size=n)
    start_of_group = pd.Series(start).groupby([brand, cat]).transform("first").to_numpy()
    number = start_of_group + grp * 7
    code = letters[rng.integers(0, letters.size, size=n)] + pd.Series(number).astype(str).to_numpy(dtype=object)
    fa = np.array([feat_tab[(int(c), int(k))] for c, k in zip(cat, f1, strict=True)], dtype=object)
    fb = np.array([feat_tab[(int(c), int(k))] for c, k in zip(cat, f2, strict=True)], dtype=object)
    fc = np.array([feat_tab[(int(c), int(k))] for c, k in zip(cat, f3, strict=True)], dtype=object)
    title_feats = np.where(two, fa + " " + fb, fa)
    titles = names[brand] + " " + title_feats + " " + nouns[cat] + " " + code
    feature_lists = [[a, b, c] for a, b, c in zip(fa.tolist(), fb.tolist(), fc.tolist(), strict=True)]
    desc = (
        names[brand] + " " + nouns[cat] + ": " + pd.Series(fa).str.lower().to_numpy(dtype=object) + ", "
        + pd.Series(fb).str.lower().to_numpy(dtype=object) + " and " + pd.Series(fc).str.lower().to_numpy(dtype=object)
        + "."
    )  # fmt: skip
    item_ids = _ids("B0", n, 8, rng)

    # ---- users
    say(f"users: {cfg.n_users:,}")
    m = cfg.n_users
    activity = (rng.pareto(cfg.activity_alpha, size=m) + 1.0) if m else np.zeros(0)
    activity *= cfg.events_per_user / max(activity.mean(), 1e-9)
    n_int = rng.choice([1, 2, 3], size=m, p=[0.5, 0.35, 0.15])
    cat_cdf = np.cumsum(cat_pop)
    interests = np.minimum(np.searchsorted(cat_cdf, rng.random((m, 3)) * cat_cdf[-1], side="right"), n_c - 1)
    band = rng.choice(3, size=m, p=[0.35, 0.45, 0.20])
    by_cat = _group_sampler(cat, popularity)
    fav = by_cat(interests.reshape(-1), rng).reshape(m, 3)
    fav_brand = np.where(rng.random((m, 3)) < 0.6, brand[np.maximum(fav, 0)], -1)
    fav_brand[fav < 0] = -1
    user_ids = _ids("A", m, 12, rng)

    # ---- views: users by activity, categories by interest, items by popularity / brand / price band
    # one view leads to ~1.45 events on average (with its clicks, carts, purchases, ratings)
    views_per_user = rng.poisson(activity / 1.45)
    uv = np.repeat(np.arange(m), views_per_user)
    nv = uv.size
    say(f"views: {nv:,}")
    slot = (rng.random(nv) * n_int[uv]).astype(np.int64)
    vcat = interests[uv, slot]
    out = rng.random(nv) < cfg.explore
    vcat[out] = np.minimum(np.searchsorted(cat_cdf, rng.random(int(out.sum())) * cat_cdf[-1], side="right"), n_c - 1)
    vfav = np.where(out, -1, fav_brand[uv, slot])
    mode = rng.random(nv)
    item = by_cat(vcat, rng)
    use_brand = (mode < cfg.brand_loyalty) & (vfav >= 0)
    if use_brand.any():
        by_brand = _group_sampler(cat * len(brand_names) + brand, popularity)
        got = by_brand(vcat[use_brand] * len(brand_names) + vfav[use_brand], rng)
        item[use_brand] = np.where(got >= 0, got, item[use_brand])
    use_band = (~use_brand) & (mode >= 1 - cfg.price_loyalty)
    if use_band.any():
        by_band = _group_sampler(cat * 3 + tier, popularity)
        got = by_band(vcat[use_band] * 3 + band[uv[use_band]], rng)
        item[use_band] = np.where(got >= 0, got, item[use_band])
    keep = item >= 0
    uv, item = uv[keep], item[keep]
    nv = uv.size

    # ---- the funnel: the better the item fits the user, the further down they go
    interest = (interests[uv] == cat[item][:, None]) & (np.arange(3)[None, :] < n_int[uv][:, None])
    in_int = interest.any(axis=1)
    brand_fit = ((fav_brand[uv] == brand[item][:, None]) & interest).any(axis=1)
    band_fit = band[uv] == tier[item]
    fit = 1.0 * in_int + 0.8 * brand_fit + 0.6 * band_fit + 0.5 * quality[item]
    # at a typical in-interest fit (1.5): 27% of views clicked, 25% of clicks carted, 52% of carts bought
    clicked = rng.random(nv) < _sigmoid(-2.2 + 0.8 * fit)
    carted = clicked & (rng.random(nv) < _sigmoid(-2.0 + 0.6 * fit))
    bought = carted & (rng.random(nv) < _sigmoid(-0.5 + 0.4 * fit))
    rated = bought & (rng.random(nv) < cfg.rate_share)
    stars = np.clip(
        np.round(3.4 + 0.8 * quality[item] + 0.5 * brand_fit + 0.4 * band_fit + 0.3 * in_int
                 + 0.8 * rng.standard_normal(nv)), 1, 5,
    )  # fmt: skip

    # ---- time: each user active over a period; events of one view follow it within hours
    span = rng.uniform(30, 900, size=m) * 86400.0
    t_start = rng.uniform(_T0, np.maximum(_T0 + 1, _T1 - span))
    tv = t_start[uv] + rng.random(nv) * span[uv]
    t_click = tv + rng.exponential(20.0, nv) + 1
    t_cart = t_click + rng.exponential(300.0, nv) + 1
    t_buy = t_cart + rng.exponential(3600.0, nv) + 1
    dwell = np.round(rng.lognormal(np.log(25.0) + 0.5 * clicked, 0.8), 1)

    say("interaction frame")
    parts = [
        (np.ones(nv, dtype=bool), InteractionKind.VIEW.value, tv, np.nan, dwell, np.nan),
        (clicked, InteractionKind.CLICK.value, t_click, np.nan, np.nan, np.nan),
        (carted, InteractionKind.CART.value, t_cart, np.nan, np.nan, np.nan),
        # a reviewed purchase comes back from Amazon's files without an amount: leave it out here too
        (bought, InteractionKind.PURCHASE.value, t_buy, np.nan, np.nan, np.where(rated, np.nan, price[item])),
        # the review is written with the purchase: Amazon's files hold one timestamp for both
        (rated, InteractionKind.RATING.value, t_buy, stars, np.nan, np.nan),
    ]
    frames = []
    for mask, kind, t, value, dw, amount in parts:
        k = int(mask.sum())

        def col(x: Any, mask: np.ndarray = mask, k: int = k) -> np.ndarray:
            return np.asarray(x)[mask] if np.ndim(x) else np.full(k, x, dtype=np.float64)

        frames.append(
            pd.DataFrame(
                {
                    "u": uv[mask], "i": item[mask], "kind": kind,
                    # whole milliseconds, as Amazon's files store them, so a file round trip is exact
                    "timestamp": np.round(t[mask] * 1000.0) / 1000.0,
                    "value": col(value), "dwell_seconds": col(dw), "amount": col(amount),
                }
            )
        )  # fmt: skip
    inter = pd.concat(frames, ignore_index=True)
    kind_order = {k.value: j for j, k in enumerate(InteractionKind)}
    inter["_k"] = inter["kind"].map(kind_order)
    inter = inter.sort_values(["u", "timestamp", "_k"], kind="stable").reset_index(drop=True)
    active = np.unique(inter["u"].to_numpy())
    inter["user_id"] = user_ids[inter["u"].to_numpy()]
    inter["item_id"] = item_ids[inter["i"].to_numpy()]
    interactions = inter[INTERACTION_COLUMNS].copy()
    interactions["kind"] = interactions["kind"].astype(object)

    # ---- rating statistics, as the metadata's average_rating / rating_number
    rt = inter[inter["kind"] == InteractionKind.RATING.value]
    agg = rt.groupby("i")["value"].agg(["count", "mean"])
    r_count = np.zeros(n, dtype=np.int64)
    r_mean = np.full(n, np.nan)
    r_count[agg.index.to_numpy()] = agg["count"].to_numpy()
    r_mean[agg.index.to_numpy()] = np.round(agg["mean"].to_numpy(), 1)

    items = pd.DataFrame(
        {
            "item_id": item_ids, "title": titles, "category": np.array([c["name"] for c in cats], dtype=object)[cat],
            "department": np.array([c["department"] for c in cats], dtype=object)[cat], "brand": names[brand],
            "price": price, "tier": tier, "features": feature_lists, "description": desc, "quality": quality,
            "popularity": popularity, "rating_count": r_count, "rating_mean": r_mean,
        }
    )  # fmt: skip
    cat_names = np.array([c["name"] for c in cats], dtype=object)
    users = pd.DataFrame(
        {
            "user_id": user_ids[active],
            "interests": [list(cat_names[interests[u, : n_int[u]]]) for u in active],
            "price_band": np.array(_TIER_NAMES, dtype=object)[band[active]],
            "brands": [[names[b] if b >= 0 else None for b in fav_brand[u, : n_int[u]]] for u in active],
        }
    )
    categories = pd.DataFrame(
        {
            "name": cat_names, "noun": nouns, "department": [c["department"] for c in cats],
            "needs": [list(c["needs"]) for c in cats], "features": feats,
        }
    )  # fmt: skip
    say(f"done: {n:,} items, {len(users):,} users, {len(interactions):,} interactions")
    return ShopFrames(items=items, users=users, interactions=interactions, categories=categories, config=cfg)


def generate_shop_dataset(config: SyntheticShopConfig | None = None, *, progress: Progress | None = None) -> Dataset:
    """:func:`generate_shop` as a :class:`Dataset` (``synthetic-shop``)."""
    return generate_shop(config, progress=progress).to_dataset()


def write_amazon_jsonl(shop: ShopFrames, folder: str | Path, *, progress: Progress | None = None) -> dict[str, Path]:
    """Write the shop as Amazon Reviews 2023 files plus its behaviour log.

    Files (in ``folder``):
        ``reviews.jsonl``: one review per rated purchase (``rating``, ``title``, ``text``, ``asin``,
            ``parent_asin``, ``user_id``, ``timestamp`` in ms, ``helpful_vote``, ``verified_purchase``: true),
            as the McAuley lab's ``<Category>.jsonl``.
        ``meta.jsonl``: one line per item (``main_category``, ``title``, ``average_rating``,
            ``rating_number``, ``features``, ``description``, ``price``, ``images``, ``videos``, ``store``,
            ``categories``, ``details``, ``parent_asin``, ``bought_together``), as ``meta_<Category>.jsonl``.
        ``events.jsonl``: the behaviours Amazon's files do not hold: views, clicks, carts and
            purchases without a review (``user_id``, ``parent_asin``, ``kind``, ``timestamp`` in ms,
            ``dwell_seconds``, ``amount``). A reviewed purchase is not repeated here: the loader
            makes the purchase from ``verified_purchase``.

        ``synthetic.json``: the manifest (the note that the data is synthetic, the settings, counts);
            loading the folder as ``amazon`` data carries the note into every report.

    Returns:
        ``{"reviews": path, "meta": path, "events": path, "manifest": path}``.
    """
    say = progress or (lambda _m: None)
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    paths = {
        "reviews": d / "reviews.jsonl", "meta": d / "meta.jsonl", "events": d / "events.jsonl",
        "manifest": d / MANIFEST,
    }  # fmt: skip
    paths["manifest"].write_text(
        json.dumps(
            {
                "note": SYNTHETIC_NOTE,
                "generator": "catalog.synthetic",
                "config": shop.config.model_dump(),
                "items": len(shop.items),
                "users": len(shop.users),
                "interactions": len(shop.interactions),
            },
            indent=2,
        )
        + "\n"
    )
    it = shop.items
    r: Any  # a frame row (itertuples)
    noun_of = dict(zip(shop.categories["name"], shop.categories["noun"], strict=True))
    say(f"writing {paths['meta']}")
    with paths["meta"].open("w", encoding="utf-8") as f:
        for r in it.itertuples(index=False):
            f.write(
                json.dumps(
                    {
                        "main_category": r.department,
                        "title": r.title,
                        "average_rating": None if r.rating_count == 0 else float(r.rating_mean),
                        "rating_number": int(r.rating_count),
                        "features": list(r.features),
                        "description": [r.description],
                        "price": float(r.price),
                        "images": [],
                        "videos": [],
                        "store": r.brand,
                        "categories": [r.category],
                        "details": {"Department": r.department},
                        "parent_asin": r.item_id,
                        "bought_together": None,
                    }
                )
                + "\n"
            )
    inter = shop.interactions
    reviews = inter[inter["kind"] == InteractionKind.RATING.value]
    cat_of = dict(zip(it["item_id"], it["category"], strict=True))
    texts = shop_vocabulary()["reviews"]
    rng = np.random.default_rng(shop.config.seed + 1)
    say(f"writing {paths['reviews']}")
    with paths["reviews"].open("w", encoding="utf-8") as f:
        for r in reviews.itertuples(index=False):
            stars = int(r.value)
            choices = texts[stars]
            title, text = choices[int(rng.integers(len(choices)))]
            noun = str(noun_of[cat_of[r.item_id]]).lower()
            f.write(
                json.dumps(
                    {
                        "rating": float(stars),
                        "title": title,
                        "text": text.format(noun=noun),
                        "images": [],
                        "asin": r.item_id,
                        "parent_asin": r.item_id,
                        "user_id": r.user_id,
                        "timestamp": round(r.timestamp * 1000),
                        "helpful_vote": int(rng.poisson(0.7)),
                        "verified_purchase": True,
                    }
                )
                + "\n"
            )
    # purchases with a review come back from the review's verified_purchase; write only the others
    rated = set(zip(reviews["user_id"], reviews["item_id"], reviews["timestamp"], strict=True))
    say(f"writing {paths['events']}")
    with paths["events"].open("w", encoding="utf-8") as f:
        for r in inter[inter["kind"] != InteractionKind.RATING.value].itertuples(index=False):
            if r.kind == InteractionKind.PURCHASE.value and (r.user_id, r.item_id, r.timestamp) in rated:
                continue
            row: dict[str, Any] = {
                "user_id": r.user_id, "parent_asin": r.item_id, "kind": r.kind,
                "timestamp": round(r.timestamp * 1000),
            }  # fmt: skip
            if not np.isnan(r.dwell_seconds):
                row["dwell_seconds"] = float(r.dwell_seconds)
            if not np.isnan(r.amount):
                row["amount"] = float(r.amount)
            f.write(json.dumps(row) + "\n")
    return paths


def synthetic_note(folder: str | Path) -> str | None:
    """The synthetic-data note of a folder :func:`write_amazon_jsonl` wrote, None for other folders."""
    p = Path(folder) / MANIFEST
    if not p.is_file():
        return None
    try:
        return str(json.loads(p.read_text(encoding="utf-8")).get("note") or SYNTHETIC_NOTE)
    except (OSError, ValueError):
        return SYNTHETIC_NOTE  # a manifest that cannot be read still says the folder is synthetic
