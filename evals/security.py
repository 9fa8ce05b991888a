"""The attack suite: who may see and change what, tried from outside against a real ``trustrec serve``.

A ``trustrec serve --no-llm`` subprocess runs on 127.0.0.1 in token mode over a private workspace
(:func:`evals.reliability_http.isolated_workspace`), with tokens made in its store before it starts:
two users (196 and 42), two services, an admin, a revoked token and a rate-limit probe token. The
victims' objects are made first with their own tokens (user 196's chat session and feedback, service
A's session for user 196). Then every endpoint is called

- with no token, a bad token, a malformed header and a revoked token (401 expected);
- with another user's token on the victim's user id and session (404; 403 on admin endpoints);
- with service B's token on service A's session (404);
- with guessed session ids (404);
- with user and service tokens on the admin endpoints, ``DELETE /v1/users/{id}`` and another user's
  export (403);
- and the app's API routes without a login (401).

An attempt is a breach when it answers anything but its expected statuses. The store's row counts
(both SQLite files) are compared before and after the attacks: refused requests must change nothing.
Positive controls (each owner reads its own session; the admin reads the victim's) show the tokens
work, and a burst on one token must meet the rate limit (429 with ``Retry-After``).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from agent.config import TrustrecConfig

__all__ = ["SecurityConfig", "run_security", "run_security_check"]

Progress = Callable[[str], None]
VICTIM, ATTACKER = "196", "42"


class SecurityConfig(BaseModel):
    """Sizes of the attack suite (small for smoke, larger for full)."""

    model_config = ConfigDict(extra="forbid")

    guessed_sessions: int = Field(10, ge=1, le=10_000, description="Guessed session ids tried per attacker token.")
    rate_limit_per_minute: int = Field(
        300,
        ge=1,
        le=100_000,
        description="The served per-token limit; the probe sends up to twice this plus 20 requests.",
    )
    startup_timeout_s: float = Field(600.0, gt=0, description="Longest wait for the server to become healthy.")
    request_timeout_s: float = Field(120.0, gt=0, description="Client timeout of one request.")


def _templates(session: str, user: str) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """``(kind, method, path, body)`` for every endpoint, aimed at ``session`` and ``user``.

    ``kind`` is ``object`` (a user's or a session's data) or ``admin`` (admin endpoints).
    """
    return [
        ("object", "POST", "/v1/chat", {"message": "what did they like?", "session_id": session}),
        ("object", "POST", "/v1/chat", {"message": "what do I like?", "user_id": user}),
        ("object", "POST", "/v1/recommend", {"n": 2, "session_id": session}),
        ("object", "POST", "/v1/recommend", {"n": 2, "user_id": user}),
        ("object", "POST", "/v1/explain", {"item_id": "50", "session_id": session}),
        ("object", "POST", "/v1/explain", {"item_id": "50", "user_id": user}),
        ("object", "POST", "/v1/feedback", {"session_id": session, "item_id": "50", "kind": "dislike"}),
        ("object", "POST", "/v1/feedback", {"session_id": session, "item_id": "50", "kind": "like", "user_id": user}),
        ("object", "GET", f"/v1/profile/{session}", None),
        ("object", "PATCH", f"/v1/profile/{session}", {"year_min": 1990}),
        ("object", "DELETE", f"/v1/profile/{session}", None),
        ("admin", "DELETE", f"/v1/users/{user}", None),
        ("admin", "GET", f"/v1/users/{user}/export", None),
    ]


def _counts(home: Path) -> dict[str, int]:
    """Row counts of every table in the workspace's two SQLite files (read-only)."""
    out: dict[str, int] = {}
    for name in ("trustrec.sqlite3", "sessions.sqlite3"):
        path = home / "store" / name
        if not path.is_file():
            continue
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for t in tables:
                if not t.startswith("sqlite_"):
                    out[f"{name}:{t}"] = int(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])
        finally:
            conn.close()
    return out


