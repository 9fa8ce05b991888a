"""A question about what the catalog does not record ("whos in the second one" where no cast is recorded) gets
the item described with what the catalog does record and a note saying what it cannot answer, in the person's
language; never a silent answer to another question, and never a list refined by the question's words. A new
person (no history), through the real Recommender (guided mode, templates); the words come from the domain
file's ``absent`` entries, so a catalog that records the thing asked (a shop's brand) gets no such note."""

from __future__ import annotations

import uuid

import pytest

from agent.state import DialogState
from agent.understanding import CatalogVocab, Intent, apply_understanding, understand
from agent.understanding.lexicon import domain
from tests.ui_helpers import shared_recommender


@pytest.fixture(scope="module")
def vocab(ml100k) -> CatalogVocab:  # type: ignore[no-untyped-def]
    return CatalogVocab.from_dataset(ml100k)


def _after_a_list(vocab: CatalogVocab, question: str) -> tuple[DialogState, object]:
    st = DialogState()
    u = understand("some westerns", st, vocab)
    st = apply_understanding(st, u)
    st.record_shown([it.item_id for it in vocab.items if st.constraints.filters().matches(it)][:10])
    u = understand(question, st, vocab)
    return apply_understanding(st, u), u


@pytest.mark.parametrize(
    ("question", "pos"),
    [("who stars in number 3?", 3), ("how long is the first one", 1), ("the 2nd - who directed that", 2)],
)
def test_a_question_the_catalog_cannot_answer_describes_the_item_and_says_so(
    vocab: CatalogVocab, question: str, pos: int
) -> None:
    st, u = _after_a_list(vocab, question)
    assert u.intent == Intent.DESCRIBE  # type: ignore[attr-defined]
    assert [r.item_id for r in u.items] == [st.shown[pos - 1]]  # type: ignore[attr-defined]
    assert any("does not record" in n for n in u.notes)  # type: ignore[attr-defined]
    assert st.constraints.query == "" and st.constraints.include_categories == ["Western"]


def test_a_chinese_question_gets_the_note_in_chinese(vocab: CatalogVocab) -> None:
    st, u = _after_a_list(vocab, "第二部是谁演的？")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]
    assert any("没有记录" in n and "演职人员" in n for n in u.notes)  # type: ignore[attr-defined]


def test_a_plain_description_request_gets_no_such_note(vocab: CatalogVocab) -> None:
    _, u = _after_a_list(vocab, "tell me more about the second one")
    assert u.intent == Intent.DESCRIBE and not any("does not record" in n for n in u.notes)  # type: ignore[attr-defined]


def test_only_domains_that_lack_the_field_list_it() -> None:
    assert any("cast or crew" in a["what"].values() for a in domain("ml-100k").absent)
    assert domain("shop").absent == ()  # a shop records the brand: "who makes it" is answered by the card


def test_a_new_person_asking_who_is_in_a_shown_item_gets_a_true_reply() -> None:
    rec = shared_recommender()
    s = f"absent-{uuid.uuid4().hex[:12]}"
    first = rec.chat(s, "a western please")
    assert len(first.cards) >= 2
    second = first.cards[1]
    r = rec.chat(s, "whos in the second one")
    assert r.intent == "describe" and [c.item_id for c in r.cards] == [second.item_id]
    assert any("does not record cast or crew" in n for n in r.notes)
    assert second.title in r.text  # the reply is about that item, with what the catalog records of it
