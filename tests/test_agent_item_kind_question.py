"""A yes/no question about a listed item's kind ("is the fifth one a horror movie?") is answered from the
catalog's own categories for that item, truly either way, and never becomes a wish that refines the list. A new
person (no history), through the real Recommender (guided mode, templates)."""

from __future__ import annotations

import uuid

from tests.ui_helpers import shared_recommender


def _ask(first_message: str, question: str):  # type: ignore[no-untyped-def]
    rec = shared_recommender()
    s = f"kind-{uuid.uuid4().hex[:12]}"
    first = rec.chat(s, first_message)
    return rec, first, rec.chat(s, question)


def test_the_answer_is_yes_when_the_item_is_listed_under_the_category() -> None:
    _, first, r = _ask("westerns please", "is number 1 a western?")
    item = first.cards[0]
    assert r.intent == "describe" and [c.item_id for c in r.cards] == [item.item_id]
    assert r.text.startswith("Yes:") and item.title.split(" (")[0].split(",")[0] in r.text


def test_the_answer_is_no_and_names_what_it_is_listed_under() -> None:
    rec, first, r = _ask("westerns please", "is the second one a documentary?")
    item = rec.engine.dataset.item(first.cards[1].item_id)
    assert "Documentary" not in item.categories  # a western list holds no documentary at position 2
    assert r.text.startswith("No:") and "not listed under Documentary" in r.text
    assert all(c in r.text for c in item.categories)  # what it is listed under, every one of them
    assert r.constraints["include_categories"] == ["Western"]  # the question refined nothing
