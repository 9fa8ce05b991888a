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
