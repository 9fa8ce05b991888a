"""Issue 16: explanations in Chinese. The templates say in Chinese what the English ones say (wording
from agent/data/lang/explain-zh.yaml, categories through the domain file's Chinese words), and the claim
checker and the grounding guard hold a Chinese sentence to the same rules: false ones are caught, true
ones pass. Real ml-100k catalog, no model (a scripted chat model at the process edge)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from agent.claims import ClaimKind
from agent.config import LLMConfig
from agent.grounding import template_explanation
from agent.understanding.lexicon import lexicon
from agent.wording import cjk_share, in_language, wording
from agent.writer import ExplanationWriter
from ranker.evidence import Evidence, HistoryAttribution
from tests.llm_helpers import dataset
from tests.test_agent_claims import evidence, trust

ZH = wording("zh")


@cache
def writer(llm: Any = None) -> ExplanationWriter:
    return ExplanationWriter(llm, LLMConfig(), catalog=dataset().items, lexicon=lexicon("ml-100k"))


def zh(ev: Evidence) -> str:
    return template_explanation(ev, "zh", lambda c: lexicon("ml-100k").label(c, "zh"))


def failed(text: str, ev: Evidence) -> set[ClaimKind]:
    """The claim kinds that fail in a Chinese ``text`` (read back into English first)."""
    v = writer().checker.check(ZH.canonical(text), ev)
    return {c.kind for c in v.failures}


def verified(text: str, ev: Evidence) -> bool:
    return writer().verify(text, ev, "zh")[0]


# ------------------------------------------------------------------------------ the templates in Chinese
def test_a_warm_template_in_chinese_names_liked_titles_and_chinese_categories() -> None:
    ev = evidence("Heat", ["Die Hard", "Fugitive, The"], features={"collaborative": 0.2})
    text = zh(ev)
    assert text == ("因为你喜欢《Die Hard》和《The Fugitive》，为你推荐《Heat》（1995），它属于动作、犯罪和惊悚。"
                    "另外，口味相似的人也喜欢它。"), text  # fmt: skip
    assert cjk_share(text, ["Die Hard", "The Fugitive", "Heat"]) == 1.0
    # what the checker reads: the English template's claims
    assert ZH.canonical(text) == (
        "Because you liked Die Hard and The Fugitive, recommended Heat (1995), it is listed under Action, Crime and "
        "Thriller. Also, people with similar taste liked it."
    )
    x = writer().template(ev, "zh")
    assert x.text == text and x.verified and x.grounded
    # English is unchanged
    assert writer().template(ev).text == (
        "Recommended because you liked Die Hard and The Fugitive: Heat (1995) is listed under Action, Crime and "
        "Thriller. Also, people with similar taste liked it."
    )


def test_cold_start_popular_and_matches_in_chinese() -> None:
    ev = evidence("Toy Story", [], popularity_rank=0.95, matches=["Comedy", "1990-1999"])
    text = zh(ev)
    assert text == "热门：《Toy Story》（1995），它属于动画、儿童和喜剧。符合：喜剧、1990-1999。", text
    assert "liked" not in ZH.canonical(text) and verified(text, ev)
    ev = evidence("Toy Story", [], popularity_rank=0.1, matches=["1990 or later"])
    text = zh(ev)
    assert text.startswith("推荐：《Toy Story》") and text.endswith("符合：1990年及以后。") and "热门" not in text
    assert verified(text, ev)


def test_behaviour_verbs_in_chinese() -> None:
    ev = evidence("Heat", ["Die Hard", "Fargo"])
    ev.history[0].behaviour, ev.history[1].behaviour = "purchase", "cart"
    text = zh(ev)
    assert text.startswith("因为你购买了《Die Hard》，将《Fargo》加入了购物车，为你推荐《Heat》"), text
    assert verified(text, ev), writer().verify(text, ev, "zh")
    assert ZH.canonical(text).startswith("Because you bought Die Hard, added to your cart Fargo, recommended Heat")
    ev.history[0].behaviour, ev.history[1].behaviour = "view", "click"
    text = zh(ev)
    assert text.startswith("因为你浏览了《Die Hard》，点击了《Fargo》，为你推荐《Heat》"), text
    assert verified(text, ev)
    ev.history[0].behaviour = ev.history[1].behaviour = "rating"  # ratings say 喜欢
    assert zh(ev).startswith("因为你喜欢《Die Hard》和《Fargo》，"), zh(ev)
    # a behaviour verb is a liked claim: a title that is no positive history item fails
    assert ClaimKind.LIKED in failed("因为你购买了《Outbreak》，为你推荐《Heat》。", ev)


def test_a_session_like_and_an_item_asked_about_in_chinese() -> None:
    ev = evidence("Heat", ["Die Hard"], session=True, trust=trust(profile_size=1))
    text = zh(ev)
    assert "（你的第一个赞）" in text and verified(text, ev)
    ev = evidence("Heat", ["Godfather, The"])
    ev.history[0].reference = True
    text = zh(ev)
    assert text.startswith("类似《The Godfather》，正如你所要求：《Heat》") and "喜欢" not in text
    assert verified(text, ev)


# ------------------------------------------------------------------------------ false Chinese sentences
@pytest.mark.parametrize(
    ("rec", "liked", "text", "kind"),
    [
        # the recommended item itself called liked (issue 12's sentence, in Chinese)
        ("Target", [], "因为你喜欢《Target》，为你推荐《Target》（1996）。", ClaimKind.LIKED),
        # a title that is not in the history
        ("Heat", ["Outbreak"], "因为你喜欢《Fargo》，为你推荐《Heat》（1995）。", ClaimKind.LIKED),
        # bought: the same liked check
        ("Heat", ["Outbreak"], "因为你购买了《Fargo》，为你推荐《Heat》。", ClaimKind.LIKED),
        # wrong year of the recommended item
        ("Heat", ["Outbreak"], "因为你喜欢《Outbreak》，为你推荐《Heat》（1992）。", ClaimKind.YEAR),
        # wrong category, in the domain file's Chinese word
        ("Heat", ["Outbreak"], "因为你喜欢《Outbreak》，为你推荐《Heat》（1995），它属于西部。", ClaimKind.CATEGORY),
        ("Heat", ["Outbreak"], "为你推荐《Heat》，一部喜剧片。", ClaimKind.CATEGORY),
        # popular without the popularity rank
        ("Heat", [], "热门：《Heat》（1995），它属于动作、犯罪和惊悚。", ClaimKind.POPULARITY),
        # matches that are not the satisfied constraints
        ("Heat", [], "推荐：《Heat》（1995）。符合：喜剧。", ClaimKind.MATCHES),
        # a wrong decade
        ("Heat", [], "为你推荐《Heat》，一部1980年代的电影。", ClaimKind.DECADE),
        # claims no evidence carries: awards, directors, negations
        ("Heat", [], "为你推荐《Heat》，一部获奖影片。", ClaimKind.UNVERIFIABLE),
        ("Heat", [], "为你推荐《Heat》，导演很有名。", ClaimKind.UNVERIFIABLE),
        ("Heat", [], "《Heat》不是喜剧。", ClaimKind.UNVERIFIABLE),
        # your first like, when it was not
        ("Heat", ["Outbreak"], "因为你喜欢《Outbreak》（你的第一个赞），为你推荐《Heat》。", ClaimKind.PHRASE),
    ],
)
def test_a_false_chinese_sentence_is_caught(rec: str, liked: list[str], text: str, kind: ClaimKind) -> None:
    ev = evidence(rec, liked, popularity_rank=0.1)
    assert kind in failed(text, ev), (ZH.canonical(text), writer().checker.check(ZH.canonical(text), ev).reasons)
    assert not verified(text, ev)


@pytest.mark.parametrize(
    "text",
    [
        "因为你喜欢《Outbreak》，为你推荐《Heat》（1995），它属于动作、犯罪和惊悚。",
        "因为你喜欢《Outbreak》，你可能会喜欢《Heat》，一部1995年的犯罪惊悚片。",
        "《Heat》（1995）属于动作和犯罪，因为你喜欢《Outbreak》。",
        "因为你喜欢《Outbreak》，为你推荐一部九十年代的动作片《Heat》。",
    ],
)
def test_true_chinese_sentences_pass(text: str) -> None:
    ev = evidence("Heat", ["Outbreak"], popularity_rank=0.1)
    assert verified(text, ev), writer().verify(text, ev, "zh")


def test_the_guard_reads_chinese_too() -> None:
    ev = evidence("Heat", ["Outbreak"])
    # a title that is in the catalog but not in the evidence
    ok, _, why = writer().verify("因为你喜欢《Outbreak》，为你推荐《Heat》和《Toy Story》。", ev, "zh")
    assert not ok and any("Toy Story" in r or "toy story" in r for r in why), why
    # three sentences (Chinese full stops count)
    ok, _, why = writer().verify("因为你喜欢《Outbreak》。为你推荐《Heat》。它属于动作。", ev, "zh")
    assert not ok and any("sentences" in r for r in why), why
    # the required top liked title is missing
    ok, _, why = writer().verify("为你推荐《Heat》（1995）。", ev, "zh")
    assert not ok and any("Outbreak" in r for r in why), why


def test_a_text_in_the_wrong_language_is_rejected() -> None:
    ev = evidence("Heat", ["Outbreak"])
    english = "Because you liked Outbreak, you may enjoy Heat, a 1995 crime thriller."
    assert writer().verify(english, ev)[0] and not writer().verify(english, ev, "zh")[0]
    chinese = "因为你喜欢《Outbreak》，为你推荐《Heat》（1995）。"
    assert writer().verify(chinese, ev, "zh")[0] and not writer().verify(chinese, ev, "en")[0]
    assert in_language(chinese, "zh", ["Outbreak", "Heat"]) and not in_language(english, "zh")


# ------------------------------------------------------------------------------ every template passes
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rec=st.integers(0, 1681),
    rows=st.lists(st.tuples(st.integers(0, 1681), st.floats(-0.5, 0.5)), max_size=4),
    session=st.booleans(),
    behaviours=st.lists(st.sampled_from([None, "purchase", "cart", "click", "view", "rating"]), min_size=4,
                        max_size=4),
    popularity=st.one_of(st.none(), st.floats(0, 1)),
    features=st.dictionaries(st.sampled_from(["collaborative", "text", "attributes", "popularity", "session"]),
                             st.floats(-1, 1), max_size=3),
    match_cats=st.integers(0, 2),
    ranged=st.sampled_from(["", "range", "from", "to"]),
)  # fmt: skip
def test_property_every_chinese_template_is_chinese_and_passes_the_checks(
    rec: int, rows: list[tuple[int, float]], session: bool, behaviours: list[str | None], popularity: float | None,
    features: dict[str, float], match_cats: int, ranged: str,
) -> None:  # fmt: skip
    items = dataset().items
    r = items[rec]
    rows = [(i, v) for i, v in rows if items[i].item_id != r.item_id]
    history = [
        HistoryAttribution(item_id=items[i].item_id, title=items[i].title, value=v, session=session,
                           behaviour=None if session else b)
        for (i, v), b in zip(dict(rows).items(), behaviours, strict=False)
    ]  # fmt: skip
    matches = list(r.categories[:match_cats])
    if ranged and r.year is not None:
        lo = r.year // 10 * 10
        matches.append({"range": f"{lo}-{lo + 9}", "from": f"{lo} or later", "to": f"{lo + 9} or earlier"}[ranged])
    ev = Evidence(item_id=r.item_id, title=r.title, year=r.year, categories=list(r.categories), score=0.1,
                  base_value=0.0, history=history, features=features, matches=matches, popularity_rank=popularity,
                  trust=trust(0.5, sum(h.value > 0 for h in history)))  # fmt: skip
    x = writer().template(ev, "zh")
    assert x.verified and x.grounded, (x.text, ZH.canonical(x.text), x.claim_failures)
    assert in_language(x.text, "zh", writer()._titles(ev)), x.text
    assert x.text == zh(ev)  # the checked text is the template's, not the bare fallback
    if not any(h.value > 0 and not h.reference for h in history):
        assert "liked" not in ZH.canonical(x.text)


# ------------------------------------------------------------------------------ the LLM path
class Scripted(GenericFakeChatModel):
    """A chat model that answers from a list (the writer's LLM edge)."""


def _scripted(texts: list[str]) -> Scripted:
    it: Iterator[AIMessage] = iter([AIMessage(content=t) for t in texts])
    return Scripted(messages=it)


def test_llm_text_in_a_chinese_turn_must_be_chinese_and_true() -> None:
    ev = evidence("Heat", ["Outbreak"])
    english = "Because you liked Outbreak, you may enjoy Heat, a 1995 crime thriller."
    false = "因为你喜欢《Outbreak》，为你推荐《Heat》（1992），一部西部片。"
    w = ExplanationWriter(_scripted([english, false]), LLMConfig(grounding_retries=1), catalog=dataset().items,
                          style="chat", lexicon=lexicon("ml-100k"))  # fmt: skip
    x = w.write(ev, "zh")
    assert x.writer == "template" and x.text == zh(ev) and x.rejected == [english, false]
    assert any("language" in r for r in x.reasons) and any("1992" in r for r in x.reasons), x.reasons
    true = "因为你喜欢《Outbreak》，你可能会喜欢《Heat》，一部1995年的犯罪惊悚片。"
    w = ExplanationWriter(_scripted([true]), LLMConfig(grounding_retries=0), catalog=dataset().items, style="chat",
                          lexicon=lexicon("ml-100k"))  # fmt: skip
    x = w.write(ev, "zh")
    assert x.writer == "llm" and x.text == true and x.verified


def test_the_prompt_carries_the_language() -> None:
    ev = evidence("Heat", ["Outbreak"])
    for style in ("chat", "fewshot"):
        w = ExplanationWriter(None, LLMConfig(), catalog=dataset().items, style=style)
        zh_msgs, _ = w._messages(ev, "zh")
        en_msgs, _ = w._messages(ev, "en")
        assert "Chinese" in str(zh_msgs[0].content) and "Chinese" not in str(en_msgs[0].content)


def test_the_embedded_few_shot_prompt_is_not_asked_for_chinese() -> None:
    """The few-shot prompt's examples are English (``languages: [en]``): a Chinese turn shows the checked
    Chinese template without asking the base model; an English turn still asks it."""
    ev = evidence("Heat", ["Outbreak"])
    true = "you may enjoy Heat, a 1995 crime thriller."  # after the prefill "Because you liked Outbreak,"
    w = ExplanationWriter(_scripted([true]), LLMConfig(grounding_retries=0), catalog=dataset().items,
                          style="fewshot", lexicon=lexicon("ml-100k"))  # fmt: skip
    assert w.prompt.languages == ("en",) and not w.writes("zh") and w.writes("en")
    x = w.write(ev, "zh")
    assert x.writer == "template" and x.attempts == 0 and x.text == zh(ev) and x.verified
    assert [y.text for y in w.write_many([ev, ev], "zh")] == [zh(ev), zh(ev)]
    x = w.write(ev, "en")  # the scripted answer is still there: nothing was asked for the Chinese turns
    assert x.writer == "llm" and x.attempts == 1


def test_the_trust_basis_in_chinese_follows_the_english_rules() -> None:
    from ranker.explain import basis_words

    ev = evidence("Heat", ["Die Hard", "Fargo"], features={"collaborative": 0.3, "text": 0.1, "popularity": -0.2})
    en = basis_words(ev.history, ev.features, 2)
    said = ZH.basis(ev.history, ev.features, 2)
    assert en == [
        "your interest in Die Hard",
        "what people with similar taste chose",
        "how its text resembles what you liked",
    ]
    assert said == ["你对《Die Hard》的兴趣", "口味相似的人的选择", "它的文字与你喜欢的内容的相似度"]
    ev.history[0].session = True
    assert ZH.basis(ev.history, {}, 1) == ["你喜欢《Die Hard》（你的第一个赞）"]
    ev.history[0].reference = True
    assert ZH.basis(ev.history, {}, 0) == ["还不了解你", "你想要类似《Die Hard》的"]
    assert wording("en").basis(ev.history, {}, 0) is None  # English keeps the ranker's words
