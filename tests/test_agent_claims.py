"""The claim checker: adversarial explanations are rejected claim by claim, true ones pass, and every
template text (new user, one session like, warm user) passes it. Real ml-100k catalog, no model."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from agent.claims import CLAIM_KINDS, ClaimChecker, ClaimKind, claim_vocab
from agent.config import LLMConfig
from agent.grounding import template_explanation
from agent.prompts import load_prompt
from agent.writer import ExplanationWriter, _prefill
from catalog.types import Item
from ranker.evidence import Evidence, HistoryAttribution, TrustReport
from tests.llm_helpers import dataset


@cache
def checker() -> ClaimChecker:
    return ClaimChecker(dataset().items)


@cache
def writer() -> ExplanationWriter:
    return ExplanationWriter(None, LLMConfig(), catalog=dataset().items)


def item(title: str) -> Item:
    """The catalog item titled ``title`` (ml-100k titles carry no year: 'Heat', 'Godfather, The')."""
    return next(it for it in dataset().items if it.title == title)


def trust(confidence: float = 0.42, profile_size: int = 0) -> TrustReport:
    return TrustReport(confidence=confidence, uncertainty=0.01, user_support=profile_size, item_support=10,
                       cold_start=profile_size < 5, fidelity=0.0, composite=0.5, profile_size=profile_size)  # fmt: skip


def evidence(rec: str, liked: list[str] | None = None, *, values: list[float] | None = None,
             session: bool = False, **kw: Any) -> Evidence:  # fmt: skip
    r = item(rec)
    liked = liked or []
    vals = values or [0.3 / (k + 1) for k in range(len(liked))]
    hist = [HistoryAttribution(item_id=item(t).item_id, title=item(t).title, value=v, session=session)
            for t, v in zip(liked, vals, strict=True)]  # fmt: skip
    kw.setdefault("trust", trust(profile_size=len(liked)))
    return Evidence(item_id=r.item_id, title=r.title, year=r.year, categories=list(r.categories), score=0.5,
                    base_value=0.0, history=hist, **kw)  # fmt: skip


def failed_kinds(text: str, ev: Evidence) -> set[ClaimKind]:
    v = checker().check(text, ev)
    assert v.ok == (not v.failures)
    return {c.kind for c in v.failures}


# ------------------------------------------------------------------------------ adversarial texts
def test_the_recommended_item_named_as_liked_by_a_new_user() -> None:
    # issue 12: a new user with NO history; Target is the recommended item itself
    ev = evidence("Target", [], popularity_rank=0.1)
    text = "Because you liked Target, you may enjoy Action, a 1995 drama for action fans."
    v = checker().check(text, ev)
    assert not v.ok
    assert any(c.kind == ClaimKind.LIKED and "recommended item" in c.why for c in v.failures), v.reasons
    assert any(c.kind == ClaimKind.RECOMMENDED_TITLE and "Action" in c.why for c in v.failures), v.reasons


def test_recommended_item_as_liked_even_when_others_are_liked() -> None:
    ev = evidence("Heat", ["Godfather, The", "Fargo"])
    assert ClaimKind.LIKED in failed_kinds("Because you liked Heat and Fargo, try Heat.", ev)


@pytest.mark.parametrize(
    ("rec", "liked", "text", "kinds"),
    [
        ("Heat", "Outbreak", "Because you liked Outbreak, a 1992 Western, you may enjoy Heat.",
         {ClaimKind.YEAR, ClaimKind.CATEGORY}),
        ("Heat", "Sleeper", "Because you liked Sleeper, a 1977 comedy, you may enjoy Heat.", {ClaimKind.YEAR}),
        ("Heat", "Sleeper", "Because you liked Sleeper, a 1973 comedy for crime, you may enjoy Heat.",
         {ClaimKind.CATEGORY}),
        ("Heat", "Outbreak", "Because you liked Outbreak (1994), you may enjoy Heat.", {ClaimKind.YEAR}),
        ("Heat", "Outbreak", "Because you liked the 80s thriller Outbreak, you may enjoy Heat.",
         {ClaimKind.DECADE}),
        # the right facts attached to the wrong title (appositives bind to the title they follow)
        ("Heat", "Fargo", "Because you liked Fargo, a 1995 action film, you may enjoy Heat, a 1996 crime drama.",
         {ClaimKind.YEAR, ClaimKind.CATEGORY}),
    ],
)  # fmt: skip
def test_a_liked_item_with_the_wrong_year_or_genre(rec: str, liked: str, text: str, kinds: set[ClaimKind]) -> None:
    ev = evidence(rec, [liked])
    assert kinds <= failed_kinds(text, ev)


@pytest.mark.parametrize(
    "audience", ["for women", "for adults", "for teenagers", "for couples", "for mature audiences"]
)
def test_invented_audiences_are_unverifiable(audience: str) -> None:
    ev = evidence("Heat", ["Sleeper"])
    text = f"Because you liked Sleeper, a 1973 comedy {audience}, you may enjoy Heat."
    assert ClaimKind.AUDIENCE in failed_kinds(text, ev)
    assert checker().check("Because you liked Sleeper, a 1973 comedy, you may enjoy Heat.", ev).ok


def test_family_audience_only_for_items_of_that_category() -> None:
    assert checker().check("Toy Story is a 1995 family comedy for kids.", evidence("Toy Story")).ok
    assert ClaimKind.CATEGORY in failed_kinds("Heat is a 1995 family thriller.", evidence("Heat"))
    assert ClaimKind.AUDIENCE in failed_kinds("Heat is a 1995 thriller for families.", evidence("Heat"))
    assert checker().check("Heat is a 1995 thriller for fans of crime.", evidence("Heat")).ok
    assert ClaimKind.CATEGORY in failed_kinds("Heat is for fans of comedy.", evidence("Heat"))


def test_a_title_swap_between_cards() -> None:
    a = evidence("Heat", ["Godfather, The"])
    b = evidence("Casino", ["GoodFellas"])
    text_b = "Because you liked GoodFellas, you may enjoy Casino, a 1995 drama."
    assert checker().check(text_b, b).ok
    assert {ClaimKind.LIKED, ClaimKind.RECOMMENDED_TITLE} <= failed_kinds(text_b, a)
    # roles swapped inside one card: both titles are in the evidence, but in the wrong roles
    assert {ClaimKind.LIKED, ClaimKind.RECOMMENDED_TITLE} <= failed_kinds(
        "Because you liked Heat, you may enjoy The Godfather.", a
    )


def test_a_liked_item_not_in_the_history_or_not_attributed() -> None:
    ev = evidence("Heat", ["Godfather, The", "Fargo"], values=[0.4, -0.2])
    assert ClaimKind.LIKED in failed_kinds("Because you liked Casino, you may enjoy Heat.", ev)
    assert ClaimKind.LIKED in failed_kinds("Because you liked Fargo, you may enjoy Heat.", ev)  # value <= 0
    assert ClaimKind.LIKED in failed_kinds("Because you liked Zorblax, you may enjoy Heat.", ev)  # no such title
    assert ClaimKind.SIMILAR in failed_kinds("Heat is similar to Casino.", ev)
    assert checker().check("Heat is similar to The Godfather.", ev).ok


def test_liked_categories_must_come_from_liked_items() -> None:
    ev = evidence("Heat", ["Godfather, The"])
    assert checker().check("Since you liked crime films, you may enjoy Heat.", ev).ok
    assert ClaimKind.LIKED_CATEGORY in failed_kinds("Since you liked westerns, you may enjoy Heat.", ev)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Heat is a 1995 thriller, one of 12 picks.", ClaimKind.NUMBER),
        ("Heat is a 1995 thriller; confidence 90%.", ClaimKind.CONFIDENCE),
        ("Heat is a 1995 thriller, 3 of 5 stars.", ClaimKind.NUMBER),
        ("Heat is a thriller from the 1980s.", ClaimKind.DECADE),
        ("Heat is a thriller from 1990-1994.", ClaimKind.YEAR_RANGE),
    ],
)
def test_numbers_that_do_not_occur(text: str, kind: ClaimKind) -> None:
    assert kind in failed_kinds(text, evidence("Heat", trust=trust(0.72)))


def test_confidence_percent_must_equal_the_calibrated_confidence() -> None:
    ev = evidence("Heat", trust=trust(0.72))
    assert checker().check("Heat is a 1995 thriller; confidence 72%.", ev).ok
    assert not checker().check("Heat is a 1995 thriller; confidence 72%.", evidence("Heat", trust=trust(0.5))).ok


@pytest.mark.parametrize(
    "text",
    [
        'Because you liked "THE GODFATHER", you may enjoy "heat", a 1995 crime thriller.',
        "because you liked the godfather, you may enjoy HEAT.",
        "Because you liked Godfather, The, you may enjoy Heat (1995).",
        "Because you liked The Godfather (1972), you may enjoy Heat, a 1990s action film.",
        "Because you liked 'The Godfather', Heat is a 90s crime thriller.",
    ],
)
def test_mixed_case_quoted_and_article_titles_pass(text: str) -> None:
    ev = evidence("Heat", ["Godfather, The"])
    v = checker().check(text, ev)
    assert v.ok, v.reasons
    assert any(c.kind == ClaimKind.LIKED and c.subject == "The Godfather" for c in v.claims)


def test_article_titles_are_still_checked() -> None:
    ev = evidence("Heat", ["Godfather, The"])
    assert ClaimKind.YEAR in failed_kinds("Because you liked THE GODFATHER (1974), you may enjoy Heat.", ev)
    assert ClaimKind.YEAR in failed_kinds("Because you liked Godfather, The, a 1974 drama, try Heat.", ev)


def test_titles_with_years_in_them() -> None:
    ev = evidence("Alien", ["2001: A Space Odyssey", "Apollo 13"])
    assert checker().check("Because you liked 2001: A Space Odyssey and Apollo 13, you may enjoy Alien (1979).", ev).ok
    assert ClaimKind.YEAR in failed_kinds("Because you liked 2001: A Space Odyssey (1970), try Alien.", ev)
    assert ClaimKind.YEAR in failed_kinds("Because you liked Apollo 13, you may enjoy Alien, a 1980 horror film.", ev)


@pytest.mark.parametrize("word", ["award-winning", "classic", "starring", "critically acclaimed", "hilarious"])
def test_unverifiable_claims_reject(word: str) -> None:
    assert ClaimKind.UNVERIFIABLE in failed_kinds(f"Heat is a {word} 1995 thriller.", evidence("Heat"))


def test_popularity_claims_need_the_popularity_rank() -> None:
    text = "Popular with viewers who like 90s comedies: Toy Story (1995)."
    assert checker().check(text, evidence("Toy Story", popularity_rank=0.95)).ok
    assert ClaimKind.POPULARITY in failed_kinds(text, evidence("Toy Story", popularity_rank=0.3))
    assert ClaimKind.POPULARITY in failed_kinds(text, evidence("Toy Story", popularity_rank=None))
    # the audience's taste must fit the item: Toy Story is no 1980s horror
    bad = "Popular with viewers who like 80s horror: Toy Story (1995)."
    assert {ClaimKind.DECADE, ClaimKind.CATEGORY} <= failed_kinds(bad, evidence("Toy Story", popularity_rank=0.95))
    assert ClaimKind.POPULARITY in failed_kinds(
        "Heat, a hit, is a 1995 thriller.", evidence("Heat", popularity_rank=0.2)
    )


def test_matches_must_equal_the_satisfied_constraints() -> None:
    ev = evidence("Toy Story", matches=["Comedy", "1990-1999"])
    assert checker().check("Toy Story (1995). Matches: Comedy, 1990-1999.", ev).ok
    assert ClaimKind.MATCHES in failed_kinds("Toy Story (1995). Matches: Comedy, Drama, 1990-1999.", ev)
    assert ClaimKind.MATCHES in failed_kinds("Toy Story (1995). Matches: Comedy.", ev)
    assert ClaimKind.PHRASE in failed_kinds("Toy Story matches what you asked for.", evidence("Toy Story"))


def test_first_like_needs_a_single_session_like() -> None:
    text = "Because you liked Fargo (your first like): Heat (1995)."
    assert checker().check(text, evidence("Heat", ["Fargo"], session=True, trust=trust(profile_size=1))).ok
    assert ClaimKind.PHRASE in failed_kinds(text, evidence("Heat", ["Fargo"], session=False))
    warm = evidence("Heat", ["Fargo", "Godfather, The"], session=True, trust=trust(profile_size=40))
    assert ClaimKind.PHRASE in failed_kinds(text, warm)


def test_negated_claims_are_not_verified_so_they_reject() -> None:
    # seen from the embedded LLM: "popular" holds, "may not be popular" does not
    ev = evidence("Alien", popularity_rank=0.95)
    assert checker().check("Alien is a popular 1979 thriller.", ev).ok
    assert ClaimKind.UNVERIFIABLE in failed_kinds("Alien is a 1979 thriller, but it may not be popular.", ev)
    assert ClaimKind.UNVERIFIABLE in failed_kinds("Alien isn't a comedy.", ev)
    # a constraint list may say what the item is not
    assert (
        checker()
        .check("Alien (1979). Matches: Thriller, no Comedy.", evidence("Alien", matches=["Thriller", "no Comedy"]))
        .ok
    )


def test_the_recommended_item_called_your_favorite() -> None:
    ev = evidence("Alien", ["Aliens"])
    assert ClaimKind.LIKED in failed_kinds("Alien may be your favorite.", ev)
    assert checker().check("Aliens is your favorite, so you may enjoy Alien, a 1979 horror film.", ev).ok
    assert ClaimKind.LIKED in failed_kinds("Heat is your favorite, so try Alien.", evidence("Alien", ["Aliens"]))


def test_a_second_title_in_the_recommended_slot() -> None:
    # seen from the embedded LLM: 'you may enjoy "Diva" and "The Aristocats"' on Diva's card
    ev = evidence("Diva", ["Aristocats, The"])
    assert ClaimKind.RECOMMENDED_TITLE in failed_kinds(
        'Because you liked The Aristocats, you may enjoy "Diva" and "The Aristocats".', ev
    )
    assert checker().check("Because you liked The Aristocats, you may enjoy Diva.", ev).ok


@pytest.mark.parametrize(
    "text",
    [
        "Because you liked Cop Land, you may enjoy Wonderland, a 1997 documentary about a vacation.",
        "Wonderland is a 1997 documentary featuring a family.",
        "Wonderland is a 1997 documentary for young people.",
        "Wonderland is a 1997 documentary for curious viewers.",
    ],
)
def test_plot_and_invented_audience_phrases_reject(text: str) -> None:
    # seen from the embedded LLM: "about a vacation", "for young people"
    ev = evidence("Wonderland", ["Cop Land"])
    v = checker().check(text, ev)
    assert not v.ok and {c.kind for c in v.failures} & {ClaimKind.UNVERIFIABLE, ClaimKind.AUDIENCE}
    assert checker().check("Wonderland is a 1997 documentary for documentary fans.", ev).ok


def test_feature_phrases_need_their_attribution() -> None:
    text = "Because you liked Fargo, you may enjoy Heat. Also, people with similar taste liked it."
    assert checker().check(text, evidence("Heat", ["Fargo"], features={"collaborative": 0.2})).ok
    assert ClaimKind.PHRASE in failed_kinds(text, evidence("Heat", ["Fargo"], features={"collaborative": -0.1}))


# ------------------------------------------------------------------------------ true sentences pass
@pytest.mark.parametrize(
    "text",
    [
        "Because you liked Die Hard and The Fugitive, you may enjoy Heat, a 1995 action crime thriller.",
        "Because you liked The Fugitive, a 1993 action thriller, you may enjoy Heat.",
        "Fans of Die Hard may enjoy Heat, a 1995 crime thriller.",
        "Heat (1995) is an action crime thriller, similar to Die Hard.",
        "Since you enjoyed Die Hard (1988), try this 1990s thriller.",
        "Popular with viewers who like 1990s thrillers: Heat (1995) is listed under Action, Crime and Thriller.",
        "Heat is a popular 1995 thriller; confidence 72%.",
    ],
)
def test_true_sentences_pass(text: str) -> None:
    ev = evidence("Heat", ["Die Hard", "Fugitive, The"], popularity_rank=0.9, trust=trust(0.72, 30))
    v = checker().check(text, ev)
    assert v.ok, v.reasons
    assert v.claims, "a true sentence still makes claims"


def test_the_old_cold_start_template_is_caught() -> None:
    # what the old template said for a history whose items all pulled the score down
    ev = evidence("Heat", ["Fargo"], values=[-0.3])
    assert ClaimKind.LIKED in failed_kinds(
        "Recommended because you liked Fargo: Heat (1995) is listed under Action.", ev
    )
    assert "because you liked" not in template_explanation(ev).lower()


# ------------------------------------------------------------------------------ templates and the writer
def test_cold_start_templates_say_what_is_true() -> None:
    ev = evidence("Toy Story", popularity_rank=0.95, matches=["Comedy", "1990-1999"])
    text = template_explanation(ev)
    # popularity is measured over everyone: the text names no audience ("with fans of Comedy") it was not measured in
    assert text.startswith("Popular: Toy Story (1995)") and "Matches: Comedy, 1990-1999" in text
    obscure = evidence("Toy Story", popularity_rank=0.2, matches=["Comedy", "1990-1999"])
    assert "popular" not in template_explanation(obscure).lower()
    assert "Matches: Comedy, 1990-1999." in template_explanation(obscure)
    first = template_explanation(evidence("Heat", ["Fargo"], session=True, trust=trust(profile_size=1)))
    assert first.startswith("Because you liked Fargo (your first like)")
    for e in (ev, obscure):
        assert "because you liked" not in template_explanation(e).lower()


def test_prefill_never_starts_with_a_like_without_a_positive_attribution() -> None:
    assert _prefill(evidence("Heat")) == ""
    assert _prefill(evidence("Heat", ["Fargo"], values=[-0.2])) == ""
    assert _prefill(evidence("Heat", ["Fargo"])) == "Because you liked Fargo,"


def _history_strategy() -> st.SearchStrategy[tuple[str, list[tuple[int, float]]]]:
    n = len(dataset().items)
    idx = st.integers(0, n - 1)
    empty = st.just(("empty", []))
    one = st.tuples(idx, st.floats(-0.5, 0.5)).map(lambda x: ("session", [x]))
    warm = st.lists(st.tuples(idx, st.floats(-0.5, 0.5)), min_size=1, max_size=5).map(lambda x: ("warm", x))
    return st.one_of(empty, one, warm)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rec=st.integers(0, 1681),
    hist=_history_strategy(),
    popularity=st.one_of(st.none(), st.floats(0, 1)),
    features=st.dictionaries(st.sampled_from(["collaborative", "text", "attributes", "popularity", "session",
                                              "two_tower"]), st.floats(-1, 1), max_size=4),
    match_cats=st.integers(0, 2),
    ranged=st.booleans(),
    confidence=st.floats(0, 1),
)  # fmt: skip
def test_property_every_template_passes_the_checker(
    rec: int, hist: tuple[str, list[tuple[int, float]]], popularity: float | None, features: dict[str, float],
    match_cats: int, ranged: bool, confidence: float,
) -> None:  # fmt: skip
    items = dataset().items
    r = items[rec]
    kind, rows = hist
    rows = [(i, v) for i, v in rows if items[i].item_id != r.item_id]
    history = [HistoryAttribution(item_id=items[i].item_id, title=items[i].title, value=v, session=kind == "session")
               for i, v in dict(rows).items()]  # fmt: skip
    matches = list(r.categories[:match_cats])
    if ranged and r.year is not None:
        matches.append(f"{r.year // 10 * 10}-{r.year // 10 * 10 + 9}")
    ev = Evidence(item_id=r.item_id, title=r.title, year=r.year, categories=list(r.categories), score=0.1,
                  base_value=0.0, history=history, features=features, matches=matches, popularity_rank=popularity,
                  trust=trust(confidence, sum(h.value > 0 for h in history)))  # fmt: skip
    text = template_explanation(ev)
    v = checker().check(text, ev)
    assert v.ok, (text, v.reasons)
    ok, _, why = writer().verify(text, ev)
    assert ok, (text, why)
    if not any(h.value > 0 for h in history):
        assert "you liked" not in text.lower()
    x = writer().write(ev)
    assert x.writer == "template" and x.verified and x.grounded and x.text == text


class Scripted(GenericFakeChatModel):
    """A chat model that answers from a list (the writer's LLM edge)."""


def _scripted(texts: list[str]) -> Scripted:
    it: Iterator[AIMessage] = iter([AIMessage(content=t) for t in texts])
    return Scripted(messages=it)


def test_writer_rejects_a_false_llm_text_and_regenerates() -> None:
    ev = evidence("Heat", ["Outbreak"])
    false = "Because you liked Outbreak, a 1992 Western, you may enjoy Heat."
    true = "Because you liked Outbreak, you may enjoy Heat, a 1995 crime thriller."
    w = ExplanationWriter(_scripted([false, true]), LLMConfig(grounding_retries=1), catalog=dataset().items,
                          style="chat")  # fmt: skip
    x = w.write(ev)
    assert x.writer == "llm" and x.text == true and x.verified and x.attempts == 2 and not x.first_try_grounded
    assert x.rejected == [false] and any("1992" in r for r in x.reasons)
    assert x.prompt_version == load_prompt("explain", "chat").version


def test_writer_falls_back_to_a_verified_template() -> None:
    ev = evidence("Target", [], popularity_rank=0.05)
    false = "Because you liked Target, you may enjoy Action, a 1995 drama for action fans."
    w = ExplanationWriter(_scripted([false, false]), LLMConfig(grounding_retries=1), catalog=dataset().items,
                          style="chat")  # fmt: skip
    x = w.write(ev)
    assert x.writer == "template" and x.verified and x.grounded and x.rejected == [false, false]
    assert "liked" not in x.text.lower()
    assert checker().check(x.text, ev).ok


def test_writer_with_titles_only_still_checks_roles() -> None:
    w = ExplanationWriter(None, LLMConfig(), catalog_titles=[it.title for it in dataset().items])
    ev = evidence("Heat", ["Outbreak"])
    assert not w.verify("Because you liked Heat, you may enjoy Outbreak.", ev)[0]
    assert w.verify("Because you liked Outbreak, you may enjoy Heat, a 1995 thriller.", ev)[0]
    assert w.write(ev).verified


def test_claim_kinds_are_data_and_vocabulary_loads() -> None:
    assert set(CLAIM_KINDS) == set(ClaimKind)
    v = claim_vocab()
    assert v.version.startswith("claims/") and 0 < v.min_popularity_rank <= 1
    assert ("you", "liked") in v.liked and ("women",) in v.bad_audiences


# --------------------------------------------------------------------------- "something like X"
def _asked_for(rec: str, ref: str) -> Evidence:
    ev = evidence(rec, [ref], session=False)
    ev.history[0].reference = True
    return ev


def test_an_item_asked_about_is_not_a_like() -> None:
    ev = _asked_for("Heat", "Godfather, The")
    assert ClaimKind.LIKED in failed_kinds("Because you liked The Godfather, you may enjoy Heat.", ev)
    assert ClaimKind.LIKED in failed_kinds("The Godfather is your favorite, so try Heat.", ev)
    # asking for something like it makes it the similar item, truthfully
    assert checker().check("Similar to The Godfather, as you asked: Heat.", ev).ok
    text = template_explanation(ev)
    assert "liked" not in text.lower() and "The Godfather" in text
    assert checker().check(text, ev).ok
    assert not _prefill(ev).startswith("Because you liked")


def test_as_you_asked_needs_an_item_asked_about() -> None:
    ev = evidence("Heat", ["Godfather, The"], session=True)
    assert not checker().check("Similar to The Godfather, as you asked: Heat.", ev).ok
