"""Shared fixtures. Tests use the real ml-100k files, fetched into the repository's workspace by
`make test` (set-up runs `trustrec data prepare` first).

The tests run in an isolated workspace: a temporary folder whose expensive, rebuildable parts
(data, caches, index, trained models) are links into the real one, and whose state (the SQLite
store, sessions, reports) is its own, so no test reads or writes the developer's feedback or sessions.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from catalog.config import isolated_workspace

ROOT = Path(__file__).resolve().parents[1]
_REAL_HOME = Path(os.environ.get("TRUSTREC_HOME") or ROOT / ".trustrec").resolve()
_TEST_HOME = isolated_workspace(_REAL_HOME, Path(tempfile.mkdtemp(prefix="trustrec-tests-")))
os.environ["TRUSTREC_HOME"] = str(_TEST_HOME)
atexit.register(shutil.rmtree, _TEST_HOME, ignore_errors=True)

# Modules that need the trained model, the agent, an LLM, a server or a browser: left out by
# `make test-fast` (``-m "not heavy"``), run by `make test`.
HEAVY_MODULES = frozenset(
    {
        "test_agent_coldstart", "test_agent_onboarding", "test_agent_recommender", "test_agent_understanding_chat",
        "test_agent_shop_chat",
        "test_agent_stream", "test_evals_conversation", "test_ui_stream",
        "test_evals_faithfulness", "test_evals_reliability", "test_evals_reliability_http", "test_evals_security",
        "test_evals_suite", "test_llm_embedded", "test_llm_engines", "test_ranker_coldstart", "test_ranker_model", "test_ranker_train",
        "test_retrieval_ml100k", "test_ui_api", "test_ui_app", "test_ui_auth", "test_ui_browser",
    }
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in HEAVY_MODULES:
            item.add_marker(pytest.mark.heavy)


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
