"""The durable store on both backends (SQLite, and a real PostgreSQL server the tests start): idempotent
feedback, user deletion without trace, durability under SIGKILL (of the writer, and of the server)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from catalog import FeedbackEvent, FeedbackKind, Interaction, Item, Store, User

# PostgreSQL runs a server: heavy (make test), SQLite also in make test-fast
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.heavy)]


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a store lives: a SQLite file, or a fresh database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return tmp_path / "db.sqlite3"
    return str(request.getfixturevalue("pg_url"))


def _event(i: int, user: str = "u1", session: str = "s1") -> FeedbackEvent:
    return FeedbackEvent(event_id=f"e{i}", session_id=session, user_id=user, item_id=str(i % 7), kind=FeedbackKind.LIKE)


def test_wal_mode_and_idempotent_feedback(target: str | Path) -> None:
    with Store(target) as s:
        if s.dialect == "sqlite":
            assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        else:  # durable on COMMIT: the server must not acknowledge before the WAL is flushed
            assert s._conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
            assert s._conn.execute("SHOW fsync").fetchone()[0] == "on"
        assert s.add_feedback(_event(1)) is True
        assert s.add_feedback(_event(1)) is False  # same event id: stored once
        assert s.add_feedback(_event(2)) is True
        assert s.count_feedback() == 2
        assert [e.event_id for e in s.feedback(session_id="s1")] == ["e1", "e2"]
        s.mark_consumed(["e1"])
        assert [e.event_id for e in s.feedback(unconsumed=True)] == ["e2"]


def test_items_users_interactions_roundtrip(target: str | Path) -> None:
    with Store(target) as s:
        s.upsert_items([Item(item_id="1", title="Toy Story", year=1995, categories=("Animation",))])
        s.upsert_items([Item(item_id="1", title="Toy Story", year=1995, categories=("Animation", "Comedy"))])
        s.upsert_users([User(user_id="u1", attributes={"age": 30})])
        s.add_interactions([Interaction(user_id="u1", item_id="1", value=4.0, timestamp=10.0)])
        assert s.item("1") is not None and s.item("1").categories == ("Animation", "Comedy")  # type: ignore[union-attr]
        assert s.meta() == {"items": 1, "users": 1, "interactions": 1, "feedback": 0}
        t = 1_700_000_000.123456  # a Unix time keeps its microseconds (PostgreSQL's REAL would round it)
        s.add_interactions([Interaction(user_id="u1", item_id="1", value=3.5, timestamp=t)])
        assert [i.timestamp for i in s.interactions("u1")] == [10.0, t]


def test_audit_log_is_append_only(target: str | Path) -> None:
    with Store(target) as s:
        s.audit("admin-1", "admin", "delete_user", "h1")
        for sql in ("UPDATE audit_log SET outcome='denied'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                s.db.execute(sql)
        assert [r["outcome"] for r in s.audit_log()] == ["allowed"]


@pytest.mark.heavy  # a PostgreSQL server
def test_two_processes_share_one_postgres_store(pg_url: str) -> None:
    """Two connections (as two replicas would have) see each other's events at once, stored once."""
    a, b = Store(pg_url), Store(pg_url)
    try:
        assert a.add_feedback(_event(1)) is True
        assert b.add_feedback(_event(1)) is False  # the other replica retried the same event: not duplicated
        assert b.add_feedback(_event(2)) is True
        assert [e.event_id for e in a.feedback(session_id="s1")] == ["e1", "e2"]
    finally:
        a.close()
        b.close()


def test_unreachable_postgres_is_a_clear_error() -> None:
    from catalog.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1/x.*\[store\] url") as err:
        Store("postgresql://me:hunter2@127.0.0.1:1/x", timeout=2)
    assert "hunter2" not in str(err.value)  # the password is never shown


