"""Dialog checkpoints on both backends: LangGraph's SqliteSaver on a file, PostgresSaver on a real
PostgreSQL server. A session saved by one process is continued by another (two replicas), and erasing
a user removes their checkpoints without trace in the files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from agent.sessions import Sessions
from agent.state import DialogState


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.heavy)])  # a server: heavy
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "sqlite":
        return tmp_path / "sessions.sqlite3"
    return str(request.getfixturevalue("pg_url"))


def _files(request: pytest.FixtureRequest, target: str | Path) -> list[Path]:
    if isinstance(target, Path):
        return [p for p in target.parent.iterdir() if p.name.startswith(target.name)]
    return list(request.getfixturevalue("pg_server").data_files())


def test_a_session_moves_between_replicas_and_erasure_leaves_no_trace(
    request: pytest.FixtureRequest, target: str | Path
) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    sid = f"{user}-session"
    a = Sessions(None, target, max_locks=8)  # replica A (the graph is not run: no engine needed)
    b = Sessions(None, target, max_locks=8)  # replica B, its own connections
    try:
        d = a.dialog(sid)
        d.user_id = user
        d.feedback.liked = ["50", "181"]
        d.constraints.year_min = 1990
        a.remember(sid, user)
        a.save(d)
        on_b = b.dialog(sid)  # continued on the other replica
        assert (on_b.user_id, on_b.feedback.liked, on_b.constraints.year_min) == (user, ["50", "181"], 1990)
        on_b.feedback.liked.append("1")
        b.save(on_b)
        assert a.dialog(sid).feedback.liked == ["50", "181", "1"]
        assert b.of_user(user) == [sid]
        assert any(user.encode() in p.read_bytes() for p in _files(request, target))  # the check below can fail
        assert a.erase_user(user) == 1
        assert b.dialog(sid) == DialogState(session_id=sid) and b.of_user(user) == []
    finally:
        a.close()
        b.close()
    found = [str(p) for p in _files(request, target) if user.encode() in p.read_bytes()]
    assert not found, f"the erased user's id is still in {found}"


OPEN_SESSIONS = r"""
import sys
from agent.sessions import Sessions
Sessions(None, sys.argv[1], max_locks=1).close()
print("ok")
"""


@pytest.mark.slow  # three processes import the agent: about a minute on 2 busy cores
@pytest.mark.heavy  # a PostgreSQL server
def test_replicas_starting_together_on_a_new_database(pg_url: str) -> None:
    """Three processes run LangGraph's migrations on one new database at once. They used to deadlock:
    a waiter's snapshot held up the holder's CREATE INDEX CONCURRENTLY while it waited for the lock."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_SESSIONS, pg_url], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]  # a hang guard, not a speed bound
    assert [o.strip() for o in outs] == ["ok"] * 3
