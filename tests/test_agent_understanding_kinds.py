"""Kinds of phrasing the guided-mode parser reads (issue 16, generalisation): each test uses phrasings
that are in no evaluation template, so it checks the mechanism (cue grammar + scopes, data files per
language), not a sentence. Real ml-100k vocabulary, real parser."""

from __future__ import annotations

import pytest

from agent.state import DialogState
from agent.understanding import CatalogVocab, Intent, UnderstandConfig, apply_understanding, understand
from agent.understanding.normalise import canonicalise
from catalog.types import FeedbackKind


@pytest.fixture(scope="module")
def vocab(ml100k) -> CatalogVocab:  # type: ignore[no-untyped-def]
    return CatalogVocab.from_dataset(ml100k)


def _run(vocab: CatalogVocab, *messages: str) -> tuple[DialogState, object]:
    st = DialogState()
    u = None
    for m in messages:
        u = understand(m, st, vocab)
        st = apply_understanding(st, u)
        if u.intent in (Intent.RECOMMEND, Intent.REFINE):
            st.record_shown([it.item_id for it in vocab.items if st.constraints.filters().matches(it)][:10])
    return st, u


@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("a western, and spare me the musicals", ["Western"], ["Musical"]),
        ("war films but stay away from romance", ["War"], ["Romance"]),
        ("mystery, leave the horror out", ["Mystery"], ["Horror"]),
        ("I'm tired of comedies, find me a thriller", ["Thriller"], ["Comedy"]),
        ("sci-fi, romance is off the table", ["Sci-Fi"], ["Romance"]),
        ("documentaries with zero war in them", ["Documentary"], ["War"]),
        ("a comedy free of romance", ["Comedy"], ["Romance"]),
    ],
)
def test_a_category_is_left_out_by_a_cue_before_or_after_it(
    vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == inc and st.constraints.exclude_categories == exc


@pytest.mark.parametrize(
    ("message", "cats", "all_"),
    [
        ("a horror flick that's a comedy too, in one", ["Horror", "Comedy"], True),
        ("something combining crime and drama", ["Crime", "Drama"], True),
        ("a western crossed with comedy", ["Western", "Comedy"], True),
        ("thriller or mystery, either one is ok", ["Thriller", "Mystery"], False),
        ("animation; fantasy would be nice too", ["Animation", "Fantasy"], False),
    ],
)
def test_several_categories_are_all_or_any_by_their_cues(
    vocab: CatalogVocab, message: str, cats: list[str], all_: bool
) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == sorted(cats)
    assert bool(st.constraints.include_all) == all_


def test_fine_allows_an_excluded_category_and_adds_any_other(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "dramas, no romance", "romance is ok after all")
    assert st.constraints.include_categories == ["Drama"] and st.constraints.exclude_categories == []
    st, _ = _run(vocab, "dramas", "romance is ok too")
    assert sorted(st.constraints.include_categories) == ["Drama", "Romance"] and not st.constraints.include_all


@pytest.mark.parametrize(
    ("second", "years_cleared", "cats_cleared"),
    [
        ("the era isn't really important", True, False),
        ("whatever decade works", True, False),
        ("strike the drama bit", False, True),
        ("you can toss the year filter", True, False),
    ],
)
def test_a_removal_names_its_slot_in_many_words(
    vocab: CatalogVocab, second: str, years_cleared: bool, cats_cleared: bool
) -> None:
    st, _ = _run(vocab, "drama from the 1970s", second)
    c = st.constraints
    assert (c.year_min is None and c.year_max is None) == years_cleared, c
    assert (c.include_categories == []) == cats_cleared, c


def test_removing_an_exclusion_allows_the_category_again(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime movies, nothing violent, no horror", "lift the no-horror restriction")
    assert st.constraints.include_categories == ["Crime"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("comedies, 1988 and later", 1988, None),
        ("a western from 1960 at the latest", None, 1960),
        ("drama, 1975+", 1975, None),
        ("thrillers, nothing earlier than 1990", 1990, None),
        ("war movies younger than 1980", 1981, None),
    ],
)
def test_relative_years_in_their_forms(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


@pytest.mark.parametrize(
    "template",
    ["finally saw {t} and it blew me away", "{t} was such a great time, recommend me more like that",
     "i'm obsessed with {t}, what next?"],
)  # fmt: skip
def test_a_title_is_a_reference_in_any_word_order(vocab: CatalogVocab, template: str) -> None:
    item = next(it for it in vocab.items if it.title.startswith("Fargo"))
    st, _ = _run(vocab, template.format(t="fargo"))
    assert st.constraints.reference_item_ids == [item.item_id]


@pytest.mark.parametrize("second", ["whyd you go with the 4th one", "what is option 4 like?", "say more on pick #4"])
def test_positions_with_explain_and_describe_cues(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "comedies", second)
    assert u.intent in (Intent.EXPLAIN, Intent.DESCRIBE) and [r.position for r in u.items] == [4]
    assert st.constraints.include_categories == ["Comedy"]


@pytest.mark.parametrize(
    ("message", "term"),
    [("something heartwarming", "heartwarming"), ("a drama that is uplifting", "uplifting")],
)
def test_a_wish_no_field_can_check_is_named_back(vocab: CatalogVocab, message: str, term: str) -> None:
    u = understand(message, None, vocab)
    assert u.intent == Intent.RECOMMEND
    assert any(f'"{term}"' in n and "not checked" in n for n in u.notes), u.notes


def test_a_negated_wish_alone_is_a_request_with_a_note_not_chit_chat(vocab: CatalogVocab) -> None:
    u = understand("nothing too depressing", None, vocab)
    assert u.intent == Intent.RECOMMEND and any('"depressing"' in n for n in u.notes), u.notes
    u = understand("a western, swearing-free", None, vocab)
    assert u.slots.include == ["Western"] and any('"swearing"' in n and "filter out" in n for n in u.notes), u.notes


def test_a_chinese_negated_wish_the_lexicon_lacks_is_named_back_in_chinese(vocab: CatalogVocab) -> None:
    c = canonicalise("不要太压抑的剧情片", "ml-100k")
    assert c.unplaced_negated == ["压抑"]
    u = understand("不要太压抑的剧情片", None, vocab)
    assert u.slots.include == ["Drama"] and u.language == "zh"
    assert any("压抑" in n and "无法排除" in n for n in u.notes), u.notes
    u = understand("来点温馨的动画", None, vocab)
    assert u.slots.include == ["Animation"] and any("温馨" in n and "无法核对" in n for n in u.notes), u.notes


@pytest.mark.parametrize(
    ("messages", "inc", "exc"),
    [
        (["有没有战争片？爱情的就算了"], ["War"], ["Romance"]),
        (["西部片或者喜剧也行"], ["Western", "Comedy"], []),
        (["推荐科幻", "改成恐怖片吧"], ["Horror"], []),
    ],
)
def test_chinese_cues_map_onto_the_same_kinds(
    vocab: CatalogVocab, messages: list[str], inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, *messages)
    assert sorted(st.constraints.include_categories) == sorted(inc) and st.constraints.exclude_categories == exc


RECENT = -1
"""Stands for the recent window (the newest year less ``recent_years``)."""


@pytest.mark.parametrize(
    ("messages", "inc", "years"),
    [
        (["thrillers from the 1980s", "never mind the eighties"], ["Thriller"], (None, None)),
        (["crime from 1993", "it doesn't matter which year"], ["Crime"], (None, None)),
        (["crime thrillers", "only thrillers"], ["Thriller"], (None, None)),
        (["westerns from the past couple of years"], ["Western"], (RECENT, None)),
        (["推荐犯罪片", "年代不限"], ["Crime"], (None, None)),
        (["八十年代以后的喜剧"], ["Comedy"], (1980, None)),
    ],
)
def test_periods_are_removed_or_read_as_a_relative_window(
    vocab: CatalogVocab, messages: list[str], inc: list[str], years: tuple[int | None, int | None]
) -> None:
    st, _ = _run(vocab, *messages)
    assert vocab.year_range is not None
    recent = vocab.year_range[1] - UnderstandConfig().recent_years + 1
    assert st.constraints.include_categories == inc
    assert (st.constraints.year_min, st.constraints.year_max) == tuple(recent if y == RECENT else y for y in years)


def test_a_position_alone_asks_about_that_item(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "and the 3rd?")
    assert u.intent == Intent.DESCRIBE and [r.position for r in u.items] == [3]
    assert st.constraints.include_categories == ["Western"]


def test_a_one_character_chinese_wish_that_is_refused_is_named_back(vocab: CatalogVocab) -> None:
    u = understand("不要太慢的电影", None, vocab)
    assert u.intent == Intent.RECOMMEND and any("慢" in n for n in u.notes), u.notes


@pytest.mark.parametrize(
    ("message", "query"),
    [
        ("yo got any decent thrillers rn? ngl", ""),  # chat shorthand
        ("plz recomend thrillers abt submarines", "submarines"),  # a misspelt request verb goes; an unknown word stays
        ("cn u shw me sum thrillers", ""),  # texting spellings ("sum" is "some")
        ("anythign thriller, whatevr u have", ""),  # misspelt fillers
        ("thrillers, but only if theyve got a twist", "twist"),  # apostrophe-less contractions
    ],
)
def test_leftover_function_words_and_their_misspellings_make_no_query(
    vocab: CatalogVocab, message: str, query: str
) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Thriller"]
    assert (st.constraints.query or "") == query


def test_a_content_word_near_a_function_word_is_not_dropped(vocab: CatalogVocab) -> None:
    """'hero' is one letter from 'here' but a word of its own: a short word with a substituted letter is kept."""
    st, _ = _run(vocab, "a comedy about a hero")
    assert "hero" in (st.constraints.query or "")


@pytest.mark.parametrize(
    ("messages", "lo", "hi"),
    [
        (["westerns up to and including 1960"], None, 1960),
        (["westerns through 1960"], None, 1960),
        (["来点1960年及以后的西部片"], 1960, None),
        (["西部片，1960年及以前的"], None, 1960),
        (["西部片，1960年起"], 1960, None),
    ],
)
def test_a_year_bound_that_includes_the_year(
    vocab: CatalogVocab, messages: list[str], lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, *messages)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


@pytest.mark.parametrize(
    ("message", "cats", "all_"),
    [
        ("a thriller, but it needs to be a comedy too", ["Thriller", "Comedy"], True),
        ("any good western/comedy hybrids?", ["Western", "Comedy"], True),
        ("要么西部片要么喜剧", ["Western", "Comedy"], False),
        ("西部片或者喜剧都行", ["Western", "Comedy"], False),
    ],
)
def test_both_or_either_by_more_cues(vocab: CatalogVocab, message: str, cats: list[str], all_: bool) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == sorted(cats)
    assert st.constraints.include_all is all_


def test_chinese_lately_before_a_verb_is_not_a_recent_year_and_no_longer_excluding_allows_again(
    vocab: CatalogVocab,
) -> None:
    st, _ = _run(vocab, "最近喜欢上了《Fargo》，求类似的")
    assert st.constraints.year_min is None and st.constraints.reference_item_ids
    st, _ = _run(vocab, "喜剧，不要恐怖", "算了，不再排除恐怖了")
    assert st.constraints.include_categories == ["Comedy"] and st.constraints.exclude_categories == []


def test_a_word_that_is_an_article_only_in_another_language_is_part_of_the_title(vocab: CatalogVocab) -> None:
    """'Die Hard' is not 'hard': 'that is a hard no' names no title; the whole title still does."""
    st, _ = _run(vocab, "westerns please, musicals are a hard no")
    assert st.constraints.reference_item_ids == []
    st, _ = _run(vocab, "anything in the same league as die hard")
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["Die Hard (1988)"]


def test_words_between_a_count_and_the_item_noun_are_still_read(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "give me 6 wesern films")
    assert st.constraints.include_categories == ["Western"] and st.constraints.n == 6


@pytest.mark.parametrize("second", ["forget the number", "the amount doesn't matter", "drop the count"])
def test_the_list_length_can_be_taken_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "7 comedies from the 80s", second)
    assert st.constraints.n is None
    assert st.constraints.include_categories == ["Comedy"] and st.constraints.year_min == 1980


@pytest.mark.parametrize("message", ["show me a few westerns", "several westerns please", "a handful of westerns"])
def test_a_vague_quantity_sets_no_list_length(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n is None and st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize(
    "messages",
    [
        ["horror please", "ugh no horror after all, make it a comedy"],
        ["有恐怖片吗", "恐怖片不要了，换成喜剧"],
    ],
)
def test_taking_back_an_asked_category_for_another_is_a_switch_not_a_ban(
    vocab: CatalogVocab, messages: list[str]
) -> None:
    st, _ = _run(vocab, *messages)
    assert st.constraints.include_categories == ["Comedy"] and st.constraints.exclude_categories == []


def test_a_new_ban_of_a_category_never_asked_for_stays_a_ban(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "comedy please", "comedy but no romance")
    assert st.constraints.exclude_categories == ["Romance"]


@pytest.mark.parametrize("cue", ["close to", "akin to", "in the same vein as"])
def test_more_similarity_cues_name_a_reference(vocab: CatalogVocab, cue: str) -> None:
    st, _ = _run(vocab, f"something {cue} fargo")
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["Fargo (1996)"]
    assert not st.constraints.query


@pytest.mark.parametrize(
    ("message", "lo", "hi", "exc"),
    [
        ("westerns realesed befor 1970", None, 1969, []),  # slips in the cue words themselves
        ("westerns, nothign oldr than 1970", 1970, None, []),
        ("westerns but no musicals plz, nothing aftr 1980", None, 1980, ["Musical"]),
        ("not in teh mood for musicals, westerns instead", None, None, ["Musical"]),
    ],
)
def test_slips_in_the_rules_words_are_respelt_before_reading(
    vocab: CatalogVocab, message: str, lo: int | None, hi: int | None, exc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"]
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)
    assert st.constraints.exclude_categories == exc and not st.constraints.query


def test_respelling_keeps_catalog_words_and_short_words(vocab: CatalogVocab) -> None:
    assert vocab.respell("star wars was fun") == "star wars was fun"  # 'wars' is a title word, 'fun' no slip
    assert vocab.respell("a good fit") == "a good fit"  # not read as a shorter word
    assert vocab.respell("frm teh 80s") == "from the 80s"


@pytest.mark.parametrize(
    "second", ["swap out romance, make it a western", "a western instead of romance", "westerns rather than romance"]
)
def test_replacing_an_asked_category_in_words(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "romance from the 80s", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []
    assert st.constraints.year_min == 1980


def test_not_just_one_is_no_count_and_both_joins_the_earlier_category(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime and comedy at once, not just one of them")
    assert st.constraints.n is None and st.constraints.include_all is True
    st, _ = _run(vocab, "crime please", "comedy as well, both at the same time")
    assert sorted(st.constraints.include_categories) == ["Comedy", "Crime"] and st.constraints.include_all is True


@pytest.mark.parametrize(("second", "pos"), [("what about movie 4?", 4), ("explain no. 2", 2), ("film 3 - why?", 3)])
def test_a_position_by_the_item_noun_or_no(vocab: CatalogVocab, second: str, pos: int) -> None:
    _st, u = _run(vocab, "westerns", second)
    assert [r.position for r in u.items] == [pos]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [("1980年以来的西部片", 1980, None), ("早于1975年的西部片", None, 1974), ("不晚于1975年的西部片", None, 1975)],
)
def test_chinese_year_words_with_and_without_the_year(
    vocab: CatalogVocab, message: str, lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("westerns w/o any musical in them", ["Western"], ["Musical"]),  # chat shorthand written out
        ("not really feeling musicals tonight, westerns maybe", ["Western"], ["Musical"]),
        ("westerns, but please do not include any musicals", ["Western"], ["Musical"]),
        ("keep musicals far away from me, westerns pls", ["Western"], ["Musical"]),
    ],
)
def test_more_ways_to_leave_a_category_out(vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == inc and st.constraints.exclude_categories == exc
    assert not st.constraints.query


def test_one_item_with_both_is_no_count_and_a_hyphenated_category_keeps_its_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime and comedy in one movie please, both")
    assert st.constraints.n is None and st.constraints.include_all is True
    st, _ = _run(vocab, "9 sci-fi movies")
    assert st.constraints.n == 9 and st.constraints.include_categories == ["Sci-Fi"]
    st, _ = _run(vocab, "westerns or crime, one of them is enough")
    assert st.constraints.n is None


@pytest.mark.parametrize("second", ["the musical ban can go", "the musicals filter doesn't matter anymore"])
def test_a_categorys_rule_taken_back_after_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns, no musicals", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    ("messages", "lo", "hi"),
    [
        (["westerns from the 60s", "make it anything before 1980 instead of that decade"], None, 1979),
        (["westerns", "older ones, from before 1960"], None, 1959),
        (["westerns after 1960, including 1960"], 1960, None),
        (["westerns up to 1960, 1960 itself not counted"], None, 1959),
        (["西部片，1960年以后的，包括1960年"], 1960, None),
        (["西部片，1960年（含）以前的"], None, 1960),
        (["西部片，要1960年之前的，1960年本身不算"], None, 1959),
    ],
)
def test_which_year_bound_and_whether_its_year_counts(
    vocab: CatalogVocab, messages: list[str], lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, *messages)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


def test_an_impression_with_a_question_is_the_question(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "#2 looks great, why did you pick it?")
    assert u.intent == Intent.EXPLAIN and not st.constraints.reference_item_ids  # type: ignore[attr-defined]
    _st, u = _run(vocab, "westerns", "the third one, what is that")
    assert u.intent == Intent.DESCRIBE and [r.position for r in u.items] == [3]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    [
        "westerns please, musicals honestly put me to sleep",
        "my husband hates musicals so westerns",
        "had my fill of musicals lately, got any westerns",
        "my dad is not liking musicals at all. westerns for him",
    ],
)
def test_indirect_refusals_and_people_in_the_message(vocab: CatalogVocab, message: str) -> None:
    st, u = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["Musical"]
    assert not st.constraints.query and u.intent == Intent.RECOMMEND  # type: ignore[attr-defined]


def test_a_person_named_like_a_category_is_a_person(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "my kids hate musicals, westerns please")
    assert st.constraints.include_categories == ["Western"]
    st, _ = _run(vocab, "something for my kids")
    assert st.constraints.include_categories == ["Children's"]  # who it is for: the category


@pytest.mark.parametrize(
    ("second", "inc"), [("switch western to comedy", ["Comedy", "Crime"]), ("it doesnt have to be crime", ["Western"])]
)
def test_switching_or_relaxing_a_category(vocab: CatalogVocab, second: str, inc: list[str]) -> None:
    st, _ = _run(vocab, "western and crime at once", second)
    assert sorted(st.constraints.include_categories) == inc and st.constraints.exclude_categories == []


def test_a_count_of_them_and_chinese_both(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "just 7 of them is enough")
    assert st.constraints.n == 7
    st, _ = _run(vocab, "西部片和喜剧，两个都要")
    assert st.constraints.n is None and st.constraints.include_all is True
    st, _ = _run(vocab, "1960年（含1960年）以前的西部片")
    assert st.constraints.year_max == 1960 and st.constraints.year_min is None


# ---------------------------------------------------------------- after held-out v7 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("meh, animation always makes me doze off during the day; got anything with crime?", ["Crime"], ["Animation"]),
        ("my brother nods off during westerns, so mystery", ["Mystery"], ["Western"]),
        ("honestly I'm kinda over musicals. drama maybe", ["Drama"], ["Musical"]),
        ("war is a hard pass, sci-fi instead", ["Sci-Fi"], ["War"]),
        ("yikes, documentaries are so boring. comedy?", ["Comedy"], ["Documentary"]),
        ("i get bored of fantasy really quickly, show me thrillers", ["Thriller"], ["Fantasy"]),
    ],
)
def test_refusals_by_boredom_or_a_hard_pass_and_interjections_are_no_query(
    vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.query or None) == (inc, exc, None)


