"""Store-level reliability checks: the feedback store keeps every acknowledged event, whatever happens.

Each check drives real writer *processes* against a real SQLite store (:class:`catalog.Store`) and
returns JSON-ready figures for the suite report:

- :func:`sigkill_durability`: a writer process calling :meth:`catalog.Store.add_feedback` in a loop
  is killed with SIGKILL at random moments, ``kills`` times; an event is *acknowledged* once
  ``add_feedback`` has returned (the writer then appends its id to an acknowledgement file). After
  the kills: ``PRAGMA integrity_check`` is ``ok`` and no acknowledged event is missing.
- :func:`concurrent_writers`: ``writers`` processes start together; each writes ``events`` distinct
  events and ``duplicates`` re-sends of its own ids, interleaved. The store must end with exactly
  ``writers * events`` rows, every first write acknowledged as new, every re-send as a duplicate,
  and no writer error (a ``database is locked`` error counts).
- :func:`torn_wal_recovery`: a writer commits events into the WAL and is killed; the WAL file is then
  cut at an arbitrary byte offset (``mode="truncate"``), or the database and WAL files are copied while
  a writer is committing (``mode="live-copy"``). Opening the copy must give ``integrity_check == ok``
  and exactly the events of the complete commits before the cut (truncate), or a prefix of the
  writer's events holding every event acknowledged before the copy began (live copy).
- :func:`lock_wait_bounded`: the bounded wait: a writer blocked by another connection's write lock
  gets a clear ``database is locked`` error after its ``timeout`` instead of waiting forever, and
  succeeds once the lock is released (nothing lost, nothing doubled).

Writers are forked from one small host process (started once, importing :mod:`catalog` once), so a
kill costs milliseconds rather than an interpreter start. The processes are real: SIGKILL lands
between, inside or after SQLite transactions.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from catalog.store import Store

__all__ = [
    "ReliabilityConfig",
    "concurrent_writers",
    "lock_wait_bounded",
    "run_reliability",
    "sigkill_durability",
    "torn_wal_recovery",
    "wal_commit_offsets",
]

Progress = Callable[[str], None]


class ReliabilityConfig(BaseModel):
    """Sizes of the store reliability checks (the smoke suite uses smaller ones)."""

    kills: int = Field(50, ge=1, description="SIGKILLs of a feedback writer process.")
    max_kill_delay_s: float = Field(
        0.15, ge=0, description="A kill lands uniformly within this many seconds after the writer's first ack."
    )
    writers: int = Field(8, ge=1, description="Concurrent writer processes.")
    events_per_writer: int = Field(200, ge=1, description="Distinct events each concurrent writer stores.")
    duplicates_per_writer: int = Field(50, ge=0, description="Re-sends of its own event ids per concurrent writer.")
    torn_trials: int = Field(20, ge=0, description="Torn-WAL recovery trials (half truncate, half live copy).")
    torn_events: int = Field(120, ge=2, description="Events a torn-WAL writer commits (kept below auto-checkpoint).")
    lock_timeout_s: float = Field(0.5, gt=0, description="Store lock timeout in the bounded-wait check.")
    seed: int = Field(0, description="Seed of kill delays, interleavings and cut offsets.")


# --------------------------------------------------------------------------------------- writer host

_HOST = r"""
import json, os, signal, sys, time
from catalog.store import Store
from catalog.types import FeedbackEvent, FeedbackKind

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # writers are reaped at once: a dead pid is gone


def ids(job):
    if job.get("ids") is not None:
        yield from job["ids"]
    else:
        for i in range(job["start"], job["start"] + job["count"]):
            yield job["prefix"] + str(i)


