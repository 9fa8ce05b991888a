"""The agent on a shop: the generated synthetic-shop catalog (clearly synthetic), the real ranker trained on it,
the real FAISS index and the guided graph, templates only. Heavy: the first run trains the ranker (minutes).

Each question has a known answer in the catalog (which products are backpacks of a brand, which cost less
than a bound), so every assertion can fail.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

N = 5


@pytest.fixture(scope="module")
def rec() -> Iterator[Any]:
    from agent.recommender import Recommender

    home = Path(tempfile.mkdtemp(prefix="trustrec-shop-"))
    r = Recommender.from_config({"home": str(home), "data": {"dataset": "synthetic-shop"}}, llm=None)
    yield r
    r.close()
    shutil.rmtree(home, ignore_errors=True)


def _items(rec: Any, ids: list[str]) -> list[Any]:
    return [rec.engine.dataset.item(i) for i in ids]


def test_replies_speak_of_products_and_categories_from_the_catalog(rec: Any) -> None:
    r = rec.chat("shop-a", f"a coffee maker. show me {N} products")
    assert r.constraints.get("include_categories") == ["Coffee Makers"]
    assert len(r.cards) == N and all("Coffee Makers" in c.categories for c in r.cards)
    assert r.text.startswith(f"Here are {N} Coffee Makers") and "movie" not in r.text
    assert all(c.brand and c.price is not None for c in r.cards)
    for c in r.cards:  # the card's facts are the catalog's
        it = rec.engine.dataset.item(c.item_id)
        assert (c.brand, c.price) == (it.brand, it.price)


def test_brand_include_and_exclude_with_the_count_guarantee(rec: Any) -> None:
    ds = rec.engine.dataset
    backpacks = [it for it in ds.items if "Backpacks" in it.categories]
    brand = Counter(it.brand for it in backpacks).most_common(1)[0][0]
    have = sum(it.brand == brand for it in backpacks)
    r = rec.chat("shop-b", f"show me {N} backpacks from {brand}")
    assert r.constraints.get("include_brands") == [brand]
    assert len(r.cards) == min(N, have) and all(c.brand == brand for c in r.cards)
    r = rec.chat("shop-b", f"not {brand}")
    assert r.cards and all(c.brand != brand and "Backpacks" in c.categories for c in r.cards)
    rare = Counter(it.brand for it in backpacks).most_common()[-1]
    r = rec.chat("shop-c", f"show me 20 backpacks from {rare[0]}")
    assert len(r.cards) == min(20, rare[1])
    if rare[1] < 20:
        assert any(f"only {rare[1]} items match" in n for n in r.notes)


def test_prices_and_cheaper_follow_the_shown_list(rec: Any) -> None:
    r = rec.chat("shop-d", f"{N} keyboards under $60")
    assert r.cards and all(c.price <= 60 for c in r.cards)
    before = sorted(c.price for c in r.cards)
    r = rec.chat("shop-d", "cheaper ones please")
    cap = r.constraints["price_max"]
    assert cap < before[len(before) // 2] + 0.01 and all(c.price <= cap for c in r.cards)


def test_a_stated_need_beats_the_history_and_the_reply_says_so(rec: Any) -> None:
    ds = rec.engine.dataset
    # a known user whose history holds no running shoes at all
    running = {i for i, it in enumerate(ds.items) if "Running Shoes" in it.categories}
    uid = next(
        ds.users[u].user_id for u, h in enumerate(rec.engine.histories) if len(h) >= 5 and not running & set(h.tolist())
    )
    r = rec.chat("shop-e", "recommend something for running", user_id=uid)
    assert r.constraints.get("need_categories") == ["Running Shoes"]
    assert r.cards and all("Running Shoes" in c.categories for c in r.cards)
    assert "your history only orders them" in r.text


def test_shop_simulator_finds_targets_and_breaks_no_revealed_constraint(rec: Any) -> None:
    from evals.shop_conversation import evaluate_shop_conversations

    res = evaluate_shop_conversations(rec, n_users=20, cohort="both", seed=1)
    for r in (res, res["cold_start"]):
        assert r["users"] == 20 and r["violations"] == 0, r["violation_list"]
        assert r["success_rate"] >= 0.75
