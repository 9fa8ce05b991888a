"""The typed reply of one chat turn: text plus item cards with evidence and provenance."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from catalog.titles import display_title
from catalog.types import Item
from ranker.evidence import Evidence, HistoryAttribution, TrustReport

Writer = Literal["llm", "template"]


class ItemCard(BaseModel):
    """One recommended item as shown: what it is, how sure we are, why, and who wrote the why."""

    position: int = Field(ge=1, description="1-based position in the list.")
    item_id: str
    title: str = Field(
        description="The title as people write it ('The Usual Suspects', not the catalog's 'Usual Suspects, The')."
    )
    year: int | None = None
    categories: list[str] = Field(default_factory=list)
    description: str = Field("", description="Item description (generated with provenance, or empty).")
    brand: str | None = Field(None, description="Brand, store or maker, as the catalog gives it.")
    price: float | None = Field(None, ge=0, description="Price in the catalog's currency, when known.")
    rating: float | None = Field(None, description="Average rating in the catalog, when known.")
    rating_count: int = Field(0, ge=0, description="Number of ratings behind ``rating``.")
    score: float = Field(description="Ranker score (higher is better).")
    confidence: float | None = Field(None, ge=0, le=1, description="Calibrated probability of relevance.")
    trust: TrustReport | None = None
    history: list[HistoryAttribution] = Field(default_factory=list, description="'Because you liked X' attributions.")
    features: dict[str, float] = Field(default_factory=dict, description="Feature-group attributions.")
    base_value: float = Field(0.0, description="Shapley base value of the history attributions.")
    explanation: str = Field("", description="The explanation text shown.")
    writer: Writer = Field("template", description="Who wrote the explanation: the LLM or the deterministic template.")
    grounded: bool = Field(True, description="Whether the explanation passed the grounding guard.")
    source: Literal["live", "batch"] = Field(
        "live",
        description="Where the evidence came from: 'live' (computed for this request) or 'batch' (a stored "
        "`trustrec batch recommend` result whose profile, model version and prompt version matched).",
    )

    @classmethod
    def from_evidence(cls, position: int, ev: Evidence, *, description: str = "", item: Item | None = None) -> ItemCard:
        """The card of one explained item; ``item`` (the catalog's record) adds brand, price and rating."""
        return cls(
            position=position,
            item_id=ev.item_id,
            title=display_title(ev.title),
            year=ev.year,
            categories=list(ev.categories),
            description=description,
            brand=item.brand if item is not None else None,
            price=item.price if item is not None else None,
            rating=item.rating.mean if item is not None else None,
            rating_count=item.rating.count if item is not None else 0,
            score=ev.score,
            confidence=ev.trust.confidence if ev.trust else None,
            trust=ev.trust,
            history=list(ev.history),
            features=dict(ev.features),
            base_value=ev.base_value,
            source=ev.source,
        )


class OnboardingItem(BaseModel):
    """A title offered to a new person to react to (a like lands as a session like)."""

    item_id: str
    title: str = Field(description="The title as people write it (articles in front).")
    year: int | None = None
    categories: list[str] = Field(default_factory=list)


class Reply(BaseModel):
    """What one turn returns to the UI or an embedding app."""

    session_id: str
    text: str = Field(description="The reply text (plain text; the UI escapes it).")
    cards: list[ItemCard] = Field(default_factory=list)
    intent: str = Field("chit-chat", description="What the agent understood the turn to be.")
    constraints: dict[str, Any] = Field(default_factory=dict, description="Active constraints after this turn.")
    notes: list[str] = Field(default_factory=list, description="What was ignored or adjusted, and why.")
    degraded: bool = Field(False, description="True when the LLM failed and templates were used.")
    list_report: dict[str, Any] | None = Field(None, description="Diversity, novelty, coverage, regret of the list.")
    suggested_feedback: list[dict[str, Any]] = Field(
        default_factory=list, description="Feedback the message seemed to express; applied only as user events."
    )
    mode: Literal["guided", "tools"] = "guided"
    onboarding: list[OnboardingItem] = Field(
        default_factory=list,
        description="For a session with nothing known yet: a few diverse popular titles to react to (skippable).",
    )


# ---------------------------------------------------------------------------------------- streamed turns
class TextEvent(BaseModel):
    """A piece of reply text around the cards (the headline first, the onboarding offer last)."""

    kind: Literal["text"] = "text"
    text: str


class CardsEvent(BaseModel):
    """Every card of the turn, as soon as ranking is done: template explanations, trust and SHAP evidence."""

    kind: Literal["cards"] = "cards"
    cards: list[ItemCard]


class CardEvent(BaseModel):
    """One card changed: LLM text (which passed the grounding and claim checks) replaced its template
    explanation, or its description arrived. Carries the whole card; ``position`` says which one."""

    kind: Literal["card"] = "card"
    card: ItemCard


class ReplyEvent(BaseModel):
    """The finished turn: the same :class:`Reply` that :meth:`agent.Recommender.chat` returns."""

    kind: Literal["reply"] = "reply"
    reply: Reply


TurnEvent = TextEvent | CardsEvent | CardEvent | ReplyEvent
"""What :meth:`agent.Recommender.stream` yields, in this order: the headline text, the cards, card
updates (LLM text as it passes the checks), trailing text, and last the reply."""
