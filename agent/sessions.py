"""Session state shared by every way a turn can run (the guided graph and tool-calling mode).

:class:`Sessions` owns the LangGraph checkpointer (SQLite, by session id), the per-session locks and
the session -> user table that erasure needs. :class:`agent.recommender.Recommender` and
:func:`agent.tools_mode.run_tools_turn` both use it, so neither reaches into the other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.state import DialogState
from catalog.store import open_sqlite


class Sessions:
    """Checkpointed dialog states and their locks.

    Args:
        engine: The built components (the graph's nodes use them).
        path: SQLite file for the checkpoints.
        max_locks: Per-session locks kept (least recently used beyond it are dropped when free).
    """

    def __init__(self, engine: Any, path: Path, *, max_locks: int) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        from agent.guided import build_graph

        self.conn = open_sqlite(path, autocommit=False)
        self.conn.execute("CREATE TABLE IF NOT EXISTS trustrec_sessions (session_id TEXT PRIMARY KEY, user_id TEXT)")
        self.conn.commit()
        self.saver = SqliteSaver(self.conn)
        self.graph = build_graph(engine, self.saver)
        self._max_locks = max_locks
        self._locks: OrderedDict[str, threading.Lock] = OrderedDict()
        self._locks_guard = threading.Lock()

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

    @staticmethod
    def graph_config(session_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": session_id}}

    def dialog(self, session_id: str) -> DialogState:
        """The session's dialog state (a new one for an unknown id)."""
        snap = self.graph.get_state(self.graph_config(session_id))
        d = DialogState.from_graph((snap.values or {}).get("dialog"))
        d.session_id = session_id
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
        # the connection is shared with the SqliteSaver across request threads: hold its lock (unlocked
        # concurrent use raised "cannot commit - no transaction is active" and SystemError under load)
        with self.saver.lock, self.conn:
            self.conn.execute(
                "INSERT INTO trustrec_sessions(session_id, user_id) VALUES(?, ?) "
                "ON CONFLICT(session_id) DO UPDATE SET user_id=COALESCE(excluded.user_id, user_id)",
                (session_id, user_id),
            )

    def of_user(self, user_id: str) -> list[str]:
        """The ids of every session that acted for ``user_id``."""
        with self.saver.lock:
            rows = self.conn.execute("SELECT session_id FROM trustrec_sessions WHERE user_id=?", (user_id,)).fetchall()
        return [str(sid) for (sid,) in rows]

    def erase_user(self, user_id: str) -> int:
        """Delete every checkpoint of the user's sessions, leaving no trace in the file; returns the count."""
        sids = self.of_user(user_id)
        for sid in sids:
            self.saver.delete_thread(sid)  # takes the saver's lock itself
        with self.saver.lock:
            with self.conn:
                self.conn.execute("DELETE FROM trustrec_sessions WHERE user_id=?", (user_id,))
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(sids)

    def close(self) -> None:
        self.conn.close()
