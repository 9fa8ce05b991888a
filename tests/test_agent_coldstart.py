"""A new person's first turns through the real agent on ml-100k: a popular list within the
constraints, measured confidence, what each card rests on, fresh lists on refinement, and a
free-text wish that decides the pool when nothing else is known."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from agent import Recommender


@pytest.fixture(scope="module")
def rec() -> Iterator[Recommender]:
    r = Recommender.from_config(None, llm=None)
    yield r
    r.close()


def _sid(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"  # sessions persist in the workspace: never reuse one


def _counts(rec: Recommender) -> np.ndarray:
    e = rec.engine
    return np.bincount(e.split.train["item_idx"].to_numpy(), minlength=e.dataset.n_items)


def test_new_person_gets_popular_items_within_constraints_with_measured_confidence(rec: Recommender) -> None:
    e = rec.engine
    counts = _counts(rec)
    sid_a = _sid("cold")
    reply = rec.chat(sid_a, "I'd like a comedy from the 90s. Show me 10 movies.")
    assert len(reply.cards) == 10
    idx = [e.dataset.item_index[c.item_id] for c in reply.cards]
    comedies_90s = [
        i for i, it in enumerate(e.dataset.items) if "Comedy" in it.categories and it.year and 1990 <= it.year <= 1999
    ]
    # the list honours the constraints and is drawn from the best-known tenth of those items
    assert all("Comedy" in c.categories and 1990 <= (c.year or 0) <= 1999 for c in reply.cards)
    assert np.median(counts[idx]) >= np.quantile(counts[comedies_90s], 0.9)
    for c in reply.cards:
        assert c.trust is not None and c.confidence is not None and c.confidence > 0.0
        assert c.trust.cold_start and c.trust.profile_size == 0
        assert c.trust.basis[0].startswith("nothing known")
        assert c.features.get("prior", 0.0) > 0.0, "the chart shows what the order rests on"
        assert not c.history, "no history to attribute to"
        assert "because you liked" not in c.explanation.lower()


def test_refinement_shows_items_not_seen_yet(rec: Recommender) -> None:
    sid_b = _sid("cold")
    first = rec.chat(sid_b, "a drama please")
    second = rec.chat(sid_b, "something from the 90s")
    assert len(second.cards) == len(first.cards) > 0
    assert not {c.item_id for c in first.cards} & {c.item_id for c in second.cards}
    assert all(1990 <= (c.year or 0) <= 1999 and "Drama" in c.categories for c in second.cards)


def test_first_like_personalises_at_once(rec: Recommender) -> None:
    e = rec.engine
    sid_c = _sid("cold")
    before = rec.chat(sid_c, "recommend something")
    liked = e.dataset.items[int(np.argsort(-_counts(rec))[150])]
    after = rec.chat(sid_c, f"I liked {liked.title.rsplit(' (', 1)[0]}")
    assert liked.item_id in [x["item_id"] for x in rec.profile(sid_c)["liked"]]
    assert after.cards and set(c.item_id for c in after.cards) != set(c.item_id for c in before.cards)
    top = after.cards[0]
    assert top.trust is not None and top.trust.profile_size == 1
    assert [h.item_id for h in top.history] == [liked.item_id] and top.history[0].session


def test_free_text_wish_decides_the_pool_for_a_new_person(rec: Recommender) -> None:
    from retrieval import Filters, Query

    e = rec.engine
    reply = rec.chat(_sid("cold"), "something about submarines and the navy")
    c = reply.constraints
    assert reply.cards and c.get("query"), c
    near = e.semantic.retrieve(
        Query(text=c["query"]), e.config.agent.n_candidates_new,
        Filters(include_categories=frozenset(c.get("include_categories", []))),
    )  # fmt: skip
    # with nothing known the popularity prior orders the list, so the wish must bound the pool tightly
    assert {x.item_id for x in reply.cards} <= set(near.item_ids)
    assert e.config.agent.n_candidates_new < e.config.agent.n_candidates


def test_something_like_is_not_called_a_like(rec: Recommender) -> None:
    e = rec.engine
    ref = e.dataset.items[int(np.argsort(-_counts(rec))[80])]
    name = ref.title.rsplit(" (", 1)[0]
    reply = rec.chat(_sid("cold"), f"something like {name}")
    assert reply.cards
    assert rec.profile(reply.session_id)["liked"] == []
    for c in reply.cards:
        assert "liked" not in c.explanation.lower(), c.explanation
        for h in c.history:
            assert h.item_id != ref.item_id or (h.reference and not h.session)
    top = reply.cards[0]
    if top.history and top.history[0].value > 0:
        assert top.trust is not None and top.trust.basis[0].startswith("your wish for something like")


def test_a_why_without_a_resolvable_item_asks_instead_of_claiming_no_match(rec: Recommender) -> None:
    s = _sid("cold")
    first = rec.chat(s, "something scary please")
    assert first.cards and all(c.explanation.startswith(("Popular: ", "Recommended: ")) and "Matches:" in c.explanation
                               for c in first.cards)  # fmt: skip
    reply = rec.chat(s, "why that one at the top?")
    assert "No items match" not in reply.text
    assert reply.text.startswith("Which one do you mean?") or reply.cards