def test_frequency_and_politeness_words_are_no_query(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "kindly find me a comedy, I could watch those all the time")
    assert not st.constraints.query and st.constraints.include_categories == ["Comedy"]


@pytest.mark.parametrize(
    ("messages", "cats"),
    [
        (("crime and comedy in the same film please",), ["Crime", "Comedy"]),
        (("some westerns", "make sure they must also be comedies"), ["Western", "Comedy"]),
        (("drama", "it should also be a romance"), ["Drama", "Romance"]),
    ],
)
def test_every_category_at_once_in_one_item_or_added_by_a_later_message(
    vocab: CatalogVocab, messages: tuple[str, ...], cats: list[str]
) -> None:
    st, _ = _run(vocab, *messages)
    assert st.constraints.include_categories == cats and st.constraints.include_all is True


def test_also_having_a_category_is_one_more_option(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "some westerns", "do you also have mysteries?")
    assert st.constraints.include_categories == ["Western", "Mystery"] and not st.constraints.include_all


@pytest.mark.parametrize(
    ("second", "inc", "exc", "years"),
    [
        ("fine, horror can be back on the table", [], ["Romance"], (1980, 1989)),
        ("i couldnt care less about the decade now", [], ["Horror", "Romance"], (None, None)),
        ("im not fussed about the years anymore", [], ["Horror", "Romance"], (None, None)),
    ],
)
def test_an_exclusion_or_a_period_taken_back_in_other_words(
    vocab: CatalogVocab, second: str, inc: list[str], exc: list[str], years: tuple[int | None, int | None]
) -> None:
    st, _ = _run(vocab, "no horror and no romance, from the 80s", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, (c.year_min, c.year_max), c.query or None) == (
        inc,
        exc,
        years,
        None,
    )


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("comedy till the very end of the 70s", None, 1979),
        ("crime from the beginning of the 80s onwards", 1980, None),
        ("a drama from the middle of the 60s", 1963, 1966),
        ("westerns from the end of the fifties", 1956, 1959),
    ],
)
def test_the_start_middle_or_end_of_a_decade(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.query or None) == (lo, hi, None)


@pytest.mark.parametrize("second", ["tell me more about the one in slot 3", "whats in spot 3", "why rank 3?"])
def test_a_position_named_by_slot_spot_or_rank(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "some comedies")
    shown = list(st.shown)
    _st, u = _run(vocab, "some comedies", second)
    assert [r.position for r in u.items] == [3] and [r.item_id for r in u.items] == [shown[2]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("second", "n"), [("ok 7 will do", 7), ("twelve should be plenty", 12), ("4 is enough", 4)])
def test_a_bare_count_that_is_enough(vocab: CatalogVocab, second: str, n: int) -> None:
    st, _ = _run(vocab, "any thrillers?", second)
    assert st.constraints.n == n and st.constraints.include_categories == ["Thriller"]


@pytest.mark.parametrize(
    ("messages", "inc", "exc"),
    [
        (("动作片我一看就想睡觉，推荐点别的",), [], ["Action"]),
        (("我对恐怖片已经受够了",), [], ["Horror"]),
        (("来点喜剧，别推爱情",), ["Comedy"], ["Romance"]),
        (("我妈不许看恐怖片，来点动画吧",), ["Animation"], ["Horror"]),
        (("动作片我怎么看都看不腻",), ["Action"], []),
        (("推荐点犯罪片", "把犯罪改成悬疑"), ["Mystery"], []),
    ],
)
def test_chinese_reactions_forbidding_and_replacing(
    vocab: CatalogVocab, messages: tuple[str, ...], inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, *messages)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (inc, exc)


# ---------------------------------------------------------------- after held-out v8 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (("no westerns", "oops undo that"), {}),
        (("comedies", "from the 80s", "go back"), {"include_categories": ["Comedy"]}),
        (("thrillers", "no horror", "scratch that please"), {"include_categories": ["Thriller"]}),
    ],
)
def test_the_last_change_taken_back(vocab: CatalogVocab, messages: tuple[str, ...], expected: dict) -> None:
    st, _ = _run(vocab, *messages)
    assert st.constraints.model_dump(exclude_defaults=True) == expected


def test_undo_twice_is_the_change_again(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "dramas", "no war", "undo", "undo")
    assert st.constraints.exclude_categories == ["War"]


def test_a_reference_taken_back_by_its_title_keeps_the_others(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something like fargo or toy story")
    assert len(st.constraints.reference_item_ids) == 2
    kept = [r for r in st.constraints.reference_item_ids if vocab.label(r).lower().startswith("toy story")]
    st2, _ = _run(vocab, "something like fargo or toy story", "actually ditch fargo, and add crime")
    assert st2.constraints.reference_item_ids == kept and st2.constraints.include_categories == ["Crime"]
    assert not st2.constraints.query


@pytest.mark.parametrize("second", ["either one will do really", "does not have to be both", "one of them is fine tbh"])
def test_all_at_once_taken_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "a crime comedy", second)
    assert st.constraints.include_categories == ["Crime", "Comedy"] and st.constraints.include_all is False


def test_chinese_all_at_once_taken_back(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "要既是犯罪又是喜剧的", "满足一个就行")
    assert st.constraints.include_categories == ["Crime", "Comedy"] and st.constraints.include_all is False


@pytest.mark.parametrize("second", ["they dont really need to be that old", "not necessarily classics"])
def test_an_age_wish_taken_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "old westerns", second)
    c = st.constraints
    assert (c.include_categories, c.year_min, c.year_max) == (["Western"], None, None)


@pytest.mark.parametrize("second", ["you dont have to limit it to 6", "stop capping it at 6"])
def test_a_count_taken_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "6 horror movies", second)
    assert st.constraints.n is None and st.constraints.include_categories == ["Horror"]


@pytest.mark.parametrize(
    ("message", "n"), [("westerns from the 60s. 5 would be perfect", 5), ("war, no romance, 8 pls", 8)]
)
def test_a_count_after_the_wishes(vocab: CatalogVocab, message: str, n: int) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n == n


@pytest.mark.parametrize(
    ("message", "exc"),
    [
        ("my roommate wont sit through musicals, so not those", ["Musical"]),
        ("do not recommend horror, I find it dull", ["Horror"]),
        ("stop suggesting westerns", ["Western"]),
    ],
)
def test_refusing_to_sit_through_or_be_suggested(vocab: CatalogVocab, message: str, exc: list[str]) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.query or None) == ([], exc, None)


def test_categories_joined_by_as_well_as_are_all_at_once(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something that is war as well as drama")
    assert st.constraints.include_categories == ["War", "Drama"] and st.constraints.include_all is True


def test_chinese_dont_push_and_count_without_limit(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "恐怖的就别推荐了")
    assert st.constraints.exclude_categories == ["Horror"]
    st, _ = _run(vocab, "来5部喜剧", "部数无所谓")
    assert st.constraints.n is None and st.constraints.include_categories == ["Comedy"]


# ---------------------------------------------------------------- after held-out v9 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("crime sure, musicals definitely not!", ["Crime"], ["Musical"]),
        ("westerns and war are out", [], ["Western", "War"]),
        ("horror, sci-fi or fantasy bore me, so drama", ["Drama"], ["Horror", "Sci-Fi", "Fantasy"]),
        ("comedy please, war is out", ["Comedy"], ["War"]),
        ("avoid mystery or thriller, anything else works", [], ["Mystery", "Thriller"]),
        ("some drama but drop anything that is also romance", ["Drama"], ["Romance"]),
    ],
)
def test_a_refusal_reaches_the_phrases_joined_to_it(
    vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, sorted(c.exclude_categories), c.query or None) == (inc, sorted(exc), None)


def test_one_more_left_out_as_well(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "comedies", "and no war as well")
    assert st.constraints.include_categories == ["Comedy"] and st.constraints.exclude_categories == ["War"]


@pytest.mark.parametrize(
    ("message", "all_"),
    [
        ("westerns and comedies, mixed together in one list", False),
        ("something that manages to fuse horror with comedy", True),
        ("films classed as both crime and drama", True),
    ],
)
def test_a_list_mix_is_not_an_item_mix(vocab: CatalogVocab, message: str, all_: bool) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_all is all_ and not st.constraints.query


def test_a_person_named_like_a_title_is_a_person(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "my wife wants a western tonight")
    assert st.constraints.reference_item_ids == [] and st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize("second", ["any length, any year", "as many as you like, and the decade doesnt matter"])
def test_any_count_and_any_period(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "8 comedies from the 80s", second)
    c = st.constraints
    assert (c.n, c.year_min, c.year_max, c.include_categories) == (None, None, None, ["Comedy"])


def test_an_age_word_after_a_removal_verb_clears_the_period(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "vintage westerns", "drop the vintage part")
    c = st.constraints
    assert (c.year_min, c.year_max, c.include_categories, c.query or None) == (None, None, ["Western"], None)


def test_released_lately_is_recent(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "any thrillers released lately?")
    assert st.constraints.year_min is not None and st.constraints.year_max is None


@pytest.mark.parametrize("second", ["and what about the second one?", "whats the 4th pick"])
def test_what_about_an_ordinal_is_about_that_item(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "some dramas")
    _st, u = _run(vocab, "some dramas", second)
    want = 2 if "second" in second else 4
    assert [r.item_id for r in u.items] == [st.shown[want - 1]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("messages", "inc", "exc", "all_"),
    [
        (("战争、西部我都没兴趣",), [], ["War", "Western"], False),
        (("来点动作", "把动作删掉"), [], [], False),
        (("来点喜剧", "不看恐怖", "不看恐怖那条去掉吧"), ["Comedy"], [], False),
        (("要惊悚", "还得是犯罪的"), ["Thriller", "Crime"], [], True),
    ],
)
def test_chinese_lists_taking_back_and_both(
    vocab: CatalogVocab, messages: tuple[str, ...], inc: list[str], exc: list[str], all_: bool
) -> None:
    st, _ = _run(vocab, *messages)
    c = st.constraints
    assert (c.include_categories, sorted(c.exclude_categories), c.include_all) == (inc, sorted(exc), all_)


# ---------------------------------------------------------------- after held-out v10 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("please dont let it be a western", [], ["Western"]),
        ("horror really isnt my cup of tea, im pleading", [], ["Horror"]),
        ("keep war well away from the list, gladly take drama though", ["Drama"], ["War"]),
        ("make sure its not a musical", [], ["Musical"]),
    ],
)
def test_refusals_by_idiom_or_request_and_their_padding(
    vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (inc, exc)


@pytest.mark.parametrize(
    ("messages", "all_"),
    [
        (("something half horror half comedy",), True),
        (("crime please", "throw some mystery into the mix as well"), False),
    ],
)
def test_half_and_half_versus_into_the_mix(vocab: CatalogVocab, messages: tuple[str, ...], all_: bool) -> None:
    st, _ = _run(vocab, *messages)
    assert len(st.constraints.include_categories) == 2 and st.constraints.include_all is all_


@pytest.mark.parametrize(
    ("message", "n"),
    [("5 of the newest sci-fi movies", 5), ("12 older crime movies please", 12), ("i only need 3", 3)],
)
def test_a_count_beside_words_other_passes_read(vocab: CatalogVocab, message: str, n: int) -> None:
    st, _ = _run(vocab, "dramas", message)
    assert st.constraints.n == n


def test_one_of_the_best_is_no_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "one of the best thrillers you have")
    assert st.constraints.n is None and st.constraints.include_categories == ["Thriller"]


@pytest.mark.parametrize("second", ["no need to restrict the decade", "dont limit the years"])
def test_no_need_to_limit_a_slot(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "war movies from the 40s", second)
    c = st.constraints
    assert (c.year_min, c.year_max, c.include_categories) == (None, None, ["War"])


def test_a_reset_that_keeps_one_category(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime and comedy, no horror, 1990s", "start over apart from the crime")
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min) == (["Crime"], [], None)


def test_whats_the_nth_item_about(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns")
    _st, u = _run(vocab, "westerns", "whats the second one about?")
    assert [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]


def test_chinese_like_a_title_and_not_too_old(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "推荐跟fargo类似的")
    assert len(st.constraints.reference_item_ids) == 1
    st, _ = _run(vocab, "动作片，1980年或更晚")
    assert st.constraints.year_min == 1980 and st.constraints.year_max is None
    st, _ = _run(vocab, "别推荐太老的喜剧")
    assert st.constraints.year_min is not None and st.constraints.include_categories == ["Comedy"]


# ---------------------------------------------------------------- after held-out v11 (other phrasings of its kinds)
@pytest.mark.parametrize("second", ["i retract the no horror rule", "taking back the horror ban"])
def test_a_refusal_taken_back_in_other_words(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "comedies, no horror", second)
    assert st.constraints.exclude_categories == [] and st.constraints.include_categories == ["Comedy"]


def test_a_reference_no_longer_the_basis(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something like fargo", "actually do not base it on fargo, just crime")
    c = st.constraints
    assert (c.reference_item_ids, c.include_categories, c.query or None) == ([], ["Crime"], None)


def test_forget_that_then_a_category_is_a_switch(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "mystery", "hmm forget that, animation instead")
    assert st.constraints.include_categories == ["Animation"] and st.constraints.exclude_categories == []


def test_visitors_and_fancying_are_no_query(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "my aunt is visiting, fancy a western")
    assert st.constraints.include_categories == ["Western"] and not st.constraints.query


def test_chinese_a_refusal_no_longer_matters(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "喜剧，不要恐怖", "恐怖的也无妨")
    assert st.constraints.exclude_categories == [] and st.constraints.include_categories == ["Comedy"]


# ---------------------------------------------------------------- after held-out v12 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("message", "exc"),
    [("my son is scared of horror, keep it out", ["Horror"]), ("i cant handle war, too much for me", ["War"])],
)
def test_refusals_by_fear_or_upset(vocab: CatalogVocab, message: str, exc: list[str]) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], exc)


