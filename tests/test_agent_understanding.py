"""Understanding requests the way people phrase them (issue 16), on the real ml-100k vocabulary:
scoped negation, all-of combinations, typos, removals, dislikes of a category, decades, counts,
Chinese; the lexicon's per-language and per-domain files; tools mode's validated structured output."""

from __future__ import annotations

import pytest

from agent.state import Constraints, DialogState
from agent.understanding import CatalogVocab, Intent, apply_understanding, understand
from agent.understanding.lexicon import language, lexicon
from agent.understanding.structured import ConstraintUpdate, validate_proposal
from catalog.types import Item
from retrieval.filters import Filters


@pytest.fixture(scope="module")
def vocab(ml100k) -> CatalogVocab:  # type: ignore[no-untyped-def]
    return CatalogVocab.from_dataset(ml100k)


def _run(vocab: CatalogVocab, *messages: str) -> tuple[DialogState, object]:
    st = DialogState()
    u = None
    for m in messages:
        u = understand(m, st, vocab)
        st = apply_understanding(st, u)
    return st, u


@pytest.mark.parametrize(
    ("messages", "want"),
    [
        (["a heist movie that isn't a comedy"], {"include_categories": ["Crime"], "exclude_categories": ["Comedy"]}),
        (["a romantic comedy"], {"include_categories": ["Romance", "Comedy"], "include_all": True}),
        (["an action thriller"], {"include_categories": ["Action", "Thriller"], "include_all": True}),
        (["a rom-com please"], {"include_categories": ["Romance", "Comedy"], "include_all": True}),
        (["action or comedy"], {"include_categories": ["Action", "Comedy"]}),
        (["documentry please"], {"include_categories": ["Documentary"]}),
        (["westren movies"], {"include_categories": ["Western"]}),
        (["dramas from the 90s", "drop the year limit"], {"include_categories": ["Drama"]}),
        (["dramas from the 90s", "remove the year filter"], {"include_categories": ["Drama"]}),
        (["horror from the 90s", "never mind the genre"], {"year_min": 1990, "year_max": 1999}),
        (["I can't stand musicals. Show me something else from 1995"],
         {"exclude_categories": ["Musical"], "year_min": 1995, "year_max": 1995}),
        (["old classics from the 1950s"], {"year_min": 1950, "year_max": 1959}),
        (["something not too old"], {"year_min": 1978}),
        (["comedies, show me 10"], {"include_categories": ["Comedy"], "n": 10}),
        (["推荐几部九十年代的喜剧"], {"include_categories": ["Comedy"], "year_min": 1990, "year_max": 1999}),
        (["不要恐怖片"], {"exclude_categories": ["Horror"]}),
        (["一部不是喜剧的犯罪片"], {"include_categories": ["Crime"], "exclude_categories": ["Comedy"]}),
    ],
)  # fmt: skip
def test_issue_kinds(vocab: CatalogVocab, messages: list[str], want: dict) -> None:
    st, _u = _run(vocab, *messages)
    got = st.constraints.model_dump(exclude_defaults=True)
    assert got == want, (messages, got)


@pytest.mark.parametrize("leftover", ["isnt", "fine", "ish", "made", "released", "only", "make", "forget"])
def test_leftover_words_never_become_the_query(vocab: CatalogVocab, leftover: str) -> None:
    msgs = {
        "isnt": "a crime movie that isnt a comedy",
        "fine": "westerns are fine",
        "ish": "90s-ish dramas",
        "made": "a comedy made in 1995",
        "released": "thrillers released after 1990",
        "only": "only horror",
        "make": "make it a western",
        "forget": "forget the decade",
    }
    st, _u = _run(vocab, "dramas from the 80s", msgs[leftover])
    assert leftover not in st.constraints.query.split(), st.constraints


def test_a_chinese_title_the_catalog_lacks_is_asked_about_in_chinese(vocab: CatalogVocab) -> None:
    _st, u = _run(vocab, "类似《星球大战》的电影")
    assert u.language == "zh" and u.clarify and "星球大战" in u.clarify  # type: ignore[attr-defined]
    assert u.intent == Intent.RECOMMEND and not u.slots.reference_item_ids  # type: ignore[attr-defined]
    _st, u = _run(vocab, "类似《Star Wars》的电影")
    assert u.slots.reference_item_ids == ["50"] and not u.clarify  # type: ignore[attr-defined]


