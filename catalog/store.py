"""The durable store: SQLite in WAL mode for items, users, interactions and feedback events.

Feedback inserts are idempotent by ``event_id`` and durable once :meth:`Store.add_feedback`
returns (``synchronous=FULL``). :meth:`Store.delete_user` removes a user everywhere and leaves
no trace in the database files (``secure_delete``, WAL truncation and ``VACUUM``).

Access control lives here too (the HTTP layer decides, the store remembers): API tokens (only a
SHA-256 hash of each token is kept), the principal that owns each API session, an append-only audit
log of admin actions, and the tombstones of deleted users (a salted hash of the user id, so the
files keep no trace of it) that training and serving read to leave those users out.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
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
CREATE TABLE IF NOT EXISTS auth_tokens (
    token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, principal TEXT NOT NULL, role TEXT NOT NULL,
    user_id TEXT, created REAL NOT NULL, revoked REAL);
CREATE INDEX IF NOT EXISTS auth_tokens_user ON auth_tokens(user_id);
CREATE TABLE IF NOT EXISTS session_owners (
    session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, user_id TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS session_owners_user ON session_owners(user_id);
CREATE TABLE IF NOT EXISTS audit_log (
    rowid INTEGER PRIMARY KEY, at REAL NOT NULL, principal TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (user_hash TEXT PRIMARY KEY, deleted_at REAL NOT NULL);
"""

# statements with inner semicolons: run one by one, not split
_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)

ROLES = ("user", "service", "admin")
"""Principal roles of API tokens: ``user`` acts as its own user id, ``service`` for any end user it
names (its own sessions only), ``admin`` for anyone (deletions, cross-user reads; audited)."""


def user_hash(user_id: str) -> str:
    """The salted SHA-256 under which a deleted user is remembered (tombstones, audit targets)."""
    return hashlib.sha256(b"trustrec-user:" + user_id.encode("utf-8", "surrogatepass")).hexdigest()


