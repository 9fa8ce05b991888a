"""Each package's public API is pinned: changing it is a decision, made here on purpose."""

from __future__ import annotations

import importlib

import pytest

PINNED = {
    "agent": [
        "AgentConfig", "CatalogVocab", "Constraints", "DialogState", "Engine", "ItemCard", "LLMConfig", "MessageTooLong",
        "Recommender", "Reply", "TrustrecConfig", "Understanding", "load_config", "understand",
    ],
}  # fmt: skip


@pytest.mark.parametrize("package", ["catalog", "retrieval", "ranker", "agent", "evals"])
def test_every_exported_name_resolves(package: str) -> None:
    mod = importlib.import_module(package)
    assert mod.__all__, f"{package} exports nothing"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{package}.{name}"


def test_agent_api_pinned() -> None:
    import agent

    assert sorted(agent.__all__) == sorted(PINNED["agent"])
