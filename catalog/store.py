"""The durable store: SQLite in WAL mode for items, users, interactions and feedback events.

Feedback inserts are idempotent by ``event_id`` and durable once :meth:`Store.add_feedback`
returns (``synchronous=FULL``). :meth:`Store.delete_user` removes a user everywhere and leaves
no trace in the database files (``secure_delete``, WAL truncation and ``VACUUM``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from catalog.types import FeedbackEvent, FeedbackKind, Interaction, Item, User

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (item_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS interactions (
    rowid INTEGER PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL, kind TEXT NOT NULL,
    value REAL, timestamp REAL NOT NULL, dwell_seconds REAL, amount REAL);
CREATE INDEX IF NOT EXISTS interactions_user ON interactions(user_id);
CREATE TABLE IF NOT EXISTS feedback (
    event_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, user_id TEXT, item_id TEXT NOT NULL,
    kind TEXT NOT NULL, value REAL, timestamp REAL NOT NULL, consumed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS feedback_session ON feedback(session_id);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_id);
"""


class Store:
    """A SQLite store in WAL mode. Thread-safe; each process opens its own.

    Args:
        path: Database file; its folder is created.
        timeout: Seconds to wait on a lock held by another writer.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._tx() as c:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- catalog
    def upsert_items(self, items: Iterable[Item]) -> int:
        rows = [(it.item_id, it.model_dump_json()) for it in items]
        with self._tx() as c:
            c.executemany(
                "INSERT INTO items(item_id, doc) VALUES(?, ?) ON CONFLICT(item_id) DO UPDATE SET doc=excluded.doc", rows
            )
        return len(rows)

    def upsert_users(self, users: Iterable[User]) -> int:
        rows = [(u.user_id, u.model_dump_json()) for u in users]
        with self._tx() as c:
            c.executemany(
                "INSERT INTO users(user_id, doc) VALUES(?, ?) ON CONFLICT(user_id) DO UPDATE SET doc=excluded.doc", rows
            )
        return len(rows)

    def add_interactions(self, interactions: Iterable[Interaction]) -> int:
        rows = [
            (i.user_id, i.item_id, i.kind.value, i.value, i.timestamp, i.dwell_seconds, i.amount) for i in interactions
        ]
        with self._tx() as c:
            c.executemany(
                "INSERT INTO interactions(user_id,item_id,kind,value,timestamp,dwell_seconds,amount) VALUES(?,?,?,?,?,?,?)",
                rows,
            )
        return len(rows)

    def items(self) -> list[Item]:
        with self._lock:
            return [Item.model_validate_json(d) for (d,) in self._conn.execute("SELECT doc FROM items ORDER BY rowid")]

    def item(self, item_id: str) -> Item | None:
        with self._lock:
            row = self._conn.execute("SELECT doc FROM items WHERE item_id=?", (item_id,)).fetchone()
        return Item.model_validate_json(row[0]) if row else None

    def interactions(self, user_id: str | None = None) -> list[Interaction]:
        q = "SELECT user_id,item_id,kind,value,timestamp,dwell_seconds,amount FROM interactions"
        args: tuple[Any, ...] = ()
        if user_id is not None:
            q, args = q + " WHERE user_id=?", (user_id,)
        with self._lock:
            rows = self._conn.execute(q + " ORDER BY rowid", args).fetchall()
        keys = ("user_id", "item_id", "kind", "value", "timestamp", "dwell_seconds", "amount")
        return [Interaction(**dict(zip(keys, r, strict=True))) for r in rows]

    # ---------------------------------------------------------------- feedback
    def add_feedback(self, event: FeedbackEvent) -> bool:
        """Store one event durably. Returns False when ``event_id`` was already stored."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO feedback(event_id,session_id,user_id,item_id,kind,value,timestamp) VALUES(?,?,?,?,?,?,?)",
                (
                    event.event_id,
                    event.session_id,
                    event.user_id,
                    event.item_id,
                    event.kind.value,
                    event.value,
                    event.timestamp,
                ),
            )
            return cur.rowcount == 1

    def feedback(
        self, *, session_id: str | None = None, user_id: str | None = None, unconsumed: bool = False
    ) -> list[FeedbackEvent]:
        q, args = "SELECT event_id,session_id,user_id,item_id,kind,value,timestamp FROM feedback WHERE 1=1", []
        if session_id is not None:
            q += " AND session_id=?"
            args.append(session_id)
        if user_id is not None:
            q += " AND user_id=?"
            args.append(user_id)
        if unconsumed:
            q += " AND consumed=0"
        with self._lock:
            rows = self._conn.execute(q + " ORDER BY timestamp, rowid", args).fetchall()
        return [
            FeedbackEvent(
                event_id=r[0],
                session_id=r[1],
                user_id=r[2],
                item_id=r[3],
                kind=FeedbackKind(r[4]),
                value=r[5],
                timestamp=r[6],
            )
            for r in rows
        ]

    def mark_consumed(self, event_ids: Iterable[str]) -> None:
        with self._tx() as c:
            c.executemany("UPDATE feedback SET consumed=1 WHERE event_id=?", [(e,) for e in event_ids])

    def count_feedback(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    # ---------------------------------------------------------------- maintenance
    def delete_user(self, user_id: str) -> dict[str, int]:
        """Remove a user's rows everywhere and scrub them from the database files.

        Returns:
            Rows deleted per table.
        """
        with self._tx() as c:
            counts = {
                "users": c.execute("DELETE FROM users WHERE user_id=?", (user_id,)).rowcount,
                "interactions": c.execute("DELETE FROM interactions WHERE user_id=?", (user_id,)).rowcount,
                "feedback": c.execute("DELETE FROM feedback WHERE user_id=?", (user_id,)).rowcount,
            }
        self.compact()
        return counts

    def compact(self) -> None:
        """Checkpoint and truncate the WAL, then VACUUM so freed pages leave the files."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def meta(self) -> dict[str, int]:
        with self._lock:
            return {
                t: int(self._conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("items", "users", "interactions", "feedback")
            }
