"""HTTP API on the real recommender (ml-100k, trained ranker, FAISS, SQLite) through TestClient."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.ui_helpers import shared_recommender


@pytest.fixture(scope="module")
def rec() -> Any:
    return shared_recommender()


@pytest.fixture(scope="module")
def client(rec: Any) -> TestClient:
    from ui.api import create_api

    return TestClient(create_api(rec, ui=False), raise_server_exceptions=False)


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["items"] == 1682 and body["users"] == 943


def test_recommend_five_items_with_trust_and_explanations(client: TestClient) -> None:
    r = client.post("/v1/recommend", json={"user_id": "196", "n": 5})
    assert r.status_code == 200, r.text
    items = r.json()["cards"]
    assert len(items) == 5
    assert len({it["item_id"] for it in items}) == 5
    for it in items:
        assert 0.0 <= it["trust"]["composite"] <= 1.0
        assert 0.0 <= it["confidence"] <= 1.0
        assert it["explanation"] and it["title"] in it["explanation"]
        assert it["writer"] in ("llm", "template")
        assert it["history"] and it["features"]
    scores = [it["score"] for it in items]
    assert [it["position"] for it in items] == [1, 2, 3, 4, 5]
    assert max(scores) == pytest.approx(items[0]["score"]) or len(set(scores)) == 5  # MMR may reorder ties


def test_cli_recommend_json_equals_the_api(rec: Any, client: TestClient, tmp_path: Any) -> None:
    """`trustrec recommend --json` and POST /v1/recommend run one pipeline: same config, same cards."""
    import json

    from typer.testing import CliRunner

    from ui.cli import app

    toml = tmp_path / "trustrec.toml"
    toml.write_text(f'home = "{rec.engine.workspace.home}"\n')
    for user in ("196", None):
        args = ["recommend", "--n", "5", "--json", "--config", str(toml)] + (["--user", user] if user else [])
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        cli = json.loads(res.stdout)
        api = client.post("/v1/recommend", json={"n": 5} | ({"user_id": user} if user else {})).json()
        assert set(cli) == set(api), (sorted(cli), sorted(api))
        assert [c["item_id"] for c in cli["cards"]] == [c["item_id"] for c in api["cards"]], user
        assert [c["confidence"] for c in cli["cards"]] == pytest.approx([c["confidence"] for c in api["cards"]])
        assert all(c["history"] for c in cli["cards"]) == (user is not None)
    bad = CliRunner().invoke(app, ["recommend", "--user", "nobody", "--config", str(toml)])
    assert bad.exit_code == 2 and "unknown user 'nobody'" in bad.output


def test_recommend_cold_start_and_length(client: TestClient) -> None:
    r = client.post("/v1/recommend", json={"n": 3})
    assert r.status_code == 200, r.text
    assert len(r.json()["cards"]) == 3 and r.json()["user_id"] is None


def test_chat_continues_a_session(client: TestClient) -> None:
    r = client.post("/v1/chat", json={"message": "a sci-fi movie from the 80s", "user_id": "196"})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["cards"], reply["text"]
    for card in reply["cards"]:
        assert "Sci-Fi" in card["categories"] and 1980 <= card["year"] <= 1989
    sid = reply["session_id"]
    r2 = client.post("/v1/chat", json={"message": "why the first one?", "session_id": sid})
    assert r2.status_code == 200 and r2.json()["session_id"] == sid
    assert r2.json()["cards"][0]["item_id"] == reply["cards"][0]["item_id"]
    prof = client.get(f"/v1/profile/{sid}").json()
    assert prof["user_id"] == "196" and prof["constraints"]["include_categories"] == ["Sci-Fi"]


def test_explain_one_item(client: TestClient) -> None:
    r = client.post("/v1/explain", json={"item_id": "50", "user_id": "196"})
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["item_id"] == "50" and card["title"] == "Star Wars" and card["trust"] is not None
    assert "Star Wars" in card["explanation"]


def test_feedback_is_stored_idempotently_and_moves_the_profile(client: TestClient, rec: Any) -> None:
    sid, eid = f"t-{uuid.uuid4().hex}", f"e-{uuid.uuid4().hex}"
    body = {"session_id": sid, "item_id": "50", "kind": "like", "event_id": eid, "user_id": "196"}
    first = client.post("/v1/feedback", json=body)
    again = client.post("/v1/feedback", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == {"event_id": eid, "stored": True} and again.json()["stored"] is False
    assert [e.event_id for e in rec.engine.store.feedback(session_id=sid)] == [eid]
    prof = client.get(f"/v1/profile/{sid}").json()
    assert [x["item_id"] for x in prof["liked"]] == ["50"]
    cleared = client.delete(f"/v1/profile/{sid}", params={"part": "likes"})
    assert cleared.status_code == 200 and cleared.json()["liked"] == []


def test_edit_profile_validates_fields(client: TestClient) -> None:
    sid = f"t-{uuid.uuid4().hex}"
    ok = client.patch(f"/v1/profile/{sid}", json={"year_min": 1980, "exclude_categories": ["Horror"]})
    assert ok.status_code == 200 and ok.json()["constraints"]["year_min"] == 1980
    bad = client.patch(f"/v1/profile/{sid}", json={"year_min": "soon"})
    assert bad.status_code == 422 and "year_min" in bad.text
    unknown = client.patch(f"/v1/profile/{sid}", json={"colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.text


def test_delete_user_erases_feedback(client: TestClient, rec: Any) -> None:
    uid, sid = f"u-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex}"
    assert (
        client.post(
            "/v1/feedback", json={"session_id": sid, "user_id": uid, "item_id": "1", "kind": "like"}
        ).status_code
        == 200
    )
    r = client.delete(f"/v1/users/{uid}")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["sessions"] == 1
    assert rec.engine.store.feedback(user_id=uid) == []
    assert client.delete(f"/v1/users/{uid}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("post", "/v1/recommend", {"user_id": "196", "n": 0}, 422, "n"),
        ("post", "/v1/recommend", {"user_id": "196", "n": "five"}, 422, "n"),
        ("post", "/v1/recommend", {"user_id": "196", "n": 5, "extra": 1}, 422, "extra"),
        ("post", "/v1/recommend", {"user_id": "no-such-user", "n": 5}, 404, "no-such-user"),
        ("post", "/v1/chat", {"message": ""}, 422, "message"),
        ("post", "/v1/chat", {}, 422, "message"),
        ("post", "/v1/chat", {"message": "hi", "user_id": "nobody"}, 404, "nobody"),
        ("post", "/v1/chat", {"message": "hi", "session_id": "x" * 129}, 422, "session_id"),
        ("post", "/v1/chat", {"message": "x" * 5000}, 413, "limit"),
        ("post", "/v1/explain", {"item_id": "999999"}, 404, "999999"),
        ("post", "/v1/feedback", {"session_id": "s", "item_id": "999999", "kind": "like"}, 404, "999999"),
        ("post", "/v1/feedback", {"session_id": "s", "item_id": "1", "kind": "love"}, 422, "kind"),
        ("post", "/v1/feedback", {"session_id": "s", "item_id": "1", "kind": "rating", "value": "NaN"}, 422, "value"),
        ("get", "/v1/profile/" + "y" * 200, None, 422, "session_id"),
        ("delete", "/v1/profile/s?part=everything", None, 422, "part"),
        ("delete", "/v1/users/" + "z" * 200, None, 422, "user_id"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    client: TestClient, method: str, path: str, body: Any, status: int, needle: str
) -> None:
    r = client.request(method, path, json=body) if body is not None else client.request(method, path)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_body_size_limit(client: TestClient) -> None:
    from ui.api import MAX_BODY_BYTES

    big = {"message": "a" * (MAX_BODY_BYTES + 10)}
    assert client.post("/v1/chat", json=big).status_code == 413

    def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b"x" * 8192

    r = client.post("/v1/chat", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    broken = client.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422


def test_openapi_lists_every_endpoint_and_ui_is_mounted(rec: Any) -> None:
    from ui.api import create_api

    with TestClient(create_api(rec)) as c:
        paths = c.get("/openapi.json").json()["paths"]
        for p in ("/v1/chat", "/v1/recommend", "/v1/explain", "/v1/feedback", "/v1/profile/{session_id}",
                  "/v1/users/{user_id}", "/healthz"):  # fmt: skip
            assert p in paths
        page = c.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert c.get("/healthz").json()["status"] == "ok"  # API routes still win over the mounted app


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [("/v1/chat", '{"message": "\\ud800 hi"}', "message"),
     ("/v1/feedback", '{"session_id": "\\ude28", "event_id": "e1", "item_id": "50", "kind": "like"}', "session_id")],
)  # fmt: skip
def test_a_lone_surrogate_is_a_422_naming_the_field_not_a_500(
    client: TestClient, path: str, body: str, field: str
) -> None:
    # JSON may carry "\ud800", which UTF-8 cannot encode; echoing it in the 422 used to fail as a 500
    r = client.post(path, content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", field]
