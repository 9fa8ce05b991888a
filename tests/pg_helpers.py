"""A real PostgreSQL server for the tests: Debian's binaries, a temporary data directory, a free
loopback port; one per test session (started on first use), stopped at the end. No mock databases.

initdb refuses to run as root, so as root the server runs as the ``postgres`` system user
(``runuser -u postgres --``). The server runs with ``wal_recycle = off`` (old WAL segments are
deleted, not reused), the setting the store's no-trace deletion relies on.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def find_bindir() -> Path:
    """The PostgreSQL binaries: $TRUSTREC_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin (15 preferred)."""
    env = os.environ.get("TRUSTREC_PG_BINDIR")
    candidates = [env] if env else ["/usr/lib/postgresql/15/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"))[::-1]]
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise RuntimeError(
        "the PostgreSQL store tests need a PostgreSQL server's binaries (initdb, pg_ctl): run `make postgres` "
        "(apt-get install postgresql-15) or set TRUSTREC_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throwaway PostgreSQL cluster on 127.0.0.1; :meth:`new_database` gives each test its own database."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="trustrec-pg-"))
        self.datadir = self.root / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale",
        )  # fmt: skip
        self._start()
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _start(self) -> None:
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            "-c wal_recycle=off -c max_connections=60 -c shared_buffers=32MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.root / "server.log"), "-o", opts,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self._as, *cmd], capture_output=True, text=True, check=False, timeout=120)
        if out.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({out.returncode}): {out.stderr.strip()}\n{tail}")

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def crash_and_restart(self) -> None:
        """Stop the server as a crash would (``pg_ctl stop -m immediate``: no shutdown checkpoint, WAL
        replay on start), then start it again."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        self._start()

    def data_files(self) -> list[Path]:
        """Every regular file of the cluster's data directory (tables, indexes, WAL, statistics)."""
        return [p for p in self.datadir.rglob("*") if p.is_file()]

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
