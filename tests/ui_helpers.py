"""Shared set-up for the UI tests: one real Recommender per test process in a private workspace
(the real ml-100k data, models and index linked in; its own SQLite store, so test feedback and
deletions never touch the developer's store), and a real uvicorn server on a free local port."""

from __future__ import annotations

import atexit
import functools
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@functools.cache
def shared_recommender() -> Any:
    """A template-only Recommender (llm=None) over a temporary workspace, warmed up with one list."""
    from agent.recommender import Recommender
    from catalog import Workspace
    from catalog.config import isolated_workspace

    real = Workspace()  # $TRUSTREC_HOME, set by conftest.py
    home = isolated_workspace(real.home, Path(tempfile.mkdtemp(prefix="trustrec-ui-")))
    rec = Recommender.from_config({"home": str(home)}, llm=None)
    rec.recommend("196", 3)  # the first turn pays one-off warm-up costs; later tests wait less

    def cleanup() -> None:
        rec.close()
        shutil.rmtree(home, ignore_errors=True)

    atexit.register(cleanup)
    return rec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 and a free port in a thread; yield its base URL; stop it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
