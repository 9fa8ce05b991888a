"""Reliability across processes: two ``trustrec serve`` replicas over one PostgreSQL store.

Concurrent sessions alternate their turns between the replicas (each turn on one, its feedback on the
other, the same event retried on the first); then one replica is killed with SIGKILL in the middle of a
turn and every session continues on the survivor. Figures: acknowledged feedback events lost (must be
0), sessions lost (a session whose memory on the survivor lacks a like it acknowledged: must be 0),
duplicate events (must be 0), and 5xx answers (must be 0; the killed connection is counted apart).

Everything runs on loopback with the real ``trustrec serve --no-llm`` command (see
:mod:`evals.reliability_http`), each replica in its own private workspace whose data, models and
index link the real ones; the shared state is the PostgreSQL database named by ``[store] url``.
Every loop is bounded in count and time.
"""

from __future__ import annotations

import signal
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
from evals.reliability_http import ServedApi, start_server

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
