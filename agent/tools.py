"""The agent's tools (LangChain ``@tool`` with pydantic arguments), shared by both modes' logic.

Tools act on the current turn's :class:`TurnContext` (set by the caller with :func:`use_context`).
No tool writes feedback: only user events do (:meth:`agent.recommender.Recommender.feedback`).
A tool outside the turn's plan (decided by the deterministic understanding of the user's message,
never by the model or by item text) is refused, so injected instructions cannot widen what runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel, Field

from agent.engine import Engine, mark_requests
from agent.state import MAX_N, ConstraintUpdate, DialogState
from agent.understanding import Intent
from ranker.evidence import Evidence

TOOL_NAMES = (
    "search_catalog", "recommend", "explain_item", "compare_items", "describe_item", "more_like_this",
    "update_constraints",
)  # fmt: skip

# Which tools each understood intent may use. Anything else in a turn is refused.
PLANS: dict[str, frozenset[str]] = {
    Intent.RECOMMEND: frozenset({"update_constraints", "search_catalog", "recommend", "more_like_this"}),
    Intent.REFINE: frozenset({"update_constraints", "search_catalog", "recommend", "more_like_this"}),
    Intent.FEEDBACK: frozenset({"recommend", "more_like_this"}),
    Intent.EXPLAIN: frozenset({"explain_item"}),
    Intent.COMPARE: frozenset({"compare_items", "explain_item"}),
    Intent.DESCRIBE: frozenset({"describe_item"}),
}


@dataclass
class TurnContext:
    """What tools read and change during one turn."""

    engine: Engine
    dialog: DialogState
    allowed: frozenset[str]
    evidence: list[Evidence] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)
    list_report: dict[str, Any] | None = None
    max_calls: int = 8


_CTX: ContextVar[TurnContext | None] = ContextVar("trustrec_turn", default=None)


@contextmanager
def use_context(ctx: TurnContext) -> Iterator[TurnContext]:
    token = _CTX.set(ctx)
    try:
        yield ctx
    finally:
        _CTX.reset(token)


def _enter(name: str) -> TurnContext | str:
    ctx = _CTX.get()
    if ctx is None:
        return "error: no active turn"
    if name not in ctx.allowed:
        ctx.refused.append(name)
        return f"refused: {name} is not part of this turn's plan"
    if len(ctx.calls) >= ctx.max_calls:
        ctx.refused.append(name)
        return "refused: tool call limit reached for this turn"
    ctx.calls.append(name)
    return ctx


def _cards(evidence: list[Evidence]) -> list[dict[str, Any]]:
    """Evidence as the model sees it: fields only, never free item text."""
    return [
        {
            "position": i,
            "item_id": ev.item_id,
            "title": ev.title,
            "year": ev.year,
            "categories": ev.categories,
            "confidence": round(ev.trust.confidence, 3) if ev.trust else None,
            "because_you_liked": [h.title for h in ev.history[:2] if h.value > 0],
        }
        for i, ev in enumerate(evidence, start=1)
    ]


def _resolve(ctx: TurnContext, ref: str) -> str | None:
    """An item id, or a 1-based position in the last shown list."""
    ref = ref.strip()
    if ref in ctx.engine.dataset.item_index:
        return ref
    if ref.isdigit():
        return ctx.dialog.shown_at(int(ref))
    return None


def _rank(ctx: TurnContext, *, new_items: bool = False) -> list[Evidence]:
    e = ctx.engine
    candidates, _notes = e.retrieve(ctx.dialog, new_items=new_items)
    evidence, report = e.rank(ctx.dialog, candidates)
    ctx.evidence = evidence
    ctx.list_report = None if report is None else report.model_dump(mode="json")
    ctx.dialog.record_shown([ev.item_id for ev in ctx.evidence])
    return ctx.evidence


def _focus(ctx: TurnContext, item_ids: list[str]) -> list[Evidence]:
    e = ctx.engine
    evs = []
    for item_id in item_ids[:4]:
        i = e.item_idx(item_id)
        if i is None:
            continue
        ev = e.explain_item(ctx.dialog, i)
        mark_requests(ctx.dialog, [ev], getattr(e.ranker, "group_words", None))
        evs.append(ev)
    ctx.evidence = evs
    ctx.dialog.focus = [ev.item_id for ev in evs]
    return evs


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for, in words.", max_length=200)
    n: int = Field(10, ge=1, le=MAX_N, description="How many items.")


class RecommendArgs(BaseModel):
    n: int | None = Field(None, ge=1, le=MAX_N, description="List length; default keeps the current one.")
    new_items: bool = Field(False, description="Exclude everything already shown this session.")


class ItemArgs(BaseModel):
    item: str = Field(description="An item id, or a 1-based position in the last shown list.", max_length=64)


class CompareArgs(BaseModel):
    items: list[str] = Field(min_length=2, max_length=4, description="Item ids or positions to compare.")


class MoreLikeArgs(BaseModel):
    item: str = Field(description="Item id or position of the reference item.", max_length=64)
    n: int | None = Field(None, ge=1, le=MAX_N)


class ConstraintArgs(BaseModel):
    include_categories: list[str] = Field(default_factory=list, max_length=20)
    exclude_categories: list[str] = Field(default_factory=list, max_length=20)
    year_min: int | None = Field(None, ge=1800, le=2100)
    year_max: int | None = Field(None, ge=1800, le=2100)
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    n: int | None = Field(None, ge=1, le=MAX_N)
    diversity: float | None = Field(None, ge=0, le=1)
    include_brands: list[str] = Field(default_factory=list, max_length=20, description="Brands or stores wanted.")
    exclude_brands: list[str] = Field(default_factory=list, max_length=20, description="Brands or stores unwanted.")
    rating_min: float | None = Field(None, ge=0, le=5, description="Least average rating.")
    features: list[str] = Field(default_factory=list, max_length=10, description="Feature words items must have.")


@tool("search_catalog", args_schema=SearchArgs)
def search_catalog(query: str, n: int = 10) -> list[dict[str, Any]] | str:
    """Find catalog items by meaning of a text query, respecting the session's constraints."""
    ctx = _enter("search_catalog")
    if isinstance(ctx, str):
        return ctx
    ctx.dialog.constraints = ctx.dialog.constraints.merge(ConstraintUpdate(query=query))
    ctx.dialog.constraints = ctx.dialog.constraints.merge(ConstraintUpdate(n=n))
    return _cards(_rank(ctx))


