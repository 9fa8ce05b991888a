"""Shared fixtures. Tests use the real ml-100k files, fetched into the repository's workspace by
`make test` (set-up runs `trustrec data prepare` first)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRUSTREC_HOME", str(ROOT / ".trustrec"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    from catalog import Workspace, ensure_ml100k

    ws = Workspace()
    return ensure_ml100k(ws.data, ws.cache)


@pytest.fixture(scope="session")
def ml100k(ml100k_dir: Path):  # type: ignore[no-untyped-def]
    from catalog import load_movielens_recbole

    return load_movielens_recbole(ml100k_dir)
