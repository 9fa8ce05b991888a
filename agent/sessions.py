"""Session state shared by every way a turn can run (the guided graph and tool-calling mode).

:class:`Sessions` owns the LangGraph checkpointer (by session id: ``SqliteSaver`` on a SQLite file, or
``PostgresSaver`` on the shared PostgreSQL store, so any process can continue any session), the
per-session turn locks and the session -> user table that erasure needs.

A session's turns never run at once: :meth:`Sessions.turn` holds a lock per session in this process
and, on PostgreSQL, a session-level advisory lock keyed by a hash of the session id, so two replicas
over one store cannot run turns of the same session at once either (a replica that dies releases its
locks with its connection). The wait is bounded: past ``busy_timeout_s`` the caller gets
:class:`catalog.errors.SessionBusy` (the API answers 409 with ``Retry-After``). :class:`agent.recommender.Recommender` and
:func:`agent.tools_mode.run_tools_turn` both use it, so neither reaches into the other.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.state import DialogState
from catalog.errors import SessionBusy, StoreUnavailable
from catalog.store import Database, connect_postgres, is_postgres_url, open_sqlite
from catalog.types import FeedbackEvent

_SESSIONS_TABLE = "CREATE TABLE IF NOT EXISTS trustrec_sessions (session_id TEXT PRIMARY KEY, user_id TEXT)"
# LangGraph's Postgres checkpoint tables (langgraph-checkpoint-postgres 3.x) and ours: rewritten on erasure
_PG_SESSION_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "trustrec_sessions")
_POLL_S = (0.02, 0.25)
FEEDBACK_WAIT_S = 1.0  # a feedback event waits this long for a running turn, then is applied after it
MAX_PENDING = 256  # feedback events kept per session while its turn runs  # advisory-lock polling: first and longest pause between tries
log = logging.getLogger(__name__)


def session_lock_key(session_id: str) -> int:
    """The 64-bit PostgreSQL advisory-lock key of a session (a keyed hash of its id, signed as ``bigint``)."""
    digest = hashlib.blake2b(session_id.encode("utf-8", "surrogatepass"), digest_size=8, person=b"trustrec-turn")
    return int.from_bytes(digest.digest(), "big", signed=True)


class Sessions:
    """Checkpointed dialog states and their locks.

    Args:
        engine: The built components (the graph's nodes use them).
        path: SQLite file for the checkpoints, or the store's ``postgresql://`` URL.
        max_locks: Per-session locks kept (least recently used beyond it are dropped when free).
        busy_timeout_s: Longest wait for a session's running turn (:meth:`turn`).
        turn_bound_s: Longest a turn runs (``agent.turn_timeout_s``): pending feedback waits that long more.

    Raises:
        StoreUnavailable: The PostgreSQL server does not answer, or the ``scale`` extra is missing.
    """

    def __init__(
        self,
        engine: Any,
        path: Path | str,
        *,
        max_locks: int,
        busy_timeout_s: float = 30.0,
        turn_bound_s: float = 60.0,
    ) -> None:
        from agent.guided import build_graph

        self.db: Database | None = None
        if is_postgres_url(path):
            self.saver = self._postgres_saver(str(path))
        else:
            from langgraph.checkpoint.sqlite import SqliteSaver

            self.conn = open_sqlite(path, autocommit=False)
            self.conn.execute(_SESSIONS_TABLE)
            self.conn.commit()
            self.saver = SqliteSaver(self.conn)
        self.graph = build_graph(engine, self.saver)
        self._max_locks = max_locks
        self.busy_timeout_s = busy_timeout_s
        self.turn_bound_s = turn_bound_s
        self._locks: OrderedDict[str, threading.Lock] = OrderedDict()
        self._locks_guard = threading.Lock()
        # feedback that arrived while its session's turn ran: applied first thing in the session's next turn
        # here, or by one waiter thread per session as soon as the running turn ends (bounded, see feedback())
        self._pending: dict[str, list[FeedbackEvent]] = {}
        self._waiters: set[str] = set()

    def _postgres_saver(self, url: str) -> Any:
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
        except ImportError as e:
            raise StoreUnavailable(
                "PostgreSQL sessions need langgraph-checkpoint-postgres: pip install 'trustrec[scale]'"
            ) from e
        self.db = Database(url)  # our own table and the erasure scrub; the saver has its own connection
        # the settings LangGraph's PostgresSaver documents for a plain connection
        self._saver_conn = connect_postgres(url, prepare_threshold=0, row_factory=dict_row)
        saver = PostgresSaver(self._saver_conn)
        with self.db.exclusive("trustrec-checkpoints"):  # one process at a time runs LangGraph's migrations
            saver.setup()
            self.db.execute(_SESSIONS_TABLE)
            for t in _PG_SESSION_TABLES:  # no statistics (most-common values) that erasure cannot reach
                col = "session_id" if t == "trustrec_sessions" else "thread_id"
                self.db.execute(f"ALTER TABLE {t} ALTER COLUMN {col} SET STATISTICS 0")
            self.db.execute("ALTER TABLE trustrec_sessions ALTER COLUMN user_id SET STATISTICS 0")
        return saver

    def lock(self, session_id: str) -> threading.Lock:
        """The lock that serialises one session's turns (bounded LRU of locks)."""
        with self._locks_guard:
            lock = self._locks.pop(session_id, None) or threading.Lock()
            self._locks[session_id] = lock
            while len(self._locks) > self._max_locks:
                old, old_lock = next(iter(self._locks.items()))
                if old_lock.locked():
                    break
                self._locks.pop(old)
            return lock

    @contextmanager
    def turn(self, session_id: str, *, timeout_s: float | None = None) -> Iterator[None]:
        """Hold the session's turn lock: this process's lock and, on PostgreSQL, the cluster-wide advisory
        lock of the session (``pg_try_advisory_lock``, polled outside any transaction).

        Raises:
            SessionBusy: Not acquired within ``timeout_s`` (default ``busy_timeout_s``) seconds.
        """
        wait = self.busy_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        local = self.lock(session_id)
        if not local.acquire(timeout=wait):
            raise _busy(session_id, wait, "in this process")
        try:
            if self.db is None:
                self._drain(session_id)
                yield
                return
            key = session_lock_key(session_id)
            pause = _POLL_S[0]
            while not self.db.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
                if time.monotonic() + pause > deadline:
                    raise _busy(session_id, wait, "on another replica")
                time.sleep(pause)
                pause = min(pause * 2, _POLL_S[1])
            try:
                self._drain(session_id)
                yield
            finally:
                try:
                    self.db.execute("SELECT pg_advisory_unlock(?)", (key,))
                except Exception as e:  # a lost connection released it already
                    log.warning("releasing the turn lock of a session failed (%s); the server released it", e)
        finally:
            local.release()

    def feedback(self, event: FeedbackEvent) -> None:
        """Apply a (durably stored) feedback event to its session's dialog state.

        A turn of the same session may be running (its LLM text can take up to ``agent.turn_timeout_s``):
        then the event is not refused and does not wait for it. It is kept (at most ``MAX_PENDING`` per
        session, ``max_locks`` sessions) and applied before anything else of the session's next turn in this
        process, or by a waiter thread as soon as the running turn ends, whichever comes first.

        Raises:
            SessionBusy: The pending bound is reached (the event is stored; the session's memory lacks it).
        """
        try:
            with self.turn(event.session_id, timeout_s=FEEDBACK_WAIT_S):
                self._apply(event.session_id, [event])
            return
        except SessionBusy:
            pass
        sid = event.session_id
        with self._locks_guard:
            queue = self._pending.get(sid)
            if queue is None and len(self._pending) < self._max_locks:
                queue = self._pending[sid] = []
            if queue is None or len(queue) >= MAX_PENDING:
                raise SessionBusy(
                    f"session {sid!r} is running a turn and {MAX_PENDING} feedback events (or "
                    f"{self._max_locks} sessions' events) already wait for it; this event is stored, but "
                    "the session's memory will not have it: send it again after the turn"
                )
            queue.append(event)
            start = sid not in self._waiters
            self._waiters.add(sid)
        if start:
            threading.Thread(target=self._wait_and_drain, args=(sid,), name="trustrec-feedback", daemon=True).start()

    def _wait_and_drain(self, session_id: str) -> None:
        try:
            with self.turn(session_id, timeout_s=self.busy_timeout_s + self.turn_bound_s):
                pass  # turn() applied the pending events on entry
        except Exception as e:  # the events stay stored and pending: the session's next turn applies them
            log.warning("pending feedback of a session not applied yet (%s); its next turn applies it", e)
        finally:
            with self._locks_guard:
                self._waiters.discard(session_id)

    def _drain(self, session_id: str) -> None:
        """Apply the session's pending feedback (the caller holds the session's turn lock)."""
        with self._locks_guard:
            events = self._pending.pop(session_id, [])
        if not events:
            return
        try:
            self._apply(session_id, events)
        except Exception:
            with self._locks_guard:  # kept for the next try (the store has them in any case)
                self._pending[session_id] = events + self._pending.get(session_id, [])
            raise

    def _apply(self, session_id: str, events: list[FeedbackEvent]) -> None:
        dialog = self.dialog(session_id)
        changed = False
        for event in events:
            if event.user_id is not None and dialog.user_id is None:
                dialog.user_id = event.user_id
            if dialog.apply_feedback(event):
                changed = True
                self.remember(session_id, event.user_id)
        if changed:
            self.save(dialog)

    @staticmethod
    def graph_config(session_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": session_id}}

    def dialog(self, session_id: str, *, pending: bool = False) -> DialogState:
        """The session's dialog state (a new one for an unknown id); ``pending``: with the feedback that
        waits for the running turn applied (what the session will remember; for showing, not for saving)."""
        snap = self.graph.get_state(self.graph_config(session_id))
        d = DialogState.from_graph((snap.values or {}).get("dialog"))
        d.session_id = session_id
        if pending:
            with self._locks_guard:
                events = list(self._pending.get(session_id, ()))
            for event in events:
                d.apply_feedback(event)
        return d

    def save(self, dialog: DialogState) -> None:
        self.graph.update_state(self.graph_config(dialog.session_id), {"dialog": dialog.to_graph()}, as_node="write")

    def invoke(self, inp: dict[str, Any]) -> dict[str, Any]:
        """Run the guided graph for one turn; returns the final graph state."""
        out: dict[str, Any] = self.graph.invoke(inp, self.graph_config(inp["session_id"]))
        return out

    def stream(self, inp: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """Run the guided graph, yielding ``(mode, chunk)`` for custom events and state values."""
        yield from self.graph.stream(inp, self.graph_config(inp["session_id"]), stream_mode=["custom", "values"])

    def remember(self, session_id: str, user_id: str | None) -> None:
        """Record which user a session acted for (erasure finds their sessions by it)."""
        upsert = (
            "INSERT INTO trustrec_sessions(session_id, user_id) VALUES(?, ?) "
            "ON CONFLICT(session_id) DO UPDATE SET user_id=COALESCE(excluded.user_id, trustrec_sessions.user_id)"
        )
        if self.db is not None:
            with self.db.tx():
                self.db.execute(upsert, (session_id, user_id))
            return
        # the connection is shared with the SqliteSaver across request threads: hold its lock (unlocked
        # concurrent use raised "cannot commit - no transaction is active" and SystemError under load)
        with self.saver.lock, self.conn:
            self.conn.execute(upsert, (session_id, user_id))

    def of_user(self, user_id: str) -> list[str]:
        """The ids of every session that acted for ``user_id``."""
        if self.db is not None:
            rows = self.db.execute("SELECT session_id FROM trustrec_sessions WHERE user_id=?", (user_id,)).fetchall()
            return [str(sid) for (sid,) in rows]
        with self.saver.lock:
            rows = self.conn.execute("SELECT session_id FROM trustrec_sessions WHERE user_id=?", (user_id,)).fetchall()
        return [str(sid) for (sid,) in rows]

    def erase_user(self, user_id: str) -> int:
        """Delete every checkpoint of the user's sessions, leaving no trace in the file; returns the count."""
        sids = self.of_user(user_id)
        for sid in sids:
            self.saver.delete_thread(sid)  # takes the saver's lock itself
        if self.db is not None:
            with self.db.tx():
                self.db.execute("DELETE FROM trustrec_sessions WHERE user_id=?", (user_id,))
            self.db.scrub(_PG_SESSION_TABLES)
            return len(sids)
        with self.saver.lock:
            with self.conn:
                self.conn.execute("DELETE FROM trustrec_sessions WHERE user_id=?", (user_id,))
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(sids)

    def close(self) -> None:
        if self.db is not None:
            self._saver_conn.close()
            self.db.close()
        else:
            self.conn.close()


def _busy(session_id: str, waited: float, where: str) -> SessionBusy:
    return SessionBusy(
        f"session {session_id!r} is running another turn {where} and it did not finish within {waited:.1f} s; "
        "retry in a few seconds (agent.session_busy_timeout_s sets the wait)"
    )
