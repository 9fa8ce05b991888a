"""Evidence objects: what the ranker knows about one recommendation, for explanation writers.

The LLM writes explanation text from an :class:`Evidence` and nothing else; the grounding guard
checks the text against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field


class HistoryAttribution(BaseModel):
    """How much one history item moved this score ("because you liked X")."""

    item_id: str
    title: str
    value: float = Field(description="Shapley value in score units.")
    session: bool = Field(False, description="A like given in this session (not part of the stored history).")
    reference: bool = Field(
        False, description="An item the person asked for 'something like' in this session (not stated as liked)."
    )
    behaviour: str | None = Field(
        None,
        description="The strongest logged behaviour of the user on this item (purchase, cart, rating, click, view); "
        "None for session feedback or when unknown.",
    )


class TrustReport(BaseModel):
    """Trust in one recommendation; every component in [0, 1] unless stated."""

    confidence: float = Field(ge=0, le=1, description="Calibrated probability of relevance.")
    uncertainty: float = Field(ge=0, description="Spread of the score under MC dropout / ensemble (score units).")
    user_support: int = Field(ge=0, description="Interactions of the user.")
    item_support: int = Field(ge=0, description="Interactions of the item.")
    cold_start: bool = Field(description="User or item has too little data for a reliable score.")
    fidelity: float = Field(
        description="Score drop removing the top-3 attributed history items minus that of 3 random ones."
    )
    composite: float = Field(ge=0, le=1, description="Composite trust score; formula in ranker.trust.")
    components: dict[str, float] = Field(default_factory=dict, description="The normalised terms of the composite.")
    profile_size: int = Field(0, ge=0, description="Positive items the score rests on (history plus session likes).")
    basis: list[str] = Field(
        default_factory=list, description="What the recommendation rests on, in words, strongest first."
    )


class StoredText(BaseModel):
    """An explanation stored by a batch run, with its provenance."""

    text: str
    writer: Literal["llm", "template"]
    prompt_version: str = Field(description="The prompt version and model it was written with.")


class Evidence(BaseModel):
    """Everything shown or said about one recommended item."""

    item_id: str
    title: str
    year: int | None = None
    categories: list[str] = Field(default_factory=list)
    score: float
    base_value: float = Field(description="Expected score with no evidence (the Shapley base value).")
    history: list[HistoryAttribution] = Field(default_factory=list, description="Largest first by |value|.")
    features: dict[str, float] = Field(default_factory=dict, description="Feature-group Shapley values.")
    feature_base_value: float | None = Field(
        None, description="Base value of the feature-group attributions (the user's mean score over the catalog)."
    )
    trust: TrustReport | None = None
    matches: list[str] = Field(
        default_factory=list,
        description="The session's constraints this item satisfies, in words ('Comedy', '1990-1999').",
    )
    popularity_rank: float | None = Field(
        None, ge=0, le=1, description="Share of catalog items with fewer training interactions (1 = most popular)."
    )
    source: Literal["live", "batch"] = Field(
        "live",
        description="'live': scored and explained for this request; 'batch': read from a stored batch run "
        "(`trustrec batch recommend`) whose profile, model version and prompt version matched.",
    )
    stored_text: StoredText | None = Field(
        None,
        description="The explanation a batch run wrote for this evidence (``source`` 'batch' only); the writer "
        "checks it again before it is shown and writes live when it fails.",
    )


@dataclass(frozen=True)
class HistoryExplanation:
    """Shapley values of history entries for several items of one profile.

    Attributes:
        items: Explained item indices, shape ``(k,)``.
        positions: Explained history positions (into ``profile.history``), shape ``(m,)``.
        values: Shapley values, shape ``(k, m)``, score units.
        base_values: Score with all explained entries removed (context only), shape ``(k,)``.
        scores: Score of the full profile, shape ``(k,)`` (computed independently of the game).
        method: ``additive``, ``permutation`` or ``exact``.
    """

    items: np.ndarray
    positions: np.ndarray
    values: np.ndarray
    base_values: np.ndarray
    scores: np.ndarray
    method: str

    @property
    def additivity_error(self) -> np.ndarray:
        """``|sum(values) + base - score|`` per item."""
        return np.abs(self.values.sum(axis=1) + self.base_values - self.scores)

    def top_positions(self, row: int, k: int) -> np.ndarray:
        """History positions of the ``k`` largest (most positive) values for item ``row``."""
        order = np.argsort(-self.values[row], kind="stable")[:k]
        return self.positions[order]
