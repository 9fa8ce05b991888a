"""Behaviour weights, and one history entry per (user, item).

A shop logs several behaviours on one item (a view, a click, a cart, a purchase and its rating); a
recommender should see that item once, with a weight that says how strongly the user engaged with it.
:func:`aggregate_interactions` makes that one entry; :class:`BehaviourWeights` says what each kind is
worth. Ratings-only data (MovieLens) has one row per pair and every weight 1.0, so nothing changes there.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from catalog.types import InteractionKind

# the strongest behaviour first: an entry's kind is the strongest one it holds
_STRENGTH = {
    InteractionKind.VIEW.value: 0,
    InteractionKind.CLICK.value: 1,
    InteractionKind.CART.value: 2,
    InteractionKind.PURCHASE.value: 3,
    InteractionKind.RATING.value: 4,
}


class BehaviourWeights(BaseModel):
    """What each behaviour kind adds to a (user, item) entry's weight (``[data.behaviour_weights]``).

    The defaults were chosen on validation users of generated shops (``trustrec eval behaviour-weights``
    prints the grid; README, *Synthetic shop*): "rising, max" had the best NDCG@10 on the held-out items
    users bought (tied with a milder funnel on the largest shop) and was within 0.003 of unweighted
    entries on all held-out entries. ``rating`` stays 1.0 so ratings-only data keeps binary, unit-weight
    histories and its published figures.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    view: float = Field(1.0, ge=0, le=100, description="Weight of a view.")
    click: float = Field(1.5, ge=0, le=100, description="Weight of a click.")
    cart: float = Field(2.0, ge=0, le=100, description="Weight of an add-to-cart.")
    purchase: float = Field(3.0, ge=0, le=100, description="Weight of a purchase.")
    rating: float = Field(1.0, ge=0, le=100, description="Weight of a rating (any value).")
    combine: Literal["sum", "max"] = Field(
        "max",
        description="How repeated events on one item combine: `sum` (every event adds) or `max` "
        "(the strongest behaviour decides).",
    )

    def of(self, kinds: pd.Series | np.ndarray) -> np.ndarray:
        """The weight of each event kind (float32; an unknown kind weighs 1.0)."""
        table = {k: float(getattr(self, k)) for k in _STRENGTH}
        return pd.Series(kinds).map(table).fillna(1.0).to_numpy(dtype=np.float32)


def aggregate_interactions(frame: pd.DataFrame, weights: BehaviourWeights | None = None) -> pd.DataFrame:
    """One row per (user, item), at the position of the pair's first row, with a ``weight`` column.

    The entry keeps the strongest ``kind``, the latest rating ``value`` (NaN without one), the first
    ``timestamp`` (when the item entered the user's path), the summed ``dwell_seconds`` and ``amount``
    (NaN when none was known), and the combined weight of its events. A frame that already has a
    ``weight`` column and one row per pair is returned as it is. Needs ``user_idx`` and ``item_idx``.
    """
    w = weights or BehaviourWeights()
    if frame.empty:
        out = frame.copy()
        out["weight"] = np.zeros(0, dtype=np.float32)
        return out
    keys = ["user_idx", "item_idx"]
    dup = frame.duplicated(keys, keep="first").to_numpy()
    if "weight" in frame.columns and not dup.any():
        return frame
    ev = w.of(frame["kind"]) if "kind" in frame.columns else np.ones(len(frame), dtype=np.float32)
    if not dup.any():  # ratings-only data: nothing to merge, the frame keeps its rows and order
        out = frame.copy()
        out["weight"] = ev
        return out
    g = pd.DataFrame(
        {
            "u": frame["user_idx"].to_numpy(),
            "i": frame["item_idx"].to_numpy(),
            "w": ev,
            "s": frame["kind"].map(_STRENGTH).fillna(-1).to_numpy() if "kind" in frame.columns else 0,
            "t": frame["timestamp"].to_numpy(dtype=np.float64) if "timestamp" in frame.columns else 0.0,
        }
    )
    grouped = g.groupby(["u", "i"], sort=False)
    first = ~dup
    out = frame[first].copy()
    combined = grouped["w"].transform("sum" if w.combine == "sum" else "max").to_numpy()
    out["weight"] = combined[first].astype(np.float32)
    if "kind" in frame.columns:
        strongest = frame["kind"].to_numpy()[grouped["s"].transform("idxmax").to_numpy()]
        out["kind"] = strongest[first]
    if "timestamp" in frame.columns:
        out["timestamp"] = grouped["t"].transform("min").to_numpy()[first]
    idx = pd.MultiIndex.from_arrays([out["user_idx"].to_numpy(), out["item_idx"].to_numpy()])
    if "value" in frame.columns:
        # the latest rating of the pair (by time, then by row)
        rated = frame["value"].notna().to_numpy()
        if "kind" in frame.columns:
            rated = rated & (frame["kind"] == InteractionKind.RATING.value).to_numpy()
        r = g[rated].assign(v=frame["value"].to_numpy()[rated], row=np.flatnonzero(rated))
        last = r.sort_values(["t", "row"], kind="stable").groupby(["u", "i"], sort=False)["v"].last()
        out["value"] = last.reindex(idx).to_numpy(dtype=np.float64)
    for col in ("dwell_seconds", "amount"):
        if col in frame.columns:
            total = g.assign(x=frame[col].to_numpy(dtype=np.float64)).groupby(["u", "i"])["x"].sum(min_count=1)
            out[col] = total.reindex(idx).to_numpy(dtype=np.float64)
    return out
