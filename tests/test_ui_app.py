"""The Gradio app: escaping of every rendered text, gradio_client against a launched server, and
Gradio's file routes refusing paths outside the app."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.reliability_http import file_route_paths
from tests.ui_helpers import running_server, shared_recommender

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _card(**kw: Any) -> dict[str, Any]:
    base = {
        "position": 1, "item_id": "1", "title": "Toy Story", "year": 1995, "categories": ["Comedy"],
        "description": "", "score": 1.0, "confidence": 0.7, "explanation": "because", "writer": "llm",
        "grounded": True, "trust": {"composite": 0.8, "uncertainty": 0.1}, "history": [], "features": {},
    }  # fmt: skip
    return {**base, **kw}


def test_card_html_escapes_every_text_field() -> None:
    from ui.app import card_html

    out = card_html(_card(title=EVIL, categories=[EVIL], description=EVIL, explanation=EVIL, item_id=EVIL))
    assert "<script" not in out and "<img" not in out and 'onerror="' not in out
    assert "&lt;script&gt;" in out
    assert "Trust 80" in out and "tr-high" in out and "written by the LLM" in out


def test_card_badge_bands_and_writer() -> None:
    from ui.app import card_html

    assert "tr-low" in card_html(_card(trust={"composite": 0.2}))
    assert "tr-mid" in card_html(_card(trust={"composite": 0.5}))
    assert "template explanation" in card_html(_card(writer="template"))


def test_a_card_from_a_batch_run_says_so_in_its_language() -> None:
    from ui.app import card_html

    assert "precomputed by the batch job" in card_html(_card(source="batch"))
    assert "precomputed" not in card_html(_card(source="live"))
    assert "由批处理任务预先算好" in card_html(_card(source="batch", explanation="因为你喜欢《Fargo》，推荐这部。"))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'&/=()[]!*_`#\\ aZ\n")), max_size=60))
def test_chat_text_never_leaves_raw_markup(text: str) -> None:
    from ui.app import chat_text

    out = chat_text(text)
    assert "<" not in out and ">" not in out.replace("\\>", "")  # '>' only as an escaped Markdown quote
    for ch in "[]()!`*_":
        assert out.count(ch) == out.count("\\" + ch)


def test_memory_html_escapes_titles_and_constraints() -> None:
    from ui.app import memory_html

    out = memory_html({"constraints": {"query": EVIL}, "liked": [{"item_id": "1", "title": EVIL}]})
    assert "<script" not in out and "&lt;img" in out


def test_shap_figure_has_one_bar_per_attribution() -> None:
    from ui.app import shap_figure

    card = _card(
        history=[
            {"item_id": "2", "title": "GoldenEye", "value": 0.3},
            {"item_id": "3", "title": "Heat", "value": -0.1},
        ],
        features={"text": 0.2, "popularity": 0.0, "collaborative": 0.5},
    )
    fig = shap_figure(card)
    assert fig is not None
    bars = fig.axes[0].patches
    assert len(bars) == 4  # a zero feature is left out
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == "feature: collaborative"  # largest on top
    assert shap_figure(None) is None


def test_card_says_cold_start_in_words() -> None:
    from ui.app import card_html

    basis = ["popularity within Comedy", EVIL]
    out = card_html(_card(trust={"composite": 0.4, "cold_start": True, "basis": basis}))
    assert "new to you: this rests on popularity within Comedy; &lt;script&gt;" in out and "<script" not in out
    plain = card_html(_card(trust={"composite": 0.4, "cold_start": True, "basis": []}))
    assert "new to you: this rests on popularity within your constraints" in plain
    warm = card_html(_card(trust={"composite": 0.7, "cold_start": False, "basis": ["your history"]}))
    assert "new to you" not in warm and "rests on: your history" in warm
    assert "tr-basis" not in card_html(_card())


def test_a_chinese_cards_labels_are_chinese_and_an_english_cards_english() -> None:
    """The labels follow the language of the card's explanation; no English label in a Chinese card."""
    import re

    from ui.app import card_html

    zh = card_html(
        _card(
            explanation="推荐它是因为你喜欢《Heat》：同属犯罪类。",
            writer="template",
            trust={"composite": 0.7, "uncertainty": 0.2, "basis": ["你喜欢《Heat》"]},
        )
    )
    assert "可信度 70" in zh and "校准置信度 70%" in zh and "依据：你喜欢《Heat》" in zh and "模板解释" in zh
    visible = re.sub(r"<[^>]+>", " ", zh).replace("Toy Story", "").replace("Comedy", "").replace("Heat", "")
    assert not re.search(r"[A-Za-z]{3,}", visible), visible  # titles and category names are the catalog's
    cold = card_html(_card(explanation="这是新用户的推荐。", trust={"composite": 0.4, "cold_start": True}))
    assert "你是新用户：这条推荐依据符合你条件的作品的热门程度" in cold
    en = card_html(_card(explanation="Recommended because you liked Heat."))
    assert "Trust 80" in en and "calibrated confidence 70%" in en