def test_negation_scope_stops_at_the_next_phrase(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "no horror or romance, but a thriller")
    assert sorted(st.constraints.exclude_categories) == ["Horror", "Romance"]
    assert st.constraints.include_categories == ["Thriller"]
    st, _ = _run(vocab, "not a comedy, a crime movie")
    assert st.constraints.exclude_categories == ["Comedy"] and st.constraints.include_categories == ["Crime"]


@pytest.mark.parametrize(
    ("message", "term"),
    [("a comedy, not too gory please", "gory"), ("something scary but not too violent", "violent"),
     ("a thriller without bad language", "bad language")],
)  # fmt: skip
def test_a_wish_nothing_can_check_is_named_not_dropped(vocab: CatalogVocab, message: str, term: str) -> None:
    u = understand(message, None, vocab)
    assert u.intent == Intent.RECOMMEND and u.slots.include  # the category still applies
    assert any(f'"{term}"' in n and "not checked" in n for n in u.notes), u.notes


def test_a_negated_category_is_applied_without_an_unchecked_note(vocab: CatalogVocab) -> None:
    u = understand("a comedy, no horror please", None, vocab)
    assert u.slots.exclude == ["Horror"] and not any("not checked" in n for n in u.notes)


def test_a_shop_catalog_is_understood_by_its_own_category_names() -> None:
    """No domain file: categories come from the catalog, singular and plural ("Coffee Makers")."""
    items = [
        Item(item_id=str(i), title=f"Model {i}", categories=[c], year=2020)
        for i, c in enumerate(["Coffee Makers", "Kettles", "Coffee Makers", "Toasters"] * 5)
    ]
    v = CatalogVocab.from_items(items)
    assert v.lexicon.domain.name is None
    assert understand("a coffee maker please", None, v).slots.include == ["Coffee Makers"]
    assert understand("no kettles", None, v).slots.exclude == ["Kettles"]
    assert understand("a toaster", None, v).slots.include == ["Toasters"]


def test_language_files_load_and_domain_words_stay_out_of_code() -> None:
    en, zh = language("en"), language("zh")
    assert "isnt" in en.neg_cues and en.removal_slots["years"] and zh.canonical["不要"] == "not"
    lex = lexicon("ml-100k")
    assert "flick" in lex.item_nouns and "喜剧" in lex.synonyms("Comedy", "zh")
    assert lexicon(None).item_nouns == frozenset()
    assert "movie" not in en.fillers and "film" not in en.list_nouns  # item nouns come from the domain file
    assert lex.reply("zh", "which_item") == "你指的是哪一部电影？"


def test_all_of_filters() -> None:
    rc = Item(item_id="a", title="A", categories=["Romance", "Comedy"])
    c = Item(item_id="b", title="B", categories=["Comedy"])
    f_all = Constraints(include_categories=["Romance", "Comedy"], include_all=True).filters()
    f_any = Constraints(include_categories=["Romance", "Comedy"]).filters()
    assert f_all.matches(rc) and not f_all.matches(c)
    assert f_any.matches(rc) and f_any.matches(c)
    assert Filters(include_categories={"Comedy"}, include_all=True).matches(c)


def test_structured_proposal_is_validated_against_the_catalog(vocab: CatalogVocab) -> None:
    p = ConstraintUpdate(
        include_categories=["romance", "comedies"], match_all=True, exclude_categories=["Cooking"],
        year_min=1990, year_max=3000, reference_titles=["star wars", "Not A Real Title Xyz"], query="please",
    )  # fmt: skip
    v = validate_proposal(p, vocab, DialogState())
    assert v.accepted
    assert v.update.include == ["Romance", "Comedy"] and v.update.include_all
    assert v.update.exclude == [] and v.update.year_min == 1990 and v.update.year_max is None
    assert v.update.reference_item_ids == ["50"] and v.update.query is None
    assert any("Cooking" in n for n in v.notes) and any("3000" in n for n in v.notes)
    nothing = validate_proposal(ConstraintUpdate(include_categories=["Cooking"]), vocab, DialogState())
    assert not nothing.accepted and nothing.update.is_empty()
