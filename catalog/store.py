"""The durable store: items, users, interactions and feedback events, in SQLite (WAL mode, the
embedded default) or PostgreSQL (``[store] url = "postgresql://..."``, shared by several processes or hosts).

Feedback inserts are idempotent by ``event_id`` and durable once :meth:`Store.add_feedback`
returns (SQLite ``synchronous=FULL``; PostgreSQL's synchronous commit). :meth:`Store.delete_user`
removes a user everywhere and leaves no trace in the database files (SQLite: ``secure_delete``, WAL
truncation and ``VACUUM``; PostgreSQL: ``VACUUM FULL``, a WAL switch and a checkpoint, see
:meth:`Database.scrub`).

Access control lives here too (the HTTP layer decides, the store remembers): API tokens (only a
SHA-256 hash of each token is kept), the principal that owns each API session, an append-only audit
log of admin actions, and the tombstones of deleted users (a salted hash of the user id, so the
files keep no trace of it) that training and serving read to leave those users out.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from catalog.errors import StoreUnavailable
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

# PostgreSQL: the same tables. DOUBLE PRECISION (PostgreSQL's REAL is 4 bytes) and an explicit ``rowid``
# (SQLite's implicit one orders items, feedback and the audit log).
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (rowid BIGSERIAL, item_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS interactions (
    rowid BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL, kind TEXT NOT NULL,
    value DOUBLE PRECISION, timestamp DOUBLE PRECISION NOT NULL, dwell_seconds DOUBLE PRECISION,
    amount DOUBLE PRECISION);
CREATE INDEX IF NOT EXISTS interactions_user ON interactions(user_id);
CREATE TABLE IF NOT EXISTS feedback (
    rowid BIGSERIAL, event_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, user_id TEXT, item_id TEXT NOT NULL,
    kind TEXT NOT NULL, value DOUBLE PRECISION, timestamp DOUBLE PRECISION NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS feedback_session ON feedback(session_id);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_id);
CREATE TABLE IF NOT EXISTS auth_tokens (
    token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, principal TEXT NOT NULL, role TEXT NOT NULL,
    user_id TEXT, created DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION);
CREATE INDEX IF NOT EXISTS auth_tokens_user ON auth_tokens(user_id);
CREATE TABLE IF NOT EXISTS session_owners (
    session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, user_id TEXT, created DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS session_owners_user ON session_owners(user_id);
CREATE TABLE IF NOT EXISTS audit_log (
    rowid BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, principal TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (user_hash TEXT PRIMARY KEY, deleted_at DOUBLE PRECISION NOT NULL)
"""

_PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION trustrec_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    "CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION trustrec_append_only()",
)

# Columns that can hold a user id (or a session id made from one): PostgreSQL's ANALYZE keeps no
# statistics (most-common values) on them, so pg_statistic never holds a copy a deletion cannot reach.
_PG_PRIVATE_COLUMNS = {
    "users": ("user_id", "doc"),
    "interactions": ("user_id",),
    "feedback": ("event_id", "session_id", "user_id"),
    "auth_tokens": ("user_id", "principal"),
    "session_owners": ("session_id", "owner", "user_id"),
}

_TABLES = ("items", "users", "interactions", "feedback", "auth_tokens", "session_owners", "audit_log", "tombstones")

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]


def is_postgres_url(target: str | Path) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL, False for a SQLite file path."""
    return isinstance(target, str) and target.split("://", 1)[0] in ("postgresql", "postgres")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def connect_postgres(url: str, *, timeout: float = 30.0, **kwargs: Any) -> Any:
    """An autocommit psycopg 3 connection, or :class:`StoreUnavailable` naming what to fix."""
    try:
        import psycopg
    except ImportError as e:  # the optional extra
        raise StoreUnavailable(
            "a postgresql:// store needs psycopg 3: pip install 'trustrec[scale]' (or leave [store] url "
            "unset for the embedded SQLite store)"
        ) from e
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)), **kwargs)
    except psycopg.OperationalError as e:
        raise StoreUnavailable(
            f"cannot connect to the PostgreSQL store {redact_url(url)}: {' '.join(str(e).split())}; check [store] url "
            "(TRUSTREC_STORE__URL) and that the server is running"
        ) from e


class _PgCursor:
    """The slice of :class:`sqlite3.Cursor` the stores use, over a psycopg cursor."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur.fetchall())


