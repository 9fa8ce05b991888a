"""Reliability across processes: two ``trustrec serve`` replicas over one PostgreSQL store; and
``trustrec serve --engine ray --replicas N`` (Ray Serve) checked and measured through its proxy.

Concurrent sessions alternate their turns between the replicas (each turn on one, its feedback on the
other, the same event retried on the first); then one replica is killed with SIGKILL in the middle of a
turn and every session continues on the survivor. Figures: acknowledged feedback events lost (must be
0), sessions lost (a session whose memory on the survivor lacks a like it acknowledged: must be 0),
duplicate events (must be 0), and 5xx answers (must be 0; the killed connection is counted apart).

Everything runs on loopback with the real ``trustrec serve --no-llm`` command (see
:mod:`evals.reliability_http`), each replica in its own private workspace whose data, models and
index link the real ones; the shared state is the PostgreSQL database named by ``[store] url``.
Every loop is bounded in count and time.

:func:`ray_serve_session` starts the real ``trustrec serve --engine ray --replicas 2`` and runs one
multi-turn session with feedback through Serve's proxy (plain and streamed turns), recording which
replica answered each request (the ``X-Trustrec-Replica`` header); :func:`ray_serve_throughput`
measures turns/s and p50/p95 per turn with template text for several replica counts, with the load
average (on a machine with few cores, more replicas cannot show more throughput).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import TrustrecConfig
from catalog.config import isolated_workspace
from catalog.errors import BadInput
from evals.reliability_http import ServedApi, _free_port, config_toml, start_server

Progress = Callable[[str], None]
# neutral requests (no domain words): the recommender's own defaults decide what is shown
MESSAGES = ("recommend something", "show me more", "something different", "more like the first one")
USERS = ("196", "42", "1", "305", "13", "655")


@dataclass
class _Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[int, int] = field(default_factory=dict)
    acked: dict[str, set[str]] = field(default_factory=dict)  # session -> liked item ids acknowledged
    acked_events: set[str] = field(default_factory=set)
    retried_stored_again: int = 0
    turns: int = 0
    errors: list[str] = field(default_factory=list)

    def status(self, code: int) -> None:
        with self.lock:
            self.statuses[code] = self.statuses.get(code, 0) + 1


def _post(client: Any, url: str, path: str, body: dict[str, Any], tally: _Tally) -> dict[str, Any] | None:
    r = client.post(url + path, json=body)
    tally.status(r.status_code)
    if r.status_code >= 300:
        with tally.lock:
            tally.errors.append(f"{path} -> {r.status_code}: {r.text[:200]}")
        return None
    out: dict[str, Any] = r.json()
    return out


def _session(client: Any, servers: list[ServedApi], k: int, turns: int, tally: _Tally) -> None:
    sid = f"replica-{uuid.uuid4().hex[:12]}"
    user = USERS[k % len(USERS)]
    tally.acked.setdefault(sid, set())
    for t in range(turns):
        a, b = servers[(k + t) % 2], servers[(k + t + 1) % 2]
        reply = _post(client, a.url, "/v1/chat", {"message": MESSAGES[t % len(MESSAGES)], "session_id": sid,
                                                  "user_id": user}, tally)  # fmt: skip
        with tally.lock:
            tally.turns += 1
        if not reply or not reply.get("cards"):
            continue
        item = reply["cards"][-1]["item_id"]  # the last card: liking it changes the next list the least
        event = {"session_id": sid, "item_id": item, "kind": "like", "user_id": user, "event_id": f"{sid}-{t}"}
        got = _post(client, b.url, "/v1/feedback", event, tally)  # feedback lands on the other replica
        if got is not None and got.get("stored"):
            with tally.lock:
                tally.acked[sid].add(item)
                tally.acked_events.add(event["event_id"])
        again = _post(client, a.url, "/v1/feedback", event, tally)  # a client retry on the first replica
        if again is not None and again.get("stored"):
            with tally.lock:
                tally.retried_stored_again += 1


def replica_failover(
    config: TrustrecConfig,
    real_home: Path,
    work: Path,
    *,
    sessions: int = 4,
    turns: int = 3,
    startup_timeout_s: float = 900.0,
    request_timeout_s: float = 120.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the two-replica check (see the module docs) and return its figures.

    Args:
        config: The served config; ``config.store.url`` must name the shared PostgreSQL database.
        real_home: The workspace whose data, models and index the replicas link.
        work: A folder for the replicas' private workspaces and logs.
        sessions: Concurrent sessions (each alternates replicas turn by turn).
        turns: Turns per session before the kill.

    Raises:
        BadInput: No PostgreSQL store configured, or counts out of bounds.
        RuntimeError: A replica did not become healthy (its log tail is in the message).
    """
    import httpx

    from catalog import Store

    if not config.store.url:
        raise BadInput("the replica check needs a shared store: set [store] url = 'postgresql://...'")
    if not (1 <= sessions <= 32 and 1 <= turns <= 10):
        raise BadInput("sessions must be 1..32 and turns 1..10")
    say = progress or (lambda _m: None)
    servers = [start_server(config, isolated_workspace(real_home, work / f"replica-{k}"), progress=say) for k in (0, 1)]
    tally = _Tally()
    killed: dict[str, Any] = {}
    try:
        for s in servers:
            s.wait_healthy(startup_timeout_s, say)
        with httpx.Client(timeout=request_timeout_s) as client:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=sessions) as pool:
                list(pool.map(lambda k: _session(client, servers, k, turns, tally), range(sessions)))
            say(
                f"{tally.turns} turns over {sessions} sessions alternating replicas in {time.perf_counter() - t0:.1f} s"
            )
            # kill replica 0 in the middle of a streamed turn: after its first event, before its reply
            victim, survivor = servers
            sid = next(iter(tally.acked))
            outcome: dict[str, Any] = {"events": []}
            started = threading.Event()

            def doomed_turn() -> None:
                try:
                    body = {"message": MESSAGES[1], "session_id": sid}
                    with client.stream("POST", victim.url + "/v1/chat/stream", json=body) as r:
                        outcome["status"] = r.status_code
                        for line in r.iter_lines():
                            if line.startswith("event:"):
                                outcome["events"].append(line.split(":", 1)[1].strip())
                                started.set()
                except httpx.HTTPError as e:
                    outcome["error"] = type(e).__name__
                finally:
                    started.set()

            th = threading.Thread(target=doomed_turn)
            th.start()
            started.wait(timeout=request_timeout_s)
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=30)
            th.join(timeout=request_timeout_s)
            outcome["mid_turn"] = bool(outcome["events"]) and "reply" not in outcome["events"]
            killed = {"pid": victim.pid, "in_flight": outcome}
            say(f"replica pid {victim.pid} killed mid-turn: {outcome}")
            # every session continues on the survivor; its memory must hold every acknowledged like
            lost_sessions: list[str] = []
            for sess, likes in tally.acked.items():
                prof = client.get(f"{survivor.url}/v1/profile/{sess}")
                tally.status(prof.status_code)
                liked = {x["item_id"] for x in prof.json().get("liked", [])} if prof.status_code == 200 else set()
                if not likes <= liked:
                    lost_sessions.append(sess)
                _post(client, survivor.url, "/v1/chat", {"message": MESSAGES[2], "session_id": sess}, tally)
    finally:
        for s in servers:
            s.stop()
    with Store(config.store.url) as store:
        stored = [e.event_id for e in store.feedback()]
    ours = [e for e in stored if e.startswith("replica-")]
    five = sum(n for code, n in tally.statuses.items() if code >= 500)
    return {
        "replicas": 2,
        "sessions": sessions,
        "turns": tally.turns,
        "acknowledged_events": len(tally.acked_events),
        "lost_events": len(tally.acked_events - set(ours)),
        "duplicate_events": len(ours) - len(set(ours)),
        "retries_stored_twice": tally.retried_stored_again,
        "lost_sessions": len(lost_sessions),
        "status_5xx": five,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "killed": killed,
        "errors": tally.errors[:10],
    }


