"""A yes/no question whether the shown items fit a wish ("are any of these from before 1990?", "are they all
comedies?") is answered from the catalog's own years and categories for every shown item, truly whichever way
it comes out (none, some or all fit), and never becomes a wish that refines the list. A new person (no history),
through the real Recommender (guided mode, templates), in English and Chinese."""

from __future__ import annotations

import uuid

import pytest

from agent.state import DialogState
from agent.understanding import understand
from tests.ui_helpers import shared_recommender


def _ask(first_message: str, question: str):  # type: ignore[no-untyped-def]
    rec = shared_recommender()
    s = f"listq-{uuid.uuid4().hex[:12]}"
    first = rec.chat(s, first_message)
    return rec, first, rec.chat(s, question)


def _fits(rec, item_id: str, cats: list[str], lo: int | None, hi: int | None) -> bool:  # type: ignore[no-untyped-def]
    item = rec.engine.dataset.item(item_id)
    year = item.year
    in_years = (lo is None or (year is not None and year >= lo)) and (hi is None or (year is not None and year <= hi))
    return all(c in item.categories for c in cats) and in_years


@pytest.mark.parametrize(
    ("question", "cats", "lo", "hi"),
    [
        ("are any of these older than 1990?", [], None, 1989),
        ("hmm, were all of them made after 1994?", [], 1995, None),
        ("is there a romance among these?", ["Romance"], None, None),
        ("do any of those count as drama?", ["Drama"], None, None),
        ("any of them from the 80s?", [], 1980, 1989),
    ],
)
def test_the_answer_names_exactly_the_shown_items_that_fit(question: str, cats: list[str], lo, hi) -> None:  # type: ignore[no-untyped-def]
    rec, first, r = _ask("6 comedies please", question)
    shown = [c.item_id for c in first.cards]
    fitting = [c for c in first.cards if _fits(rec, c.item_id, cats, lo, hi)]
    assert r.intent == "compare" and [c.item_id for c in r.cards] == [c.item_id for c in fitting][:4]
    assert r.constraints == first.constraints  # the question refined nothing
    head = r.text.splitlines()[0]
    if not fitting:
        assert head.startswith(f"None of these {len(shown)} is ")
    elif len(fitting) == len(shown):
        assert head.startswith(f"All {len(shown)} of these are ")
    else:
        assert head.startswith(f"{len(fitting)} of these {len(shown)} ")
        named = head.split(": ", 1)[1]
        for c in first.cards:  # every fitting item named with its year, no other
            assert (f"{c.title} ({c.year})" in named) == (c in fitting)


def test_the_answer_can_be_some_none_and_all_on_the_real_catalog() -> None:
    """The three ways the answer comes out, each met on the real list (so the test above meets every branch)."""
    heads = set()
    for q in ("are any of these from before 1990?", "are any of these from before 1900?", "are they all comedies?"):
        _, _, r = _ask("6 comedies please", q)
        heads.add(r.text.split()[0])
    assert heads == {"None", "All"} | {h for h in heads if h.isdigit()} and len(heads) == 3


def test_a_question_in_chinese_is_answered_in_chinese() -> None:
    rec, first, r = _ask("推荐六部喜剧", "这几部里有没有1990年以前的？")
    fitting = [c for c in first.cards if _fits(rec, c.item_id, [], None, 1989)]
    assert r.intent == "compare" and r.constraints == first.constraints
    head = r.text.splitlines()[0]
    assert head.startswith("这 6 部")
    assert all((f"《{c.title}》（{c.year}）" in head) == (c in fitting) for c in first.cards) or not fitting


@pytest.mark.parametrize(
    "second",
    [
        "any of these from before 1990? if not show me some",  # also asks for something: a request
        "do you have any of those from the 80s?",  # asks the assistant for more: a request
        "these all look dated, anything after 1990?",  # a remark on the list, then a request
    ],
)
def test_a_question_that_also_asks_for_items_is_a_request(second: str) -> None:
    rec = shared_recommender()
    st = DialogState(session_id="q")
    u = understand("comedies", st, rec.engine.vocab)
    st = st.with_update(u.slots, intent=str(u.intent))
    st.record_shown(["1", "2", "3"])
    u = understand(second, st, rec.engine.vocab)
    assert not u.asked_of_list and (u.slots.year_min or u.slots.year_max)


@pytest.mark.parametrize(("question", "pick"), [("which of these is the newest?", max), ("which one is oldest", min)])
def test_newest_and_oldest_are_found_among_every_shown_item(question: str, pick) -> None:  # type: ignore[no-untyped-def]
    """A list longer than the four cards an answer shows: the answer looks at all of it (it had looked at the
    first four only)."""
    _, first, r = _ask("10 dramas please", question)
    years = [c.year for c in first.cards if c.year]
    assert len(first.cards) == 10 and f"({pick(years)})" in r.text.splitlines()[0]
    assert all(c.year == pick(years) for c in r.cards)