def test_shap_figure_for_a_new_user_shows_the_feature_groups() -> None:
    from ui.app import shap_figure

    feats = {"constraints": 0.2, "popularity": 0.5, "session": 0.0}
    fig = shap_figure(_card(history=[], features=feats))
    assert fig is not None
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(fig.axes[0].patches) == 3  # no history: every group is shown, zeros included
    assert labels[-1] == "feature: popularity" and "feature: session" in labels
    zeros = shap_figure(_card(history=[], features=dict.fromkeys(feats, 0.0)))
    assert zeros is not None and len(zeros.axes[0].patches) == 3
    assert any("rests on the prior" in t.get_text() for t in zeros.axes[0].texts)
    bare = shap_figure(_card(history=[], features={}))
    assert bare is not None and any("no attributions" in t.get_text() for t in bare.axes[0].texts)


def _app_fn(demo: Any, elem_id: str, event: str) -> Any:
    """The Python function a UI event runs (found by its trigger's elem_id)."""
    for bf in demo.fns.values():
        for block_id, ev in bf.targets:
            if ev == event and getattr(demo.blocks.get(block_id), "elem_id", None) == elem_id:
                return bf.fn
    raise LookupError(f"no {event} handler on #{elem_id}")


def test_app_offers_titles_to_a_new_user_and_a_chip_click_likes_one() -> None:
    from ui.app import MAX_ONBOARDING_CHIPS, build_app

    rec = shared_recommender()
    demo = build_app(rec)
    send = _app_fn(demo, "tr-send", "click")
    *_, out = list(send("I'd like a comedy. Show me 5.", None))
    st, hint, chips = out[1], out[9], out[10:]
    assert len(chips) == MAX_ONBOARDING_CHIPS and "New here?" in hint
    offered = st["onboarding"]
    assert len(offered) == 5 and st["cards"]
    shown = [c for c in chips if c.get("visible")]
    assert [c["value"] for c in shown] == [f"{o['title']} ({o['year']})" for o in offered]
    fig = out[5]
    assert fig is not None and len(fig.axes[0].patches) > 0  # never an empty chart for a new user
    before = [c["item_id"] for c in st["cards"]]

    click = _app_fn(demo, "tr-onboard-1", "click")
    out2 = click(st)
    st2 = out2[0]
    liked = [x["item_id"] for x in rec.profile(st2["session_id"])["liked"]]
    assert liked == [offered[1]["item_id"]]
    events = rec.engine.store.feedback(session_id=st2["session_id"])
    assert [(e.item_id, e.kind) for e in events] == [(offered[1]["item_id"], "like")]
    assert offered[1]["title"] in out2[5]  # the memory panel lists the like
    assert [c["item_id"] for c in st2["cards"]] != before  # a new list
    assert [o["item_id"] for o in st2["onboarding"]] == [o["item_id"] for j, o in enumerate(offered) if j != 1]
    assert len(st2["messages"]) == len(st["messages"]) + 2


def test_app_shows_cards_before_the_llm_writes_then_replaces_their_text(tmp_path: Any) -> None:
    import dataclasses

    from agent.recommender import Recommender
    from agent.warmup import install_llm
    from tests.llm_helpers import GatedModel
    from ui.app import build_app

    base = shared_recommender()
    e = dataclasses.replace(base.engine, warming=set())
    e.semantic = base.engine.semantic  # type: ignore[attr-defined]
    model = GatedModel(messages=iter([]))
    install_llm(e, model)
    rec = Recommender(e, sessions_path=tmp_path / "sessions.sqlite3")
    send = _app_fn(build_app(rec), "tr-send", "click")
    outs = send("a sci-fi movie from the 80s", None)
    try:
        for out in outs:  # until the cards are on the page
            if isinstance(out[3], str) and "tr-card" in out[3]:
                break
        assert model.calls == 0, "the cards came before any LLM text"
        assert out[3].count('class="tr-card"') >= 3 and "template explanation" in out[3]
        assert out[5] is not None and len(out[5].axes[0].patches) > 0  # the SHAP chart of the first card, too
    finally:
        model.gate.set()
    *_, last = list(outs)
    st = last[1]
    assert any(c["writer"] == "llm" for c in st["cards"]) and "written by the LLM" in last[3]
    assert st["messages"][-1]["content"] and "…" not in st["messages"][-1]["content"]


