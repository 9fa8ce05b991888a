"""Store reliability checks with small counts: real writer processes, real SIGKILL, real SQLite WAL."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from evals.reliability import (
    _host,
    _read_acks,
    _wait_for,
    _wait_gone,
    concurrent_writers,
    lock_wait_bounded,
    sigkill_durability,
    torn_wal_recovery,
    wal_commit_offsets,
)


def test_sigkill_loses_no_acknowledged_event(tmp_path: Path) -> None:
    r = sigkill_durability(tmp_path, kills=10, seed=1)
    assert r["kills"] == 10
    assert r["acked"] >= 10  # every writer acknowledged at least one event before its kill
    assert r["lost"] == 0, r["lost_examples"]
    assert r["integrity"] == "ok"
    assert r["committed_unacked"] <= r["kills"]  # at most the one in-flight event per kill
    assert r["stored"] == r["acked"] + r["committed_unacked"]


def test_concurrent_writers_give_exact_counts(tmp_path: Path) -> None:
    r = concurrent_writers(tmp_path, writers=4, events=40, duplicates=10, seed=2)
    assert r["errors"] == 0, r["error_examples"]
    assert r["stored"] == 4 * 40 and r["expected"] == 160
    assert r["new_acks"] == 160 and r["duplicate_acks"] == 40
    assert r["exact"] == 1 and r["integrity_ok"] == 1


def test_torn_wal_recovers_exactly_the_complete_commits(tmp_path: Path) -> None:
    r = torn_wal_recovery(tmp_path, trials=4, events=60, seed=3)
    assert r["truncate_trials"] == 2 and r["live_copy_trials"] == 2
    assert r["failures"] == 0, r["failure_examples"]
    assert r["integrity_failures"] == 0


def test_wal_parser_counts_one_commit_per_event_and_stops_at_a_corrupt_frame(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    from catalog import Store

    Store(db).close()
    ack = tmp_path / "w.ack"
    with _host() as host:
        pid = host.spawn(db=str(db), ack=str(ack), ids=[f"e{i}" for i in range(25)], linger=True)
        _wait_for(lambda: _read_acks(ack)["end"], 60.0, "writer")
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone(pid, 30.0)
    wal = db.with_name(db.name + "-wal")
    page, commits = wal_commit_offsets(wal)
    assert page > 0 and len(commits) == 25 == len(_read_acks(ack)["new"])
    data = bytearray(wal.read_bytes())
    mid = commits[9] + 24 + 100  # inside the page of the frame after the 10th commit
    data[mid] ^= 0xFF
    bad = tmp_path / "bad-wal"
    bad.write_bytes(bytes(data))
    _, kept = wal_commit_offsets(bad)
    assert kept == commits[:10]


def test_lock_wait_is_bounded_and_the_retry_lands_once(tmp_path: Path) -> None:
    r = lock_wait_bounded(tmp_path, timeout_s=0.2)
    assert r["error_raised"] == 1 and "locked" in r["blocked_error"]
    assert r["retry_ok"] == 1 and r["stored"] == 1


def test_ack_parser_ignores_a_partial_last_line(tmp_path: Path) -> None:
    p = tmp_path / "a.ack"
    p.write_text("OPEN\nA e1\nD e1\nERR OperationalError: x\nA e2")
    a = _read_acks(p)
    assert a["new"] == ["e1"] and a["dup"] == ["e1"] and a["errors"] == ["OperationalError: x"] and not a["end"]