class Database:
    """One connection to SQLite or PostgreSQL, shared across threads, with the store's guarantees.

    SQL is written once with ``?`` placeholders and ``INSERT ... ON CONFLICT`` (both dialects);
    schemas differ per dialect. The store, the description table and the batch results use it.

    Args:
        target: A SQLite file path, or a ``postgresql://`` URL.
        timeout: Seconds to wait on a lock (SQLite) or for the connection (PostgreSQL).
    """

    def __init__(self, target: str | Path, *, timeout: float = 30.0) -> None:
        self.lock = threading.RLock()
        self.dialect: Dialect
        if is_postgres_url(target):
            self.dialect = "postgresql"
            self.url: str | None = str(target)
            self.path: Path | None = None
            self.raw: Any = connect_postgres(str(target), timeout=timeout)
        else:
            self.dialect = "sqlite"
            self.url = None
            self.path = Path(target)
            self.raw = open_sqlite(self.path, timeout=timeout)

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url) if self.url else str(self.path)!r})"

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement (its own transaction outside :meth:`tx`); returns a cursor."""
        with self.lock:
            if self.dialect == "sqlite":
                return self.raw.execute(sql, args)
            # no parameters: psycopg then leaves '%' alone (the trigger function's RAISE format uses it)
            return _PgCursor(self.raw.execute(sql.replace("?", "%s"), args) if args else self.raw.execute(sql))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.lock:
            if self.dialect == "sqlite":
                self.raw.executemany(sql, rows)
            elif rows:
                with self.raw.cursor() as cur:
                    cur.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def tx(self) -> Iterator[Database]:
        """A write transaction: committed (durably) on exit, rolled back on an exception."""
        with self.lock:
            if self.dialect == "postgresql":
                with self.raw.transaction():
                    yield self
                return
            self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.raw.execute("ROLLBACK")
                raise
            self.raw.execute("COMMIT")

    def create(
        self,
        sqlite_schema: str,
        pg_schema: str,
        *,
        private: dict[str, tuple[str, ...]] | None = None,
        added: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
    ) -> None:
        """Create tables (statements separated by ``;``) once, safely when several processes start together.

        ``added`` names columns a later version added to a table (``{table: ((column, type), ...)}``): a
        store created before them gets them (NULL in existing rows), so an upgrade keeps its data.
        """
        with self.tx():
            if self.dialect == "postgresql":  # CREATE ... IF NOT EXISTS races between processes without it
                self.execute("SELECT pg_advisory_xact_lock(hashtext('trustrec-schema'))")
            for stmt in (sqlite_schema if self.dialect == "sqlite" else pg_schema).split(";"):
                if stmt.strip():
                    self.execute(stmt)
            for table, new_cols in (added or {}).items():
                have = self._columns(table)
                for col, kind in new_cols:
                    if col not in have:
                        self.execute(f"ALTER TABLE {table} ADD COLUMN {col} {kind}")
            if self.dialect == "postgresql":
                for table, cols in (private or {}).items():
                    for col in cols:
                        self.execute(f"ALTER TABLE {table} ALTER COLUMN {col} SET STATISTICS 0")

    def _columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {str(r[1]) for r in self.execute(f"PRAGMA table_info({table})").fetchall()}
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name=? AND table_schema=current_schema()",
            (table,),
        ).fetchall()
        return {str(r[0]) for r in rows}

    @contextmanager
    def exclusive(self, name: str, *, timeout: float = 300.0, poll: float = 0.2) -> Iterator[None]:
        """Hold a cluster-wide named lock (a PostgreSQL advisory lock; SQLite: this process's lock only).

        The lock is taken by polling ``pg_try_advisory_lock`` outside any transaction, so a waiter holds
        no snapshot: a holder running ``CREATE INDEX CONCURRENTLY`` (LangGraph's migrations) would
        otherwise wait for the waiter's snapshot while the waiter waits for the lock, a deadlock the
        server cannot see.

        Raises:
            StoreUnavailable: Not acquired within ``timeout`` seconds.
        """
        if self.dialect == "sqlite":
            with self.lock:
                yield
            return
        deadline = time.monotonic() + timeout
        while not self.execute("SELECT pg_try_advisory_lock(hashtext(?))", (name,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"another process held the store lock {name!r} for over {timeout:.0f} s")
            time.sleep(poll)
        try:
            yield
        finally:
            self.execute("SELECT pg_advisory_unlock(hashtext(?))", (name,))

    def scrub(self, tables: Iterable[str]) -> None:
        """Make deleted rows leave the files.

        SQLite: checkpoint and truncate the WAL, ``VACUUM``, truncate again (with ``secure_delete`` on).
        PostgreSQL: ``VACUUM FULL`` rewrites ``tables`` into new files (the old ones are removed), then
        a WAL switch and a ``CHECKPOINT`` let the server remove the WAL segments that recorded the rows
        (a server run with ``wal_recycle = off`` deletes them rather than reusing them; the checkpoint
        needs the ``pg_checkpoint`` role or a superuser, and without it the old segments go at the next
        scheduled checkpoint, which is logged as a warning).
        """
        with self.lock:
            if self.dialect == "sqlite":
                self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.raw.execute("VACUUM")
                self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return
            for t in tables:
                self.raw.execute(f"VACUUM FULL {t}")
            try:
                self.raw.execute("SELECT pg_switch_wal()")
                self.raw.execute("CHECKPOINT")
            except Exception as e:  # insufficient privilege: the data files are clean, the WAL later
                log.warning(
                    "store scrub: WAL switch/checkpoint refused (%s); old WAL segments go at the next checkpoint", e
                )

    def integrity_check(self, tables: Iterable[str]) -> str:
        """``"ok"`` or the problem. SQLite: ``PRAGMA integrity_check``. PostgreSQL: reads every row of
        ``tables`` (a damaged page raises; the server's WAL and checksums do the rest)."""
        with self.lock:
            if self.dialect == "sqlite":
                return str(self.raw.execute("PRAGMA integrity_check").fetchone()[0])
            try:
                for t in tables:
                    self.raw.execute(f"SELECT count(*), max(md5(t::text)) FROM {t} AS t").fetchone()
            except Exception as e:
                return f"{type(e).__name__}: {e}"
            return "ok"

    def close(self) -> None:
        with self.lock:
            self.raw.close()


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
    """The durable store over SQLite (WAL mode) or PostgreSQL. Thread-safe; each process opens its own.

    Args:
        target: SQLite database file (its folder is created), or a ``postgresql://`` URL
            (``[store] url``; needs the ``scale`` extra).
        timeout: Seconds to wait on a lock held by another writer (SQLite) or to connect (PostgreSQL).

    Raises:
        StoreUnavailable: The PostgreSQL server cannot be reached or psycopg is not installed.
    """

    def __init__(self, target: str | Path, *, timeout: float = 30.0) -> None:
        self.db = Database(target, timeout=timeout)
        self.dialect = self.db.dialect
        self.path = self.db.path  # None for PostgreSQL
        self._lock = self.db.lock
        self._conn = self.db.raw  # the driver's connection (sqlite3 or psycopg)
        self.db.create(_SCHEMA, _PG_SCHEMA, private=_PG_PRIVATE_COLUMNS)
        with self.db.tx():
            for trig in _TRIGGERS if self.dialect == "sqlite" else _PG_TRIGGERS:
                self.db.execute(trig)

    def _tx(self) -> Any:
        return self.db.tx()

    def close(self) -> None:
        self.db.close()

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
            return [Item.model_validate_json(d) for (d,) in self.db.execute("SELECT doc FROM items ORDER BY rowid")]

    def item(self, item_id: str) -> Item | None:
        with self._lock:
            row = self.db.execute("SELECT doc FROM items WHERE item_id=?", (item_id,)).fetchone()
        return Item.model_validate_json(row[0]) if row else None

    def interactions(self, user_id: str | None = None) -> list[Interaction]:
        q = "SELECT user_id,item_id,kind,value,timestamp,dwell_seconds,amount FROM interactions"
        args: tuple[Any, ...] = ()
        if user_id is not None:
            q, args = q + " WHERE user_id=?", (user_id,)
        with self._lock:
            rows = self.db.execute(q + " ORDER BY rowid", args).fetchall()
        keys = ("user_id", "item_id", "kind", "value", "timestamp", "dwell_seconds", "amount")
        return [Interaction(**dict(zip(keys, r, strict=True))) for r in rows]

    # ---------------------------------------------------------------- feedback
    def add_feedback(self, event: FeedbackEvent) -> bool:
        """Store one event durably. Returns False when ``event_id`` was already stored."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO feedback(event_id,session_id,user_id,item_id,kind,value,timestamp) VALUES(?,?,?,?,?,?,?) "
                "ON CONFLICT(event_id) DO NOTHING",
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
            rows = self.db.execute(q + " ORDER BY timestamp, rowid", args).fetchall()
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
            return int(self.db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

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
                "INSERT INTO tombstones(user_hash, deleted_at) VALUES(?, ?) ON CONFLICT(user_hash) DO NOTHING",
                (user_hash(user_id), time.time()),
            ).rowcount
        return {"tokens": tokens, "session_owners": owners, "tombstoned": new}

    def is_tombstoned(self, user_id: str) -> bool:
        with self._lock:
            row = self.db.execute("SELECT 1 FROM tombstones WHERE user_hash=?", (user_hash(user_id),)).fetchone()
        return row is not None

    def tombstoned(self, user_ids: Iterable[str]) -> set[str]:
        """Which of ``user_ids`` were deleted (the tombstone list training and serving read)."""
        with self._lock:
            hashes = {h for (h,) in self.db.execute("SELECT user_hash FROM tombstones")}
        return {u for u in user_ids if user_hash(u) in hashes} if hashes else set()

    def tombstone_version(self) -> tuple[int, float]:
        """A cheap stamp of the tombstone list (count, latest deletion time): another process compares it
        with the one it last saw to learn of a deletion made elsewhere (tombstones are only added)."""
        with self._lock:
            n, last = self.db.execute("SELECT COUNT(*), MAX(deleted_at) FROM tombstones").fetchone()
        return int(n), float(last or 0.0)

    def count_tombstones(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0])

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
            row = self.db.execute(
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
            rows = self.db.execute(q + " ORDER BY created, token_id", args).fetchall()
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
                "INSERT INTO session_owners(session_id,owner,user_id,created) VALUES(?,?,?,?) ON CONFLICT(session_id) DO NOTHING",
                (session_id, owner, user_id, time.time()),
            )
            return cur.rowcount == 1

    def session_owner(self, session_id: str) -> tuple[str, str | None] | None:
        """``(owner, user_id)`` of a session, or None when no principal owns it."""
        with self._lock:
            row = self.db.execute(
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
            rows = self.db.execute(q).fetchall()
        keys = ("id", "at", "principal", "role", "action", "target", "outcome")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        return out[-limit:] if limit else out

    def counts(self) -> dict[str, int]:
        """Row counts of every table (the security check compares them before and after an attack)."""
        with self._lock:
            return {t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in _TABLES}

    def compact(self) -> None:
        """Make deleted rows leave the database files (see :meth:`Database.scrub`)."""
        self.db.scrub(("users", "interactions", "feedback", "auth_tokens", "session_owners"))

    def integrity_check(self) -> str:
        """``"ok"``, or what is wrong (see :meth:`Database.integrity_check`)."""
        return self.db.integrity_check(_TABLES)

    def meta(self) -> dict[str, int]:
        with self._lock:
            return {
                t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("items", "users", "interactions", "feedback")
            }
