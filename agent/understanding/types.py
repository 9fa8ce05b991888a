"""The typed results of understanding one message: intent, item references, suggested feedback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.safety import SafetyConfig
from agent.state import MAX_N, ConstraintUpdate
from catalog.types import FeedbackEvent, FeedbackKind

Embedder = Callable[[Sequence[str]], np.ndarray]
"""Maps texts to an ``(len(texts), dim)`` array of embeddings (e.g. the retrieval TextEncoder's encode)."""


class Intent(StrEnum):
    """What the user wants from this turn."""

    RECOMMEND = "recommend"
    REFINE = "refine"
    EXPLAIN = "explain"
    COMPARE = "compare"
    DESCRIBE = "describe"
    FEEDBACK = "feedback"
    CHITCHAT = "chitchat"
    HELP = "help"
    MEMORY = "memory"
    RESET = "reset"


class UnderstandConfig(BaseModel):
    """Thresholds and defaults of the rule-based understanding."""

    title_threshold: float = Field(0.8, ge=0, le=1.5, description="Least fuzzy score to accept a title after a cue.")
    title_threshold_bare: float = Field(0.9, ge=0, le=1.5, description="Least score for a title without a cue.")
    shown_title_threshold: float = Field(
        0.85, ge=0, le=1, description="Least token similarity for a shown item's title."
    )
    embedding_threshold: float = Field(0.6, ge=-1, le=1, description="Least cosine for an embedding title match.")
    category_hint_threshold: float = Field(0.35, ge=-1, le=1, description="Least cosine for a soft category hint.")
    max_n: int = Field(50, ge=1, le=MAX_N, description="Largest list length a user can ask for.")
    default_diversity: float = Field(0.3, ge=0, le=1, description="Diversity assumed when the user has not said.")
    diversity_step: float = Field(0.3, ge=0, le=1, description="How far 'more variety' / 'more of the same' moves it.")
    recent_years: int = Field(5, ge=1, description='"Recent" = the catalog\'s last this-many years.')
    classic_age: int = Field(30, ge=1, description='"Classic/old" = at least this many years before the newest item.')
    approx_year_margin: int = Field(2, ge=0, description='"Around 1990" = this many years either side of it.')
    not_old_age: int = Field(20, ge=1, description='"Not too old" = at most this many years before the newest item.')
    fuzzy_category_distance: int = Field(
        2, ge=0, le=3, description="Most edits (transpositions count one) for a misspelt category word of 9+ letters."
    )
    high_rating: float = Field(4.0, ge=0, le=5, description='"Highly rated" = at least this average rating.')
    cheap_quantile: float = Field(
        0.25, gt=0, lt=0.5, description='"Cheap" = the lowest this share of the asked-for prices; "premium" the top.'
    )
    need_min_share: float = Field(
        0.3, gt=0, le=1, description="Least share of the need's nearest items in a category to infer that category."
    )
    max_query_chars: int = Field(200, ge=1, description="Longest free-text query kept.")
    structured_proposals: bool = Field(
        False,
        description="Tools mode: ask the chat model for a structured ConstraintUpdate (validated against the catalog) "
        "before the tools run; off, the tools alone set the constraints.",
    )
    safety: SafetyConfig = Field(default_factory=SafetyConfig, description="Message cap and text hygiene.")


RefSource = Literal["position", "shown_title", "title", "focus", "embedding", "all_shown"]


class ItemRef(BaseModel):
    """An item the message refers to."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    position: int | None = Field(None, description="1-based position in the last shown list, when shown.")
    source: RefSource = Field(description="How it was resolved.")
    score: float = Field(1.0, description="Match confidence (1.0 for positions).")
    text: str = Field("", description="The words that referred to it.")


class SuggestedFeedback(BaseModel):
    """Feedback the message seems to express. Not applied: the API may confirm it as a user event."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    kind: FeedbackKind
    value: float | None = None
    reason: str = Field("", description="The words it came from.")

    def to_event(self, event_id: str, session_id: str, user_id: str | None = None) -> FeedbackEvent:
        """The user event to apply once the user (or the API on their behalf) confirms it."""
        return FeedbackEvent(
            event_id=event_id,
            session_id=session_id,
            user_id=user_id,
            item_id=self.item_id,
            kind=self.kind,
            value=self.value,
        )


class Understanding(BaseModel):
    """Everything the guided agent needs from one message."""

    intent: Intent
    slots: ConstraintUpdate = Field(default_factory=ConstraintUpdate, description="Constraint changes.")
    items: list[ItemRef] = Field(default_factory=list, description="Items the turn is about (explain, compare, ...).")
    positions: list[int] = Field(default_factory=list, description="1-based positions the message named.")
    references: list[ItemRef] = Field(default_factory=list, description='"Like X" items (also in slots).')
    feedback: list[SuggestedFeedback] = Field(default_factory=list, description="Suggested feedback events.")
    wants_new_items: bool = Field(False, description='"Show me more / others": exclude what was shown.')
    memory_action: Literal["view", "clear"] | None = Field(None, description="For intent memory.")
    memory_part: str | None = Field(None, description="Which memory part to clear (likes, dislikes, ...).")
    avoid_terms: list[str] = Field(default_factory=list, description="Negated words that are not categories.")
    category_hints: list[str] = Field(default_factory=list, description="Soft category guesses (embeddings).")
    asked_categories: list[str] = Field(
        default_factory=list, description='Categories a question asks of an item ("is the fifth one a horror movie?").'
    )
    asked_age: Literal["newest", "oldest"] | None = Field(
        None, description='Which item the question asks for by age ("which of these is the most recent?").'
    )
    asked_of_list: bool = Field(
        False,
        description='A question whether the shown items fit a wish ("are any of these from before 1990?"): the '
        "asked categories and years are checked against each shown item, not searched.",
    )
    asked_year_min: int | None = Field(None, description="The earliest year such a question asks about.")
    asked_year_max: int | None = Field(None, description="The latest year such a question asks about.")
    clarify: str | None = Field(None, description="A question to ask instead of guessing.")
    notes: list[str] = Field(default_factory=list, description="What was ignored or adjusted, and why.")
    injection: list[str] = Field(default_factory=list, description="Prompt-injection-like rules matched (log only).")
    text: str = Field("", description="The cleaned message.")
    language: str = Field("en", description="Language of the message (the reply is written in it).")
    canonical: str = Field("", description="The message as the rules read it (rewritten for languages without spaces).")