def test_they_have_to_be_x_too_is_all_at_once(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "they must be comedies as well")
    assert st.constraints.include_categories == ["Western", "Comedy"] and st.constraints.include_all is True


def test_ignore_what_i_said_about_a_category_keeps_the_rest(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime, no romance", "ignore what i said about romance")
    assert st.constraints.include_categories == ["Crime"] and st.constraints.exclude_categories == []
    st, _ = _run(vocab, "crime, no romance", "forget what i said")  # the whole memory: not one category
    assert st.constraints.include_categories == []


@pytest.mark.parametrize("second", ["lift the restriction on war", "remove the exclusion on war"])
def test_a_ban_on_a_category_lifted(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "dramas, no war", second)
    assert st.constraints.exclude_categories == [] and st.constraints.include_categories == ["Drama"]


def test_no_need_to_stop_at_a_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "7 dramas", "you dont have to stop at 7")
    assert st.constraints.n is None and not st.constraints.query


# ---------------------------------------------------------------- after held-out v13 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("war, really not in the mood", [], ["War"]),
        ("drama is a hard no from me", [], ["Drama"]),
        ("i dont do horror. nor westerns.", [], ["Horror", "Western"]),
        ("westerns bore me to death, show me crime", ["Crime"], ["Western"]),
    ],
)
def test_more_refusals_in_other_words(vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, sorted(c.exclude_categories), c.query or None) == (inc, sorted(exc), None)


@pytest.mark.parametrize(
    ("message", "all_"),
    [("must be war and drama, not one or the other", True), ("give me a mix - some horror, some comedy", False)],
)
def test_not_one_or_the_other_versus_a_mixed_list(vocab: CatalogVocab, message: str, all_: bool) -> None:
    st, _ = _run(vocab, message)
    assert len(st.constraints.include_categories) == 2 and st.constraints.include_all is all_


def test_a_reference_dropped_with_its_part_or_similarity(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something like fargo but crime", "drop the fargo bit")
    assert st.constraints.reference_item_ids == [] and not st.constraints.query
    st, _ = _run(vocab, "something like fargo but crime", "it doesnt have to be like fargo anymore")
    assert st.constraints.reference_item_ids == [] and st.constraints.include_categories == ["Crime"]


def test_two_slots_removed_in_one_phrase(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "8 westerns from the 60s", "drop the decade and the count")
    c = st.constraints
    assert (c.n, c.year_min, c.year_max, c.include_categories) == (None, None, None, ["Western"])


def test_stop_excluding_and_not_a_classic(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "classic dramas, no war", "stop excluding war", "it doesnt need to be a classic")
    c = st.constraints
    assert (c.exclude_categories, c.year_min, c.year_max) == ([], None, None)


@pytest.mark.parametrize(("second", "n"), [("trim it down to 4", 4), ("now bring the list down to 3", 3)])
def test_cutting_the_list_down_to_a_count(vocab: CatalogVocab, second: str, n: int) -> None:
    st, _ = _run(vocab, "some mysteries", second)
    assert st.constraints.n == n and not st.constraints.query


def test_between_a_decade_and_now(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "comedy from the 60s to today")
    assert (st.constraints.year_min, st.constraints.year_max) == (1960, None)


def test_now_another_category_switches(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "ok now horror")
    assert st.constraints.include_categories == ["Horror"]


def test_a_count_of_classics(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "7 classics please")
    assert st.constraints.n == 7 and st.constraints.year_max is not None


def test_a_title_followed_by_kind_of_thing_is_a_reference(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something toy story kind of thing")
    assert len(st.constraints.reference_item_ids) == 1 and not st.constraints.query


# ---------------------------------------------------------------- after held-out v14 (other phrasings of its kinds)
@pytest.mark.parametrize(
    ("message", "cats"),
    [
        ("they all must be crime AND comedy", ["Crime", "Comedy"]),
        ("a western doubling as a comedy", ["Western", "Comedy"]),
    ],
)
def test_each_must_be_both_and_doubling_as(vocab: CatalogVocab, message: str, cats: list[str]) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == cats and st.constraints.include_all is True and not st.constraints.query


def test_no_cap_on_the_number(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "6 war movies", "no cap on the number please")
    assert st.constraints.n is None and st.constraints.include_categories == ["War"]


def test_write_a_few_words_about_an_item(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "some comedies")
    _st, u = _run(vocab, "some comedies", "write a few words about the third one")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[2]]  # type: ignore[attr-defined]


def test_an_emphatic_ban_after_a_switch_stays_a_ban(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "horror", "actually thrillers, and absolutely no horror")
    assert st.constraints.include_categories == ["Thriller"] and st.constraints.exclude_categories == ["Horror"]


@pytest.mark.parametrize(
    ("second", "lo", "hi"), [("1985 or later is ok", 1985, None), ("1975 or earlier then", None, 1975)]
)
def test_an_open_ended_bound_replaces_the_period(
    vocab: CatalogVocab, second: str, lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, "comedies from the 80s", second)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


def test_chinese_a_decade_and_on(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "七十年代以及以后的剧情片")
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.include_categories) == (
        1970,
        None,
        ["Drama"],
    )


@pytest.mark.parametrize("second", ["ok now add westerns as well", "so now war too"])
def test_now_with_an_additive_word_adds_instead_of_switching(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "crime", second)
    assert st.constraints.include_categories[0] == "Crime" and len(st.constraints.include_categories) == 2


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("mum picked comedy", "id like romance, so we need both at once"),
        ("我想看喜剧", "我朋友想看爱情片，要两者兼有的"),
    ],
)
def test_a_new_category_that_must_come_with_the_earlier_one(vocab: CatalogVocab, first: str, second: str) -> None:
    st, _ = _run(vocab, first, second)
    assert st.constraints.include_categories == ["Comedy", "Romance"] and st.constraints.include_all


def test_the_earlier_categories_all_at_once_without_naming_them(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "horror or sci-fi", "ok, just the ones that are both")
    assert st.constraints.include_categories == ["Horror", "Sci-Fi"] and st.constraints.include_all


@pytest.mark.parametrize(
    ("second", "all_"), [("crime is good, mystery is good, it doesnt need to be both in one", False)]
)
def test_not_needing_both_in_one_is_any_of(vocab: CatalogVocab, second: str, all_: bool) -> None:
    st, _ = _run(vocab, second)
    assert st.constraints.include_categories == ["Crime", "Mystery"] and st.constraints.include_all is all_


def test_chinese_not_necessarily_both(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "要同时有动作和冒险的", "不一定两种都要，任何一种就行")
    assert st.constraints.include_categories == ["Action", "Adventure"] and not st.constraints.include_all


@pytest.mark.parametrize(
    ("first", "second"),
    [('like "fargo"', 'drop "fargo", westerns instead'), ("类似《fargo》的", "不再参考《fargo》，来点西部片")],
)
def test_a_quoted_reference_taken_back(vocab: CatalogVocab, first: str, second: str) -> None:
    st, _ = _run(vocab, first, second)
    assert st.constraints.reference_item_ids == [] and st.constraints.include_categories == ["Western"]


def test_not_show_me_is_a_ban(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "please not show me horror, it scares me")
    assert st.constraints.exclude_categories == ["Horror"] and not st.constraints.include_categories


@pytest.mark.parametrize("message", ["westerns or war is grand", "my dad keeps quoting fargo, anything else like that"])
def test_praise_and_speech_words_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert not st.constraints.query


@pytest.mark.parametrize("second", ["the romance ban is over", "unban romance", "romance is no longer banned"])
def test_a_lifted_ban(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns but no romance", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


def test_a_slot_and_a_ban_removed_together(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "dramas from the 80s, no comedy", "drop the year and the comedy ban")
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max) == (["Drama"], [], None, None)


def test_newer_with_nothing_to_compare_is_recent(vocab: CatalogVocab) -> None:
    assert vocab.year_range is not None
    st, _ = _run(vocab, "got any of the newer titles?")
    assert st.constraints.year_min == vocab.year_range[1] - UnderstandConfig().recent_years + 1


@pytest.mark.parametrize("message", ["i hate the old stuff, any thrillers?", "not keen on anything ancient. thriller?"])
def test_a_dislike_of_old_items_is_not_old(vocab: CatalogVocab, message: str) -> None:
    assert vocab.year_range is not None
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.year_min, c.year_max) == (vocab.year_range[1] - UnderstandConfig().not_old_age, None)


def test_an_ordinal_without_the_asked_about(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "crime", "whats second about")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    ["my son hates war so thats off the table. any westerns?", "no war, weve had our fill of it this month. westerns?"],
)
def test_time_and_table_phrases_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (["Western"], ["War"]) and not c.query


def test_allowing_a_category_and_dropping_that_filter_is_one_request(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "dramas but no romance", "fine, romance is ok, you can remove that ban")
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]
    assert st.constraints.include_categories == ["Drama"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("mystery or war from the 90s", "take war off the list, keep the others"),
        ("推荐点悬疑或战争的电影", "战争就算了，只看悬疑"),
    ],
)
def test_one_asked_category_taken_off_is_no_ban(vocab: CatalogVocab, first: str, second: str) -> None:
    st, _ = _run(vocab, first, second)
    assert st.constraints.include_categories == ["Mystery"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize("second", ["when they came out doesnt matter anymore", "how new it is isnt important"])
def test_how_old_or_when_named_as_the_year_slot(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "crime from the 70s", second)
    assert (st.constraints.year_min, st.constraints.year_max) == (None, None)


def test_start_fresh_resets(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "8 westerns before 1970", "clean slate please. war")
    c = st.constraints
    assert (c.include_categories, c.year_max, c.n) == (["War"], None, None)


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [("horror from the 70s or anything after that", 1970, None), ("war from the 50s or anything older", None, 1959)],
)
def test_a_period_or_anything_after_it(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


def test_chinese_not_really_liking_is_a_ban(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "我不怎么喜欢恐怖片，推荐几部喜剧吧")
    assert st.constraints.include_categories == ["Comedy"] and st.constraints.exclude_categories == ["Horror"]


@pytest.mark.parametrize(
    "message",
    [
        "whatever you end up choosing, no war pls, cheers",
        "no war, if that makes sense. i usually fall for westerns",
        "my flatmate keeps pushing war on me, none of that please. westerns?",
    ],
)
def test_closing_phrases_and_manner_adverbs_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "War" in st.constraints.exclude_categories and not st.constraints.query


@pytest.mark.parametrize("message", ["musicals?! hell no. 6 of anything else", "horror... nope. 6 others please"])
def test_an_exclamation_after_a_category_refuses_it(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == [] and len(st.constraints.exclude_categories) == 1
    assert st.constraints.n == 6


def test_every_single_one_is_no_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "no more westerns, ive watched each single one")
    assert st.constraints.exclude_categories == ["Western"] and st.constraints.n is None


@pytest.mark.parametrize(
    ("second", "inc", "exc"),
    [
        ("they dont need to be comedy as well, crime alone is fine", ["Crime"], []),
        ("enough crime now, no more of those. just westerns", ["Western"], ["Crime"]),
        ("none of them should be war", ["Crime", "Comedy"], ["War"]),
    ],
)
def test_taking_back_or_banning_after_a_combination(
    vocab: CatalogVocab, second: str, inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, "crime that is also comedy", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (inc, exc)


def test_keep_the_list_to_a_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "horror please", "keep the list at 4")
    assert st.constraints.n == 4


def test_a_period_said_to_be_too_narrow_is_replaced(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "war from the 60s", "the 60s feel a bit too limiting, 1950 or later then")
    assert (st.constraints.year_min, st.constraints.year_max) == (1950, None)


def test_a_mix_of_the_two_is_a_mixed_list(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "horror is fine and so is comedy, some of each please")
    assert sorted(st.constraints.include_categories) == ["Comedy", "Horror"] and not st.constraints.include_all


def test_dropping_the_comparison_with_a_title(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "something like fargo, no horror", "lose the link to fargo but keep the rest")
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]
    assert st.constraints.reference_item_ids == [] and st.constraints.exclude_categories == ["Horror"]


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("my mum was born in 1960 and wants a drama from before she was born", None, 1959),
        ("we were born in 1985. dramas made since we were born", 1985, None),
    ],
)
def test_a_bound_from_a_birth_year(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.include_categories) == (lo, hi, ["Drama"])


@pytest.mark.parametrize(
    ("second", "inc"),
    [
        ("could you add war too? they neednt be westerns", ["Western", "War"]),
        ("they dont have to be westerns, war instead", ["War"]),
    ],
)
def test_one_more_option_that_need_not_be_the_earlier_one(vocab: CatalogVocab, second: str, inc: list[str]) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert st.constraints.include_categories == inc and st.constraints.exclude_categories == []
    assert not st.constraints.include_all


@pytest.mark.parametrize(
    ("first", "second"),
    [("8 war movies", "war isnt really required"), ("推荐8部战争电影", "战争可有可无")],
)
def test_an_asked_category_no_longer_required(vocab: CatalogVocab, first: str, second: str) -> None:
    st, _ = _run(vocab, first, second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.n) == ([], [], 8)


def test_a_required_category_stays(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "8 war movies", "war is needed, yes")
    assert st.constraints.include_categories == ["War"]


@pytest.mark.parametrize("message", ["got any decent westerns out there?", "which westerns are out there"])
def test_out_there_is_no_refusal(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    "message", ["gr8, cud u giv me sum westerns", "nuthin but westerns pleez", "wat westerns r gud"]
)
def test_texting_spellings_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and not st.constraints.query


def test_a_correction_replaces_the_category(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "comedy please", "oops my bad, meant to type crime")
    assert st.constraints.include_categories == ["Crime"] and not st.constraints.query


def test_not_to_old_is_not_old(vocab: CatalogVocab) -> None:
    assert vocab.year_range is not None
    st, _ = _run(vocab, "a mystery that isnt to old")
    assert st.constraints.year_min == vocab.year_range[1] - UnderstandConfig().not_old_age


def test_drop_that_after_naming_the_slot(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns from the 60s", "the decade is irrelevant, lose it")
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.include_categories) == (
        None,
        None,
        ["Western"],
    )


def test_a_new_bound_instead_of_the_old_period(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "drama from the 50s", "1970 or earlier rather than the 50s")
    assert (st.constraints.year_min, st.constraints.year_max) == (None, 1970)


def test_in_the_lines_of_a_title_is_a_reference(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "anything on the lines of fargo?")
    assert st.constraints.reference_item_ids and not st.constraints.query


def test_keep_a_category_far_away_from_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "a western, and keep musicals away from it please")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], ["Musical"])


@pytest.mark.parametrize(
    ("message", "all_"), [("crime movies which are comedy as well", True), ("crime, comedy as well", False)]
)
def test_that_are_y_as_well_asks_for_both(vocab: CatalogVocab, message: str, all_: bool) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Crime", "Comedy"] and st.constraints.include_all is all_


def test_nothing_that_came_out_after_a_year(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, nothing that was made after 1970")
    assert (st.constraints.year_min, st.constraints.year_max) == (None, 1970)


@pytest.mark.parametrize(
    ("first", "second"),
    [("recent comedies", "older stuff is ok as well"), ("classic comedies", "the newer ones would be fine too")],
)
def test_the_other_age_allowed_too_drops_the_period(vocab: CatalogVocab, first: str, second: str) -> None:
    st, _ = _run(vocab, first, second)
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.include_categories) == (
        None,
        None,
        ["Comedy"],
    )


def test_who_is_in_a_position_asks_about_it(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "who's in the third one")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[2]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    [
        "war or western, your pick",
        "i grew up with westerns, any good ones",
        "torn between war and westerns, cant choose",
    ],
)
def test_choice_and_memory_phrases_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.include_categories and not st.constraints.query


def test_chinese_a_ban_taken_back_and_recent_years(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "不要西部也不要恐怖", "西部还是可以的，不用屏蔽")
    assert st.constraints.exclude_categories == ["Horror"] and st.constraints.include_categories == []
    assert vocab.year_range is not None
    st, _ = _run(vocab, "这几年的西部片")
    assert st.constraints.year_min == vocab.year_range[1] - UnderstandConfig().recent_years + 1


