"""The old import path of guided-mode understanding; the code lives in :mod:`agent.understanding`."""

from agent.understanding import (
    CatalogVocab,
    Embedder,
    Intent,
    ItemRef,
    SuggestedFeedback,
    TitleMatch,
    UnderstandConfig,
    Understanding,
    apply_understanding,
    normalize,
    title_variants,
    tokens,
    understand,
)

__all__ = [
    "CatalogVocab",
    "Embedder",
    "Intent",
    "ItemRef",
    "SuggestedFeedback",
    "TitleMatch",
    "UnderstandConfig",
    "Understanding",
    "apply_understanding",
    "normalize",
    "title_variants",
    "tokens",
    "understand",
]