def token_hash(token: str) -> str:
    """The SHA-256 hex digest stored for an API token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def open_sqlite(path: str | Path, *, timeout: float = 30.0, autocommit: bool = True) -> sqlite3.Connection:
    """One connection, shared across threads, with the store's durability settings.

    WAL (readers do not block the writer), ``synchronous=FULL`` (an acknowledged write survives a
    power cut), ``secure_delete`` (deleted rows are overwritten, so erasure leaves no trace in the
    file) and foreign keys on. ``autocommit`` leaves transactions to explicit ``BEGIN``s (the
    store's own); False keeps Python's implicit transactions (LangGraph's SQLite saver expects them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if autocommit:
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
    else:
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


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
        self._conn = open_sqlite(self.path, timeout=timeout)
        with self._tx() as c:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            for trig in _TRIGGERS:
                c.execute(trig)

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

    def forget_user(self, user_id: str, session_ids: Iterable[str] = ()) -> dict[str, int]:
        """The access-control side of deleting a user: their tokens and session owner rows go, a
        tombstone (a hash of the id) stays so training and serving leave the user out from now on.
        Call before :meth:`delete_user` (which compacts the files).

        Returns:
            Rows deleted per kind (``tokens``, ``session_owners``) and ``tombstoned`` (1 when new).
        """
        sids = [(s,) for s in session_ids]
        with self._tx() as c:
            tokens = c.execute("DELETE FROM auth_tokens WHERE user_id=?", (user_id,)).rowcount
            owners = c.execute("DELETE FROM session_owners WHERE user_id=?", (user_id,)).rowcount
            for (sid,) in sids:
                owners += c.execute("DELETE FROM session_owners WHERE session_id=?", (sid,)).rowcount
            new = c.execute(
                "INSERT OR IGNORE INTO tombstones(user_hash, deleted_at) VALUES(?, ?)",
                (user_hash(user_id), time.time()),
            ).rowcount
        return {"tokens": tokens, "session_owners": owners, "tombstoned": new}

    def is_tombstoned(self, user_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM tombstones WHERE user_hash=?", (user_hash(user_id),)).fetchone()
        return row is not None

    def tombstoned(self, user_ids: Iterable[str]) -> set[str]:
        """Which of ``user_ids`` were deleted (the tombstone list training and serving read)."""
        with self._lock:
            hashes = {h for (h,) in self._conn.execute("SELECT user_hash FROM tombstones")}
        return {u for u in user_ids if user_hash(u) in hashes} if hashes else set()

    def count_tombstones(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0])

    # ---------------------------------------------------------------- access control
    def add_token(self, token_id: str, hashed: str, principal: str, role: str, user_id: str | None) -> None:
        """Store a token's hash with its principal and role (the token itself is never stored)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._tx() as c:
            c.execute(
                "INSERT INTO auth_tokens(token_id,token_hash,principal,role,user_id,created) VALUES(?,?,?,?,?,?)",
                (token_id, hashed, principal, role, user_id, time.time()),
            )

    def token(self, hashed: str) -> dict[str, Any] | None:
        """The live (not revoked) token with this hash: ``token_id``, ``principal``, ``role``, ``user_id``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT token_id,principal,role,user_id,created FROM auth_tokens WHERE token_hash=? AND revoked IS NULL",
                (hashed,),
            ).fetchone()
        if row is None:
            return None
        return dict(zip(("token_id", "principal", "role", "user_id", "created"), row, strict=True))

    def tokens(self, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """Every token (hash left out), oldest first; only a user's when ``user_id`` is given."""
        q = "SELECT token_id,principal,role,user_id,created,revoked FROM auth_tokens"
        args: tuple[Any, ...] = ()
        if user_id is not None:
            q, args = q + " WHERE user_id=?", (user_id,)
        with self._lock:
            rows = self._conn.execute(q + " ORDER BY created, token_id", args).fetchall()
        keys = ("token_id", "principal", "role", "user_id", "created", "revoked")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        """Revoke one token by id (or by principal: all of its tokens). Returns False when none was live."""
        with self._tx() as c:
            n = c.execute(
                "UPDATE auth_tokens SET revoked=? WHERE (token_id=? OR principal=?) AND revoked IS NULL",
                (time.time(), token_id, token_id),
            ).rowcount
        return n > 0

    def claim_session(self, session_id: str, owner: str, user_id: str | None) -> bool:
        """Bind a new session to its owner. Returns False when the session already had an owner."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO session_owners(session_id,owner,user_id,created) VALUES(?,?,?,?)",
                (session_id, owner, user_id, time.time()),
            )
            return cur.rowcount == 1

    def session_owner(self, session_id: str) -> tuple[str, str | None] | None:
        """``(owner, user_id)`` of a session, or None when no principal owns it."""
        with self._lock:
            row = self._conn.execute(
                "SELECT owner,user_id FROM session_owners WHERE session_id=?", (session_id,)
            ).fetchone()
        return (str(row[0]), row[1]) if row else None

    def bind_session_user(self, session_id: str, user_id: str) -> None:
        """Record the end user of a session that had none yet (a cold-start session that named one)."""
        with self._tx() as c:
            c.execute(
                "UPDATE session_owners SET user_id=? WHERE session_id=? AND user_id IS NULL", (user_id, session_id)
            )

    def audit(self, principal: str, role: str, action: str, target: str, outcome: str = "allowed") -> None:
        """Append one row to the audit log (the table refuses updates and deletes)."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO audit_log(at,principal,role,action,target,outcome) VALUES(?,?,?,?,?,?)",
                (time.time(), principal, role, action, target, outcome),
            )

    def audit_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Audit rows, oldest first (the last ``limit`` when given)."""
        q = "SELECT rowid,at,principal,role,action,target,outcome FROM audit_log ORDER BY rowid"
        with self._lock:
            rows = self._conn.execute(q).fetchall()
        keys = ("id", "at", "principal", "role", "action", "target", "outcome")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        return out[-limit:] if limit else out

    def counts(self) -> dict[str, int]:
        """Row counts of every table (the security check compares them before and after an attack)."""
        tables = (
            "items",
            "users",
            "interactions",
            "feedback",
            "auth_tokens",
            "session_owners",
            "audit_log",
            "tombstones",
        )
        with self._lock:
            return {t: int(self._conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}

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