def run_security(
    config: TrustrecConfig, work: Path, cfg: SecurityConfig | None = None, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the attack suite against a fresh token-mode server over a private workspace under ``work``.

    Returns:
        ``attempts``, ``breaches``, ``breach_examples``, ``by_kind`` (attempts and breaches per attack
        kind), ``by_status``, ``store_changed`` (tables whose row count moved), ``controls_failed``,
        ``rate_limit`` (``hit``, ``after_requests``, ``retry_after_s``), ``seconds``.
    """
    import httpx

    from evals import reliability_http as rh

    cfg = cfg or SecurityConfig()
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    home = rh.isolated_workspace(config.workspace().home, work / "security-home")
    tok = {
        "victim": rh.provision_token(home, "user", user_id=VICTIM),
        "attacker": rh.provision_token(home, "user", user_id=ATTACKER),
        "svc_a": rh.provision_token(home, "service", name="shop-a"),
        "svc_b": rh.provision_token(home, "service", name="shop-b"),
        "admin": rh.provision_token(home, "admin", name="security-admin"),
        "revoked": rh.provision_token(home, "service", name="revoked-svc"),
        "probe": rh.provision_token(home, "service", name="rate-probe"),
    }
    from catalog import Store, Workspace

    with Store(Workspace(home).store_path) as store:
        store.revoke_token("revoked-svc")
    served = rh.start_server(rh.token_config(config, cfg.rate_limit_per_minute), home, progress=say)
    statuses: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {}
    breaches: list[str] = []
    controls: dict[str, bool] = {}
    try:
        served.wait_healthy(cfg.startup_timeout_s, say)
        with httpx.Client(base_url=served.url, timeout=cfg.request_timeout_s) as c:

            def as_(who: str | None) -> dict[str, str]:
                return rh.bearer(tok[who]) if who else {}

            # the victims' objects, made by their owners
            r = c.post("/v1/chat", json={"message": "a sci-fi movie from the 80s"}, headers=as_("victim"))
            r.raise_for_status()
            victim_sid = r.json()["session_id"]
            item = (r.json().get("cards") or [{"item_id": "50"}])[0]["item_id"]
            fb = {"session_id": victim_sid, "item_id": item, "kind": "like"}
            c.post("/v1/feedback", json=fb, headers=as_("victim")).raise_for_status()
            r = c.post("/v1/recommend", json={"n": 2, "user_id": VICTIM}, headers=as_("svc_a"))
            r.raise_for_status()
            svc_sid = r.json()["session_id"]
            before = _counts(home)

            def attack(
                kind: str, who: str | None, method: str, path: str, body: Any, expect: set[int], **kw: Any
            ) -> None:
                headers = kw.pop("headers", None) or as_(who)
                try:
                    resp = c.request(method, path, json=body, headers=headers)
                    status: int | None = resp.status_code
                except httpx.HTTPError as e:
                    status = None
                    say(f"  {kind}: {method} {path}: {type(e).__name__}")
                statuses[str(status)] += 1
                k = kinds.setdefault(kind, Counter())
                k["attempts"] += 1
                if status not in expect:
                    k["breaches"] += 1
                    breaches.append(
                        f"{kind}: {who or 'anonymous'} {method} {path} -> {status} (expected {sorted(expect)})"
                    )

            say("attacks: no token, bad tokens, other users, other services, guessed sessions, admin endpoints")
            victim_all = _templates(victim_sid, VICTIM)
            for _k, method, path, body in victim_all:
                attack("no_token", None, method, path, body, {401})
                attack("bad_token", None, method, path, body, {401}, headers=rh.bearer(secrets.token_urlsafe(32)))
                attack(
                    "bad_token", None, method, path, body, {401}, headers={"Authorization": f"Basic {tok['victim']}"}
                )
                attack("bad_token", "revoked", method, path, body, {401})
            for k, method, path, body in victim_all:
                attack("other_user", "attacker", method, path, body, {403} if k == "admin" else {404})
            for k, method, path, body in _templates(svc_sid, VICTIM):
                if k == "object" and (body is None or "session_id" in body):
                    attack("other_service", "svc_b", method, path, body, {404})
            for i in range(cfg.guessed_sessions):
                guess = [f"s-{secrets.token_urlsafe(24)}", f"api-{uuid.uuid4().hex}", f"web-{uuid.uuid4().hex}",
                         f"rec-{uuid.uuid4().hex}", f"session-{i}", str(i), "victim-s1"][i % 7]  # fmt: skip
                for who in ("attacker", "svc_b"):
                    for k, method, path, body in _templates(guess, VICTIM):
                        if k == "object" and (body is None or "session_id" in body):
                            attack("guessed_session", who, method, path, body, {404})
            for who in ("victim", "attacker", "svc_a", "svc_b"):
                for target in (VICTIM, ATTACKER, "1"):
                    if who in ("victim", "attacker") and target == {"victim": VICTIM, "attacker": ATTACKER}[who]:
                        attack("admin_endpoint", who, "DELETE", f"/v1/users/{target}", None, {403})
                        continue  # a user's own export is allowed
                    attack("admin_endpoint", who, "DELETE", f"/v1/users/{target}", None, {403})
                    attack("admin_endpoint", who, "GET", f"/v1/users/{target}/export", None, {403})
            for api in ("chat", "feedback"):
                body = {"data": ["hello", victim_sid, VICTIM]} if api == "chat" else {"data": [victim_sid, "50"]}
                attack("app_without_login", None, "POST", f"/gradio_api/call/{api}", body, {401, 403})
            after = _counts(home)
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))

            # positive controls: the owners and the admin do get through
            controls["victim_reads_own_session"] = (
                c.get(f"/v1/profile/{victim_sid}", headers=as_("victim")).status_code == 200
            )
            controls["service_reads_own_session"] = (
                c.get(f"/v1/profile/{svc_sid}", headers=as_("svc_a")).status_code == 200
            )
            prof = c.get(f"/v1/profile/{victim_sid}", headers=as_("admin"))
            controls["admin_reads_victim_session"] = prof.status_code == 200 and bool(prof.json().get("liked"))
            controls["victim_exports_self"] = (
                c.get(f"/v1/users/{VICTIM}/export", headers=as_("victim")).status_code == 200
            )

            say("rate limit: one token, a burst of requests")
            hit_at, retry = 0, None
            # the bucket refills while the burst runs (per_minute / 60 a second): allow for it
            for n in range(1, 2 * cfg.rate_limit_per_minute + 21):
                r = c.get(f"/v1/profile/s-{n}", headers=as_("probe"))
                if r.status_code == 429:
                    hit_at, retry = n, r.headers.get("retry-after")
                    break
            other_ok = c.get(f"/v1/profile/{svc_sid}", headers=as_("svc_a")).status_code == 200
    finally:
        served.stop()
    attempts = sum(k["attempts"] for k in kinds.values())
    return {
        "attempts": attempts,
        "breaches": len(breaches),
        "breach_examples": breaches[:10],
        "by_kind": {k: {"attempts": v["attempts"], "breaches": v.get("breaches", 0)} for k, v in kinds.items()},
        "by_status": dict(sorted(statuses.items())),
        "store_changed": len(changed),
        "store_changed_tables": changed,
        "store_rows_before": sum(before.values()),
        "controls": controls,
        "controls_failed": sum(not v for v in controls.values()),
        "rate_limit": {
            "per_minute": cfg.rate_limit_per_minute,
            "hit": int(hit_at > 0),
            "after_requests": hit_at,
            "retry_after_s": int(retry) if retry and retry.isdigit() else None,
            "other_token_unaffected": int(other_ok),
        },
        "seconds": round(time.perf_counter() - t0, 2),
    }


def run_security_check(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The ``security`` suite check (:mod:`evals.suite`): params are :class:`SecurityConfig`'s fields."""
    cfg = SecurityConfig.model_validate(params)
    m = run_security(ctx.config, ctx.work_dir / "security", cfg, progress=lambda s: ctx.say("  " + s))
    ctx.say(f"  attempts {m['attempts']}, breaches {m['breaches']}, store tables changed {m['store_changed']}")
    labels = list(m["by_kind"])
    artifacts = {
        "security_attacks": {
            "type": "bars",
            "title": f"Attacks on the API by kind ({m['attempts']} attempts, {m['breaches']} breaches)",
            "labels": labels,
            "series": {
                "attempts": [m["by_kind"][k]["attempts"] for k in labels],
                "breaches": [m["by_kind"][k]["breaches"] for k in labels],
            },
        }
    }
    notes = [f"breach: {b}" for b in m["breach_examples"]]
    notes += [f"store table changed by refused requests: {t}" for t in m["store_changed_tables"]]
    notes += [f"control failed: {k}" for k, v in m["controls"].items() if not v]
    return {"metrics": m, "artifacts": artifacts, "notes": notes}