def test_page_says_model_loading_until_the_warm_up_is_done() -> None:
    from ui.app import build_app, loading_html

    assert "Model loading" in loading_html({"llm"}) and "templates" in loading_html({"llm"})
    assert "first answer may take" in loading_html({"explainer"}) and "templates" not in loading_html({"explainer"})
    assert loading_html(set()) == ""
    rec = shared_recommender()
    demo = build_app(rec)
    poll = next(bf.fn for bf in demo.fns.values() if getattr(bf.fn, "__name__", "") == "on_poll")
    rec.engine.warming.add("llm")
    try:
        html, timer = poll()
        assert "Model loading" in html and timer.active
    finally:
        rec.engine.warming.discard("llm")
    html, timer = poll()
    assert html == "" and not timer.active  # ready: the line goes and the page stops asking


# ----------------------------------------------------------------------------- launched server
@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from ui.api import create_api

    with running_server(create_api(shared_recommender())) as url:
        yield url


def test_gradio_client_chat_and_feedback(server: str) -> None:
    from gradio_client import Client

    rec = shared_recommender()
    client = Client(server + "/", verbose=False)
    sid = f"gc-{uuid.uuid4().hex}"
    reply = client.predict("recommend 4 movies", sid, "196", api_name="/chat")
    assert reply["session_id"] == sid and len(reply["cards"]) == 4
    assert all(c["trust"]["composite"] is not None for c in reply["cards"])
    item = reply["cards"][0]["item_id"]
    assert client.predict(sid, item, "like", "196", api_name="/feedback") is True
    assert [e.item_id for e in rec.engine.store.feedback(session_id=sid)] == [item]
    # the UI's own events carry browser state and are not callable by clients
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/chat", "/feedback"}


def _raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (no client-side normalisation of ../ or %2F)."""
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_file_routes_refuse_paths_outside_the_app(server: str) -> None:
    rec = shared_recommender()
    db = str(rec.engine.workspace.store_path)
    sessions = str(rec.engine.workspace.store_path.with_name("sessions.sqlite3"))
    secret = str(rec.engine.workspace.cache / "ui-browser-secret")
    ok_status, ok_body = _raw_get(server, "/")
    assert ok_status == 200 and b"<html" in ok_body.lower()  # the route table works at all
    targets = ["/etc/passwd", db, sessions, secret]
    paths = file_route_paths(targets, int(urlparse(server).port or 0))
    leaks = []
    for p in paths:
        status, body = _raw_get(server, p)
        if status < 400 or b"root:" in body or b"SQLite format" in body or b'"status":"ok"' in body:
            leaks.append((p, status, body[:80]))
    assert not leaks, leaks


def test_product_card_shows_brand_price_rating_and_the_chart_names_behaviours() -> None:
    from ui.app import card_html, shap_figure

    out = card_html(_card(brand=EVIL, price=1234.5, rating=4.25, rating_count=87, year=None))
    assert "<script" not in out and "by &lt;script&gt;" in out
    assert "$1,234.50" in out and "rated 4.2/5 (87 ratings)" in out
    assert "tr-shop" not in card_html(_card())  # a movie card has no shop line
    card = _card(
        history=[
            {"item_id": "2", "title": "KeyForge Keyboard", "value": 0.3, "behaviour": "purchase"},
            {"item_id": "3", "title": "Trekka Backpack", "value": 0.2, "behaviour": "view"},
            {"item_id": "4", "title": "GoldenEye", "value": 0.1},
        ]
    )
    fig = shap_figure(card)
    assert fig is not None
    labels = {t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert {"bought: KeyForge Keyboard", "viewed: Trekka Backpack", "liked: GoldenEye"} <= labels


def test_the_memory_panel_speaks_the_sessions_language() -> None:
    from ui.app import memory_html, session_language

    prof = {"constraints": {"include_categories": ["Comedy"], "year_min": 1990}, "liked": [], "disliked": []}
    zh = memory_html(prof, "zh")
    assert "<h4>条件</h4>" in zh and "想要的类别" in zh and "最早年份" in zh and "<h4>喜欢</h4>" in zh and "无" in zh
    en = memory_html(prof)
    assert "<h4>Constraints</h4>" in en and "include_categories" in en and "<h4>Liked</h4>" in en
    assert session_language({"messages": [{"role": "assistant", "content": "为你找到 5 部喜剧电影"}]}) == "zh"
    assert session_language({"messages": []}) == "en"
