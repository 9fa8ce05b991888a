"""trustrec ranker: the joint two-tower model, training, scoring, explanations and trust."""

# --- explanations and trust (ranker.explain, ranker.trust, ranker.calibration, ranker.diversity); shap loads lazily
from ranker.calibration import CalibrationConfig, Calibrator, ensure_calibrator, fit_calibrator
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

__all__ = [
    *globals().get("__all__", []),
    "CalibrationConfig", "Calibrator", "DiversityConfig", "ExplainConfig", "ExplainedRecommendations",
    "ItemSimilarity", "ListReport", "RecommendationExplainer", "ShapConfig", "ShapExplainer", "TrustConfig",
    "TrustScorer", "ensure_calibrator", "explain_recommendations", "fit_calibrator", "mmr_rerank",
]  # fmt: skip