@pytest.mark.parametrize(
    "message",
    ["westerns, but i dont want any that are also war", "westerns please, nothing which is war"],
)
def test_a_refused_relative_clause(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.include_all) == (["Western"], ["War"], False)


def test_a_relative_clause_naming_two_categories_asks_for_both(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "any titles which are crime and comedy?")
    assert st.constraints.include_categories == ["Crime", "Comedy"] and st.constraints.include_all


@pytest.mark.parametrize(
    "message",
    [
        "war is not allowed in our house. westerns?",
        "westerns, surprise me, i trust you",
        "westerns with the same energy please",
        "westerns comma nothing too old full stop",
    ],
)
def test_house_trust_and_dictation_words_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert not st.constraints.query


def test_whats_the_story_of_a_position(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "the third one - whats the plot there")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[2]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("messages", "inc", "exc"),
    [
        (["给我推荐点，西部的就免了"], [], ["Western"]),
        (["除了战争别的啥都可以"], [], ["War"]),
        (["喜剧，不要西部", "西部不再排除了"], ["Comedy"], []),
    ],
)
def test_chinese_refusals_anything_else_and_a_ban_lifted(
    vocab: CatalogVocab, messages: list[str], inc: list[str], exc: list[str]
) -> None:
    st, _ = _run(vocab, *messages)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (inc, exc)


def test_chinese_why_in_chat_style(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "西部片", "干嘛推荐第2个")
    assert u.intent == Intent.EXPLAIN and [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "n"), [("westerns, at most 3", 3), ("westerns, 4 tops", 4), ("no more than 5 westerns please", 5)]
)
def test_a_cap_on_the_list(vocab: CatalogVocab, message: str, n: int) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.n == n


def test_no_comma_answers_the_list(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "nah, war for a change")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["War"], [])


def test_excluding_anything_before_a_year(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "skip anything from before 1965")
    assert (st.constraints.year_min, st.constraints.year_max) == (1965, None)


@pytest.mark.parametrize(
    "message", ["westerns, war is also welcome", "every app is full of war. leave war out, westerns please"]
)
def test_also_welcome_and_full_of(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.include_categories and not st.constraints.query


def test_the_gist_of_a_position(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "can i get the gist of number 3")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[2]]  # type: ignore[attr-defined]


def test_scratching_the_same_itch_as_a_title(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something to scratch the same itch as fargo")
    assert st.constraints.reference_item_ids and not st.constraints.query


def test_chinese_elements_of_both(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "西部和战争元素都具备的")
    assert st.constraints.include_categories == ["Western", "War"] and st.constraints.include_all


def test_not_against_a_category_asks_nothing(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "i have nothing against westerns, but leave out anything that is war")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], ["War"])


def test_not_one_or_the_other_is_no_comparison(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "crime mixed with comedy please, not one or the other")
    assert u.intent == Intent.RECOMMEND and st.constraints.include_all  # type: ignore[attr-defined]


def test_and_one_more_thing_removed_after_a_removal(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns from the 60s, 5 of them", "forget the decade", "oh and the count as well")
    c = st.constraints
    assert (c.year_min, c.year_max, c.n, c.include_categories) == (None, None, None, ["Western"])
    st, _ = _run(vocab, "westerns from the 60s, 5 of them", "and the count as well")
    assert st.constraints.n == 5  # nothing was removed before: no removal to add to


@pytest.mark.parametrize(("second", "inc"), [("no, war", ["War"]), ("hmm nah - crime", ["Crime"])])
def test_no_then_a_category_corrects_the_request(vocab: CatalogVocab, second: str, inc: list[str]) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (inc, [])


@pytest.mark.parametrize(
    "message",
    [
        "my uncle told me to watch fargo and i dug it, more in the spirit of that",
        "use fargo as a reference, westerns",
    ],
)
def test_hearsay_and_reference_words_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.reference_item_ids and not st.constraints.query


def test_chinese_switch_and_need_not_be(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "想看西部", "换战争吧")
    assert st.constraints.include_categories == ["War"]
    st, _ = _run(vocab, "西部加战争，两个都要", "不一定要是战争了")
    assert st.constraints.include_categories == ["Western"]


def test_either_would_work_after_also_is_any_of(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "i enjoy war and i also enjoy westerns, anything from either is good")
    assert st.constraints.include_categories == ["War", "Western"] and not st.constraints.include_all


@pytest.mark.parametrize("message", ["westerns which have a bit of war too", "a western that has got war in it"])
def test_x_that_has_y_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western", "War"] and st.constraints.include_all


@pytest.mark.parametrize(("message", "n"), [("westerns or war, 6 in total", 6), ("westerns, 3 altogether", 3)])
def test_a_total_is_a_count(vocab: CatalogVocab, message: str, n: int) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n == n and not st.constraints.query


@pytest.mark.parametrize(
    "message",
    ["westerns with heavy war elements", "feeling nostalgic, old westerns", "whatd you have in westerns"],
)
def test_emphasis_and_mood_words_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.include_categories and not st.constraints.query


def test_chinese_having_both_at_once(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "有没有同时拥有西部和战争元素的")
    assert st.constraints.include_categories == ["Western", "War"] and st.constraints.include_all


@pytest.mark.parametrize("message", ["来点西部片，别太长", "给我几部近几年的西部片，不要太闷"])
def test_chinese_a_refused_unknown_wish_never_refuses_the_category_before_it(vocab: CatalogVocab, message: str) -> None:
    st, u = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []
    assert u.intent == Intent.RECOMMEND  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message", ["westerns please, and screen out anything war", "westerns but hide the war ones", "westerns, block war"]
)
def test_verbs_that_hide_or_screen_out_leave_a_category_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]


@pytest.mark.parametrize("lifted", ["war is no longer off limits", "war isnt off limits any more, go ahead"])
def test_off_limits_bans_and_its_negation_lifts_the_ban(vocab: CatalogVocab, lifted: str) -> None:
    st, _ = _run(vocab, "westerns, war is off limits")
    assert st.constraints.exclude_categories == ["War"]
    st, _ = _run(vocab, "westerns, war is off limits", lifted)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    "message",
    [
        "are you able to find me some westerns",
        "id be really grateful for a western or two",
        "westerns, much appreciated",
    ],
)
def test_politeness_words_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.include_categories and not st.constraints.query


@pytest.mark.parametrize("message", ["westerns or war, whatevr, eihter", "western or war, ethier way"])
def test_cue_words_with_moved_letters_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western", "War"] and not st.constraints.query


@pytest.mark.parametrize(
    "second", ["the third one sounds good, is it any good though?", "number 3 looks great. was it worth watching?"]
)
def test_a_question_whether_a_shown_item_is_good_is_about_that_item(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "some westerns", second)
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[2]]  # type: ignore[attr-defined]
    assert st.constraints.reference_item_ids == []