# ------------------------------------------------------------------------------ Ray Serve replicas


@dataclass
class RayServed:
    """A ``trustrec serve --engine ray`` subprocess (its own process group: the local Ray cluster's
    processes go with it when it has to be killed)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    ready_s: float = 0.0

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_serving(self, timeout_s: float, progress: Progress | None = None) -> RayServed:
        """Block until the command says every replica is serving and ``/healthz`` answers.

        Raises:
            RuntimeError: The command exited, or was not serving within ``timeout_s`` (log tail included).
        """
        import httpx

        deadline = time.monotonic() + timeout_s
        while True:
            if "serving on Ray Serve" in self.log_tail(200_000):
                try:
                    if httpx.get(self.url + "/healthz", timeout=10).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"trustrec serve --engine ray exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"trustrec serve --engine ray not serving within {timeout_s:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(1.0)
        self.ready_s = time.perf_counter() - self.started
        (progress or (lambda _m: None))(f"Ray Serve replicas serving after {self.ready_s:.1f} s")
        return self

    def stop(self, timeout_s: float = 120.0) -> int | None:
        """Ctrl-C (SIGINT), as a person stops it; the whole process group is killed if it does not exit
        within ``timeout_s``. Returns the exit code (None when it had to be killed)."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            return None


def start_ray_serve(
    config: TrustrecConfig, home: Path, replicas: int, *, ui: bool = True, progress: Progress | None = None
) -> RayServed:
    """Start ``trustrec serve --engine ray --replicas N --no-llm`` on 127.0.0.1 and a free port over ``home``
    (an :func:`isolated_workspace`); output goes to ``home/serve-ray.log``. Returns at once."""
    say = progress or (lambda _m: None)
    toml_path = home / "serve.toml"
    toml_path.write_text(config_toml(config), encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTREC_")}
    env.update(
        TRUSTREC_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1", RAY_USAGE_STATS_ENABLED="0",
    )  # fmt: skip
    cmd = [sys.executable, "-m", "ui.cli", "serve", "--engine", "ray", "--replicas", str(replicas), "--no-llm"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--config", str(toml_path)] + ([] if ui else ["--no-ui"])
    say(f"starting `trustrec serve --engine ray --replicas {replicas}` on 127.0.0.1:{port} (workspace {home})")
    log = home / "serve-ray.log"
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(home), start_new_session=True
        )
    return RayServed(f"http://127.0.0.1:{port}", proc, log, t0)


def _sse_events(client: Any, url: str, body: dict[str, Any]) -> tuple[int, str | None, list[str], dict[str, Any]]:
    """POST a streamed turn: status, the replica header, the event names in order, the final reply."""
    names: list[str] = []
    reply: dict[str, Any] = {}
    with client.stream("POST", url + "/v1/chat/stream", json=body) as r:
        replica = r.headers.get("x-trustrec-replica")
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
                names.append(event)
            elif line.startswith("data:") and event == "reply":
                import json

                reply = json.loads(line.split(":", 1)[1])["reply"]  # {"kind": "reply", "reply": {...}}
        return r.status_code, replica, names, reply


def ray_serve_session(
    config: TrustrecConfig,
    real_home: Path,
    work: Path,
    *,
    replicas: int = 2,
    turns: int = 6,
    startup_timeout_s: float = 1800.0,
    request_timeout_s: float = 120.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One multi-turn session with feedback through Serve's proxy, every other turn streamed.

    Returns which replica answered each request, the session's memory at the end (``turn``, likes
    acknowledged vs remembered), the streamed turns' event names, the browser page's status and the
    command's exit code after Ctrl-C.

    Raises:
        BadInput: No PostgreSQL store configured, or counts out of bounds.
        RuntimeError: The replicas did not start (log tail in the message).
    """
    import httpx

    if not config.store.url:
        raise BadInput("the Ray Serve check needs a shared store: set [store] url = 'postgresql://...'")
    if not (1 <= replicas <= 8 and 1 <= turns <= 20):
        raise BadInput("replicas must be 1..8 and turns 1..20")
    say = progress or (lambda _m: None)
    served = start_ray_serve(config, isolated_workspace(real_home, work / "ray-serve"), replicas, progress=say)
    answered: list[dict[str, Any]] = []
    acked: list[str] = []
    streams: list[list[str]] = []
    statuses: dict[int, int] = {}
    out: dict[str, Any] = {}
    try:
        served.wait_serving(startup_timeout_s, say)
        url = served.url
        sid = f"ray-{uuid.uuid4().hex[:12]}"
        with httpx.Client(timeout=request_timeout_s) as client:
            health = client.get(url + "/healthz").json()
            page = client.get(url + "/")
            out["health"] = {k: health.get(k) for k in ("status", "ready", "replica", "mode")}
            out["page_status"] = page.status_code
            out["page_is_app"] = "gradio" in page.text.lower()
            for t in range(turns):
                body = {"message": MESSAGES[t % len(MESSAGES)], "session_id": sid, "user_id": "196"}
                if t % 2:
                    code, replica, names, reply = _sse_events(client, url, body)
                    streams.append(names)
                else:
                    r = client.post(url + "/v1/chat", json=body)
                    code, replica, reply = r.status_code, r.headers.get("x-trustrec-replica"), r.json()
                statuses[code] = statuses.get(code, 0) + 1
                answered.append({"turn": t, "what": "stream" if t % 2 else "chat", "replica": replica, "status": code})
                if code != 200 or not reply.get("cards"):
                    continue
                item = reply["cards"][-1]["item_id"]
                fb = client.post(url + "/v1/feedback", json={
                    "session_id": sid, "item_id": item, "kind": "like", "user_id": "196", "event_id": f"{sid}-{t}",
                })  # fmt: skip
                statuses[fb.status_code] = statuses.get(fb.status_code, 0) + 1
                answered.append({"turn": t, "what": "feedback", "replica": fb.headers.get("x-trustrec-replica"),
                                 "status": fb.status_code})  # fmt: skip
                if fb.status_code == 200 and fb.json().get("stored"):
                    acked.append(item)
            prof = client.get(f"{url}/v1/profile/{sid}")
            statuses[prof.status_code] = statuses.get(prof.status_code, 0) + 1
            memory = prof.json() if prof.status_code == 200 else {}
    finally:
        out["exit_code"] = served.stop()
        out["log_tail"] = served.log_tail(1500)
    remembered = [x["item_id"] for x in memory.get("liked", [])]
    replicas_seen = sorted({a["replica"] for a in answered if a["replica"]})
    return out | {
        "replicas": replicas,
        "ready_s": round(served.ready_s, 1),
        "turns": turns,
        "answered": answered,
        "replicas_seen": replicas_seen,
        "session_turn": memory.get("turn"),
        "acknowledged_likes": acked,
        "remembered_likes": remembered,
        "lost_likes": sorted(set(acked) - set(remembered)),
        "streams": streams,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def _pct(xs: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def ray_serve_throughput(
    config: TrustrecConfig,
    real_home: Path,
    work: Path,
    *,
    replicas: tuple[int, ...] = (1, 2),
    sessions: int = 4,
    turns: int = 5,
    startup_timeout_s: float = 1800.0,
    request_timeout_s: float = 180.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Turns/s and p50/p95 per turn (template text) through Serve's proxy for each replica count.

    ``sessions`` concurrent sessions of ``turns`` turns each (``POST /v1/chat``) after one warm-up turn per
    session; the API only (``--no-ui``), so every replica serves the API. The load average before and
    after each level is part of the figure: on 2 shared cores a second replica has no core of its own.
    """

    if not config.store.url and max(replicas) > 1:
        raise BadInput("more than one replica needs a shared store: set [store] url = 'postgresql://...'")
    if not (1 <= sessions <= 32 and 1 <= turns <= 20 and replicas and max(replicas) <= 8):
        raise BadInput("sessions must be 1..32, turns 1..20 and replicas 1..8")
    say = progress or (lambda _m: None)
    levels: list[dict[str, Any]] = []
    for n in replicas:
        served = start_ray_serve(config, isolated_workspace(real_home, work / f"ray-{n}"), n, ui=False, progress=say)
        try:
            served.wait_serving(startup_timeout_s, say)
            level = _measure(served.url, n, sessions, turns, request_timeout_s)
            levels.append(level | {"replicas": n, "ready_s": round(served.ready_s, 1)})
            say(f"{n} replica(s): {levels[-1]}")
        finally:
            served.stop()
    return {"sessions": sessions, "turns_per_session": turns, "cores": os.cpu_count(), "levels": levels}


def _measure(url: str, n: int, sessions: int, turns: int, timeout_s: float) -> dict[str, Any]:
    """``sessions`` concurrent sessions of ``turns`` timed ``POST /v1/chat`` turns after one warm-up turn each."""
    import httpx

    lat: list[float] = []
    seen: dict[str, int] = {}
    codes: dict[int, int] = {}
    lock = threading.Lock()

    def one(client: Any, sid: str, t: int, timed: bool) -> None:
        body = {"message": MESSAGES[t % len(MESSAGES)], "session_id": sid, "user_id": USERS[t % len(USERS)]}
        t0 = time.perf_counter()
        r = client.post(url + "/v1/chat", json=body)
        dt = time.perf_counter() - t0
        with lock:
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            rep = r.headers.get("x-trustrec-replica", "?")
            seen[rep] = seen.get(rep, 0) + 1
            if timed and r.status_code == 200:
                lat.append(dt)

    def session(client: Any, k: int) -> None:
        sid = f"bench-{n}-{k}-{uuid.uuid4().hex[:8]}"
        for t in range(turns):
            one(client, sid, t, True)

    with httpx.Client(timeout=timeout_s) as client, ThreadPoolExecutor(max_workers=sessions) as pool:
        list(pool.map(lambda k: one(client, f"warm-{k}-{uuid.uuid4().hex[:6]}", k, False), range(sessions)))
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        list(pool.map(lambda k: session(client, k), range(sessions)))
        wall = time.perf_counter() - t0
        load_after = os.getloadavg()
    return {
        "turns": len(lat), "wall_s": round(wall, 2), "turns_per_s": round(len(lat) / wall, 3) if wall else None,
        "p50_s": round(_pct(lat, 50), 3), "p95_s": round(_pct(lat, 95), 3),
        "answers_per_replica": dict(sorted(seen.items())), "statuses": {str(k): v for k, v in sorted(codes.items())},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }  # fmt: skip
