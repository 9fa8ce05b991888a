"""Authentication, per-user authorization and privacy of the HTTP API (ui.auth, ui.api) on the real
recommender (ml-100k, trained ranker, FAISS, its own SQLite store) through TestClient in token mode."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from agent.config import AuthConfig, ServerConfig
from tests.ui_helpers import shared_recommender
from ui.auth import InsecureBind, RateLimiter, check_bind, create_token, is_loopback

DELETED = "877"  # deleted by one test; no other test in this process uses this user


# ------------------------------------------------------------------------------------------- units
def test_rate_limiter_refills_and_bounds_its_memory() -> None:
    now = [0.0]
    rl = RateLimiter(3, max_keys=5, clock=lambda: now[0])
    assert [rl.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.hit("a")
    assert wait == pytest.approx(20.0)  # 3 a minute: one more after 20 s
    assert rl.hit("b") == 0.0  # another token has its own budget
    now[0] += 20.0
    assert rl.hit("a") == 0.0
    for k in range(100):
        rl.hit(f"k{k}")
    assert len(rl) == 5  # least recently used buckets dropped
    assert RateLimiter(0).hit("x") == 0.0  # 0 switches the limit off


@pytest.mark.parametrize(
    ("host", "mode", "ok"),
    [("127.0.0.1", "none", True), ("localhost", "none", True), ("::1", "none", True), ("127.0.0.2", "none", True),
     ("0.0.0.0", "none", False), ("192.168.1.5", "none", False), ("example.org", "none", False),
     ("0.0.0.0", "token", True)],
)  # fmt: skip
def test_no_login_only_on_loopback(host: str, mode: str, ok: bool) -> None:
    server = ServerConfig(host=host, auth=AuthConfig(mode=mode))  # type: ignore[arg-type]
    assert is_loopback(host) == (host not in ("0.0.0.0", "192.168.1.5", "example.org"))
    if ok:
        check_bind(server)
    else:
        with pytest.raises(InsecureBind, match="TRUSTREC_SERVER__AUTH__MODE=token") as e:
            check_bind(server)
        assert "trustrec auth add-token" in str(e.value)


def test_env_switches_token_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.config import load_config

    monkeypatch.setenv("TRUSTREC_SERVER__AUTH__MODE", "token")
    assert load_config({}).server.auth.mode == "token"


def test_tokens_are_stored_only_as_hashes_and_audit_is_append_only(tmp_path: Path) -> None:
    from catalog import Store
    from catalog.store import token_hash

    db = tmp_path / "db.sqlite3"
    with Store(db) as s:
        made = create_token(s, "user", user_id="42")
        assert s.token(token_hash(made["token"]))["user_id"] == "42"  # type: ignore[index]
        assert all("hash" not in k for r in s.tokens() for k in r)
        with pytest.raises(ValueError, match="--user-id"):
            create_token(s, "user")
        with pytest.raises(ValueError, match="role"):
            create_token(s, "root")
        s.audit("admin-1", "admin", "DELETE /v1/users/{user_id}", "user#x")
        for sql in ("UPDATE audit_log SET principal='x'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                s._conn.execute(sql)
        assert len(s.audit_log()) == 1
        assert s.revoke_token(made["token_id"]) and s.token(token_hash(made["token"])) is None
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert made["token"].encode() not in blob and token_hash(made["token"]).encode() in blob


# ------------------------------------------------------------------------------------------- API
@pytest.fixture(scope="module")
def rec() -> Any:
    return shared_recommender()


@pytest.fixture(scope="module")
def client(rec: Any) -> TestClient:
    from ui.api import create_api

    return TestClient(create_api(rec, ui=False, auth=AuthConfig(mode="token")), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def tokens(rec: Any) -> dict[str, dict[str, str]]:
    store = rec.engine.store
    made = {
        "u196": create_token(store, "user", user_id="196"),
        "u42": create_token(store, "user", user_id="42"),
        "svc_a": create_token(store, "service", name=f"shop-a-{uuid.uuid4().hex[:6]}"),
        "svc_b": create_token(store, "service", name=f"shop-b-{uuid.uuid4().hex[:6]}"),
        "admin": create_token(store, "admin"),
    }
    return {k: {"Authorization": f"Bearer {v['token']}"} for k, v in made.items()}


ENDPOINTS = [
    ("post", "/v1/chat", {"message": "a comedy"}),
    ("post", "/v1/recommend", {"n": 2}),
    ("post", "/v1/explain", {"item_id": "50"}),
    ("post", "/v1/feedback", {"session_id": "s", "item_id": "50", "kind": "like"}),
    ("get", "/v1/profile/s", None),
    ("patch", "/v1/profile/s", {"year_min": 1990}),
    ("delete", "/v1/profile/s", None),
    ("delete", "/v1/users/42", None),
    ("get", "/v1/users/42/export", None),
]


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    kw: dict[str, Any] = {"headers": headers or {}}
    if body is not None:
        kw["json"] = body
    return client.request(method.upper(), path, **kw)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_needs_a_valid_token(client: TestClient, rec: Any, method: str, path: str, body: Any) -> None:
    before = rec.engine.store.counts()
    answers = []
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer"}):
        r = _call(client, method, path, body, headers)
        answers.append((r.status_code, r.json()))
    assert answers == [(401, {"detail": "not authenticated"})] * 4  # one answer: no hint which part was wrong
    assert rec.engine.store.counts() == before
    assert client.get("/healthz").status_code == 200  # liveness stays open


def test_user_token_acts_only_as_its_own_user(client: TestClient, tokens: dict[str, Any]) -> None:
    r = client.post("/v1/recommend", json={"n": 3}, headers=tokens["u196"])
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == "196" and r.json()["session_id"].startswith("s-")
    own = client.post("/v1/recommend", json={"n": 3, "user_id": "196"}, headers=tokens["u196"])
    assert own.status_code == 200
    other = client.post("/v1/recommend", json={"n": 3, "user_id": "42"}, headers=tokens["u196"])
    ghost = client.post("/v1/recommend", json={"n": 3, "user_id": "no-such"}, headers=tokens["u196"])
    assert other.status_code == ghost.status_code == 404
    assert other.json()["detail"].replace("'42'", "X") == ghost.json()["detail"].replace("'no-such'", "X")
    for path, body in (
        ("/v1/chat", {"message": "hi", "user_id": "42"}),
        ("/v1/explain", {"item_id": "1", "user_id": "42"}),
    ):
        assert client.post(path, json=body, headers=tokens["u196"]).status_code == 404


def test_sessions_belong_to_their_creator(client: TestClient, tokens: dict[str, Any]) -> None:
    r = client.post("/v1/chat", json={"message": "a sci-fi movie"}, headers=tokens["u42"])
    assert r.status_code == 200, r.text
    sid = r.json()["session_id"]
    assert len(sid) > 30  # server-made, random
    again = client.post("/v1/chat", json={"message": "more", "session_id": sid}, headers=tokens["u42"])
    assert again.status_code == 200 and again.json()["session_id"] == sid
    assert client.get(f"/v1/profile/{sid}", headers=tokens["u42"]).json()["user_id"] == "42"
    guessed = f"s-{uuid.uuid4().hex}"
    for who in ("u196", "svc_a"):
        for method, path, body in (
            ("get", f"/v1/profile/{sid}", None), ("patch", f"/v1/profile/{sid}", {"year_min": 1990}),
            ("delete", f"/v1/profile/{sid}", None), ("post", "/v1/chat", {"message": "hi", "session_id": sid}),
            ("post", "/v1/feedback", {"session_id": sid, "item_id": "1", "kind": "like"}),
        ):  # fmt: skip
            stolen = _call(client, method, path, body, tokens[who])
            missing = _call(client, method, path.replace(sid, guessed), _swap(body, sid, guessed), tokens[who])
            assert stolen.status_code == missing.status_code == 404, (who, path, stolen.text)
            assert stolen.json() == missing.json()  # does not reveal that the session exists
    # a session id the client makes up is not created in token mode
    assert (
        client.post("/v1/chat", json={"message": "hi", "session_id": "mine"}, headers=tokens["u42"]).status_code == 404
    )
    # the admin may read it (audited)
    assert client.get(f"/v1/profile/{sid}", headers=tokens["admin"]).status_code == 200


def _swap(body: Any, a: str, b: str) -> Any:
    return None if body is None else {k: (b if v == a else v) for k, v in body.items()}


def test_service_acts_for_named_users_on_its_own_sessions(client: TestClient, tokens: dict[str, Any]) -> None:
    a = client.post("/v1/recommend", json={"n": 2, "user_id": "196"}, headers=tokens["svc_a"])
    assert a.status_code == 200 and a.json()["user_id"] == "196"
    sid = a.json()["session_id"]
    fb = {"session_id": sid, "item_id": a.json()["cards"][0]["item_id"], "kind": "like"}
    assert client.post("/v1/feedback", json=fb, headers=tokens["svc_a"]).status_code == 200
    assert client.post("/v1/recommend", json={"n": 2, "user_id": "42"}, headers=tokens["svc_a"]).status_code == 200
    assert client.get(f"/v1/profile/{sid}", headers=tokens["svc_b"]).status_code == 404
    # a session stays with its end user: no other user's likes leak into a list for someone else
    other = {"n": 2, "user_id": "42", "session_id": sid}
    assert client.post("/v1/recommend", json=other, headers=tokens["svc_a"]).status_code == 404
    assert client.delete("/v1/users/42", headers=tokens["svc_a"]).status_code == 403
    assert client.get("/v1/users/42/export", headers=tokens["svc_a"]).status_code == 403


def test_admin_only_actions_are_refused_and_audited(client: TestClient, rec: Any, tokens: dict[str, Any]) -> None:
    store = rec.engine.store
    before = store.counts()
    for who in ("u196", "u42", "svc_b"):
        assert client.delete(f"/v1/users/{DELETED}", headers=tokens[who]).status_code == 403
    assert client.get("/v1/users/42/export", headers=tokens["u196"]).status_code == 403
    assert store.counts() == before  # refused: nothing changed, nothing audited
    mine = client.get("/v1/users/196/export", headers=tokens["u196"])
    assert mine.status_code == 200 and mine.json()["history"] and mine.json()["attributes"]
    assert mine.json()["tokens"] and all(set(t) == {"token_id", "principal", "role", "created", "revoked"}
                                         for t in mine.json()["tokens"])  # fmt: skip
    assert client.get("/v1/users/42/export", headers=tokens["admin"]).status_code == 200
    log = store.audit_log()
    assert log[-1]["role"] == "admin" and log[-1]["action"] == "GET /v1/users/{user_id}/export"
    assert "42" not in log[-1]["target"]  # user ids appear hashed


def test_delete_user_removes_everything_and_tombstones(client: TestClient, rec: Any, tokens: dict[str, Any]) -> None:
    from agent.state import DialogState
    from catalog.privacy import apply_tombstones

    e = rec.engine
    idx = e.dataset.user_index[DELETED]
    seen = set(e.histories[idx].tolist())
    assert seen and e.profile(DialogState(user_id=DELETED)).history.size == len(seen)
    mine = create_token(e.store, "user", user_id=DELETED)
    hdr = {"Authorization": f"Bearer {mine['token']}"}
    r = client.post("/v1/recommend", json={"n": 3}, headers=hdr)
    assert r.status_code == 200 and any(c["history"] for c in r.json()["cards"])
    sid = r.json()["session_id"]
    fb = {"session_id": sid, "item_id": "50", "kind": "like"}
    assert client.post("/v1/feedback", json=fb, headers=hdr).status_code == 200
    n_audit = len(e.store.audit_log())
    gone = client.delete(f"/v1/users/{DELETED}", headers=tokens["admin"])
    assert gone.status_code == 200, gone.text
    d = gone.json()["deleted"]
    assert d["feedback"] == 1 and d["sessions"] == 1 and d["tokens"] == 1 and d["history"] == len(seen)
    assert len(e.store.audit_log()) == n_audit + 1
    # the user's token is gone; their history is neither used nor shown; the store has no trace of them
    assert client.post("/v1/recommend", json={"n": 3}, headers=hdr).status_code == 401
    assert e.profile(DialogState(user_id=DELETED)).history.size == 0
    assert e.profile(DialogState(user_id=DELETED)).user_idx is None
    export = client.get(f"/v1/users/{DELETED}/export", headers=tokens["admin"]).json()
    assert export["deleted"] and not export["history"] and not export["sessions"] and not export["feedback"]
    assert not export["attributes"]
    r = client.post("/v1/recommend", json={"n": 5, "user_id": DELETED}, headers=tokens["admin"])
    assert r.status_code == 200 and all(not c["history"] for c in r.json()["cards"])
    # the trainer's view: the tombstone drops them from the dataset, indices unchanged
    ds, dropped = apply_tombstones(e.dataset, e.workspace.store_path)
    assert dropped == {DELETED} and ds.n_users == e.dataset.n_users and ds.user_index[DELETED] == idx
    assert not (ds.interactions["user_id"] == DELETED).any()
    blob = b"".join(p.read_bytes() for p in e.workspace.store_path.parent.iterdir() if "sqlite" in p.name)
    assert f"user-{DELETED}".encode() not in blob


def test_explanations_name_only_the_users_own_items(client: TestClient, rec: Any, tokens: dict[str, Any]) -> None:
    e = rec.engine
    own = {e.dataset.items[i].item_id for i in e.histories[e.dataset.user_index["42"]].tolist()}
    r = client.post("/v1/recommend", json={"n": 5}, headers=tokens["u42"])
    assert r.status_code == 200
    named = {h["item_id"] for c in r.json()["cards"] for h in c["history"]}
    assert named and named <= own
    titles_of_others = {e.dataset.items[i].title for i in np.setdiff1d(e.histories[e.dataset.user_index["196"]], list(
        e.histories[e.dataset.user_index["42"]]))}  # fmt: skip
    for c in r.json()["cards"]:
        for h in c["history"]:
            assert h["title"] not in titles_of_others


def test_rate_limit_per_token_answers_429_with_retry_after(rec: Any) -> None:
    from ui.api import create_api

    api = create_api(rec, ui=False, auth=AuthConfig(mode="token", rate_limit_per_minute=3))
    c = TestClient(api, raise_server_exceptions=False)
    a = {"Authorization": f"Bearer {create_token(rec.engine.store, 'service')['token']}"}
    b = {"Authorization": f"Bearer {create_token(rec.engine.store, 'service')['token']}"}
    codes = [c.get("/v1/profile/nope", headers=a).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    r = c.get("/v1/profile/nope", headers=a)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert c.get("/v1/profile/nope", headers=b).status_code == 404  # per token


def test_mode_none_is_open_as_before(rec: Any) -> None:
    from ui.api import create_api

    c = TestClient(create_api(rec, ui=False), raise_server_exceptions=False)
    sid = f"demo-{uuid.uuid4().hex}"
    assert c.post("/v1/chat", json={"message": "a comedy", "session_id": sid, "user_id": "1"}).status_code == 200
    assert c.get(f"/v1/profile/{sid}").json()["user_id"] == "1"
    assert c.get("/v1/users/1/export").status_code == 200