def test_any_good_before_a_noun_is_still_a_request(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "any good westerns?")
    assert u.intent == Intent.RECOMMEND and st.constraints.include_categories == ["Western"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "second",
    ["no wait, they must all be war too, not only westerns", "not just westerns, make them all war as well"],
)
def test_not_just_the_asked_one_with_another_too_asks_for_both(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert set(st.constraints.include_categories) == {"Western", "War"} and st.constraints.include_all
    assert st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    "message", ["westerns and war, they dont all have to be both", "westerns or war, it need not really be both"]
)
def test_a_negated_both_is_any_of(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert set(st.constraints.include_categories) == {"Western", "War"} and not st.constraints.include_all


@pytest.mark.parametrize("message", ["推荐几部电影，躲开西部片", "我想看点电影，绕开战争片和西部片"])
def test_chinese_verbs_of_avoiding_leave_a_category_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == [] and "Western" in st.constraints.exclude_categories


@pytest.mark.parametrize(
    "second", ["get rid of all the restrictions", "clear both of those filters please", "drop all my conditions"]
)
def test_removing_every_condition_clears_the_request_and_shows_a_list(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns from the 90s without war", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max) == ([], [], None, None)
    assert u.intent == Intent.REFINE and not u.feedback  # type: ignore[attr-defined]


def test_a_slot_word_before_the_filters_removes_only_that_slot(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns from the 90s without war", "drop the year limits")
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min) == (["Western"], ["War"], None)


@pytest.mark.parametrize("second", ["take war off my search", "war off the selection, keep western"])
def test_an_asked_category_taken_off_the_request_is_no_longer_asked(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns or war", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []
    assert not st.constraints.query


@pytest.mark.parametrize(
    "message",
    ["westerns, but war really gets on my nerves", "westerns. if its war, count me out", "westerns; war annoys me"],
)
def test_a_reaction_or_a_conditional_pass_after_a_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]
    assert not st.constraints.query


@pytest.mark.parametrize("second", ["now wthiout war", "now exlucding war", "whitout war"])
def test_negation_cues_with_slipped_letters_are_read(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]


@pytest.mark.parametrize(
    "message",
    ["westerns, and its fine if one or two of them turn out to be war", "westerns - dont care if some have war"],
)
def test_fine_if_some_are_another_category_neither_asks_nor_refuses_it(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []
    assert not st.constraints.query


def test_fine_if_some_are_a_left_out_category_allows_it_again(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, no war", "eh its ok if a couple of them are war")
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize("message", ["westerns, thank you in advance", "westerns and on top of that no war"])
def test_set_phrases_of_courtesy_and_addition_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and not st.constraints.query


@pytest.mark.parametrize("message", ["都可以，就是别给我西部的", "随便来几部，别找战争片"])
def test_chinese_bie_before_a_giving_verb_refuses_the_category(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == [] and len(st.constraints.exclude_categories) == 1


@pytest.mark.parametrize("second", ["战争的不再排除了", "战争的可以不排除了"])
def test_chinese_de_before_a_lifted_ban_names_the_category(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "西部片，不要战争", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    "message", ["leave out war along with westerns", "no war, together with no westerns", "exclude war plus westerns"]
)
def test_coordinators_of_several_words_keep_the_refusal_over_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == [] and set(st.constraints.exclude_categories) == {"War", "Western"}


@pytest.mark.parametrize(
    "message",
    ["a big no on war, westerns please", "say no to war. westerns", "thumbs down on war, give me westerns"],
)
def test_a_no_on_a_category_refuses_it(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]
    assert not st.constraints.query


@pytest.mark.parametrize(
    "message",
    [
        "westerns; my dad flat out wont watch war",
        "westerns that suit us, we are easy about the rest",
        "war or westerns, whatever fits, either camp is good",
    ],
)
def test_adverbs_and_set_phrases_about_people_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.include_categories and not st.constraints.query


@pytest.mark.parametrize(
    "second", ["ok i changed my mind on war. westerns remain out", "ive reconsidered war, but westerns stay out"]
)
def test_a_changed_mind_lifts_a_ban_and_stays_out_keeps_one(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "no war and no westerns", second)
    assert st.constraints.exclude_categories == ["Western"] and st.constraints.include_categories == []


@pytest.mark.parametrize("second", ["forget the war ban, and the year one as well", "drop the war ban and the decade"])
def test_a_slot_joined_to_a_removed_category_goes_too(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns from the 60s, no war", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max) == (["Western"], [], None, None)


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [("westerns from 1965 give or take 2 years", 1963, 1967), ("1972, plus or minus a year", 1971, 1973)],
)
def test_a_margin_around_a_year_widens_it(vocab: CatalogVocab, message: str, lo: int, hi: int) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


@pytest.mark.parametrize(
    ("message", "item"), [("think fargo but older", "100"), ("stuff that reminds me of fargo", "100")]
)
def test_think_and_remind_make_a_named_title_a_reference(vocab: CatalogVocab, message: str, item: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.reference_item_ids == [item] and not st.constraints.query


@pytest.mark.parametrize(
    "second", ["number 2, tell me more please", "what exactly is #2", "hmm the 2nd, share a bit more"]
)
def test_asking_for_more_on_a_position_describes_that_item(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "some westerns", second)
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]


def test_either_kind_is_fine_keeps_both_categories(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "war as well, either type is fine")
    assert set(st.constraints.include_categories) == {"Western", "War"} and not st.constraints.include_all


def test_a_year_before_a_category_is_not_read_as_a_title(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "anything released after 1961 - war would be good")
    c = st.constraints
    assert (c.include_categories, c.year_min, c.reference_item_ids) == (["War"], 1962, [])


@pytest.mark.parametrize("second", ["数目不用管了", "几部都行"])
def test_chinese_the_count_no_longer_matters(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "推荐9部西部片", second)
    assert st.constraints.n is None and st.constraints.include_categories == ["Western"]


def test_chinese_de_and_the_item_noun_before_a_refusal(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "西部类的片子就免了，推荐点别的")
    assert st.constraints.exclude_categories == ["Western"] and st.constraints.include_categories == []


@pytest.mark.parametrize(
    "message",
    [
        "westerns please - my husband storms out if theres war in it",
        "westerns. if any of them are war, skip them",
        "my kids lose interest the minute its war, so westerns",
    ],
)
def test_a_conditional_whose_outcome_is_a_refusal_leaves_the_category_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]
    assert st.constraints.n is None and not st.constraints.query


def test_a_conditional_without_a_refusal_neither_asks_nor_refuses(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns; if one of them is war, whatever")
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []
    assert st.constraints.n is None


@pytest.mark.parametrize(
    "message", ["the last thing we need is war. westerns", "westerns, and the last thing i want tonight is war"]
)
def test_the_last_thing_i_want_refuses(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]


def test_a_refusal_of_anything_labelled_as_a_category(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, but exclude anything tagged as war")
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]
    assert not st.constraints.query


@pytest.mark.parametrize(
    "message",
    [
        "war is out. westerns on the flip side, yes please",
        "westerns, its been a long day and ill take anything",
        "westerns, nothing dated, my son says vintage stuff is dull",
    ],
)
def test_asides_and_contractions_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.include_categories and not st.constraints.query


@pytest.mark.parametrize(
    ("second", "inc", "years"),
    [
        ("im not fussed about them being westerns anymore", [], (1960, 1969)),
        ("forget both the decade and the war ban", ["Western"], (None, None)),
        ("lets not limit the years after all", ["Western"], (None, None)),
    ],
)
def test_removals_through_pronouns_and_both(vocab: CatalogVocab, second: str, inc: list[str], years: tuple) -> None:
    st, _ = _run(vocab, "westerns from the 60s, no war", second)
    assert st.constraints.include_categories == inc and (st.constraints.year_min, st.constraints.year_max) == years


def test_no_longer_against_a_category_lifts_its_ban(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, no war", "ok we are no longer opposed to war")
    assert st.constraints.exclude_categories == [] and st.constraints.include_categories == ["Western"]


def test_a_title_someone_thinks_is_the_best_ever_is_a_reference(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "my dad thinks fargo is the greatest film ever made, any ideas for him")
    assert st.constraints.reference_item_ids == ["100"] and not st.constraints.query


def test_an_ordinal_of_times_is_no_position(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "just saw fargo for the second time, want more like it")
    assert st.constraints.reference_item_ids == ["100"] and not u.clarify  # type: ignore[attr-defined]


def test_like_words_inside_a_why_question_are_the_question(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "some westerns", "about your third pick: why is it a great choice for me?")
    assert u.intent == Intent.EXPLAIN and [r.item_id for r in u.items] == [st.shown[2]]  # type: ignore[attr-defined]


def test_both_not_one_or_the_other_adds_to_the_asked_category(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "war too - i mean both in one, not either or")
    assert set(st.constraints.include_categories) == {"Western", "War"} and st.constraints.include_all


@pytest.mark.parametrize("message", ["西部片可以，战争的千万不要", "来点西部片，千万别推战争片"])
def test_chinese_qianwan_refuses(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("westerns, anything after 1975 is off the table", None, 1975),
        ("westerns. stuff from before 1958 is a hard pass", 1958, None),
        ("1955年以前的电影统统不要", 1955, None),
    ],
)
def test_a_refused_period_flips_its_bound(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi) and not st.constraints.query


@pytest.mark.parametrize(
    "message",
    [
        "westerns from the 70s - hmm, actually forget the decade, just westerns",
        "1980s westerns. no wait, any year is ok",
    ],
)
def test_a_period_taken_back_later_in_the_same_message_is_gone(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.year_min, c.year_max) == (["Western"], None, None)


def test_a_period_said_after_its_removal_stays(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "ignore the old period, make it the 1970s")
    assert (st.constraints.year_min, st.constraints.year_max) == (1970, 1979)


@pytest.mark.parametrize(
    "second", ["ok wipe all the conditions and lets start again", "get rid of each of the filters and begin anew"]
)
def test_clearing_the_filters_shows_the_unfiltered_list(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "7 westerns, no war", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.n) == ([], [], None)
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["ditch all of it except the westerns", "scrap all that, but keep westerns"])
def test_dropping_everything_but_one_category(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns from the 60s, 8 of them", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.n) == (["Western"], [], None, None)


def test_a_bare_details_question_describes_the_item(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "some westerns", "number four looks fun - any details?")
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[3]]  # type: ignore[attr-defined]


def test_chinese_still_no_after_an_allowance(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "不要西部和战争", "西部的话也行吧，战争还是别")
    assert st.constraints.exclude_categories == ["War"] and st.constraints.include_categories == []


def test_chinese_no_longer_referring_to_that_one(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "类似《Fargo》的西部片", "那部就不用参考了，西部片就行")
    assert st.constraints.reference_item_ids == [] and st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize(
    "message",
    [
        "id sooner clean the oven than watch a war film, so westerns",
        "westerns, and on no account war",
        "what i dont want: war. what i want: westerns",
        "westerns - my uncle storms out of anything war",
    ],
)
def test_refusals_told_as_comparisons_idioms_and_stories(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]


@pytest.mark.parametrize(
    "message",
    [
        "westerns, nothing anyone would call war",
        "westerns but spare me any that are also war",
        "westerns, and if theres even a hint of war, leave it",
    ],
)
def test_a_refused_relative_or_conditional_clause_reaches_its_category(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]
    assert not st.constraints.include_all


@pytest.mark.parametrize(
    "message",
    ["i normally adore westerns but tonight im so over it, keep them out", "war films. hmm, not feeling those tonight"],
)
def test_a_refusal_of_it_after_the_one_asked_category_takes_it_back(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == [] and len(st.constraints.exclude_categories) == 1


def test_forgetting_two_categories_at_once(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns from the 60s, no war", "forget westerns and war, only the decade matters")
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min) == ([], [], 1960)


def test_a_category_part_said_to_be_optional_then_drop_it_is_no_feedback(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "something both western and war", "the war part is not essential, lose it")
    assert st.constraints.include_categories == ["Western"] and u.intent == Intent.REFINE  # type: ignore[attr-defined]
    assert not u.feedback  # type: ignore[attr-defined]


@pytest.mark.parametrize(("message", "n"), [("half a dozen westerns", 6), ("a half dozen war films please", 6)])
def test_half_a_dozen_is_six(vocab: CatalogVocab, message: str, n: int) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n == n


def test_a_title_with_ish_is_a_reference(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "something fargo-ish please")
    assert st.constraints.reference_item_ids == ["100"] and not st.constraints.query


@pytest.mark.parametrize(
    "message",
    [
        "westerns. beyond that, anything is fair game",
        "westerns, too many to scroll through, just 3",
        "westerns, go ahead",
    ],
)
def test_more_asides_are_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and not st.constraints.query


@pytest.mark.parametrize(
    ("message", "n"), [("8 westerns", 8), ("a dozen war films or westerns", 12), ("one western", None)]
)
def test_a_number_before_a_plural_category_counts_the_list(vocab: CatalogVocab, message: str, n: int | None) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n == n and not st.constraints.include_all


@pytest.mark.parametrize("message", ["he cries at sad stuff, westerns please", "she cries at everything, westerns"])
def test_a_word_after_its_subject_is_never_a_misspelt_category(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize(
    "second", ["and if any of them are war, take them off too", "oh, if some are war then get rid of them"]
)
def test_a_conditional_that_takes_them_off_leaves_the_category_out(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == ["War"]
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    [
        "my brother loathes westerns with a passion, so no westerns",
        "no westerns, she avoids them like the plague",
        "we are bored to death by westerns, skip them",
    ],
)
def test_an_intensifying_idiom_is_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.exclude_categories == ["Western"] and not st.constraints.query


@pytest.mark.parametrize(
    "message", ["my cousin's visiting and he wants westerns", "our neighbours kids are here, westerns for them"]
)
def test_a_person_in_the_possessive_or_plural_is_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == ["Western"] and not st.constraints.query


@pytest.mark.parametrize(
    "second", ["ok you can stop hiding it now, i dont mind war", "i dont mind war anymore, stop excluding it"]
)
def test_stopping_a_filter_on_it_is_no_query(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns but no war", second)
    assert st.constraints.exclude_categories == [] and not st.constraints.query


@pytest.mark.parametrize(
    "second",
    [
        "the 1950s limit can be dropped",
        "that 50s filter doesnt matter anymore",
        "the before 1960 bit is irrelevant now",
        "drop the bit about the fifties",
    ],
)
def test_a_period_named_as_the_restriction_is_removed(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns from the 1950s", second)
    c = st.constraints
    assert (c.year_min, c.year_max, c.include_categories) == (None, None, ["Western"]) and not c.query


def test_a_period_named_as_a_fine_restriction_stays(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns from the 1950s", "the 50s limit is fine, just 3 of them")
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.n) == (1950, 1959, 3)


@pytest.mark.parametrize(
    ("message", "lo"),
    [
        ("westerns from 1965 right up to now", 1965),
        ("westerns 1972 until the present day", 1972),
        ("westerns made from the 60s up till today", 1960),
    ],
)
def test_a_period_up_to_now_has_no_upper_bound(vocab: CatalogVocab, message: str, lo: int) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, None)


def test_a_period_up_to_now_replaces_an_earlier_upper_bound(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns before 1960", "actually make it 1965 up to today")
    assert (st.constraints.year_min, st.constraints.year_max) == (1965, None)


@pytest.mark.parametrize(
    "third", ["hang on, forget that last part about war", "scratch the bit about war", "ignore my comment about war"]
)
def test_taking_back_the_part_about_a_category(vocab: CatalogVocab, third: str) -> None:
    st, _ = _run(vocab, "westerns please", "and no war", third)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("比1985年更早的西部片", None, 1984),
        ("要比1985年晚的西部片", 1986, None),
        ("早于1985年的西部片", None, 1984),
        ("比七十年代还要老的西部片", None, 1969),
    ],
)
def test_a_chinese_comparison_with_a_year_is_a_bound(
    vocab: CatalogVocab, message: str, lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.year_min, c.year_max, c.include_categories) == (lo, hi, ["Western"])


def test_a_negated_chinese_comparison_keeps_its_meaning(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "不晚于1985年的西部片")
    assert (st.constraints.year_min, st.constraints.year_max) == (None, 1985)


@pytest.mark.parametrize("second", ["不一定要战争了，西部就好", "战争不一定要，西部就行"])
def test_a_chinese_not_necessarily_takes_the_category_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "既是西部又是战争的", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize("second", ["just the ones which are war too", "only those that are war as well please"])
def test_only_ones_that_are_also_a_category_ask_for_both(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and st.constraints.include_all


def test_ones_that_are_a_category_would_be_good_too_is_one_more_option(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "ones that are war would be good too")
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and not st.constraints.include_all


@pytest.mark.parametrize(
    "third",
    ["forget the decade, and the same goes for the count", "the decade is irrelevant now, nor is the number"],
)
def test_neither_does_the_slot_removes_it_too(vocab: CatalogVocab, third: str) -> None:
    st, _ = _run(vocab, "westerns from the 1950s", "4 of them", third)
    c = st.constraints
    assert (c.year_min, c.year_max, c.n, c.include_categories) == (None, None, None, ["Western"])


@pytest.mark.parametrize("third", ["on second thought they may be old", "i dont mind them being old actually"])
def test_allowing_an_age_takes_the_age_wish_back(vocab: CatalogVocab, third: str) -> None:
    st, _ = _run(vocab, "westerns", "nothing too old", third)
    assert (st.constraints.year_min, st.constraints.year_max) == (None, None)


def test_i_take_that_back_undoes_the_last_change(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "from the 1950s", "i take that back")
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.include_categories) == (
        None,
        None,
        ["Western"],
    )


@pytest.mark.parametrize(
    "second",
    ["hold on to the war part, ditch everything else", "only the war bit, get rid of the other stuff"],
)
def test_keeping_one_part_and_dropping_the_rest(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "war films like fargo from the 1990s", second)
    c = st.constraints
    assert (c.include_categories, c.year_min, c.year_max, c.reference_item_ids) == (["War"], None, None, [])
    assert not u.feedback  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("westerns from 1962 or the following year", 1962, 1963),
        ("a western made in 1962 or the year before", 1961, 1962),
    ],
)
def test_a_year_and_the_one_next_to_it(vocab: CatalogVocab, message: str, lo: int, hi: int) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi) and not st.constraints.query


@pytest.mark.parametrize(
    "second", ["war doesnt have to be, westerns are enough", "the war part neednt be in there. just westerns"]
)
def test_a_category_that_need_not_be_there_is_taken_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "war westerns, both", second)
    assert st.constraints.include_categories == ["Western"] and st.constraints.exclude_categories == []


@pytest.mark.parametrize(
    "message", ["westerns, and leave out anything before 1960", "westerns, skip all stuff older than 1960"]
)
def test_leaving_out_what_came_before_a_year_is_a_lower_bound(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (1960, None)


def test_dropping_the_before_year_bit_still_removes_the_period(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns before 1960", "drop the before 1960 part")
    assert (st.constraints.year_min, st.constraints.year_max) == (None, None)


@pytest.mark.parametrize("third", ["also the war thing, thats fine now", "and the no war rule as well"])
def test_one_more_asked_category_after_a_removal_turn_goes_too(vocab: CatalogVocab, third: str) -> None:
    st, _ = _run(vocab, "westerns from the 1950s, no war", "forget the decade", third)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min) == (["Western"], [], None)


def test_and_a_new_category_after_a_removal_turn_is_asked_for(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns from the 1950s", "forget the decade", "and war too")
    assert sorted(st.constraints.include_categories) == ["War", "Western"]


@pytest.mark.parametrize(
    "second", ["is the second one a war film?", "#3, is it actually a war movie?", "does number 4 count as war"]
)
def test_asking_whether_a_listed_item_is_a_category_describes_it(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns", second)
    assert st.constraints.include_categories == ["Western"]
    assert u.intent == Intent.DESCRIBE and len(u.items) == 1  # type: ignore[attr-defined]


def test_a_question_that_also_asks_for_a_category_is_a_request(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "is the second one good? show me war instead")
    assert st.constraints.include_categories == ["War"]


@pytest.mark.parametrize("second", ["whats the second one in the list about", "what is number 2 on your list about?"])
def test_what_a_listed_position_is_about_describes_it(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns", second)
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["could they be war too?", "can those also be war as well"])
def test_can_they_be_a_category_too_asks_for_both(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and st.constraints.include_all


@pytest.mark.parametrize("message", ["又西部又战争的片子", "想看又是西部、又是战争的"])
def test_chinese_you_x_you_y_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and st.constraints.include_all


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [
        ("westerns, instead of the 1950s give me after 1960", 1961, None),
        ("westerns from the 60s rather than 1955", 1960, 1969),
    ],
)
def test_a_period_said_instead_of_another_wins(
    vocab: CatalogVocab, message: str, lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


@pytest.mark.parametrize(
    "message", ["westerns, just not when theyre war", "westerns unless its war", "westerns - not if its also war"]
)
def test_not_when_its_a_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.query) == (["Western"], ["War"], "")


def test_fine_if_some_are_also_a_category_still_asks_nothing(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, fine if some are also war")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], [])


@pytest.mark.parametrize("second", ["forget the both part, one or the other will do", "both isnt needed"])
def test_taking_the_both_wish_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "war westerns, both at once", second)
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and not st.constraints.include_all


@pytest.mark.parametrize(
    ("message", "n"),
    [("war and westerns together, i mean one film thats both", None), ("i would like one movie, a western", 1)],
)
def test_one_item_saying_what_each_is_is_no_count(vocab: CatalogVocab, message: str, n: int | None) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n == n


@pytest.mark.parametrize(
    "second", ["ok war doesnt bother me anymore", "fine, i can live with war", "actually war is no problem"]
)
def test_saying_a_refused_category_is_no_bother_allows_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns, no war", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], [])


@pytest.mark.parametrize("second", ["第二部讲啥", "第2部是讲什么的"])
def test_chinese_what_is_it_about_describes_the_position(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "来几部西部片", second)
    assert u.intent == Intent.DESCRIBE and [r.item_id for r in u.items] == [st.shown[1]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["还是想要同时是西部和战争的", "我还是要同时属于西部与战争的"])
def test_chinese_after_all_both_asks_for_both(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "西部或者战争都行", second)
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and st.constraints.include_all


def test_chinese_haishi_between_two_categories_is_still_or(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "西部还是战争都行")
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and not st.constraints.include_all


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ("anything similar to the glorious quibbleton saga", "glorious quibbleton saga"),
        ("movies like mxyzptlk", "mxyzptlk"),
    ],
)
def test_a_reference_to_a_title_the_catalog_lacks_is_named_as_such(
    vocab: CatalogVocab, message: str, named: str
) -> None:
    _, u = _run(vocab, message)
    notes = u.notes  # type: ignore[attr-defined]
    assert any(f'no title called "{named}"' in n for n in notes) and not any("cannot check" in n for n in notes)


def test_words_that_are_no_reference_keep_the_plain_note(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "westerns with horses")
    assert any('cannot check "horses"' in n for n in u.notes)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message", ["must be war and must be western too", "it needs to be war, and needs to be western"]
)
def test_a_must_said_before_each_category_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == ["War", "Western"] and st.constraints.include_all


@pytest.mark.parametrize("second", ["wipe everything and start again", "scrap all of it, lets begin again"])
def test_clearing_all_of_it_to_start_over_shows_the_unfiltered_list(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns from the 1950s, no war", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min) == ([], [], None)
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]


def test_start_over_alone_still_asks_afresh(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "westerns from the 1950s", "start over")
    assert u.intent == Intent.RESET  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("first", "second", "lo", "hi"),
    [
        ("recent westerns", "ok not so new, only nothing too old", 1978, None),
        ("old westerns", "not that old, just nothing too recent", None, 1993),
    ],
)
def test_the_age_wish_said_with_just_is_the_only_one(
    vocab: CatalogVocab, first: str, second: str, lo: int | None, hi: int | None
) -> None:
    st, _ = _run(vocab, first, second)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


def test_neither_too_old_nor_too_new_is_both_bounds(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, not too dated or too recent")
    assert (st.constraints.year_min, st.constraints.year_max) == (1978, 1993)


@pytest.mark.parametrize(
    ("message", "excluded"),
    [("no war... sorry, i meant no crime", ["Crime"]), ("westerns, no war - oops i meant no horror", ["Horror"])],
)
def test_a_clause_corrected_in_the_same_message_is_not_read(
    vocab: CatalogVocab, message: str, excluded: list[str]
) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.exclude_categories == excluded


def test_a_corrected_category_is_replaced(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "war films, wait no i meant westerns")
    assert st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize("message", ["i would never say no to a western", "cant say no to westerns tbh"])
def test_never_saying_no_to_a_category_asks_for_it(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], [])


def test_em_is_them_in_a_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, give me 6 of em")
    assert st.constraints.n == 6 and not st.constraints.query


@pytest.mark.parametrize(
    ("message", "lo", "hi"), [("westerns newer then 1970", 1971, None), ("westerns older then 1970", None, 1969)]
)
def test_then_after_a_comparative_is_than(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == (lo, hi)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("westerns from the 1950s", "the year range is too restrictive, drop it"),
        ("westerns from the 1950s", "that decade limit is way too tight"),
        ("westerns from the 60s", "the year of the movies is irrelevant"),  # a slot of the items
        ("westerns from the 60s", "the decade of them doesnt matter"),
    ],
)
def test_a_slot_said_to_be_too_strict_or_not_to_matter_is_removed(vocab: CatalogVocab, first: str, second: str) -> None:
    st, _ = _run(vocab, first, second)
    c = st.constraints
    assert (c.year_min, c.year_max, c.query) == (None, None, "")


@pytest.mark.parametrize("message", ["whats the nearest thing to fargo you have", "closest match to fargo please"])
def test_the_closest_thing_to_a_title_is_a_reference(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.reference_item_ids == ["100"] and not st.constraints.query


def test_a_quoted_title_the_catalog_lacks_is_asked_about(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, 'anything similar to "the brass lanterns of quell"?')
    assert u.clarify and '"the brass lanterns of quell"' in u.clarify  # type: ignore[attr-defined]


@pytest.mark.parametrize("message", ["movies like 'fargo'", "something 'fun' please"])
def test_a_quoted_catalog_title_or_word_is_not_asked_about(vocab: CatalogVocab, message: str) -> None:
    _, u = _run(vocab, message)
    assert not u.clarify  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["西部就算了吧", "西部片就算了，随便来点"])
