"""Domain types shared by every package.

Vocabulary (used across all packages): ``item_id`` and ``user_id`` are external string ids;
``item_idx``/``user_idx`` are dense integer positions in a :class:`Dataset`; ``n`` is a list
length; ``score`` is higher-is-better; ``session_id`` names one conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator


class InteractionKind(StrEnum):
    """Behaviour kinds, after the seed's view/click/cart/purchase/rating."""

    VIEW = "view"
    CLICK = "click"
    CART = "cart"
    PURCHASE = "purchase"
    RATING = "rating"


class FeedbackKind(StrEnum):
    """What a user can say about a shown item in the dialog."""

    LIKE = "like"
    DISLIKE = "dislike"
    RATING = "rating"
    NOT_INTERESTED = "not_interested"
    MORE_LIKE_THIS = "more_like_this"
    PURCHASE = "purchase"


class RatingStats(BaseModel):
    """Aggregate rating statistics of one item."""

    model_config = ConfigDict(frozen=True)

    count: int = Field(0, ge=0, description="Number of ratings.")
    mean: float | None = Field(None, description="Mean rating, None when unrated.")


class Item(BaseModel):
    """A catalog item. Only ``item_id`` and ``title`` are required."""

    model_config = ConfigDict(frozen=True)

    item_id: str = Field(min_length=1, description="External id, unique in the catalog.")
    title: str = Field(min_length=1, description="Display title.")
    description: str = Field("", description="Free text; may be generated later.")
    categories: tuple[str, ...] = Field((), description="Genres or categories.")
    brand: str | None = Field(None, description="Brand, studio or maker.")
    price: float | None = Field(None, ge=0, description="Price in the catalog's currency.")
    year: int | None = Field(None, ge=1800, le=2100, description="Release year.")
    rating: RatingStats = Field(default_factory=RatingStats, description="Rating statistics.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Free attributes.")

    def text(self) -> str:
        """The text a text encoder sees for this item (attributes and description)."""
        parts = [self.title]
        if self.year is not None:
            parts.append(f"({self.year})")
        if self.categories:
            parts.append("Categories: " + ", ".join(self.categories) + ".")
        if self.brand:
            parts.append(f"Brand: {self.brand}.")
        if self.description:
            parts.append(self.description)
        return " ".join(parts)


class User(BaseModel):
    """A user with free attributes (ml-100k: age, gender, occupation, zip_code)."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    attributes: dict[str, Any] = Field(default_factory=dict)


class Interaction(BaseModel):
    """One logged behaviour of a user on an item."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    kind: InteractionKind = InteractionKind.RATING
    value: float | None = Field(None, description="Rating value or other strength.")
    timestamp: float = Field(0.0, ge=0, description="Unix seconds.")
    dwell_seconds: float | None = Field(None, ge=0)
    amount: float | None = Field(None, ge=0, description="Money spent (purchases).")


