"""Exact attribute filters and the per-item attribute table they are evaluated on.

Semantics (one place, shared by the index and the tests):

- ``include_categories``: the item has at least one of them (any-of), or every one of them when
  ``include_all`` is set; empty means no constraint.
- ``exclude_categories``: the item has none of them.
- ``year_min``/``year_max`` and ``price_min``/``price_max``: inclusive bounds; an item whose
  year (price) is unknown fails any year (price) bound.
- ``exclude_ids``: these item ids never pass; ``include_ids`` (when set): only these pass.
- ``include_brands``: the item's brand (store, maker) is one of them; ``exclude_brands``: it is none of
  them. An item without a brand fails an include and passes an exclude.
- ``rating_min``: the item's average rating is at least this; an unrated item fails.
- ``features``: every one of these words or phrases occurs, as whole words, in the item's text (title,
  description, categories and its ``features`` / ``details`` attributes).

Category and brand names match case-insensitively ("sci-fi" matches "Sci-Fi").

Brand, rating and feature constraints are *item-level*: they are evaluated on catalog items
(:meth:`Filters.matches`), not on the index's attribute table. :meth:`Filters.resolved` turns them
into ``include_ids`` for a catalog, which every index evaluates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.errors import BadConstraint
from catalog.types import Item


def _fold(category: str) -> str:
    return category.strip().casefold()


def _words(text: str) -> str:
    """Lower-case, accent-free words separated by single spaces, padded with a space on each side."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"['’‘`]", "", text)
    return " " + " ".join(re.findall(r"[a-z0-9]+", text)) + " "


def item_feature_text(item: Item) -> str:
    """The words a feature constraint is matched against: title, description, categories, features, details."""
    parts = [item.title, item.description, " ".join(item.categories)]
    feats = item.attributes.get("features") if isinstance(item.attributes, dict) else None
    if isinstance(feats, list | tuple):
        parts.extend(str(f) for f in feats)
    details = item.attributes.get("details") if isinstance(item.attributes, dict) else None
    if isinstance(details, dict):
        parts.extend(f"{k} {v}" for k, v in details.items())
    return _words(" ".join(parts))


class Filters(BaseModel):
    """Exact constraints on which items may be returned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    include_categories: frozenset[str] = Field(frozenset(), description="Item has any of these categories.")
    exclude_categories: frozenset[str] = Field(frozenset(), description="Item has none of these categories.")
    include_all: bool = Field(False, description="Item has every included category (all-of), not just one.")
    year_min: int | None = Field(None, description="Earliest release year, inclusive.")
    year_max: int | None = Field(None, description="Latest release year, inclusive.")
    price_min: float | None = Field(None, ge=0, description="Lowest price, inclusive.")
    price_max: float | None = Field(None, ge=0, description="Highest price, inclusive.")
    exclude_ids: frozenset[str] = Field(frozenset(), description="Item ids never returned (seen, disliked, ...).")
    include_ids: frozenset[str] | None = Field(None, description="Only these item ids may be returned; None: any.")
    include_brands: frozenset[str] = Field(frozenset(), description="Item's brand is one of these.")
    exclude_brands: frozenset[str] = Field(frozenset(), description="Item's brand is none of these.")
    rating_min: float | None = Field(None, ge=0, description="Least average rating, inclusive; unrated items fail.")
    features: frozenset[str] = Field(frozenset(), description="Words or phrases that all occur in the item's text.")

    @field_validator(
        "include_categories",
        "exclude_categories",
        "exclude_ids",
        "include_brands",
        "exclude_brands",
        "features",
        mode="before",
    )
    @classmethod
    def _to_set(cls, v: Any) -> Any:
        if v is None:
            return frozenset()
        if isinstance(v, str):
            return frozenset([v])
        return frozenset(v)

    @model_validator(mode="after")
    def _ranges(self) -> Filters:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        return self

    @field_validator("include_ids", mode="before")
    @classmethod
    def _to_set_or_none(cls, v: Any) -> Any:
        if v is None:
            return None
        return frozenset([v]) if isinstance(v, str) else frozenset(v)

    def is_empty(self) -> bool:
        """True when the filter lets every item through."""
        return self == Filters()

    def item_level(self) -> bool:
        """True when brand, rating or feature constraints are set (see :meth:`resolved`)."""
        return bool(self.include_brands or self.exclude_brands or self.rating_min is not None or self.features)

    def resolved(self, items: Sequence[Item]) -> Filters:
        """This filter with its item-level constraints (brands, rating, features) evaluated on ``items`` and
        replaced by ``include_ids``, so an index's attribute table can evaluate the rest. Unchanged when it has none.
        """
        if not self.item_level():
            return self
        keep = self.model_copy(
            update={"include_brands": frozenset(), "exclude_brands": frozenset(), "rating_min": None,
                    "features": frozenset(), "include_ids": None}
        )  # fmt: skip
        ids = frozenset(it.item_id for it in items if self._item_level_ok(it))
        if self.include_ids is not None:
            ids &= self.include_ids
        return keep.model_copy(update={"include_ids": ids})

    def _item_level_ok(self, item: Item) -> bool:
        brand = _fold(item.brand) if item.brand else None
        if self.include_brands and (brand is None or brand not in {_fold(b) for b in self.include_brands}):
            return False
        if brand is not None and brand in {_fold(b) for b in self.exclude_brands}:
            return False
        if self.rating_min is not None and (item.rating.mean is None or item.rating.mean < self.rating_min):
            return False
        if self.features:
            text = item_feature_text(item)
            if not all(_words(f) in text for f in self.features if _words(f).strip()):
                return False
        return True

    def with_excluded(self, item_ids: Iterable[str]) -> Filters:
        """This filter plus more excluded ids."""
        return self.model_copy(update={"exclude_ids": self.exclude_ids | frozenset(item_ids)})

    def matches(self, item: Item) -> bool:
        """Whether one item passes (the reference semantics; :class:`AttributeTable` vectorises it)."""
        cats = {_fold(c) for c in item.categories}
        wanted = {_fold(c) for c in self.include_categories}
        if wanted and not (wanted <= cats if self.include_all else cats & wanted):
            return False
        if cats & {_fold(c) for c in self.exclude_categories}:
            return False
        if item.item_id in self.exclude_ids:
            return False
        if self.include_ids is not None and item.item_id not in self.include_ids:
            return False
        if self.item_level() and not self._item_level_ok(item):
            return False
        for value, low, high in (
            (item.year, self.year_min, self.year_max),
            (item.price, self.price_min, self.price_max),
        ):
            if low is None and high is None:
                continue
            if value is None or (low is not None and value < low) or (high is not None and value > high):
                return False
        return True


class AttributeTable:
    """Filterable attributes per integer label (categories, year, price), vectorised.

    Rows are addressed by label (the index's int64 id); labels need not be dense. Unused rows
    never pass a filter.
    """

    def __init__(self) -> None:
        self.item_ids: np.ndarray = np.zeros(0, dtype=object)  # label -> item_id (None = unused)
        self.in_use = np.zeros(0, dtype=bool)
        self.year = np.zeros(0, dtype=np.float64)  # NaN = unknown
        self.price = np.zeros(0, dtype=np.float64)
        self.categories: dict[str, np.ndarray] = {}  # folded name -> bool per label
        self.display: dict[str, str] = {}  # folded name -> name as first seen
        self.label_of: dict[str, int] = {}

    @property
    def capacity(self) -> int:
        return int(self.item_ids.shape[0])

    def _grow(self, size: int) -> None:
        if size <= self.capacity:
            return
        new = max(size, int(self.capacity * 1.5) + 16)
        extra = new - self.capacity
        self.item_ids = np.concatenate([self.item_ids, np.full(extra, None, dtype=object)])
        self.in_use = np.concatenate([self.in_use, np.zeros(extra, dtype=bool)])
        self.year = np.concatenate([self.year, np.full(extra, np.nan)])
        self.price = np.concatenate([self.price, np.full(extra, np.nan)])
        for k, col in self.categories.items():
            self.categories[k] = np.concatenate([col, np.zeros(extra, dtype=bool)])

    def set(
        self,
        labels: Sequence[int] | np.ndarray,
        item_ids: Sequence[str],
        *,
        categories: Sequence[Sequence[str]] | None = None,
        years: Sequence[float | None] | None = None,
        prices: Sequence[float | None] | None = None,
    ) -> None:
        """Set (insert or overwrite) rows for these labels."""
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size == 0:
            return
        self._grow(int(labels.max()) + 1)
        for label, iid in zip(labels.tolist(), item_ids, strict=True):
            old = self.item_ids[label]
            if old is not None and old != iid:
                self.label_of.pop(old, None)
            self.item_ids[label] = iid
            self.label_of[iid] = label
        self.in_use[labels] = True
        for col in self.categories.values():
            col[labels] = False
        if categories is not None:
            for label, cats in zip(labels.tolist(), categories, strict=True):
                for c in cats:
                    key = _fold(c)
                    if key not in self.categories:
                        self.categories[key] = np.zeros(self.capacity, dtype=bool)
                        self.display[key] = c
                    self.categories[key][label] = True

        def floats(values: Sequence[float | None] | None) -> np.ndarray:
            if values is None:
                return np.full(labels.size, np.nan)
            return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)

        self.year[labels] = floats(years)
        self.price[labels] = floats(prices)

    def set_items(self, labels: Sequence[int] | np.ndarray, items: Sequence[Item]) -> None:
        """Set rows from catalog items."""
        self.set(
            labels,
            [it.item_id for it in items],
            categories=[it.categories for it in items],
            years=[it.year for it in items],
            prices=[it.price for it in items],
        )

    def clear(self, labels: Sequence[int] | np.ndarray) -> None:
        """Mark rows unused."""
        labels = np.asarray(labels, dtype=np.int64)
        for label in labels.tolist():
            iid = self.item_ids[label]
            if iid is not None:
                self.label_of.pop(iid, None)
        self.item_ids[labels] = None
        self.in_use[labels] = False
        self.year[labels] = np.nan
        self.price[labels] = np.nan
        for col in self.categories.values():
            col[labels] = False

    def used(self) -> np.ndarray:
        """Boolean mask of rows in use."""
        return self.in_use.copy()

    def category_names(self) -> list[str]:
        """Categories present, as first spelled, sorted."""
        return sorted(self.display[k] for k, col in self.categories.items() if col.any())

    def unknown_categories(self, filters: Filters) -> list[str]:
        """Category names in ``filters`` that no item has (likely typos worth telling the user)."""
        names = filters.include_categories | filters.exclude_categories
        return sorted(c for c in names if _fold(c) not in self.categories or not self.categories[_fold(c)].any())

    def mask(self, filters: Filters | None) -> np.ndarray:
        """Boolean mask over labels: True where the row is used and passes ``filters``.

        Raises:
            BadConstraint: ``filters`` has item-level constraints (brands, rating, features) this table
                does not hold; pass ``filters.resolved(catalog_items)`` instead.
        """
        ok = self.used()
        if filters is None or filters.is_empty():
            return ok
        if filters.item_level():
            raise BadConstraint(
                "brand, rating and feature filters are evaluated on catalog items: "
                "pass filters.resolved(items) to the index"
            )
        if filters.include_ids is not None:
            only = np.zeros(self.capacity, dtype=bool)
            for iid in filters.include_ids:
                label = self.label_of.get(iid)
                if label is not None:
                    only[label] = True
            ok &= only
        if filters.include_categories and filters.include_all:
            for c in filters.include_categories:
                col = self.categories.get(_fold(c))
                ok &= col if col is not None else np.zeros(self.capacity, dtype=bool)
        elif filters.include_categories:
            any_of = np.zeros(self.capacity, dtype=bool)
            for c in filters.include_categories:
                col = self.categories.get(_fold(c))
                if col is not None:
                    any_of |= col
            ok &= any_of
        for c in filters.exclude_categories:
            col = self.categories.get(_fold(c))
            if col is not None:
                ok &= ~col
        with np.errstate(invalid="ignore"):
            for values, low, high in (
                (self.year, filters.year_min, filters.year_max),
                (self.price, filters.price_min, filters.price_max),
            ):
                if low is not None:
                    ok &= values >= low  # NaN compares False: unknown fails
                if high is not None:
                    ok &= values <= high
        for iid in filters.exclude_ids:
            label = self.label_of.get(iid)
            if label is not None:
                ok[label] = False
        return ok

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for the index's sidecar file)."""
        used = np.flatnonzero(self.used())
        cats_per_label: dict[int, list[str]] = {int(i): [] for i in used}
        for key, col in self.categories.items():
            for i in np.flatnonzero(col).tolist():
                if i in cats_per_label:
                    cats_per_label[i].append(self.display[key])

        def num(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        return {
            "labels": used.tolist(),
            "item_ids": [self.item_ids[i] for i in used],
            "categories": [cats_per_label[int(i)] for i in used],
            "years": [num(self.year[i]) for i in used],
            "prices": [num(self.price[i]) for i in used],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttributeTable:
        """Inverse of :meth:`to_json`."""
        t = cls()
        t.set(
            data["labels"], data["item_ids"], categories=data["categories"], years=data["years"], prices=data["prices"]
        )
        return t