def test_chinese_never_mind_takes_the_asked_category_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "来点西部片", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], [])


def test_chinese_never_mind_a_category_not_asked_leaves_it_out(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "来点喜剧", "战争片就算了")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Comedy"], ["War"])


def test_a_catalog_title_matching_only_part_of_a_quote_is_not_the_reference(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "got anything like 'the godfather of the velvet lagoon'?")
    assert st.constraints.reference_item_ids == [] and u.clarify  # type: ignore[attr-defined]
    assert '"the godfather of the velvet lagoon"' in u.clarify  # type: ignore[attr-defined]


# --- held-out v36 kinds (refusals as feelings and stories, "past" a year, "would be better", counts) ---
@pytest.mark.parametrize(
    "message",
    [
        "war honestly freaks me out, show me westerns",
        "westerns please, war really drives me up the wall",
        "war leaves me cold. westerns are good",
        "war depresses me so westerns instead",
    ],
)
def test_a_feeling_after_a_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.query) == (["Western"], ["War"], "")


@pytest.mark.parametrize(
    "message",
    [
        "horror gives my kid bad dreams so please keep them off the list. comedy is good though",
        "comedy for sure. my wife hid behind the sofa the whole of the last horror we tried, no more of that",
        "comedy, and horror is something i always end up regretting, everything but that",
    ],
)
def test_a_refusal_of_it_after_a_story_leaves_out_the_category_told_of(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (["Comedy"], ["Horror"])


def test_a_refusal_of_those_takes_back_every_category_joined_before_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "war, horror and westerns have never been my thing. anything but those")
    c = st.constraints
    assert (c.include_categories, sorted(c.exclude_categories), c.n) == ([], ["Horror", "War", "Western"], None)


def test_a_refusal_followed_by_a_category_refuses_that_one(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns are fine, none of that war stuff")
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (["Western"], ["War"])


def test_that_kind_after_a_named_category_is_the_category_not_the_slot(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "comedy please. i fell asleep during the last war film we watched, so avoid that sort")
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.query) == (["Comedy"], ["War"], "")


def test_a_past_tense_story_is_no_query(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "comedy please, the last one we picked we watched for hours and it dragged for ages")
    assert st.constraints.query == ""


@pytest.mark.parametrize(
    ("message", "lo", "hi"),
    [("westerns, nothing past the 70s", None, 1979), ("westerns made past 1975", 1976, None)],
)
def test_past_a_period_is_after_it(vocab: CatalogVocab, message: str, lo: int | None, hi: int | None) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.query) == (lo, hi, "")


@pytest.mark.parametrize("second", ["hmm, westerns might be nicer", "i think a western would be preferable"])
def test_a_category_that_would_be_better_replaces_the_asked_one(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "6 war movies", second)
    assert (st.constraints.include_categories, st.constraints.n) == (["Western"], 6)


@pytest.mark.parametrize("second", ["you dont have to stick to 6, list as many as you want", "no need to stay at 6"])
def test_no_need_to_stick_to_a_count_takes_it_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "6 westerns", second)
    assert st.constraints.n is None


def test_what_categories_are_is_no_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "war and horror were the 2 things i never liked")
    c = st.constraints
    assert (sorted(c.exclude_categories), c.n) == (["Horror", "War"], None)


@pytest.mark.parametrize(
    "message", ["fargo was the best film i have ever seen, anything similar?", "fargo, the greatest thing ive watched"]
)
def test_the_best_thing_ive_seen_is_praise_not_already_seen(vocab: CatalogVocab, message: str) -> None:
    st, u = _run(vocab, message)
    assert st.constraints.reference_item_ids == ["100"] and u.intent != Intent.FEEDBACK  # type: ignore[attr-defined]


@pytest.mark.parametrize("message", ["我对战争片一直提不起兴趣", "战争片我真的喜欢不起来", "战争片不是我的菜"])
def test_chinese_lack_of_interest_leaves_the_category_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], ["War"])


# --- held-out v37 kinds (phone chat style) ---
@pytest.mark.parametrize(("message", "word"), [("i need to chill tonight", "chill"), ("two kinds of fun", "kinds")])
def test_a_word_of_the_language_is_not_a_misspelt_category(vocab: CatalogVocab, message: str, word: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_categories == [] and word not in " ".join(st.constraints.exclude_categories).lower()


def test_a_category_less_one_letter_is_still_read(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "got any acton ones")
    assert st.constraints.include_categories == ["Action"]


def test_a_word_is_not_respelt_as_its_plural(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "strange request i know, but a weird western")
    assert "weirds" not in st.constraints.query


@pytest.mark.parametrize(
    "message", ["rough week at work, just want to unwind with a western", "busy day lol. quick question, any westerns"]
)
def test_chit_chat_about_the_day_is_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.query) == (["Western"], "")


@pytest.mark.parametrize("message", ["westerns thx no war", "westerns please no war pls"])
def test_a_refusal_that_governs_the_next_category_is_not_about_the_one_before(
    vocab: CatalogVocab, message: str
) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (["Western"], ["War"])


@pytest.mark.parametrize("message", ["a war + western combination", "western/war fusion pls"])
def test_a_combo_of_two_categories_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.include_all and sorted(st.constraints.include_categories) == ["War", "Western"]


def test_a_count_before_a_decade_counts(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "find me 7 90s westerns")
    c = st.constraints
    assert (c.n, c.year_min, c.year_max) == (7, 1990, 1999)


@pytest.mark.parametrize("message", ["my fave ever is fargo, anything in the same direction?", "fargo is my fav"])
def test_a_favourite_said_fav_is_a_reference(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.reference_item_ids == ["100"] and not st.constraints.query


@pytest.mark.parametrize(
    ("second", "position"),
    [("was number 3 worth seeing?", 3), ("what sort of film is the fourth one", 4), ("第2部是什么类型的", 2)],
)
def test_a_question_about_a_shown_item_describes_it(vocab: CatalogVocab, second: str, position: int) -> None:
    st, u = _run(vocab, "westerns", second)
    assert u.intent == Intent.DESCRIBE and [r.position for r in u.items] == [position]  # type: ignore[attr-defined]
    assert st.constraints.include_categories == ["Western"]


def test_an_unknown_title_written_as_a_name_is_asked_about(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "any westerns like Gravelmoor maybe")
    assert u.clarify and '"gravelmoor"' in u.clarify  # type: ignore[attr-defined]


def test_an_unknown_title_in_lower_case_is_searched_and_said_so(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "any westerns like gravelmoor maybe")
    assert not u.clarify and any("gravelmoor" in n for n in u.notes)  # type: ignore[attr-defined]


# --- held-out v38 kinds (several constraints at once) ---
@pytest.mark.parametrize("message", ["westerns made after 1993", "after 1993, romance please"])
def test_a_year_of_a_period_is_not_read_as_a_title_year(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.reference_item_ids == [] and st.constraints.year_min == 1994


@pytest.mark.parametrize(
    "second", ["change the count to 9", "set the number at 9", "the number should be 9", "make the total 9"]
)
def test_a_count_set_by_naming_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert (st.constraints.include_categories, st.constraints.n, st.constraints.query) == (["Western"], 9, "")


def test_chinese_count_changed_by_naming_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "来点西部片", "数量改成9")
    assert st.constraints.n == 9


@pytest.mark.parametrize("message", ["something in the mold of fargo", "anything comparable to fargo, no war"])
def test_more_reference_leads_leave_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.reference_item_ids == ["100"] and st.constraints.query == ""


def test_keeping_a_slot_while_changing_another_is_no_query(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "6 westerns from the 70s", "keep the number, drop the decade")
    c = st.constraints
    assert (c.n, c.year_min, c.year_max, c.query) == (6, None, None, "")


# --- held-out v40 kinds (people new to the app: second thoughts, polite wording, greetings first) ---
@pytest.mark.parametrize(
    "message",
    [
        "please keep horror and war out of my picks",
        "horror and war stay off my watchlist",
        "keep horror and war out of the lineup",
    ],
)
def test_kept_out_of_the_list_by_any_name_is_a_refusal(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, sorted(st.constraints.exclude_categories)) == ([], ["Horror", "War"])


@pytest.mark.parametrize(
    ("message", "inc", "years"),
    [
        ("westerns... no wait, war! from the 70s please", ["War"], (1970, 1979)),
        ("a thriller from the 80s, or rather a mystery", ["Mystery"], (1980, 1989)),
        ("comedies from the 60s - on second thought, the 50s", ["Comedy"], (1950, 1959)),
        ("drama no wait crime", ["Crime"], (None, None)),
    ],
)
def test_a_self_correction_replaces_only_what_it_says_again(
    vocab: CatalogVocab, message: str, inc: list[str], years: tuple[int | None, int | None]
) -> None:
    st, u = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, (c.year_min, c.year_max), c.query) == (inc, years, "")
    assert u.intent == Intent.RECOMMEND  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "exc"),
    [
        ("no westerns... hmm no, i mean no musicals", ["Musical"]),
        ("no westerns - wait, no musicals either", ["Musical", "Western"]),
    ],
)
def test_a_corrected_exclusion_is_replaced_unless_it_adds(vocab: CatalogVocab, message: str, exc: list[str]) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.exclude_categories) == exc


def test_a_correction_of_which_item_moves_the_feedback(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns")
    u = understand("i really liked the first one... sorry, i meant the second one", st, vocab)
    assert [f.item_id for f in u.feedback] == [st.shown[1]] and u.positions == [2]


def test_a_period_forgotten_after_second_thoughts_keeps_the_new_bound(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns from the 50s, hmm actually no, forget the decade, anything before 1975")
    c = st.constraints
    assert (c.include_categories, c.year_min, c.year_max) == (["Western"], None, 1974)


@pytest.mark.parametrize("greeting", ["Good morning!", "good morning,", "Good Morning."])
def test_a_greeting_that_is_also_a_title_is_a_greeting(vocab: CatalogVocab, greeting: str) -> None:
    st, _ = _run(vocab, f"{greeting} i really enjoy westerns")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["Western"], [])


@pytest.mark.parametrize("second", ["thinking it over, on reflection only westerns", "on reflection, westerns only"])
def test_reflection_words_are_no_query(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "war or westerns", second)
    assert (st.constraints.include_categories, st.constraints.query) == (["Western"], "")


@pytest.mark.parametrize("second", ["actually horror could be fine", "horror would be perfectly ok now"])
def test_a_category_refused_before_and_allowed_with_a_modal_is_only_allowed(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns, no horror or war", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (["Western"], ["War"])


def test_chinese_not_minding_a_refused_category_allows_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "来点战争片，不要恐怖片", "恐怖的我也不介意")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["War"], [])


@pytest.mark.parametrize("second", ["ok, no filters at all please", "no constraints at all this time"])
def test_no_filters_at_all_lifts_every_constraint_and_shows_a_list(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns from the 70s", second)
    assert st.constraints.is_empty() and u.intent in (Intent.RECOMMEND, Intent.REFINE)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "second", ["id love to hear more about number 3", "can i learn a bit more about the third one?"]
)
def test_hearing_more_about_a_shown_item_describes_it(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns", second)
    assert u.intent == Intent.DESCRIBE and [i.item_id for i in u.items] == [st.shown[2]]  # type: ignore[attr-defined]


def test_chinese_first_time_is_no_position(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "你好，第一次来，想看战争片")
    assert st.constraints.include_categories == ["War"] and u.positions == [] and not u.clarify  # type: ignore[attr-defined]


# --- held-out v41 kinds (second thoughts and corrections; casual Chinese) ---
@pytest.mark.parametrize(
    ("message", "inc", "refs", "years"),
    [
        ("westerns from the 50s. hmm, wait, no, i meant anything after 1962", ["Western"], [], (1963, None)),
        ("war, actually no, something like fargo instead", [], ["100"], (None, None)),
        ("a comedy that's also romance... actually only comedy, drop the romance part", ["Comedy"], [], (None, None)),
    ],
)
def test_a_correction_takes_back_what_it_says_again(
    vocab: CatalogVocab, message: str, inc: list[str], refs: list[str], years: tuple[int | None, int | None]
) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.reference_item_ids, (c.year_min, c.year_max)) == (
        inc,
        [],
        refs,
        years,
    )


def test_i_said_but_i_meant_corrects_the_last_turn(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "war films from the 80s", "sorry, i said the 80s but i meant anything after 1991")
    c = st.constraints
    assert (c.include_categories, c.year_min, c.year_max) == (["War"], 1992, None)


def test_a_bare_actually_adds_a_refusal(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "no westerns. actually, i dont want war")
    assert sorted(st.constraints.exclude_categories) == ["War", "Western"]


@pytest.mark.parametrize("second", ["make them all westerns", "actually make those westerns"])
def test_make_them_x_replaces_the_category(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "some war films", second)
    assert st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize(
    ("message", "inc", "exc"),
    [
        ("想看西部片，啊不对，还是战争片吧", ["War"], []),
        ("不要恐怖！哦不是，我的意思是不要西部", [], ["Western"]),
        ("不要恐怖！哦不是，我的意思是也不要西部", [], ["Horror", "Western"]),
    ],
)
def test_chinese_corrections_in_one_message(vocab: CatalogVocab, message: str, inc: list[str], exc: list[str]) -> None:
    st, u = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, sorted(c.exclude_categories), u.language) == (inc, exc, "zh")  # type: ignore[attr-defined]


def test_chinese_correction_of_the_last_turn_replaces_its_category(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "来6部西部片", "我说错了，是战争片")
    assert (st.constraints.include_categories, st.constraints.n) == (["War"], 6)


def test_english_item_noun_in_a_chinese_message_is_no_position(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "战争film来9部吧")
    c = st.constraints
    assert (c.include_categories, c.n, u.positions, u.clarify) == (["War"], 9, [], None)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("messages", "years"),
    [
        (("westerns after 1970", "1969 works too"), (1969, None)),
        (("westerns before 1960. oh, 1961 would be ok too",), (None, 1961)),
        (("西部片，1975年以前的。1975年的也可以",), (None, 1975)),
    ],
)
def test_a_year_said_to_be_fine_too_moves_the_bound(
    vocab: CatalogVocab, messages: tuple[str, ...], years: tuple[int | None, int | None]
) -> None:
    st, _ = _run(vocab, *messages)
    assert (st.constraints.year_min, st.constraints.year_max) == years


@pytest.mark.parametrize("second", ["sorry, i meant anything before 1972", "我是说1972年以前的"])
def test_a_period_said_as_a_correction_replaces_the_whole_period(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns from the 50s", second)
    assert (st.constraints.year_min, st.constraints.year_max) == (None, 1971)


# --- held-out v42 kinds (occasions and audiences told in long messages) ---
@pytest.mark.parametrize(
    "message",
    [
        "Snow all week and the heating is broken. My brother and I are under blankets. Show us some westerns.",
        "Long shift today, finally back and exhausted. westerns please",
        "We got back from the beach late. Any westerns?",
    ],
)
def test_the_occasion_told_around_a_request_is_no_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.query) == (["Western"], "")


@pytest.mark.parametrize("message", ["boxing. nothing before 1990", "It's late. I want something about boxing."])
def test_a_wish_in_a_request_sentence_stays_a_query(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.query == "boxing"


@pytest.mark.parametrize(
    ("message", "inc"),
    [
        ("The kids are asleep at last. westerns for the two of us", ["Western"]),
        ("my whole family is visiting, they love war films", ["War"]),
        ("westerns the kids can watch", ["Children's", "Western"]),
        ("some family films from the 90s", ["Children's"]),
        ("anything for my kids, no horror", ["Children's"]),
    ],
)
def test_people_words_name_the_category_only_when_it_is_for_them(
    vocab: CatalogVocab, message: str, inc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == inc


def test_a_title_said_twice_leaves_no_query(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "we keep quoting fargo at work. more like fargo please")
    assert (st.constraints.reference_item_ids, st.constraints.query) == (["100"], "")


@pytest.mark.parametrize(
    ("message", "inc"),
    [
        ("孩子们睡着了，我想看西部片", ["Western"]),
        ("周末带孩子去看电影，西部片吧", ["Western"]),
        ("找几部给孩子看的西部片", ["Children's", "Western"]),
    ],
)
def test_chinese_people_words_name_the_category_only_when_it_is_for_them(
    vocab: CatalogVocab, message: str, inc: list[str]
) -> None:
    st, _ = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == inc


@pytest.mark.parametrize(
    ("message", "years"),
    [("西部片，早于1970年的，1970年的不算", (None, 1969)), ("西部片，1970年以后的，1970年的也算", (1970, None))],
)
def test_chinese_whether_the_bound_year_counts(
    vocab: CatalogVocab, message: str, years: tuple[int | None, int | None]
) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.year_min, st.constraints.year_max) == years


def test_people_and_days_are_not_one_word_titles(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "Saturday with the kids at home. I loved westerns as a kid, show me some")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["Western"], [])