def test_delete_user_leaves_no_trace(request: pytest.FixtureRequest, target: str | Path, tmp_path: Path) -> None:
    secret = f"user-zq8x-secret-{uuid.uuid4().hex[:8]}"
    with Store(target) as s:
        s.upsert_users([User(user_id=secret, attributes={"zip": "99999"}), User(user_id="other")])
        s.add_interactions([Interaction(user_id=secret, item_id="1", value=5.0, timestamp=1.0)] * 50)
        for i in range(50):
            s.add_feedback(_event(i, user=secret, session=f"{secret}-session"))
        s.add_feedback(_event(999, user="other"))
        counts = s.delete_user(secret)
        assert counts == {"users": 1, "interactions": 50, "feedback": 50}
        assert s.integrity_check() == "ok"
        assert s.meta()["feedback"] == 1
        if s.dialect == "postgresql":  # what autovacuum would do: statistics must not keep a copy
            s.db.execute("ANALYZE")
    if isinstance(target, Path):
        files = [p for p in tmp_path.iterdir() if p.name.startswith("db.sqlite3")]
    else:  # the whole cluster: tables, indexes, WAL segments, statistics
        files = request.getfixturevalue("pg_server").data_files()
    found = [str(p) for p in files if secret.encode() in p.read_bytes()]
    assert not found, f"the deleted user's id is still in {found}"


@pytest.mark.heavy  # a PostgreSQL server
def test_delete_user_check_can_fail(pg_server, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    """The no-trace check above can fail: without the scrub, the id is still in the cluster's files."""
    secret = f"user-kept-{uuid.uuid4().hex[:8]}"
    with Store(pg_url) as s:
        s.add_feedback(_event(1, user=secret))
        s.db.execute("DELETE FROM feedback")
        s.db.execute("CHECKPOINT")
    assert any(secret.encode() in p.read_bytes() for p in pg_server.data_files())


WRITER = r"""
import sys
from catalog import FeedbackEvent, FeedbackKind, Store
store = Store(sys.argv[1])
start = int(sys.argv[2])
for i in range(start, start + 100000):
    store.add_feedback(FeedbackEvent(event_id=f"ev{i}", session_id="s", user_id="u", item_id="1", kind=FeedbackKind.LIKE))
    sys.stdout.write(f"{i}\n")  # acknowledged: add_feedback returned after COMMIT
    sys.stdout.flush()
"""


@pytest.mark.slow  # kills writer processes 20 times
def test_sigkill_never_loses_acknowledged_events(target: str | Path, tmp_path: Path) -> None:
    """Kill a writing process with SIGKILL 20 times; every acknowledged event survives."""
    db = target
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    acked: set[str] = set()
    rng = random.Random(0)
    next_id = 0
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(db), str(next_id)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it is writing
        assert first.strip(), "writer produced no acknowledgement"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        kills += 1
        lines = [first, *out.splitlines()]
        done = [ln.strip() for ln in lines if ln.strip().isdigit()]
        acked.update(f"ev{i}" for i in done)
        next_id = max(int(i) for i in done) + 1 if done else next_id
        next_id += 1000  # fresh ids per run; an unacknowledged in-flight id may or may not be stored
    with Store(db) as s:
        assert s.integrity_check() == "ok"
        stored = {e.event_id for e in s.feedback()}
    lost = acked - stored
    assert not lost, f"{len(lost)} acknowledged events lost"
    assert len(acked) > 20


@pytest.mark.parametrize(
    "bad", [{"event_id": ""}, {"kind": "love"}, {"value": float("nan")}, {"session_id": "x" * 200}]
)
def test_feedback_event_validation(bad: dict[str, object]) -> None:
    from pydantic import ValidationError

    base = {"event_id": "e", "session_id": "s", "item_id": "1", "kind": "like"}
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate({**base, **bad})


@pytest.mark.slow  # a server crash, restart and WAL replay: about 15 s
@pytest.mark.heavy
def test_server_crash_never_loses_acknowledged_events(pg_server, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    """Crash the PostgreSQL server itself (immediate stop: no shutdown checkpoint) while a writer runs;
    every event the writer saw acknowledged is there after the restart's WAL replay."""
    Store(pg_url).close()  # schema first
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, pg_url, "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    acked: list[str] = []
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) == 200:
            pg_server.crash_and_restart()  # the writer's next insert fails: its connection is gone
            break
    rest, _ = proc.communicate(timeout=60)
    acked += [ln.strip() for ln in rest.splitlines() if ln.strip().isdigit()]
    assert proc.returncode != 0  # it did lose its server
    with Store(pg_url) as s:
        stored = {e.event_id for e in s.feedback()}
        assert s.integrity_check() == "ok"
    lost = {f"ev{i}" for i in acked} - stored
    assert len(acked) >= 200 and not lost, f"{len(lost)} of {len(acked)} acknowledged events lost"