@tool("recommend", args_schema=RecommendArgs)
def recommend(n: int | None = None, new_items: bool = False) -> list[dict[str, Any]] | str:
    """Recommend items for the user under the session's current constraints, with evidence."""
    ctx = _enter("recommend")
    if isinstance(ctx, str):
        return ctx
    if n is not None:
        ctx.dialog.constraints = ctx.dialog.constraints.merge(ConstraintUpdate(n=n))
    return _cards(_rank(ctx, new_items=new_items))


@tool("explain_item", args_schema=ItemArgs)
def explain_item(item: str) -> list[dict[str, Any]] | str:
    """Explain why an item suits the user: attributions over their history and a trust report."""
    ctx = _enter("explain_item")
    if isinstance(ctx, str):
        return ctx
    iid = _resolve(ctx, item)
    return _cards(_focus(ctx, [iid])) if iid else f"unknown item {item!r}"


@tool("compare_items", args_schema=CompareArgs)
def compare_items(items: list[str]) -> list[dict[str, Any]] | str:
    """Compare two to four items side by side with their evidence."""
    ctx = _enter("compare_items")
    if isinstance(ctx, str):
        return ctx
    ids = [i for i in (_resolve(ctx, x) for x in items) if i]
    return _cards(_focus(ctx, ids)) if len(ids) >= 2 else "need at least two known items"


@tool("describe_item", args_schema=ItemArgs)
def describe_item(item: str) -> dict[str, Any] | str:
    """Describe an item from its catalog attributes (a grounded description)."""
    ctx = _enter("describe_item")
    if isinstance(ctx, str):
        return ctx
    iid = _resolve(ctx, item)
    if iid is None:
        return f"unknown item {item!r}"
    evs = _focus(ctx, [iid])
    e = ctx.engine
    d = e.descriptions.get(iid)
    if d is None:
        d = e.describer.describe(e.dataset.item(iid))
        e.descriptions.put(d)
    text = d.text if d.grounded else ""
    ctx.descriptions[iid] = text
    return {**_cards(evs)[0], "description": text} if evs else {"item_id": iid, "description": text}


@tool("more_like_this", args_schema=MoreLikeArgs)
def more_like_this(item: str, n: int | None = None) -> list[dict[str, Any]] | str:
    """Recommend items similar to a reference item (by id or shown position)."""
    ctx = _enter("more_like_this")
    if isinstance(ctx, str):
        return ctx
    iid = _resolve(ctx, item)
    if iid is None:
        return f"unknown item {item!r}"
    ctx.dialog.constraints = ctx.dialog.constraints.merge(ConstraintUpdate(reference_item_ids=[iid], n=n))
    return _cards(_rank(ctx))


@tool("update_constraints", args_schema=ConstraintArgs)
def update_constraints(
    include_categories: list[str] | None = None,
    exclude_categories: list[str] | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    price_min: float | None = None,
    price_max: float | None = None,
    n: int | None = None,
    diversity: float | None = None,
    include_brands: list[str] | None = None,
    exclude_brands: list[str] | None = None,
    rating_min: float | None = None,
    features: list[str] | None = None,
) -> dict[str, Any] | str:
    """Change the session's constraints (categories to include or exclude, years, prices, brands, least rating,
    feature words, list length). Brands not in the catalog are dropped."""
    ctx = _enter("update_constraints")
    if isinstance(ctx, str):
        return ctx
    known = {c.lower(): c for c in ctx.engine.dataset.categories()}
    inc = [known[c.lower()] for c in include_categories or [] if c.lower() in known]
    exc = [known[c.lower()] for c in exclude_categories or [] if c.lower() in known]
    brands = {b.casefold(): b for b in ctx.engine.vocab.brands.values()}
    upd = ConstraintUpdate(
        include=inc, exclude=exc, year_min=year_min, year_max=year_max, price_min=price_min, price_max=price_max,
        n=n, diversity=diversity,
        brands=[brands[b.casefold()] for b in include_brands or [] if b.casefold() in brands],
        exclude_brands=[brands[b.casefold()] for b in exclude_brands or [] if b.casefold() in brands],
        rating_min=rating_min, features=[f for f in features or [] if f.strip()],
    )  # fmt: skip
    ctx.dialog.constraints = ctx.dialog.constraints.merge(upd)
    return ctx.dialog.constraints.model_dump(mode="json", exclude_defaults=True)


def all_tools() -> list[BaseTool]:
    """Every tool, in a stable order."""
    return [search_catalog, recommend, explain_item, compare_items, describe_item, more_like_this, update_constraints]