@pytest.mark.parametrize(
    "second",
    [
        "forget about excluding animation",
        "never mind about blocking animation, that rule is gone",
        "drop the rule about leaving animation out",
        "stop avoiding animation",
    ],
)
def test_a_removal_of_an_exclusion_told_as_a_gerund_allows_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns, but no animation", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories, st.constraints.query) == (
        ["Western"],
        [],
        "",
    )


@pytest.mark.parametrize(
    ("first", "second", "inc", "exc", "years"),
    [
        ("mysteries, no sci-fi", "i know i said no sci-fi, but honestly it doesn't matter", ["Mystery"], [], None),
        ("mysteries, no sci-fi", "no sci-fi, it's fine now", ["Mystery"], [], None),
        ("mysteries from the 80s", "i told you the 80s earlier, never mind", ["Mystery"], [], None),
        ("mysteries from the 80s", "remember i said mysteries? you can ignore that", [], [], (1980, 1989)),
        ("悬疑片，不要科幻", "我之前说不要科幻的，现在也可以了", ["Mystery"], [], None),
        ("悬疑片，不要科幻", "前面说不要科幻，算了", ["Mystery"], [], None),
    ],
)
def test_a_rule_quoted_and_lifted_is_taken_back(
    vocab: CatalogVocab,
    first: str,
    second: str,
    inc: list[str],
    exc: list[str],
    years: tuple[int, int] | None,
) -> None:
    st, _ = _run(vocab, first, second)
    c = st.constraints
    got = (c.year_min, c.year_max) if c.year_min is not None or c.year_max is not None else None
    assert (c.include_categories, c.exclude_categories, got) == (inc, exc, years)


def test_a_new_refusal_before_a_lift_word_is_still_a_refusal(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "mysteries please", "no sci-fi, whatever")
    assert st.constraints.exclude_categories == ["Sci-Fi"]


@pytest.mark.parametrize(
    ("second", "pos"),
    [("what's the 3rd one 'bout?", 3), ("tell me more 'bout no. 2 pls", 2), ("show 'em again, why the 4th one", 4)],
)
def test_an_apostrophe_for_cut_off_letters_is_not_a_quotation(vocab: CatalogVocab, second: str, pos: int) -> None:
    st, u = _run(vocab, "comedies", second)
    assert u.intent in (Intent.EXPLAIN, Intent.DESCRIBE) and [r.position for r in u.items] == [pos]
    assert st.constraints.include_categories == ["Comedy"]


@pytest.mark.parametrize(
    "second",
    [
        "i want them to be sci-fi too",
        "would love em to be sci-fi as well",
        "make sure they're sci-fi too",
        "make sure theyre also sci-fi",
        "i'd prefer those to be sci-fi as well",
    ],
)
def test_wishing_the_list_were_another_category_too_asks_for_both(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "7 mysteries", second)
    c = st.constraints
    assert (sorted(c.include_categories), c.include_all, c.n) == (["Mystery", "Sci-Fi"], True, 7)


def test_wishing_them_one_of_two_more_categories_stays_any_of(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "mysteries", "i want them to be sci-fi or thriller too")
    assert not st.constraints.include_all


@pytest.mark.parametrize(
    "message",
    [
        "westerns i really hate",
        "comedies are fine, westerns we cant stand",
        "anything at all, only westerns i do not like, dont put them",
    ],
)
def test_a_dislike_told_after_the_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Western" in st.constraints.exclude_categories and "Western" not in st.constraints.include_categories


def test_a_dislike_of_something_else_after_the_category_keeps_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns i dont like anything too long")
    assert st.constraints.include_categories == ["Western"]


@pytest.mark.parametrize("second", ["恐怖的不想看", "恐怖这类的不要", "恐怖的别给我推荐", "恐怖的也不要"])
def test_a_chinese_refusal_after_de_leaves_the_category_out(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "来几部喜剧", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Comedy"], ["Horror"])


@pytest.mark.parametrize(
    "second", ["oops, not westerns, i meant comedies", "sorry typo - not westerns, i mean comedies please"]
)
def test_not_x_i_mean_y_after_asking_x_replaces_it_without_refusing_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns from the 60s", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.query) == (["Comedy"], [], 1960, "")


@pytest.mark.parametrize(
    "second",
    [
        "honestly how old are they doesnt matter",
        "how new the films are does not matter anymore",
        "ok how old is the stuff doesnt matter now",
    ],
)
def test_the_age_asked_in_any_word_order_then_lifted_clears_the_years(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "comedies, nothing too old", second)
    assert (st.constraints.include_categories, st.constraints.year_min, st.constraints.year_max) == (
        ["Comedy"],
        None,
        None,
    )


@pytest.mark.parametrize(
    "message",
    ["6 of it please, comedies", "comedies, give me 6 of this kind", "i want comedies, 6 of em"],
)
def test_a_count_of_it_or_of_this_kind_is_the_count(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.n) == (["Comedy"], 6)


@pytest.mark.parametrize(
    "message",
    ["films that are crime and in same time comedy", "crime and at same time comedy please"],
)
def test_in_same_time_without_an_article_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (sorted(st.constraints.include_categories), st.constraints.include_all) == (["Comedy", "Crime"], True)


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("comedies please, my flatmate burned dinner again and the kitchen smells awful", ""),
        ("westerns tonight and then sleep", ""),
        ("a crime movie, we just got back from the beach and my feet hurt", ""),
        ("crime movies, i moved houses last week and the boxes are everywhere. something about robots", "robots"),
        ("crime movies, we hate gore", ""),
    ],
)
def test_a_clause_of_the_persons_story_is_no_query(vocab: CatalogVocab, message: str, kept: str) -> None:
    st, u = _run(vocab, message)
    assert st.constraints.query == kept
    if "gore" in message:
        assert "gore" in u.avoid_terms  # type: ignore[attr-defined]


def test_a_place_the_person_is_from_is_no_title(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "hi, im from Brazil, show me some comedies")
    assert (st.constraints.reference_item_ids, st.constraints.include_categories) == ([], ["Comedy"])


@pytest.mark.parametrize(
    "message", ["comedies. we'd like 6", "comedies, i'll take 6 please", "i would love 6 comedies"]
)
def test_a_count_after_a_polite_wish_is_the_count(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.n) == (["Comedy"], 6)


@pytest.mark.parametrize("second", ["let the year thing go", "ok, let the period slide, keep the comedies"])
def test_letting_a_rule_go_removes_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "comedies from the 80s", second)
    assert (st.constraints.include_categories, st.constraints.year_min, st.constraints.year_max) == (
        ["Comedy"],
        None,
        None,
    )


@pytest.mark.parametrize("second", ["the horror genre is fine again", "恐怖题材的不排除了"])
def test_a_category_named_with_its_genre_word_is_allowed_without_clearing_the_rest(
    vocab: CatalogVocab, second: str
) -> None:
    st, _ = _run(vocab, "comedies, no horror", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Comedy"], [])


@pytest.mark.parametrize(
    "second",
    [
        "i know i said no horror, it doesn't matter now, horror is allowed in",
        "remember i said no horror? forget it. and show me 4",
    ],
)
def test_words_after_a_lifted_quoted_rule_are_read_too(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "comedies, no horror", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories) == (["Comedy"], [])
    assert c.n == (4 if "4" in second else None)


@pytest.mark.parametrize(
    "message", ["please avoid both sci-fi and horror", "exclude either sci-fi or horror from the picks"]
)
def test_a_refusal_before_both_or_either_leaves_out_every_named_category(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert (c.include_categories, sorted(c.exclude_categories), c.include_all) == ([], ["Horror", "Sci-Fi"], False)


@pytest.mark.parametrize(
    "second", ["leave the horror exclusion in place but lose the decade", "drop the decade, keep that horror rule"]
)
def test_a_rule_kept_while_another_goes_stays_as_it_was(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "comedies from the 80s, no horror", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max) == (["Comedy"], ["Horror"], None, None)


@pytest.mark.parametrize(
    "message", ["mystery and sci-fi, not only one of the two", "mystery plus sci-fi, not just either one"]
)
def test_not_just_one_of_them_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (sorted(st.constraints.include_categories), st.constraints.include_all) == (["Mystery", "Sci-Fi"], True)


@pytest.mark.parametrize(
    "second",
    [
        "ok you dont need to restrict it to mysteries",
        "please scratch mysteries off",
        "knock the mysteries off the list",
    ],
)
def test_a_category_taken_off_or_no_longer_limited_to_goes(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "mysteries or thrillers from the 70s", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min) == (["Thriller"], [], 1970)


@pytest.mark.parametrize(
    "message", ["we really dont enjoy sci-fi, anything else is fine", "i never watch sci-fi. mysteries?"]
)
def test_a_dislike_told_before_the_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.exclude_categories == ["Sci-Fi"] and "Sci-Fi" not in st.constraints.include_categories


@pytest.mark.parametrize("message", ["mysteries, perhaps 8?", "mysteries... 8 or so", "mysteries, roughly 8 please"])
def test_a_hedged_count_is_the_count(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.n) == (["Mystery"], 8)


def test_a_hedged_year_is_no_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "mysteries from around 1990")
    assert st.constraints.n is None


@pytest.mark.parametrize(
    "second",
    [
        "i asked for no horror earlier, but the kids went to bed so horror is fine now",
        "i told you no horror earlier but whatever, horror is ok now",
    ],
)
def test_earlier_after_i_said_is_when_it_was_said_not_a_period(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "6 mysteries, no horror", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max, c.n) == (
        ["Mystery"], [], None, None, 6
    )  # fmt: skip


def test_earlier_than_a_year_after_i_asked_is_still_a_period(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "mysteries", "i asked for ones earlier than 1975")
    assert (st.constraints.year_min, st.constraints.year_max) == (None, 1974)


@pytest.mark.parametrize(
    "second",
    ["what i told you about horror still applies, but only 6", "the bit about horror still holds. 6 of them please"],
)
def test_a_rule_only_talked_about_is_neither_asked_for_nor_lifted(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns without horror", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.n) == (["Western"], ["Horror"], 6)


@pytest.mark.parametrize(
    ("second", "pos"),
    [("how old is number 2", 2), ("what year is #4 from", 4), ("when did the 5th one come out", 5)],
)
def test_asking_an_items_age_is_about_that_item(vocab: CatalogVocab, second: str, pos: int) -> None:
    _, u = _run(vocab, "westerns", second)
    assert u.intent == Intent.DESCRIBE and [r.position for r in u.items] == [pos]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("message", "n"), [("pick 5 westerns", 5), ("could you pick 7 thrillers for me?", 7)])
def test_pick_n_and_a_category_is_a_count(vocab: CatalogVocab, message: str, n: int) -> None:
    st, u = _run(vocab, message)
    assert st.constraints.n == n and not u.clarify  # type: ignore[attr-defined]


def test_pick_n_alone_after_a_list_is_still_a_place(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "westerns", "pick 3 was great")
    assert [r.position for r in u.items] == [3]  # type: ignore[attr-defined]


@pytest.mark.parametrize("message", ["crime thats thriller too please", "find me crime thats thriller as well"])
def test_x_thats_y_too_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (sorted(st.constraints.include_categories), st.constraints.include_all) == (["Crime", "Thriller"], True)


@pytest.mark.parametrize("second", ["forget all of that, let's start again", "ignore everything and start fresh"])
def test_lifting_everything_and_starting_over_shows_the_list_afresh(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "thrillers from the 80s, no crime", second)
    c = st.constraints
    assert u.intent == Intent.REFINE  # type: ignore[attr-defined]
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max) == ([], [], None, None)


@pytest.mark.parametrize(
    "message", ["my favourite is casino, show me 6 like it", "my favorite is casino. 6 like it please"]
)
def test_a_count_after_a_title_is_the_count_and_the_request_verb_no_title(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["Casino (1995)"] and st.constraints.n == 6


@pytest.mark.parametrize("second", ["年代不重要了，删掉这个条件", "年代随便，取消那个限制"])
def test_zh_this_limit_after_the_period_is_let_go_is_that_period(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "八十年代的科幻片", second)
    c = st.constraints
    assert (c.include_categories, c.year_min, c.year_max, u.clarify) == (["Sci-Fi"], None, None, None)  # type: ignore[attr-defined]


def test_zh_a_refused_category_that_no_longer_matters_is_allowed_not_asked(vocab: CatalogVocab) -> None:
    for second in ("恐怖的也无所谓", "恐怖随便"):
        st, _ = _run(vocab, "给我几部喜剧，不要恐怖片", second)
        assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Comedy"], []), second


@pytest.mark.parametrize("second", ["forget the count, just the standard number", "back to your normal list length"])
def test_the_usual_count_takes_the_count_back(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "12 westerns", second)
    assert (st.constraints.include_categories, st.constraints.n, st.constraints.query) == (["Western"], None, "")


def test_top_before_a_category_is_no_search_word(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "top thriller films")
    assert (st.constraints.include_categories, st.constraints.query) == (["Thriller"], "")


@pytest.mark.parametrize(
    ("second", "intent", "pos"),
    [
        ("more on the 2nd one", Intent.DESCRIBE, 2),
        ("more about film #5", Intent.DESCRIBE, 5),
        ("your top pick, why?", Intent.EXPLAIN, 1),
    ],
)
def test_more_on_one_item_and_the_top_pick_are_about_that_item(
    vocab: CatalogVocab, second: str, intent: Intent, pos: int
) -> None:
    _, u = _run(vocab, "westerns", second)
    assert u.intent == intent and [r.position for r in u.items] == [pos]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("second", "age", "positions"),
    [
        ("which of them is the newest", "newest", list(range(1, 11))),
        ("which is older, the 1st or the 3rd?", "oldest", [1, 3]),
        ("这几部哪一部最老？", "oldest", list(range(1, 11))),
    ],
)
def test_which_shown_item_is_newest_or_oldest_is_a_question_about_them(
    vocab: CatalogVocab, second: str, age: str, positions: list[int]
) -> None:
    st, u = _run(vocab, "westerns", second)
    assert (u.intent, u.asked_age) == (Intent.COMPARE, age)  # type: ignore[attr-defined]
    assert [r.position for r in u.items] == positions  # type: ignore[attr-defined]
    assert (st.constraints.year_min, st.constraints.year_max) == (None, None)


def test_older_than_a_year_is_still_a_period_not_a_question(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "which ones are older than 1960")
    assert u.intent != Intent.COMPARE and st.constraints.year_max == 1959  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["my brother has already watched the 2nd one", "we saw number 2 already"])
def test_someone_having_seen_a_shown_item_is_not_interested_in_it(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "westerns", second)
    assert [(f.kind, f.item_id) for f in u.feedback] == [(FeedbackKind.NOT_INTERESTED, st.shown[1])]  # type: ignore[attr-defined]


@pytest.mark.parametrize("message", ["something light hearted for tonight", "a goofy film", "a feel-good movie"])
def test_light_hearted_words_ask_for_comedy(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.query) == (["Comedy"], "")


def test_what_someone_loves_is_no_search_word(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "my mum loves dramas, what would she enjoy?")
    assert (st.constraints.include_categories, st.constraints.query) == (["Drama"], "")


@pytest.mark.parametrize("message", ["what do other people watch?", "whats trending"])
def test_asking_what_others_like_is_a_request_for_the_popular_list(vocab: CatalogVocab, message: str) -> None:
    st, u = _run(vocab, message)
    assert u.intent == Intent.RECOMMEND and st.constraints.is_empty()  # type: ignore[attr-defined]


def test_more_like_a_shown_item_by_position_but_older_is_older_than_that_item(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns")
    first = st.shown[0]
    st, _ = _run(vocab, "westerns", "anything similar to the 1st one but older?")
    assert st.constraints.reference_item_ids == [first]
    assert st.constraints.year_max == vocab.year_of(first) - 1  # type: ignore[operator]


@pytest.mark.parametrize("message", ["westerns from roughly 1960", "a western, 1960ish", "westerns circa 1960 please"])
def test_a_year_said_loosely_is_that_year_and_its_neighbours(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    m = UnderstandConfig().approx_year_margin
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.query) == (1960 - m, 1960 + m, "")


def test_a_hedged_count_next_to_a_year_leaves_the_year_exact(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "about 4 westerns from 1960")
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.n) == (1960, 1960, 4)


