"""A shop catalog's constraints and vocabulary: brands, prices, ratings, feature words, stated needs.

The catalog is small and built here with a known answer per question (which items are Trekka backpacks,
which are under $50); the understanding, the exact filters and the dialog state are the real ones.
"""

from __future__ import annotations

import itertools

import pytest

from agent.state import Constraints, ConstraintUpdate, DialogState
from agent.understanding import CatalogVocab, understand
from agent.understanding.lexicon import domain, lexicon
from catalog.errors import BadConstraint
from catalog.types import Item, RatingStats
from retrieval.filters import AttributeTable, Filters

CATS = {
    "Headphones": ("Headphones", ["Wireless", "Noise Cancelling", "Over-Ear"], 60.0),
    "Keyboards": ("Keyboard", ["Mechanical", "Wireless", "Backlit"], 40.0),
    "Coffee Makers": ("Coffee Maker", ["Programmable", "Drip", "Thermal Carafe"], 80.0),
    "Running Shoes": ("Running Shoe", ["Cushioned", "Trail", "Waterproof"], 90.0),
    "Backpacks": ("Backpack", ["Waterproof", "Laptop", "Anti-Theft"], 45.0),
}
BRANDS = ["Trekka", "Packwell", "Sonora", "KeyForge"]


def _catalog() -> list[Item]:
    items = []
    k = 0
    for cat, (noun, feats, base) in CATS.items():
        for b, brand in enumerate(BRANDS):
            for j, feat in enumerate(feats):
                k += 1
                items.append(
                    Item(
                        item_id=f"P{k:03d}",
                        title=f"{brand} {feat} {noun} {chr(65 + j)}{k}",
                        description=f"A {feat.lower()} {noun.lower()}.",
                        categories=(cat,),
                        brand=brand,
                        price=round(base * (0.5 + 0.4 * b + 0.2 * j), 2),
                        rating=RatingStats(count=10 + k, mean=round(3.0 + 0.15 * ((k * 7) % 13), 2)),
                        attributes={"features": [feat, "Warranty"]},
                    )
                )
    return items


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return _catalog()


@pytest.fixture(scope="module")
def vocab(items: list[Item]) -> CatalogVocab:
    return CatalogVocab.from_items(items, dataset="synthetic-shop")


def test_shop_domain_comes_from_its_file_and_movie_words_stay_in_movielens() -> None:
    shop = domain("amazon")  # listed under ``datasets`` of shop.yaml
    assert shop.reply_nouns["en"] == {"one": "product", "many": "products"}
    assert shop.category_nouns and "for" in shop.needs["en"]
    movies = domain("ml-100k")
    assert movies.reply_nouns["en"]["many"] == "movies" and not movies.needs
    assert movies.spoken["Sci-Fi"] == "sci-fi" and movies.claim_words["scary"] == "horror"
    assert lexicon("amazon").reply("en", "lead_new", n=5, what="", years="") == "Here are 5 products, best first:"


def test_vocab_reads_brands_features_and_category_forms(vocab: CatalogVocab) -> None:
    assert vocab.brands[("trekka",)] == "Trekka"
    assert vocab.features[("noise", "cancelling")] == "Noise Cancelling"
    assert ("warranty",) not in vocab.features  # on every item: says nothing
    assert vocab.phrases[("coffee", "maker")] == ("Coffee Makers",)
    assert vocab.has_ratings and vocab.has_prices


def _u(text: str, vocab: CatalogVocab, state: DialogState | None = None) -> ConstraintUpdate:
    return understand(text, state, vocab).slots


def test_brand_include_exclude_and_categories(vocab: CatalogVocab) -> None:
    s = _u("show me backpacks from Trekka", vocab)
    assert s.include == ["Backpacks"] and s.brands == ["Trekka"] and not s.query
    s = _u("headphones, not Sonora", vocab)
    assert s.include == ["Headphones"] and s.exclude_brands == ["Sonora"] and not s.brands
    s = _u("a coffee maker", vocab)
    assert s.include == ["Coffee Makers"]


def test_prices_ratings_and_features(vocab: CatalogVocab, items: list[Item]) -> None:
    s = _u("wireless headphones under $50", vocab)
    assert s.features == ["Wireless"] and s.price_max == 50 and s.include == ["Headphones"]
    s = _u("keyboards rated at least 4 stars", vocab)
    assert s.rating_min == 4.0 and s.include == ["Keyboards"]
    u = understand("highly rated backpacks", None, vocab)
    assert u.slots.rating_min == 4.0 and not u.feedback
    s = _u("cheap running shoes", vocab)
    shoes = sorted(it.price for it in items if "Running Shoes" in it.categories and it.price is not None)
    assert s.price_max is not None and shoes[0] <= s.price_max < shoes[-1]
    s = _u("premium coffee makers", vocab)
    assert s.price_min is not None and s.price_max is None