def run(job):
    ack = os.open(job["ack"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        go = job.get("go")
        while go and not os.path.exists(go):
            time.sleep(0.001)
        store = Store(job["db"], timeout=job.get("timeout", 30.0))
        os.write(ack, b"OPEN\n")
        for n, eid in enumerate(ids(job)):
            ev = FeedbackEvent(event_id=eid, session_id=job.get("session", "s"), user_id=job.get("user", "u"),
                               item_id=str(1 + n % 1682), kind=FeedbackKind.LIKE, timestamp=1.0e9 + n)
            new = store.add_feedback(ev)
            os.write(ack, (("A " if new else "D ") + eid + "\n").encode())  # acknowledged: committed
        os.write(ack, b"END\n")
        while job.get("linger"):
            time.sleep(1)
        store.close()
    except BaseException as e:
        msg = (type(e).__name__ + ": " + str(e)).replace("\n", " ")
        os.write(ack, ("ERR " + msg + "\n").encode())
        os._exit(1)
    os._exit(0)


for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            run(job)
        finally:
            os._exit(1)
    sys.stdout.write(str(pid) + "\n")
    sys.stdout.flush()
"""


class _WriterHost:
    """A process that forks feedback writers on request (see the module docstring)."""

    def __init__(self) -> None:
        import catalog

        root = str(Path(catalog.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        # single-threaded host: forking is then safe (no BLAS/OpenMP worker threads)
        env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.pids: list[int] = []

    def spawn(self, **job: Any) -> int:
        """Fork one writer; returns its pid. ``job``: db, ack, and ids or prefix/start/count."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            err = self.proc.poll()
            raise RuntimeError(f"writer host failed (exit {err}); run `python -c 'import catalog.store'` to see why")
        pid = int(line)
        self.pids.append(pid)
        return pid

    def close(self) -> None:
        for pid in self.pids:  # only the writers this host forked, by pid
            _kill(pid)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def _host() -> Iterator[_WriterHost]:
    h = _WriterHost()
    try:
        yield h
    finally:
        h.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pid reused by someone else's process: ours is gone
        return False
    return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    _wait_gone(pid, 10.0)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _read_acks(path: Path) -> dict[str, Any]:
    """Parse an acknowledgement file (complete lines only)."""
    out: dict[str, Any] = {"new": [], "dup": [], "errors": [], "end": False, "open": False}
    if not path.exists():
        return out
    text = path.read_text()
    lines = text.split("\n")[:-1]  # a line without its newline was not written whole
    for ln in lines:
        if ln.startswith("A "):
            out["new"].append(ln[2:])
        elif ln.startswith("D "):
            out["dup"].append(ln[2:])
        elif ln.startswith("ERR "):
            out["errors"].append(ln[4:])
        elif ln == "END":
            out["end"] = True
        elif ln == "OPEN":
            out["open"] = True
    return out


def _wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.002)


def _finished(ack: Path) -> Callable[[], bool]:
    def done() -> bool:
        a = _read_acks(ack)
        return bool(a["end"] or a["errors"])

    return done


def _stored_ids(db: Path) -> tuple[set[str], str]:
    with Store(db) as s:
        integrity = s.integrity_check()
        ids = {r[0] for r in s._conn.execute("SELECT event_id FROM feedback")}
    return ids, integrity


def _first_ack(ack: Path, pid: int, timeout: float = 60.0) -> None:
    def ready() -> bool:
        a = _read_acks(ack)
        if a["errors"]:
            raise RuntimeError(f"writer {pid} failed: {a['errors'][0]}")
        if not _alive(pid) and not a["new"] and not a["end"]:
            raise RuntimeError(f"writer {pid} died before its first acknowledgement")
        return bool(a["new"]) or a["end"]

    _wait_for(ready, timeout, f"writer {pid}'s first acknowledgement")


# ------------------------------------------------------------------------------------------- checks


def sigkill_durability(
    workdir: Path, *, kills: int = 50, max_delay_s: float = 0.15, seed: int = 0, progress: Progress | None = None
) -> dict[str, Any]:
    """SIGKILL a feedback writer ``kills`` times; count acknowledged events lost.

    Args:
        workdir: Empty folder for the database and acknowledgement files.
        kills: Writer processes started and killed.
        max_delay_s: Each kill lands uniformly in ``[0, max_delay_s]`` after the writer's first ack.
        seed: Seed of the delays.
        progress: Called with a line per tenth of the kills.

    Returns:
        ``{"kills", "acked", "stored", "lost", "committed_unacked", "integrity", "integrity_ok",
        "seconds", "kills_per_s"}``; ``lost`` must be 0 and ``committed_unacked <= kills``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "sigkill.sqlite3"
    rng = random.Random(seed)
    acked: set[str] = set()
    t0 = time.perf_counter()
    with _host() as host:
        for k in range(kills):
            ack = workdir / f"sigkill-{k}.ack"
            pid = host.spawn(db=str(db), ack=str(ack), prefix=f"k{k}-", start=0, count=10**7)
            _first_ack(ack, pid)
            time.sleep(rng.uniform(0.0, max_delay_s))
            os.kill(pid, signal.SIGKILL)
            if not _wait_gone(pid, 30.0):
                raise RuntimeError(f"writer {pid} survived SIGKILL for 30 s")
            acked.update(_read_acks(ack)["new"])
            if progress and (k + 1) % max(1, kills // 10) == 0:
                progress(f"sigkill: {k + 1}/{kills} kills, {len(acked)} acknowledged")
    seconds = time.perf_counter() - t0
    stored, integrity = _stored_ids(db)
    lost = acked - stored
    return {
        "kills": kills,
        "acked": len(acked),
        "stored": len(stored),
        "lost": len(lost),
        "lost_examples": sorted(lost)[:5],
        "committed_unacked": len(stored - acked),
        "integrity": integrity,
        "integrity_ok": int(integrity == "ok"),
        "seconds": round(seconds, 3),
        "kills_per_s": round(kills / seconds, 2) if seconds > 0 else None,
    }


def concurrent_writers(
    workdir: Path,
    *,
    writers: int = 8,
    events: int = 200,
    duplicates: int = 50,
    seed: int = 0,
    timeout_s: float = 30.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``writers`` processes write distinct events plus re-sends of their own ids at the same time.

    Returns:
        ``{"writers", "events_per_writer", "duplicates_per_writer", "expected", "stored", "exact",
        "new_acks", "duplicate_acks", "errors", "error_examples", "integrity_ok", "seconds",
        "events_per_s"}``. ``exact`` is 1 when the stored ids are exactly the distinct ids written,
        every writer acknowledged ``events`` new and ``duplicates`` duplicate writes, and no writer failed.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "concurrent.sqlite3"
    go = workdir / "concurrent.go"
    Store(db).close()  # schema first, so writers race on data, not on CREATE TABLE
    rng = random.Random(seed)
    plans: list[list[str]] = []
    for w in range(writers):
        own = [f"w{w}-e{i}" for i in range(events)]
        seq = list(own)
        for _ in range(duplicates):  # a re-send of an id this writer has already written, placed after it
            j = rng.randrange(events)
            pos = rng.randrange(seq.index(own[j]) + 1, len(seq) + 1)
            seq.insert(pos, own[j])
        plans.append(seq)
    acks = [workdir / f"concurrent-{w}.ack" for w in range(writers)]
    with _host() as host:
        pids = [
            host.spawn(db=str(db), ack=str(a), ids=p, go=str(go), timeout=timeout_s, session=f"s{w}", user=f"u{w}")
            for w, (a, p) in enumerate(zip(acks, plans, strict=True))
        ]
        t0 = time.perf_counter()
        go.touch()
        deadline = timeout_s * 4 + events * writers * 0.05
        for pid in pids:
            if not _wait_gone(pid, deadline):
                raise TimeoutError(f"concurrent writer {pid} still running after {deadline:.0f} s")
        seconds = time.perf_counter() - t0
    per = [_read_acks(a) for a in acks]
    stored, integrity = _stored_ids(db)
    expected = {e for p in plans for e in p}
    errors = [e for a in per for e in a["errors"]]
    per_ok = all(len(a["new"]) == events and len(a["dup"]) == duplicates and a["end"] and not a["errors"] for a in per)
    exact = stored == expected and per_ok and len(stored) == writers * events
    if progress:
        progress(f"concurrent: {writers} writers, {len(stored)} stored of {writers * events} expected")
    return {
        "writers": writers,
        "events_per_writer": events,
        "duplicates_per_writer": duplicates,
        "expected": writers * events,
        "stored": len(stored),
        "exact": int(exact),
        "new_acks": sum(len(a["new"]) for a in per),
        "duplicate_acks": sum(len(a["dup"]) for a in per),
        "errors": len(errors),
        "error_examples": errors[:3],
        "integrity_ok": int(integrity == "ok"),
        "seconds": round(seconds, 3),
        "events_per_s": round(sum(len(p) for p in plans) / seconds, 1) if seconds > 0 else None,
    }


def wal_commit_offsets(wal: Path) -> tuple[int, list[int]]:
    """Page size and the byte offsets just past each valid commit frame of a SQLite WAL file.

    Frames are followed while their salts match the header and the checksum chain holds (SQLite's
    own recovery rule), so the list ends at the first torn or stale frame.
    """
    data = Path(wal).read_bytes()
    if len(data) < 32:
        return 0, []
    magic, _version, page_size, _ckpt, salt1, salt2, c1, c2 = struct.unpack(">IIIIIIII", data[:32])
    big = magic & 1
    fmt = ">" if big else "<"

    def checksum(buf: bytes, s1: int, s2: int) -> tuple[int, int]:
        words = struct.unpack(fmt + f"{len(buf) // 4}I", buf)
        for i in range(0, len(words), 2):
            s1 = (s1 + words[i] + s2) & 0xFFFFFFFF
            s2 = (s2 + words[i + 1] + s1) & 0xFFFFFFFF
        return s1, s2

    s1, s2 = checksum(data[:24], 0, 0)
    if (s1, s2) != (c1, c2):
        return page_size, []
    frame = 24 + page_size
    offsets = []
    pos = 32
    while pos + frame <= len(data):
        hdr = data[pos : pos + 24]
        _pgno, commit, fs1, fs2, fc1, fc2 = struct.unpack(">IIIIII", hdr)
        if (fs1, fs2) != (salt1, salt2):
            break
        s1, s2 = checksum(hdr[:8], s1, s2)
        s1, s2 = checksum(data[pos + 24 : pos + frame], s1, s2)
        if (s1, s2) != (fc1, fc2):
            break
        pos += frame
        if commit:
            offsets.append(pos)
    return page_size, offsets


def _copy_db(src: Path, dst_dir: Path, wal_bytes: int | None = None) -> Path:
    """Copy the database file, then its WAL (cut to ``wal_bytes`` when given); no shared-memory file."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src.name
    shutil.copyfile(src, dst)
    wal = src.with_name(src.name + "-wal")
    if wal.exists():
        data = wal.read_bytes()
        (dst_dir / (src.name + "-wal")).write_bytes(data if wal_bytes is None else data[:wal_bytes])
    return dst


def torn_wal_recovery(
    workdir: Path,
    *,
    trials: int = 20,
    events: int = 120,
    seed: int = 0,
    modes: Sequence[Literal["truncate", "live-copy"]] = ("truncate", "live-copy"),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Open copies of the store whose WAL tail is torn; check integrity and exactly what survives.

    ``truncate`` trials: a writer commits ``events`` events (one transaction each) and is SIGKILLed,
    leaving them in the WAL; a copy with the WAL cut at a random byte offset must open with
    ``integrity_check == ok`` and hold exactly the events of the complete commit frames before the
    cut (every acknowledged event when the cut is past the last commit), nothing torn.
    ``live-copy`` trials: the files are copied while a writer commits; the copy must hold a prefix of
    the writer's events including every event acknowledged before the copy started.
    Trials alternate between ``modes``. ``events`` is kept below SQLite's auto-checkpoint (1000
    WAL pages), so all of a trial's events stay in the WAL.

    Returns:
        ``{"trials", "truncate_trials", "live_copy_trials", "failures", "integrity_failures",
        "events_recovered", "events_cut", "failure_examples", "seconds"}``; ``failures`` must be 0.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    failures: list[str] = []
    integrity_failures = 0
    recovered_total = 0
    cut_total = 0
    counts = {"truncate": 0, "live-copy": 0}
    t0 = time.perf_counter()
    with _host() as host:
        for t in range(trials):
            mode = modes[t % len(modes)]
            counts[mode] += 1
            tdir = workdir / f"torn-{t}"
            tdir.mkdir(parents=True, exist_ok=True)
            db = tdir / "store.sqlite3"
            Store(db).close()  # schema checkpointed into the main file; the WAL starts empty
            ids = [f"t{t}-e{i}" for i in range(events)]
            ack = tdir / "writer.ack"
            order = {e: i for i, e in enumerate(ids)}
            if mode == "truncate":
                pid = host.spawn(db=str(db), ack=str(ack), ids=ids, linger=True)
                _wait_for(_finished(ack), 120.0, "torn writer")
                os.kill(pid, signal.SIGKILL)  # leaves the WAL un-checkpointed, as a crash would
                _wait_gone(pid, 30.0)
                acks = _read_acks(ack)
                if acks["errors"]:
                    failures.append(f"trial {t}: writer error {acks['errors'][0]}")
                    continue
                wal = db.with_name(db.name + "-wal")
                _page, commits = wal_commit_offsets(wal)
                if len(commits) != len(acks["new"]):
                    failures.append(
                        f"trial {t}: {len(commits)} commit frames in the WAL for {len(acks['new'])} acknowledged "
                        "events (a checkpoint ran; lower `events`)"
                    )
                    continue
                size = wal.stat().st_size
                cut = rng.randrange(32, size + 1)
                complete = sum(1 for c in commits if c <= cut)
                copy = _copy_db(db, tdir / "copy", cut)
                stored, integrity = _stored_ids(copy)
                expect = set(ids[:complete])
                if integrity != "ok":
                    integrity_failures += 1
                    failures.append(f"trial {t}: integrity {integrity!r} after cutting the WAL at byte {cut}")
                elif stored != expect:
                    failures.append(
                        f"trial {t}: WAL cut at byte {cut} of {size}: expected the first {complete} events, "
                        f"got {len(stored)} ({len(expect - stored)} missing, {len(stored - expect)} unexpected)"
                    )
                recovered_total += len(stored)
                cut_total += len(ids) - complete
            else:
                pid = host.spawn(db=str(db), ack=str(ack), ids=ids, linger=True)
                _first_ack(ack, pid)
                time.sleep(rng.uniform(0.0, 0.05))
                before = len(_read_acks(ack)["new"])
                copy = _copy_db(db, tdir / "copy")
                after = len(_read_acks(ack)["new"])
                _kill(pid)
                stored, integrity = _stored_ids(copy)
                positions = sorted(order[e] for e in stored if e in order)
                prefix = positions == list(range(len(positions))) and len(positions) == len(stored)
                if integrity != "ok":
                    integrity_failures += 1
                    failures.append(f"trial {t}: integrity {integrity!r} of a live copy")
                elif not prefix:
                    failures.append(f"trial {t}: live copy holds {len(stored)} events that are not a prefix")
                elif not before <= len(stored) <= after + 1:
                    failures.append(
                        f"trial {t}: live copy holds {len(stored)} events; {before} were acknowledged before "
                        f"the copy and {after} after it"
                    )
                recovered_total += len(stored)
                cut_total += len(ids) - len(stored)
            if progress and (t + 1) % max(1, trials // 4) == 0:
                progress(f"torn WAL: {t + 1}/{trials} trials, {len(failures)} failures")
    return {
        "trials": trials,
        "truncate_trials": counts["truncate"],
        "live_copy_trials": counts["live-copy"],
        "failures": len(failures),
        "integrity_failures": integrity_failures,
        "events_recovered": recovered_total,
        "events_cut": cut_total,
        "failure_examples": failures[:5],
        "seconds": round(time.perf_counter() - t0, 3),
    }


def lock_wait_bounded(workdir: Path, *, timeout_s: float = 0.5) -> dict[str, Any]:
    """A writer behind another connection's write lock fails after its timeout, then succeeds.

    Returns:
        ``{"timeout_s", "blocked_error", "error_raised", "waited_s", "retry_ok", "stored", "exact"}``:
        ``error_raised`` and ``retry_ok`` must be 1 and ``stored`` exactly 1 (the retried event).
    """
    from catalog.types import FeedbackEvent, FeedbackKind

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "lock.sqlite3"
    ev = FeedbackEvent(event_id="locked-1", session_id="s", user_id="u", item_id="1", kind=FeedbackKind.LIKE)
    blocker = None
    with Store(db, timeout=timeout_s) as store:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
        error = ""
        t0 = time.perf_counter()
        try:
            store.add_feedback(ev)
        except sqlite3.OperationalError as e:
            error = str(e)
        waited = time.perf_counter() - t0
        blocker.execute("ROLLBACK")
        blocker.close()
        retry = store.add_feedback(ev)
        again = store.add_feedback(ev)
        stored = store.count_feedback()
    return {
        "timeout_s": timeout_s,
        "blocked_error": error,
        "error_raised": int(bool(error)),
        "waited_s": round(waited, 3),
        "retry_ok": int(retry and not again),
        "stored": stored,
        "exact": int(stored == 1),
    }


def run_reliability(
    workdir: Path, config: ReliabilityConfig | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """All store checks with ``config``'s sizes; one figures dict per check."""
    cfg = config or ReliabilityConfig()
    workdir = Path(workdir)
    out: dict[str, Any] = {}
    if cfg.kills:
        out["sigkill"] = sigkill_durability(
            workdir / "sigkill", kills=cfg.kills, max_delay_s=cfg.max_kill_delay_s, seed=cfg.seed, progress=progress
        )
    out["concurrent"] = concurrent_writers(
        workdir / "concurrent",
        writers=cfg.writers,
        events=cfg.events_per_writer,
        duplicates=cfg.duplicates_per_writer,
        seed=cfg.seed,
        progress=progress,
    )
    if cfg.torn_trials:
        out["torn_wal"] = torn_wal_recovery(
            workdir / "torn", trials=cfg.torn_trials, events=cfg.torn_events, seed=cfg.seed, progress=progress
        )
    out["lock_wait"] = lock_wait_bounded(workdir / "lock", timeout_s=cfg.lock_timeout_s)
    return out