def test_not_x_i_mean_y_replaces_only_x_among_several_asked(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "thrillers or mysteries please", "not thrillers, i meant westerns")
    assert sorted(st.constraints.include_categories) == ["Mystery", "Western"]
    assert st.constraints.exclude_categories == []


def test_a_refusal_said_to_be_nice_stays_a_refusal(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "hello, first time here. anything except westerns would be fine")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], ["Western"])


def test_that_one_before_a_category_is_the_item_asked_about_not_a_count(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "westerns", "one thing about #3: is that one musicals too?")
    assert st.constraints.n is None and [r.position for r in u.items] == [3]  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["they should all be war", "and they all need to be war"])
def test_they_should_all_be_y_asks_for_both(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "8 westerns", second)
    assert (sorted(st.constraints.include_categories), st.constraints.include_all) == (["War", "Western"], True)


@pytest.mark.parametrize("message", ["part western, part comedy please", "a film thats half western half comedy"])
def test_part_x_part_y_asks_for_both(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (sorted(st.constraints.include_categories), st.constraints.include_all) == (["Comedy", "Western"], True)


def test_part_of_me_is_no_combination(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, though part of me wants comedy too")
    assert st.constraints.include_all is False


@pytest.mark.parametrize("first", ["Hey, I just signed up.", "so bear with me, westerns?"])
def test_signing_up_and_bear_with_me_are_no_search_words(vocab: CatalogVocab, first: str) -> None:
    st, _ = _run(vocab, first, "westerns please")
    assert (st.constraints.include_categories, st.constraints.query) == (["Western"], "")


@pytest.mark.parametrize(("second", "n"), [("6 please, nothing too old", 6), ("just 3 pls", 3)])
def test_a_bare_count_with_please_is_the_count(vocab: CatalogVocab, second: str, n: int) -> None:
    st, _ = _run(vocab, "war films", second)
    assert st.constraints.n == n


@pytest.mark.parametrize(
    "message",
    ["weve seen casino already, three times. more along those lines?", "ive watched casino already; anything similar?"],
)
def test_seen_a_title_and_wanting_more_like_it_is_a_reference(vocab: CatalogVocab, message: str) -> None:
    st, u = _run(vocab, message)
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["Casino (1995)"]
    assert st.constraints.query == "" and not u.feedback  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    ["good evening! a western, nothing about war please", "westerns, none involving war", "westerns not about war"],
)
def test_nothing_about_x_leaves_x_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], ["War"])


def test_more_like_it_after_one_title_is_about_that_title(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "casino was great", "got any more like it?")
    assert not u.clarify and [vocab.label(r.item_id) for r in u.items] == ["Casino (1995)"]  # type: ignore[attr-defined]


def test_more_like_it_after_a_list_alone_still_asks_which(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "westerns", "got any more like it?")
    assert u.clarify  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["nice, but id prefer they werent war", "ok. I'd rather they weren't war though"])
def test_rather_they_werent_x_leaves_x_out_and_keeps_the_rest(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns please", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], ["War"])


@pytest.mark.parametrize(
    "message",
    [
        "westerns are a no-go, same goes for musicals",
        "I'll skip westerns. ditto musicals",
        "westerns aren't my thing and neither are musicals",
        "westerns are out, musicals too",
    ],
)
def test_a_later_clause_saying_the_same_of_another_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, sorted(st.constraints.exclude_categories)) == (
        [],
        ["Musical", "Western"],
    )


def test_saying_the_same_after_an_allowance_asks_for_both(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns are fine, and so are musicals")
    assert (sorted(st.constraints.include_categories), st.constraints.exclude_categories) == (
        ["Musical", "Western"],
        [],
    )


@pytest.mark.parametrize(
    "message", ["thrillers that remind me of the usual suspects", "anything that reminded us of the usual suspects"]
)
def test_remind_me_of_a_title_in_any_form_is_a_reference(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["The Usual Suspects (1995)"]
    assert st.constraints.query == ""


@pytest.mark.parametrize(
    ("second", "positions"),
    [("my parents saw the first two already", [1, 2]), ("the last 3 look dull", [-3, -2, -1])],
)
def test_the_first_or_last_few_of_the_list_are_those_items(
    vocab: CatalogVocab, second: str, positions: list[int]
) -> None:
    st, u = _run(vocab, "6 westerns", second)
    n = len(st.shown)
    assert sorted(r.position for r in u.items) == [p if p > 0 else n + p + 1 for p in positions]  # type: ignore[attr-defined]
    assert u.feedback  # type: ignore[attr-defined]


def test_top_n_without_feedback_is_still_a_count(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "6 westerns", "just give me your top 4")
    assert st.constraints.n == 4 and not u.items  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["nah, none of these", "we've watched them all", "these all seem meh"])
def test_turning_down_the_whole_list_is_about_every_shown_item(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "3 westerns", second)
    assert len(st.shown) > 2 and not u.clarify  # type: ignore[attr-defined]
    assert [r.position for r in u.items] == list(range(1, len(st.shown) + 1))  # type: ignore[attr-defined]


def test_not_having_seen_them_all_is_no_feedback(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "3 westerns", "i havent watched them all")
    assert not u.feedback  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["ive seen those, find me musicals", "nope, not these. show me musicals"])
def test_turning_down_the_list_then_asking_for_a_category_switches_to_it(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "3 westerns", second)
    assert st.constraints.include_categories == ["Musical"]


def test_asking_for_a_category_too_after_feedback_adds_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "3 westerns", "ive seen the second one, show me musicals too")
    assert sorted(st.constraints.include_categories) == ["Musical", "Western"]


@pytest.mark.parametrize("message", ["no musicals would be great", "westerns. and no war would be ideal"])
def test_a_refusal_followed_by_would_be_nice_leaves_the_category_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert "Musical" in st.constraints.exclude_categories or "War" in st.constraints.exclude_categories
    assert not {"Musical", "War"} & set(st.constraints.include_categories)


@pytest.mark.parametrize("message", ["got anything non-western?", "non musical films please"])
def test_non_before_a_category_leaves_it_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, len(st.constraints.exclude_categories), st.constraints.query) == (
        [],
        1,
        "",
    )


def test_non_before_other_words_is_no_refusal(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "some non-stop westerns")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], [])


@pytest.mark.parametrize("message", ["each one needs to be western and comedy", "they've gotta be crime and comedy"])
def test_what_each_item_must_be_asks_for_all_of_it(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert len(st.constraints.include_categories) == 2 and st.constraints.include_all


def test_what_they_may_be_with_or_is_any_of_them(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "they've gotta be crime or comedy")
    assert len(st.constraints.include_categories) == 2 and not st.constraints.include_all


@pytest.mark.parametrize("second", ["westerns too, we dont mind", "go ahead and show westerns"])
def test_permission_for_a_left_out_category_lifts_the_exclusion(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "comedies, no westerns", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Comedy"], [])


def test_a_category_after_a_near_article_is_no_near_miss_of_a_title(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "awesome! then war films please")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["War"], [])


def test_a_title_that_is_an_article_and_a_category_is_still_a_title(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "anything similar to the war?")
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["The War (1994)"]


@pytest.mark.parametrize("message", ["ive tried one of these apps before", "my sister has one of those"])
def test_one_of_these_as_a_thing_of_that_kind_is_no_count(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert st.constraints.n is None


def test_one_of_those_asked_for_is_still_a_count(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns", "just give me one of those")
    assert st.constraints.n == 1


@pytest.mark.parametrize("second", ["hmm, there's crime in the list. get rid of those", "crime too? neither of them"])
def test_a_refusal_of_those_after_a_category_said_of_the_list_leaves_it_out(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "no westerns", second)
    assert st.constraints.include_categories == [] and "Crime" in st.constraints.exclude_categories


@pytest.mark.parametrize(
    "message", ["hi chatbot, horror pls", "hullo mate, horror films asap", "horror films, and go easy on me im new"]
)
def test_greetings_and_what_people_ask_of_the_app_are_no_search_words(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.query) == (["Horror"], "")


@pytest.mark.parametrize("message", ["anything that resembles star wars", "films resembling star wars, but older"])
def test_resembling_a_title_is_a_reference(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert [vocab.label(i) for i in st.constraints.reference_item_ids] == ["Star Wars (1977)"]
    assert st.constraints.query == ""


@pytest.mark.parametrize(("second", "first_positions"), [("take the third one out please", [3]), ("take em off", None)])
def test_taking_shown_items_out_is_not_interested_in_them(
    vocab: CatalogVocab, second: str, first_positions: list[int] | None
) -> None:
    st, u = _run(vocab, "3 westerns", second)
    want = first_positions or list(range(1, len(st.shown) + 1))
    assert [r.position for r in u.items] == want  # type: ignore[attr-defined]
    assert {f.kind for f in u.feedback} == {FeedbackKind.NOT_INTERESTED}  # type: ignore[attr-defined]


def test_turning_down_the_list_then_x_instead_puts_x_in_its_place(vocab: CatalogVocab) -> None:
    st, u = _run(vocab, "6 westerns", "nah, none of these tempt me. comedies instead")
    assert st.constraints.include_categories == ["Comedy"] and not u.avoid_terms  # type: ignore[attr-defined]


@pytest.mark.parametrize("second", ["actually westerns are fine, you can remove that", "westerns are ok now, drop it"])
def test_allowing_a_category_again_then_drop_that_is_the_same_rule(vocab: CatalogVocab, second: str) -> None:
    st, u = _run(vocab, "comedies, no westerns", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Comedy"], [])
    assert not u.clarify and not u.feedback  # type: ignore[attr-defined]


@pytest.mark.parametrize("first", ["good morning :P", "Good morning =)"])
def test_a_greeting_before_a_smiley_is_no_title(vocab: CatalogVocab, first: str) -> None:
    st, _ = _run(vocab, first, "horror films please")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["Horror"], [])


@pytest.mark.parametrize("first", ["started using it today", "just downloaded the app!"])
def test_how_new_a_person_is_to_the_app_gives_no_search_words(vocab: CatalogVocab, first: str) -> None:
    st, _ = _run(vocab, first, "horror films pls")
    assert (st.constraints.include_categories, st.constraints.query) == (["Horror"], "")


@pytest.mark.parametrize(
    "message", ["westerns, but absolutely not musicals okay?", "westerns but never musicals fine?"]
)
def test_ok_after_a_refused_category_checks_the_refusal_was_heard(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], ["Musical"])


def test_ok_after_a_category_alone_still_allows_it(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns, no musicals", "musicals ok")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], [])


@pytest.mark.parametrize(
    "message", ["westerns or comedies... actually why not both?", "westerns or comedies? lets do both"]
)
def test_why_not_both_after_the_options_asks_for_all_of_them(vocab: CatalogVocab, message: str) -> None:
    st, u = _run(vocab, message)
    assert sorted(st.constraints.include_categories) == ["Comedy", "Western"] and st.constraints.include_all
    assert u.intent == Intent.RECOMMEND  # type: ignore[attr-defined]


def test_why_not_an_item_is_still_a_question_about_it(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "3 westerns", "why not the third one?")
    assert u.intent == Intent.EXPLAIN  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message", ["westerns up to 1980. No -- 1980 onwards, sorry", "westerns from 1980 or later. nope, 1980 or earlier!"]
)
def test_a_sentence_starting_no_and_a_dash_corrects_the_one_before(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    c = st.constraints
    assert c.include_categories == ["Western"] and (c.year_min is None) != (c.year_max is None)
    assert (c.year_min or c.year_max) == 1980


@pytest.mark.parametrize("second", ["20 of them, no wait, 12", "200 of those... whoops, typo, 12"])
def test_a_correction_that_is_a_bare_number_is_the_count(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns", second)
    assert (st.constraints.n, st.constraints.query) == (12, "")


@pytest.mark.parametrize("second", ["ugh, I got it backwards. I meant after 1980", "no, had it backwards - after 1980"])
def test_words_about_ones_own_slip_are_no_search_words(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns before 1980", second)
    assert (st.constraints.year_min, st.constraints.year_max, st.constraints.query) == (1981, None, "")


@pytest.mark.parametrize(
    ("second", "position"),
    [("the third one my sister saw last week", 3), ("we watched number 2 ages ago", 2), ("i saw the 1st one on tv", 1)],
)
def test_a_shown_item_someone_watched_told_as_a_story_is_not_interested(
    vocab: CatalogVocab, second: str, position: int
) -> None:
    _, u = _run(vocab, "4 westerns", second)
    assert [r.position for r in u.items] == [position]  # type: ignore[attr-defined]
    assert {f.kind for f in u.feedback} == {FeedbackKind.NOT_INTERESTED}  # type: ignore[attr-defined]


def test_watching_something_else_yesterday_is_no_feedback(vocab: CatalogVocab) -> None:
    _, u = _run(vocab, "4 westerns", "we watched the news yesterday, more westerns please")
    assert not u.feedback and not u.clarify  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "second",
    [
        "hmm, scrap that. stuff similar to fargo",
        "no wait, cancel that - movies like fargo instead",
        "ok forget it, something along the lines of fargo",
        "what about something like fargo instead?",
    ],
)
def test_a_title_asked_in_place_of_the_categories_replaces_them(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "musicals from the 1950s", second)
    c = st.constraints
    assert (c.include_categories, c.reference_item_ids) == ([], ["100"])


def test_a_title_instead_of_another_title_keeps_the_categories(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime films like heat", "something like fargo instead")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["Crime"], ["100"])


def test_a_title_asked_besides_the_categories_keeps_them(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime films", "but something like fargo")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["Crime"], ["100"])


def test_narrowing_down_to_a_title_keeps_the_categories(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "crime films", "ok now narrow that down to ones a little like fargo")
    assert (st.constraints.include_categories, st.constraints.reference_item_ids) == (["Crime"], ["100"])


@pytest.mark.parametrize(("message", "n"), [("6 western pls", 6), ("12 horror thx", 12), ("one western", None)])
def test_a_number_before_a_category_typed_without_the_plural_counts(
    vocab: CatalogVocab, message: str, n: int | None
) -> None:
    st, _ = _run(vocab, message)  # "one western" is the control: a list of one is asked with "just one"
    assert st.constraints.n == n and len(st.constraints.include_categories) == 1


@pytest.mark.parametrize("second", ["oops meant musical", "sry, meant musical", "ugh meant musical"])
def test_meant_without_a_subject_corrects_the_category(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "western", second)
    assert st.constraints.include_categories == ["Musical"]


@pytest.mark.parametrize(
    "message", ["westerns fine, musicals not okay", "western ok musical not ok", "westerns yes musicals not fine"]
)
def test_a_category_followed_by_not_ok_is_left_out(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], ["Musical"])


@pytest.mark.parametrize(
    ("second", "position"),
    [("the 4th one is what", 4), ("so number 2 is what exactly", 2), ("what exactly is the third", 3)],
)
def test_what_an_item_is_asked_the_other_way_round_describes_it(
    vocab: CatalogVocab, second: str, position: int
) -> None:
    _, u = _run(vocab, "5 westerns", second)
    assert u.intent == Intent.DESCRIBE and [r.position for r in u.items] == [position]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "second", ["never mind the categories, the 1980s are fine", "drop all the genres but keep it 80s"]
)
def test_dropping_the_genres_lifts_the_left_out_ones_too(vocab: CatalogVocab, second: str) -> None:
    st, _ = _run(vocab, "westerns from the 1980s without musicals", second)
    c = st.constraints
    assert (c.include_categories, c.exclude_categories, c.year_min, c.year_max) == ([], [], 1980, 1989)


def test_dropping_the_genres_keeps_a_category_left_out_again(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns without musicals", "drop the genres, still no musicals though")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], ["Musical"])


def test_dropping_the_genre_keeps_the_left_out_one(vocab: CatalogVocab) -> None:
    st, _ = _run(vocab, "westerns without musicals", "never mind the genre")
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == ([], ["Musical"])


@pytest.mark.parametrize(
    "second",
    [
        "ok we dont mind if its musical after all",
        "hmm its fine if theyre musicals",
        "wouldnt mind if they were musicals",
    ],
)
def test_not_minding_if_they_are_a_left_out_category_lets_it_back_without_asking_for_it(
    vocab: CatalogVocab, second: str
) -> None:
    st, _ = _run(vocab, "westerns but no musicals", second)
    assert (st.constraints.include_categories, st.constraints.exclude_categories) == (["Western"], [])


@pytest.mark.parametrize(
    "message",
    ["got westerns you could direct me to?", "widen it to every western you have", "pls point me to a western"],
)
def test_words_asking_to_be_guided_or_for_a_wider_list_are_no_search_words(vocab: CatalogVocab, message: str) -> None:
    st, _ = _run(vocab, message)
    assert (st.constraints.include_categories, st.constraints.query) == (["Western"], "")
