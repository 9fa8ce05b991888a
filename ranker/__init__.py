"""trustrec ranker: the joint two-tower model, training, scoring, explanations and trust."""

# --- the contract and the joint model (torch-heavy modules load lazily on first attribute access)
from typing import Any as _Any

from ranker.base import FeatureRanker, Profile, Ranker, Recommendations, recommend, top_n

# --- explanations and trust (ranker.explain, ranker.trust, ranker.calibration, ranker.diversity); shap loads lazily
from ranker.calibration import CalibrationConfig, Calibrator, ensure_calibrator, fit_calibrator
from ranker.config import RankerConfig
from ranker.diversity import DiversityConfig, ItemSimilarity, mmr_rerank
from ranker.explain import (
    ExplainConfig,
    ExplainedRecommendations,
    RecommendationExplainer,
    ShapConfig,
    ShapExplainer,
    explain_recommendations,
)
from ranker.trust import ListReport, TrustConfig, TrustScorer

_LAZY = {
    "JointRanker": "ranker.model", "Trainer": "ranker.train", "TrainResult": "ranker.train",
    "ensure_trained": "ranker.train", "load_trained": "ranker.train", "model_folder": "ranker.train",
    "RankingStack": "ranker.stack", "build_stack": "ranker.stack",
}  # fmt: skip


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ranker' has no attribute {name!r}")


__all__ = [
    "CalibrationConfig", "Calibrator", "DiversityConfig", "ExplainConfig", "ExplainedRecommendations",
    "FeatureRanker", "ItemSimilarity", "JointRanker", "ListReport", "Profile", "Ranker", "RankerConfig",
    "RankingStack", "RecommendationExplainer", "Recommendations", "ShapConfig", "ShapExplainer", "TrainResult",
    "Trainer", "TrustConfig", "TrustScorer", "build_stack", "ensure_calibrator", "ensure_trained",
    "explain_recommendations", "fit_calibrator", "load_trained", "mmr_rerank", "model_folder", "recommend", "top_n",
]  # fmt: skip