class FeedbackEvent(BaseModel):
    """A user's feedback in the dialog. Idempotent by ``event_id``."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(min_length=1, max_length=128)
    session_id: str = Field(min_length=1, max_length=128)
    user_id: str | None = Field(None, max_length=128)
    item_id: str = Field(min_length=1, max_length=128)
    kind: FeedbackKind
    value: float | None = None
    timestamp: float = Field(default_factory=lambda: datetime.now(UTC).timestamp(), ge=0)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not np.isfinite(v):
            raise ValueError("value must be a finite number")
        return v


def _opt_float(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


INTERACTION_COLUMNS = ["user_id", "item_id", "kind", "value", "timestamp", "dwell_seconds", "amount"]


def _check_columns(name: str, df: pd.DataFrame) -> None:
    """Column-wise checks of an interaction frame (what :class:`Interaction` checks per record), vectorised.

    Raises:
        ValueError: naming the first bad row, the field, the value and the fix.
    """
    kinds = {k.value for k in InteractionKind}
    checks: list[tuple[str, np.ndarray, str]] = [
        ("kind", ~df["kind"].astype(str).isin(kinds).to_numpy(), f"use one of {sorted(kinds)}"),
    ]
    for col, minimum in (("value", None), ("timestamp", 0.0), ("dwell_seconds", 0.0), ("amount", 0.0)):
        x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isinf(x) | (df[col].notna().to_numpy() & np.isnan(x))
        if col == "timestamp":
            bad |= np.isnan(x)
        if minimum is not None:
            bad |= np.nan_to_num(x, nan=minimum) < minimum
        fix = f"give {col} a finite number" + (f" >= {minimum:g}" if minimum is not None else "")
        checks.append((col, bad, fix + ("" if col == "timestamp" else " or leave it empty")))
    for col, bad, fix in checks:
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}: {int(bad.sum())} interactions have a bad {col!r} (first: row {r}, "
                f"user {df['user_id'].iat[r]!r}, item {df['item_id'].iat[r]!r}, {col}={df[col].iat[r]!r}); {fix}"
            )


@dataclass
class Dataset:
    """Items, users and interactions with dense integer index maps.

    Interactions are columnar (a DataFrame with :data:`INTERACTION_COLUMNS` plus ``user_idx``
    and ``item_idx``) because models read them as arrays; :meth:`iter_interactions` yields the
    typed records. ``note`` is a line every report and ``trustrec data`` output shows with the
    dataset (the synthetic shop says it is synthetic); None for real data.
    """

    name: str
    items: list[Item]
    users: list[User]
    interactions: pd.DataFrame
    note: str | None = None
    item_index: dict[str, int] = field(init=False)
    user_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.item_index = {it.item_id: i for i, it in enumerate(self.items)}
        self.user_index = {u.user_id: i for i, u in enumerate(self.users)}
        if len(self.item_index) != len(self.items):
            raise ValueError(f"{self.name}: duplicate item ids")
        if len(self.user_index) != len(self.users):
            raise ValueError(f"{self.name}: duplicate user ids")
        df = self.interactions
        missing = [c for c in INTERACTION_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"{self.name}: interactions lack columns {missing}")
        df = df[INTERACTION_COLUMNS].reset_index(drop=True)
        df["user_idx"] = df["user_id"].map(self.user_index)
        df["item_idx"] = df["item_id"].map(self.item_index)
        unknown = df["user_idx"].isna() | df["item_idx"].isna()
        if unknown.any():
            row = df[unknown].iloc[0]
            raise ValueError(
                f"{self.name}: {int(unknown.sum())} interactions reference unknown users or items "
                f"(first: user {row.user_id!r}, item {row.item_id!r}); load them into the catalog first"
            )
        df["user_idx"] = df["user_idx"].astype(np.int64)
        df["item_idx"] = df["item_idx"].astype(np.int64)
        _check_columns(self.name, df)
        self.interactions = df

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def item(self, item_id: str) -> Item:
        """The item with this id. Raises KeyError naming the id."""
        try:
            return self.items[self.item_index[item_id]]
        except KeyError:
            raise KeyError(f"unknown item_id {item_id!r}") from None

    def iter_interactions(self) -> Iterator[Interaction]:
        """The interactions as typed records, in frame order.

        For export and inspection: loaders and models read the columnar frame, never these records.
        The frame's columns were validated when the dataset was built, so the records are constructed
        without re-validating each one (``model_construct``), from column arrays rather than per-row dicts.
        """
        df = self.interactions
        cols = [df[c].to_numpy() for c in INTERACTION_COLUMNS]
        kinds = {k.value: k for k in InteractionKind}
        for uid, iid, kind, value, ts, dwell, amount in zip(*cols, strict=True):
            yield Interaction.model_construct(
                user_id=str(uid),
                item_id=str(iid),
                kind=kinds[str(kind)],
                value=_opt_float(value),
                timestamp=float(ts),
                dwell_seconds=_opt_float(dwell),
                amount=_opt_float(amount),
            )

    def categories(self) -> list[str]:
        """All categories in the catalog, sorted."""
        return sorted({c for it in self.items for c in it.categories})

    def stats(self) -> dict[str, Any]:
        """Summary statistics: counts, density, per-kind counts, time range."""
        df = self.interactions
        n = len(df)
        return {
            "dataset": self.name,
            **({"note": self.note} if self.note else {}),
            "users": self.n_users,
            "items": self.n_items,
            "interactions": n,
            "density": n / max(1, self.n_users * self.n_items),
            "kinds": {str(k): int(v) for k, v in df["kind"].value_counts().sort_index().items()},
            "interactions_per_user": {
                "min": int(df.groupby("user_idx").size().min()) if n else 0,
                "median": float(df.groupby("user_idx").size().median()) if n else 0.0,
                "max": int(df.groupby("user_idx").size().max()) if n else 0,
            },
            "categories": len(self.categories()),
            "time_range": [float(df["timestamp"].min()), float(df["timestamp"].max())] if n else None,
        }
