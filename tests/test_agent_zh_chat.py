"""Issue 16 end to end: a Chinese chat turn through the real Recommender (guided mode, templates, no LLM)
shows cards whose explanations are Chinese and true, for a new person (cold start) and for user 196 (a
history) on ml-100k, and for a shop user whose history holds purchases and views (behaviour verbs).
Every shown text is re-checked here with a fresh claim checker through its English reading."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.claims import ClaimChecker
from agent.grounding import display_title
from agent.wording import in_language, wording
from tests.ui_helpers import shared_recommender

ZH = wording("zh")
VERBS = ("购买了", "浏览了", "点击了", "加入了购物车")


def sid() -> str:
    return f"zh-{uuid.uuid4().hex[:12]}"


def _titles(card: Any) -> list[str]:
    """Names that stay as the catalog spells them: titles and categories (a shop's have no Chinese words)."""
    out = [card.title, *(h.title for h in card.history)]
    return [*out, *(display_title(t) for t in out), *card.categories]


def check_chinese_cards(rec: Any, reply: Any, session_id: str) -> None:
    """Every card's explanation is Chinese, written by the template, and every claim of it holds against the
    evidence the turn computed (read from the session's checkpoint, as ``trustrec eval faithfulness`` does)."""
    from evals.faithfulness import _turn_evidence

    assert reply.cards, reply.text
    checker = ClaimChecker(rec.engine.dataset.items)
    evidence = _turn_evidence(rec, session_id)
    for c in reply.cards:
        assert c.writer == "template" and c.grounded, c
        assert in_language(c.explanation, "zh", _titles(c)), c.explanation
        assert "Recommended" not in c.explanation and "listed under" not in c.explanation, c.explanation
        v = checker.check(ZH.canonical(c.explanation), evidence[c.item_id])
        assert v.ok, (c.explanation, ZH.canonical(c.explanation), v.reasons)
        # the trust basis (what the card says the recommendation rests on) is Chinese too
        assert c.trust is not None and c.trust.basis, c
        assert all(in_language(b, "zh", _titles(c)) for b in c.trust.basis), c.trust.basis
    assert reply.text.splitlines()[0] and all(line for line in reply.text.splitlines())


def test_a_new_person_gets_chinese_explanations() -> None:
    rec = shared_recommender()
    s = sid()
    r = rec.chat(s, "推荐5部九十年代的喜剧")
    check_chinese_cards(rec, r, s)
    assert all("Comedy" in c.categories for c in r.cards)
    for c in r.cards:  # nothing is known yet: no liked claim; the categories in the domain file's words
        assert "喜欢《" not in c.explanation and "喜剧" in c.explanation, c.explanation
        assert c.explanation.startswith(("热门：《", "推荐：《")), c.explanation
        assert "符合：喜剧、1990-1999。" in c.explanation, c.explanation
    # the onboarding offer that follows is Chinese too
    assert "第一次来" in r.text and "New here" not in r.text, r.text


def test_user_196_gets_chinese_explanations_naming_liked_titles() -> None:
    rec = shared_recommender()
    s = sid()
    r = rec.chat(s, "推荐5部电影", user_id="196")
    check_chinese_cards(rec, r, s)
    liked = [c for c in r.cards if any(h.value > 0 and not h.reference for h in c.history)]
    assert liked, [c.explanation for c in r.cards]
    for c in liked:
        top = max((h for h in c.history if h.value > 0 and not h.reference), key=lambda h: h.value)
        assert c.explanation.startswith("因为你喜欢《"), c.explanation
        assert f"《{display_title(top.title)}》" in c.explanation, (c.explanation, top.title)
    # the same person in English: unchanged English templates
    r_en = rec.chat(sid(), "recommend 5 movies", user_id="196")
    assert all(c.explanation.startswith(("Recommended because you liked", "Because you liked")) for c in r_en.cards
               if any(h.value > 0 and not h.reference for h in c.history))  # fmt: skip
    assert all(in_language(c.explanation, "en", _titles(c)) for c in r_en.cards)


@pytest.fixture(scope="module")
def shop() -> Iterator[Any]:
    from agent.recommender import Recommender
    from catalog import Workspace
    from catalog.config import SHARED_PARTS, isolated_workspace

    real = Workspace().models.resolve().parent
    home = isolated_workspace(real, Path(tempfile.mkdtemp(prefix="trustrec-shop-zh-")), (*SHARED_PARTS, "datasets"))
    r = Recommender.from_config({"home": str(home), "data": {"dataset": "synthetic-shop"}}, llm=None)
    yield r
    r.close()
    shutil.rmtree(home, ignore_errors=True)


def test_a_shop_user_gets_chinese_behaviour_verbs(shop: Any) -> None:
    ds = shop.engine.dataset
    df = ds.interactions
    kinds = df.groupby("user_id")["kind"].agg(lambda k: set(k.astype(str)))
    users = [u for u, k in kinds.items() if {"purchase", "view"} <= k][:8]
    assert users, "the synthetic shop has users with purchases and views"
    said: list[str] = []
    for uid in users:
        s = sid()
        r = shop.chat(s, "推荐5个商品", user_id=uid)
        check_chinese_cards(shop, r, s)
        said += [c.explanation for c in r.cards]
        if any(v in x for x in said for v in ("购买了", "浏览了")):
            break
    assert any(v in x for x in said for v in VERBS), said
    assert not any(w in x for x in said for w in ("bought", "viewed", "clicked")), said
