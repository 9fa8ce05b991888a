"""Dialog state: the user's constraints, this session's feedback and what was last shown.

Two shapes of the same thing:

* :class:`DialogState` (pydantic) carries the logic: merging a turn's slot update, applying user
  feedback events, the editable preference memory (view, edit, clear).
* :class:`DialogStateDict` (a ``TypedDict`` of JSON primitives) is what a LangGraph graph keeps and
  what ``SqliteSaver`` persists per thread id. Plain JSON values need no serializer allow-list;
  convert with :meth:`DialogState.to_graph` and :meth:`DialogState.from_graph`.

Merge semantics (:meth:`Constraints.merge`): a turn's :class:`ConstraintUpdate` is applied on top
of the previous constraints. Included categories accumulate unless the update replaces them;
an exclusion ("no horror") drops the category from the includes; an allowance ("horror is ok")
drops the exclusion; a year or price bound set by the turn replaces the old one and drops an old
opposite bound that would contradict it; references and list length are replaced; the query is
kept unless the turn sets (or clears) it. Shops' constraints: a newly named brand replaces the
included brands, an excluded brand accumulates (and leaves the includes); feature words accumulate; a
rating bound replaces the old one; a stated need (with the categories inferred from it) replaces the
old need. Merging is deterministic and idempotent:
``c.merge(u).merge(u) == c.merge(u)``.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.errors import BadConstraint, BadInput
from catalog.types import FeedbackEvent, FeedbackKind

MAX_N = 100
_APPLIED_EVENTS_KEPT = 1000
_SHOWN_HISTORY_KEPT = 500


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _add(values: list[str], extra: list[str]) -> list[str]:
    return _unique([*values, *extra])


def _drop(values: list[str], gone: list[str]) -> list[str]:
    g = set(gone)
    return [v for v in values if v not in g]


class Constraints(BaseModel):
    """What the user currently asks for. Every field is optional; empty means "no constraint".

    ``include_categories`` means "at least one of these" (any-of), or "all of these" when
    ``include_all`` is set ("a romantic comedy"); ``exclude_categories`` means "none of these".
    Year and price bounds are inclusive.
    """

    model_config = ConfigDict(extra="forbid")

    include_categories: list[str] = Field(default_factory=list, description="Items should have one of these.")
    exclude_categories: list[str] = Field(default_factory=list, description="Items must have none of these.")
    include_all: bool = Field(False, description="Items must have every included category (not just one).")
    year_min: int | None = Field(None, description="Earliest release year, inclusive.")
    year_max: int | None = Field(None, description="Latest release year, inclusive.")
    price_min: float | None = Field(None, ge=0, description="Lowest price, inclusive.")
    price_max: float | None = Field(None, ge=0, description="Highest price, inclusive.")
    include_brands: list[str] = Field(default_factory=list, description="Items should be of one of these brands.")
    exclude_brands: list[str] = Field(default_factory=list, description="Items must be of none of these brands.")
    rating_min: float | None = Field(None, ge=0, description="Least average rating, inclusive.")
    features: list[str] = Field(default_factory=list, description="Feature words every item's text must contain.")
    need: str = Field("", description='A stated need ("for running"): candidates come from it, not the history.')
    need_categories: list[str] = Field(
        default_factory=list, description="Categories inferred from the need (used when none is asked for)."
    )
    reference_item_ids: list[str] = Field(default_factory=list, description='Items the user wants "more like".')
    query: str = Field("", description="Free-text query for the text encoder.")
    n: int | None = Field(None, ge=1, le=MAX_N, description="Wanted list length; None = the agent's default.")
    diversity: float | None = Field(None, ge=0.0, le=1.0, description="Diversity wish; None = the agent's default.")

    @model_validator(mode="after")
    def _consistent(self) -> Constraints:
        self.include_categories = _unique(self.include_categories)
        self.exclude_categories = _unique(self.exclude_categories)
        self.include_categories = _drop(self.include_categories, self.exclude_categories)
        self.exclude_brands = _unique(self.exclude_brands)
        self.include_brands = _drop(_unique(self.include_brands), self.exclude_brands)
        self.features = _unique(self.features)
        if len(self.include_categories) < 2:
            self.include_all = False
        self.reference_item_ids = _unique(self.reference_item_ids)
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        return self

    def is_empty(self) -> bool:
        """True when nothing constrains the recommendations."""
        return self == Constraints()

    def filters(self, exclude_ids: Any = ()) -> Any:
        """These constraints as exact retrieval filters (:class:`retrieval.Filters`), less ``exclude_ids``."""
        from retrieval import Filters

        return Filters(
            include_categories=frozenset(self.include_categories or self.need_categories),
            exclude_categories=frozenset(self.exclude_categories),
            include_all=self.include_all,
            year_min=self.year_min, year_max=self.year_max, price_min=self.price_min, price_max=self.price_max,
            exclude_ids=frozenset(exclude_ids),
            include_brands=frozenset(self.include_brands), exclude_brands=frozenset(self.exclude_brands),
            rating_min=self.rating_min, features=frozenset(self.features),
        )  # fmt: skip

    def merge(self, update: ConstraintUpdate) -> Constraints:
        """These constraints with one turn's update applied (a new object; ``self`` is unchanged).

        Order: reset; removals (``clear_categories``, ``remove``); includes (replace or add, each
        removes a matching exclusion; ``include_all`` set by the update, else kept, and dropped when
        the includes are replaced); exclusions (each removes a matching include); allowances
        (remove exclusions); bounds; references; query; n; diversity.
        """
        c = Constraints() if update.reset else self
        inc, exc = list(c.include_categories), list(c.exclude_categories)
        every = c.include_all
        if update.clear_categories:
            inc, every = [], False
        inc, exc = _drop(inc, update.remove), _drop(exc, update.remove)
        if update.replace_include:
            inc, every = [], False
        if update.include_all is not None:
            every = update.include_all
        inc = _add(inc, update.include)
        exc = _drop(exc, update.include)
        exc = _add(exc, update.exclude)
        inc = _drop(inc, update.exclude)
        exc = _drop(exc, update.allow)

        y_lo, y_hi = (None, None) if update.clear_years else (c.year_min, c.year_max)
        y_lo, y_hi = _bounds(y_lo, y_hi, update.year_min, update.year_max)
        p_lo, p_hi = (None, None) if update.clear_prices else (c.price_min, c.price_max)
        p_lo, p_hi = _bounds(p_lo, p_hi, update.price_min, update.price_max)

        brands_in = [] if update.clear_brands else list(c.include_brands)
        brands_out = [] if update.clear_brands else list(c.exclude_brands)
        if update.brands:  # a newly named brand replaces the old ones ("from Trekka" then "from Packwell")
            brands_in = list(update.brands)
        brands_out = _add(_drop(brands_out, update.brands), update.exclude_brands)
        brands_in = _drop(brands_in, update.exclude_brands)
        feats = [] if update.clear_features else list(c.features)
        feats = _add(feats, update.features)
        rating = None if update.clear_rating else c.rating_min
        if update.rating_min is not None:
            rating = update.rating_min
        need, need_cats = c.need, list(c.need_categories)
        if update.need is not None:
            need, need_cats = update.need, list(update.need_categories)

        refs = list(c.reference_item_ids)
        if update.clear_references:
            refs = []
        if update.reference_item_ids:
            refs = list(update.reference_item_ids)
        return Constraints(
            include_categories=inc,
            exclude_categories=exc,
            include_all=every,
            year_min=y_lo,
            year_max=y_hi,
            price_min=p_lo,
            price_max=p_hi,
            include_brands=brands_in,
            exclude_brands=brands_out,
            rating_min=rating,
            features=feats,
            need=need,
            need_categories=need_cats,
            reference_item_ids=refs,
            query=c.query if update.query is None else update.query,
            n=(None if update.clear_n else c.n) if update.n is None else update.n,
            diversity=c.diversity if update.diversity is None else update.diversity,
        )


def _bounds(old_lo: Any, old_hi: Any, new_lo: Any, new_hi: Any) -> tuple[Any, Any]:
    """New bounds win; an old bound that contradicts a new one is dropped."""
    lo = old_lo if new_lo is None else new_lo
    hi = old_hi if new_hi is None else new_hi
    if lo is not None and hi is not None and lo > hi:
        if new_lo is None:
            lo = None
        elif new_hi is None:
            hi = None
    return lo, hi


class ConstraintUpdate(BaseModel):
    """The slots one turn changes. ``None`` / empty means "leave as it was".

    Values are absolute (a relative wish such as "something older" is resolved by the
    understanding step against the last shown items), which keeps :meth:`Constraints.merge`
    idempotent.
    """

    model_config = ConfigDict(extra="forbid")

    reset: bool = Field(False, description="Start from empty constraints before applying the rest.")
    undo: bool = Field(
        False, description="Go back to the constraints before the last turn that changed them ('scrap that')."
    )
    include: list[str] = Field(default_factory=list, description="Categories to include.")
    replace_include: bool = Field(False, description="Replace the old includes instead of adding to them.")
    exclude: list[str] = Field(default_factory=list, description="Categories to exclude.")
    allow: list[str] = Field(default_factory=list, description="Categories no longer excluded.")
    include_all: bool | None = Field(
        None, description="Items must have every included category (True), any one (False); None keeps it."
    )
    remove: list[str] = Field(
        default_factory=list,
        description="Categories no longer asked for either way (dropped from includes and exclusions).",
    )
    clear_categories: bool = Field(False, description="Drop the included categories first (exclusions stay).")
    year_min: int | None = Field(None, description="New earliest year.")
    year_max: int | None = Field(None, description="New latest year.")
    clear_years: bool = Field(False, description="Drop both year bounds first.")
    price_min: float | None = Field(None, ge=0, description="New lowest price.")
    price_max: float | None = Field(None, ge=0, description="New highest price.")
    clear_prices: bool = Field(False, description="Drop both price bounds first.")
    brands: list[str] = Field(default_factory=list, description="Brands to include (replace the old includes).")
    exclude_brands: list[str] = Field(default_factory=list, description="Brands to exclude.")
    clear_brands: bool = Field(False, description="Drop both brand lists first.")
    rating_min: float | None = Field(None, ge=0, description="New least average rating.")
    clear_rating: bool = Field(False, description="Drop the rating bound first.")
    features: list[str] = Field(default_factory=list, description="Feature words to add.")
    clear_features: bool = Field(False, description="Drop the feature words first.")
    need: str | None = Field(None, description='New stated need; "" clears it, None keeps it.')
    need_categories: list[str] = Field(default_factory=list, description="Categories inferred from the new need.")
    reference_item_ids: list[str] = Field(default_factory=list, description="New reference items (replace).")
    clear_references: bool = Field(False, description="Drop the old reference items.")
    query: str | None = Field(None, description='New free-text query; "" clears it, None keeps it.')
    n: int | None = Field(None, ge=1, le=MAX_N, description="New list length.")
    clear_n: bool = Field(False, description="Drop the asked-for list length first (back to the default).")
    diversity: float | None = Field(None, ge=0.0, le=1.0, description="New diversity wish.")

    @model_validator(mode="after")
    def _normalise(self) -> ConstraintUpdate:
        self.exclude = _unique(self.exclude)
        self.include = _drop(_unique(self.include), self.exclude)  # within one turn, an exclusion wins
        self.allow = _unique(self.allow)
        self.remove = _unique(self.remove)
        self.reference_item_ids = _unique(self.reference_item_ids)
        self.exclude_brands = _unique(self.exclude_brands)
        self.brands = _drop(_unique(self.brands), self.exclude_brands)
        self.features = _unique(self.features)
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            self.year_min, self.year_max = self.year_max, self.year_min
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            self.price_min, self.price_max = self.price_max, self.price_min
        return self

    def is_empty(self) -> bool:
        """True when applying this update changes nothing."""
        return self == ConstraintUpdate()

    @classmethod
    def between(cls, old: Constraints, new: Constraints) -> ConstraintUpdate:
        """The update that turns ``old`` into ``new`` (``old.merge(update) == new``), naming only what differs.

        Used where one message is read as several steps ("horror... no wait, romance"): the steps are
        applied in turn, and the turn's update is the difference they made.
        """
        if new.diversity is None and old.diversity is not None:  # no field clears it: start from empty
            return cls.between(Constraints(), new).model_copy(update={"reset": True})
        d: dict[str, Any] = {}
        inc_old, inc_new = old.include_categories, new.include_categories
        if inc_new[: len(inc_old)] == inc_old:
            d["include"] = inc_new[len(inc_old) :]
        else:
            d["replace_include"], d["include"] = True, list(inc_new)
        if new.include_all != old.include_all or d.get("replace_include"):
            d["include_all"] = new.include_all
        exc_old, exc_new = old.exclude_categories, new.exclude_categories
        kept = [c for c in exc_old if c in exc_new]
        if exc_new[: len(kept)] == kept:
            d["remove"] = [c for c in exc_old if c not in exc_new]
            d["exclude"] = exc_new[len(kept) :]
        else:  # the order changed: name them all again
            d["remove"], d["exclude"] = list(exc_old), list(exc_new)
        for lo, hi, clear in (("year_min", "year_max", "clear_years"), ("price_min", "price_max", "clear_prices")):
            was, now = (getattr(old, lo), getattr(old, hi)), (getattr(new, lo), getattr(new, hi))
            if now != was:
                d[clear] = (now[0] is None and was[0] is not None) or (now[1] is None and was[1] is not None)
                d[lo], d[hi] = now
        if (new.include_brands, new.exclude_brands) != (old.include_brands, old.exclude_brands):
            d["clear_brands"], d["brands"], d["exclude_brands"] = True, new.include_brands, new.exclude_brands
        if new.rating_min != old.rating_min:
            d["clear_rating"], d["rating_min"] = new.rating_min is None, new.rating_min
        if new.features != old.features:
            d["clear_features"], d["features"] = True, new.features
        if (new.need, new.need_categories) != (old.need, old.need_categories):
            d["need"], d["need_categories"] = new.need, new.need_categories
        if new.reference_item_ids != old.reference_item_ids:
            d["clear_references"], d["reference_item_ids"] = True, new.reference_item_ids
        if new.query != old.query:
            d["query"] = new.query
        if new.n != old.n:
            d["clear_n"], d["n"] = new.n is None, new.n
        if new.diversity != old.diversity:
            d["diversity"] = new.diversity
        return cls(**d)


class SessionFeedback(BaseModel):
    """This session's feedback, from user events only. An item is in at most one list."""

    model_config = ConfigDict(extra="forbid")

    liked: list[str] = Field(default_factory=list, description="Liked item ids, oldest first.")
    disliked: list[str] = Field(default_factory=list, description="Disliked item ids.")
    not_interested: list[str] = Field(default_factory=list, description='"Not interested" / already seen.')
    ratings: dict[str, float] = Field(default_factory=dict, description="Explicit ratings by item id.")

    def excluded(self) -> list[str]:
        """Item ids never to recommend again this session (disliked and not interested)."""
        return _unique([*self.disliked, *self.not_interested])

    def forget(self, item_id: str) -> None:
        self.liked = _drop(self.liked, [item_id])
        self.disliked = _drop(self.disliked, [item_id])
        self.not_interested = _drop(self.not_interested, [item_id])
        self.ratings.pop(item_id, None)


