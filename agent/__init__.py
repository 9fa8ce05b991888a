"""trustrec agent: LLM backends, prompts, tools, the agent graph and the public API.

Embedding apps need one object::

    from agent import Recommender
    rec = Recommender.from_config("trustrec.toml")
    reply = rec.chat("session-1", "a sci-fi movie from the 80s", user_id="196")

Names load lazily so ``import agent`` stays cheap (torch, langchain and shap load on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Recommender": "agent.recommender",
    "Reply": "agent.reply",
    "ItemCard": "agent.reply",
    "TrustrecConfig": "agent.config",
    "AgentConfig": "agent.config",
    "LLMConfig": "agent.config",
    "load_config": "agent.config",
    "DialogState": "agent.state",
    "Constraints": "agent.state",
    "CatalogVocab": "agent.understanding",
    "Understanding": "agent.understanding",
    "understand": "agent.understanding",
    "MessageTooLong": "agent.safety",
    "Engine": "agent.engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
