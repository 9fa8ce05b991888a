"""trustrec evaluations: metrics, protocols, baselines, suites, reports and benchmarks.

Names are imported lazily so ``import evals`` stays cheap (no torch until a baseline trains).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "full_ranking_metrics": "evals.metrics",
    "METRICS": "evals.metrics",
    "EvalSet": "evals.ranking",
    "evaluate": "evals.ranking",
    "evaluate_set": "evals.ranking",
    "history_profiles": "evals.ranking",
    "ranking_models": "evals.ranking",
    "register_ranking_model": "evals.ranking",
    "time_evaluation": "evals.ranking",
    "BPRRanker": "ranker.baselines",
    "EASERanker": "ranker.baselines",
    "ItemKNNRanker": "ranker.baselines",
    "PopRanker": "ranker.baselines",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'evals' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
