"""Understanding user messages (guided mode's deterministic parser, tools mode's validated proposals).

Modules by concept:

* :mod:`~agent.understanding.lexicon` - language files (``agent/data/lang/*.yaml``) and domain files
  (``agent/data/domains/<dataset>.yaml``) composed into one lexicon;
* :mod:`~agent.understanding.normalise` - one spelling for matching, tokens, title variants, and the
  rewriting of Chinese into the canonical cue words;
* :mod:`~agent.understanding.vocab` - the catalog's categories and titles (rapidfuzz for typos);
* :mod:`~agent.understanding.cues` - the English cue patterns;
* :mod:`~agent.understanding.slots` - positions, years, decades, ranges, prices, counts, removals;
* :mod:`~agent.understanding.titles` - titles named by the message;
* :mod:`~agent.understanding.negation` - categories with scope-aware negation;
* :mod:`~agent.understanding.parse` - :func:`understand` and :func:`apply_understanding`;
* :mod:`~agent.understanding.structured` - tools mode: a chat model's structured
  :class:`~agent.understanding.structured.ConstraintUpdate`, validated against the catalog.
"""

from agent.understanding.normalise import detect_language, normalize, title_variants, tokens
from agent.understanding.parse import apply_understanding, understand
from agent.understanding.types import (
    Embedder,
    Intent,
    ItemRef,
    SuggestedFeedback,
    UnderstandConfig,
    Understanding,
)
from agent.understanding.vocab import CatalogVocab, TitleMatch

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
    "detect_language",
    "normalize",
    "title_variants",
    "tokens",
    "understand",
]