MemoryPart = Literal["constraints", "likes", "dislikes", "not_interested", "ratings", "feedback", "all"]


class DialogStateDict(TypedDict, total=False):
    """The graph-state shape of :class:`DialogState` (JSON primitives only)."""

    session_id: str
    user_id: str | None
    turn: int
    constraints: dict[str, Any]
    feedback: dict[str, Any]
    shown: list[str]
    shown_history: list[str]
    focus: list[str]
    applied_event_ids: list[str]
    last_intent: str | None
    onboarding: list[str]
    onboarding_offered: bool
    previous_constraints: dict[str, Any] | None


class DialogState(BaseModel):
    """Everything the agent remembers about one conversation."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field("default", min_length=1, max_length=128, description="Conversation (thread) id.")
    user_id: str | None = Field(None, max_length=128, description="Known user, or None for a new one.")
    turn: int = Field(0, ge=0, description="Completed user turns.")
    constraints: Constraints = Field(default_factory=Constraints)
    feedback: SessionFeedback = Field(default_factory=SessionFeedback)
    shown: list[str] = Field(default_factory=list, description='Last shown item ids in order ("the second one").')
    shown_history: list[str] = Field(default_factory=list, description="Every item shown this session (capped).")
    focus: list[str] = Field(default_factory=list, description='Items the last turn was about ("that one").')
    applied_event_ids: list[str] = Field(default_factory=list, description="Feedback event ids already applied.")
    last_intent: str | None = Field(None, description="Intent of the last turn.")
    onboarding: list[str] = Field(
        default_factory=list,
        description="Titles offered to a new person on the last turn; the next turn's positions refer to them.",
    )
    onboarding_offered: bool = Field(False, description="Whether onboarding was offered (once per session).")
    previous_constraints: Constraints | None = Field(
        None, description="The constraints before the last turn that changed them: what 'scrap that' restores."
    )

    @field_validator("shown", "shown_history", "focus", "applied_event_ids", "onboarding")
    @classmethod
    def _dedupe(cls, v: list[str]) -> list[str]:
        return _unique(v)

    # --- LangGraph / persistence ---------------------------------------------------------
    def to_graph(self) -> DialogStateDict:
        """A JSON-primitive dict for graph state and checkpoints."""
        return DialogStateDict(**self.model_dump(mode="json"))  # type: ignore[typeddict-item]

    @classmethod
    def from_graph(cls, data: DialogStateDict | dict[str, Any] | None) -> DialogState:
        """Rebuild from :meth:`to_graph` output (missing keys take defaults; None gives a new state)."""
        return cls.model_validate(dict(data or {}))

    # --- turns ---------------------------------------------------------------------------
    def with_update(
        self, update: ConstraintUpdate, *, focus: list[str] | None = None, intent: str | None = None
    ) -> DialogState:
        """A copy with one turn applied: constraints merged, focus and intent set, turn counted."""
        new = self.model_copy(deep=True)
        if update.undo and self.previous_constraints is not None:  # one step back; a second "undo" redoes it
            new.constraints = self.previous_constraints.merge(update.model_copy(update={"undo": False}))
            new.previous_constraints = self.constraints
        else:
            new.constraints = self.constraints.merge(update)
            if new.constraints != self.constraints:
                new.previous_constraints = self.constraints
        if focus is not None:
            new.focus = _unique(focus)
        new.last_intent = intent if intent is not None else self.last_intent
        new.turn = self.turn + 1
        return new

    def record_shown(self, item_ids: list[str]) -> None:
        """Remember the list just shown (in order); it becomes "the first one", "the second one"..."""
        self.shown = _unique(list(item_ids))
        self.shown_history = _add(self.shown_history, self.shown)[-_SHOWN_HISTORY_KEPT:]
        self.focus = []

    def shown_at(self, position: int) -> str | None:
        """The item shown at a 1-based position (negative counts from the end), or None."""
        if position == 0 or abs(position) > len(self.shown):
            return None
        return self.shown[position - 1] if position > 0 else self.shown[position]

    def apply_feedback(self, event: FeedbackEvent) -> bool:
        """Apply a user feedback event to the session; idempotent by ``event_id``.

        like/purchase/rating >= 4 -> liked; dislike/rating <= 2 -> disliked; not_interested ->
        not interested; more_like_this -> liked and made the reference item; a rating of 3 only
        records the rating. A later event about an item replaces the earlier verdict.

        Returns:
            False when this ``event_id`` was applied before (nothing changed), else True.
        """
        if event.event_id in self.applied_event_ids:
            return False
        fb, item = self.feedback, event.item_id
        kind = event.kind
        if kind == FeedbackKind.RATING and event.value is not None:
            fb.forget(item)
            fb.ratings[item] = float(event.value)
            if event.value >= 4:
                fb.liked.append(item)
            elif event.value <= 2:
                fb.disliked.append(item)
        elif kind in (FeedbackKind.LIKE, FeedbackKind.PURCHASE, FeedbackKind.MORE_LIKE_THIS):
            fb.forget(item)
            fb.liked.append(item)
            if kind == FeedbackKind.MORE_LIKE_THIS:
                self.constraints = self.constraints.merge(ConstraintUpdate(reference_item_ids=[item]))
        elif kind == FeedbackKind.DISLIKE:
            fb.forget(item)
            fb.disliked.append(item)
        elif kind == FeedbackKind.NOT_INTERESTED:
            fb.forget(item)
            fb.not_interested.append(item)
        self.applied_event_ids = [*self.applied_event_ids, event.event_id][-_APPLIED_EVENTS_KEPT:]
        return True

    # --- editable preference memory ------------------------------------------------------
    def memory(self) -> dict[str, Any]:
        """What the agent remembers about the user's preferences, as plain JSON (for "what do you know?")."""
        return {
            "constraints": self.constraints.model_dump(mode="json", exclude_defaults=True),
            "liked": list(self.feedback.liked),
            "disliked": list(self.feedback.disliked),
            "not_interested": list(self.feedback.not_interested),
            "ratings": dict(self.feedback.ratings),
        }

    def edit_constraints(self, **fields: Any) -> None:
        """Set constraint fields directly (validated; raises pydantic.ValidationError naming a bad field)."""
        data = self.constraints.model_dump()
        unknown = sorted(set(fields) - set(data))
        if unknown:
            raise BadConstraint(f"unknown constraint fields {unknown}; known: {sorted(data)}")
        data.update(fields)
        self.constraints = Constraints.model_validate(data)

    def clear(self, part: MemoryPart = "all") -> None:
        """Forget one part of the memory: constraints, likes, dislikes, not_interested, ratings,
        feedback (all four) or all (constraints and feedback; shown lists stay)."""
        if part not in ("constraints", "likes", "dislikes", "not_interested", "ratings", "feedback", "all"):
            raise BadInput(f"unknown memory part {part!r}; use one of {MemoryPart.__args__}")  # type: ignore[attr-defined]
        if part in ("constraints", "all"):
            self.constraints = Constraints()
        if part in ("likes", "feedback", "all"):
            self.feedback.liked = []
        if part in ("dislikes", "feedback", "all"):
            self.feedback.disliked = []
        if part in ("not_interested", "feedback", "all"):
            self.feedback.not_interested = []
        if part in ("ratings", "feedback", "all"):
            self.feedback.ratings = {}

    def forget_item(self, item_id: str) -> None:
        """Remove one item from every feedback list and from the references."""
        self.feedback.forget(item_id)
        self.constraints = self.constraints.model_copy(
            update={"reference_item_ids": _drop(self.constraints.reference_item_ids, [item_id])}
        )


__all__ = [
    "MAX_N",
    "ConstraintUpdate",
    "Constraints",
    "DialogState",
    "DialogStateDict",
    "MemoryPart",
    "SessionFeedback",
]