def test_cheaper_is_relative_to_the_shown_prices(vocab: CatalogVocab, items: list[Item]) -> None:
    state = DialogState(constraints=Constraints(include_categories=["Keyboards"]))
    shown = [it.item_id for it in items if "Keyboards" in it.categories][:6]
    state.record_shown(shown)
    s = _u("cheaper ones please", vocab, state)
    prices = sorted(it.price for it in items if it.item_id in shown and it.price is not None)
    assert s.price_max is not None and prices[0] <= s.price_max < prices[-1]


def test_a_stated_need_is_read_and_points_to_categories(vocab: CatalogVocab) -> None:
    u = understand("recommend something for running", None, vocab)
    assert u.slots.need == "running" and u.slots.need_categories == ["Running Shoes"]
    assert u.intent == "recommend"
    u = understand("looking for a backpack", None, vocab)
    assert u.slots.need is None and u.slots.include == ["Backpacks"]  # "for" + only a category: no need


def test_filters_evaluate_brands_ratings_features_and_resolve_for_the_index(items: list[Item]) -> None:
    f = Filters(include_categories={"Backpacks"}, include_brands={"trekka"}, rating_min=3.5, features={"laptop"})
    want = [
        it.item_id
        for it in items
        if "Backpacks" in it.categories
        and it.brand == "Trekka"
        and it.rating.mean is not None
        and it.rating.mean >= 3.5
        and "Laptop" in it.attributes["features"]
    ]
    got = [it.item_id for it in items if f.matches(it)]
    assert got == want
    table = AttributeTable()
    table.set_items(list(range(len(items))), items)
    with pytest.raises(BadConstraint):
        table.mask(f)
    mask = table.mask(f.resolved(items))
    assert [items[i].item_id for i in mask.nonzero()[0]] == want
    no_sonora = Filters(exclude_brands={"Sonora"})
    assert not any(it.brand == "Sonora" for it in items if no_sonora.matches(it))


@pytest.mark.parametrize(
    "update",
    [
        ConstraintUpdate(brands=["Trekka"], exclude_brands=["Sonora"], features=["Laptop"], rating_min=4.0),
        ConstraintUpdate(need="running", need_categories=["Running Shoes"], price_max=80),
        ConstraintUpdate(exclude_brands=["Trekka"]),
    ],
)
def test_merge_of_shop_constraints_is_idempotent(update: ConstraintUpdate) -> None:
    for base in (
        Constraints(),
        Constraints(include_brands=["Trekka"], features=["Wireless"]),
        Constraints(need="gaming", need_categories=["Keyboards"]),
    ):
        once = base.merge(update)
        assert once.merge(update) == once
        assert not set(once.include_brands) & set(once.exclude_brands)


def test_need_categories_filter_when_no_category_is_asked(items: list[Item]) -> None:
    c = Constraints(need="running", need_categories=["Running Shoes"])
    f = c.filters()
    assert all("Running Shoes" in it.categories for it in items if f.matches(it))
    c2 = c.model_copy(update={"include_categories": ["Backpacks"]})  # an asked-for category wins
    assert all("Backpacks" in it.categories for it in items if c2.filters().matches(it))


def test_every_combination_of_brand_and_category_counts_right(items: list[Item]) -> None:
    for cat, brand in itertools.product(CATS, BRANDS):
        f = Constraints(include_categories=[cat], include_brands=[brand]).filters()
        assert sum(f.matches(it) for it in items) == 3


def test_naming_another_category_switches_to_it(vocab: CatalogVocab) -> None:
    state = DialogState(constraints=Constraints(include_categories=["Backpacks"], include_brands=["Trekka"]))
    u = understand("wireless keyboards under $60", state, vocab)
    after = state.constraints.merge(u.slots)
    assert after.include_categories == ["Keyboards"] and after.include_brands == []
    assert after.features == ["Wireless"] and after.price_max == 60


def test_help_and_leads_use_the_domain_words() -> None:
    shop, movies = lexicon("synthetic-shop"), lexicon("ml-100k")
    assert "products" in shop.reply("en", "help") and "sci-fi" not in shop.reply("en", "help")
    assert "'a sci-fi movie from the 80s'" in movies.reply("en", "help")
    assert shop.noun("en") == "product" and movies.noun("en", many=True) == "movies"


def test_matches_name_shop_constraints_truly_and_pass_the_claim_checker(items: list[Item]) -> None:
    from agent.claims import ClaimChecker
    from agent.engine import constraint_matches
    from agent.grounding import template_explanation
    from ranker.evidence import Evidence

    c = Constraints(
        include_categories=["Keyboards"], include_brands=["Trekka"], price_min=20.5, price_max=60.98,
        rating_min=3.0, features=["Backlit"],
    )  # fmt: skip
    state, checker = DialogState(constraints=c), ClaimChecker(items)
    shown = [it for it in items if c.filters().matches(it)]
    assert shown
    for it in shown:
        ev = Evidence(item_id=it.item_id, title=it.title, categories=list(it.categories), score=1.0, base_value=0.0)
        ev.matches = constraint_matches(state, ev, it)
        assert ev.matches == ["Keyboards", "Trekka", "$20-$61", "rated 3 or more", "Backlit"]
        text = template_explanation(ev)
        assert checker.check(text, ev).ok and "Matches: Keyboards, Trekka, $20-$61" in text
