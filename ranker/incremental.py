"""Fold the dialog feedback log into the trained ranker (``trustrec train --incremental``).

Positive feedback of known users on catalog items (like, purchase, "more like this", a rating of
4 or more) becomes training interactions; negative feedback never becomes a positive. The
closed-form collaborative features (EASE, RP3beta, next-item, user-kNN, popularity) are refit on
train plus those interactions with the model's tuned hyperparameters, while the learned towers,
the language model's layer and the head weights are kept; a full ``trustrec train`` relearns
those. Session feedback already moves recommendations at once through the profile; this job makes
it part of the model for every later session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from catalog import Dataset, FeedbackEvent, FeedbackKind, Split
from catalog.types import INTERACTION_COLUMNS, InteractionKind

POSITIVE_KINDS = {FeedbackKind.LIKE, FeedbackKind.PURCHASE, FeedbackKind.MORE_LIKE_THIS}


def is_positive(event: FeedbackEvent) -> bool:
    """Whether an event says the user wants this item (ratings: 4 or more)."""
    if event.kind == FeedbackKind.RATING:
        return event.value is not None and event.value >= 4
    return event.kind in POSITIVE_KINDS


def feedback_rows(dataset: Dataset, train: pd.DataFrame, events: Sequence[FeedbackEvent]) -> pd.DataFrame:
    """New train interactions from positive events of known users on catalog items.

    Pairs already in ``train`` and repeated events are dropped (one row per user and item).
    """
    seen = set(zip(train["user_idx"].to_numpy().tolist(), train["item_idx"].to_numpy().tolist(), strict=True))
    rows: list[dict[str, Any]] = []
    for ev in events:
        u = dataset.user_index.get(ev.user_id) if ev.user_id else None
        i = dataset.item_index.get(ev.item_id)
        if u is None or i is None or not is_positive(ev) or (u, i) in seen:
            continue
        seen.add((u, i))
        rows.append({
            "user_id": ev.user_id, "item_id": ev.item_id, "kind": InteractionKind.RATING.value,
            "value": ev.value if ev.kind == FeedbackKind.RATING else 5.0, "timestamp": ev.timestamp,
            "dwell_seconds": np.nan, "amount": np.nan, "user_idx": u, "item_idx": i,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=[*INTERACTION_COLUMNS, "user_idx", "item_idx"])


@dataclass
class FoldResult:
    """What one incremental fold did."""

    events: int
    new_interactions: int
    before: dict[str, float]
    after: dict[str, float]
    folder: Path | None


def fold_feedback(
    model: Any,
    dataset: Dataset,
    split: Split,
    events: Sequence[FeedbackEvent],
    validate: Callable[[Any], dict[str, float]],
) -> tuple[Any, FoldResult]:
    """Refit ``model``'s collaborative features on train plus the feedback; metrics before and after.

    Args:
        model: A :class:`ranker.model.JointRanker` (changed in place and returned).
        dataset: The catalog and users.
        split: The protocol's split (its train part is what the model was fit on).
        events: Feedback events from the store.
        validate: ``validate(model) -> metrics`` on validation data.
    """
    from ranker.features import fit_features

    rows = feedback_rows(dataset, split.train, events)
    before = validate(model)
    if len(rows):
        train = pd.concat([split.train, rows], ignore_index=True)
        cfg = model.config
        text = model.text_vecs.numpy() if model.text_vecs is not None else None
        model.features = fit_features(
            dataset, train, ease_lambda=cfg.ease_lambda, window=cfg.transition_window,
            smoothing=cfg.transition_smoothing, year_buckets=cfg.year_buckets, rp3_alpha=cfg.rp3_alpha,
            rp3_beta=cfg.rp3_beta, seq_decay=cfg.seq_decay, seq_window=cfg.seq_window, seq_lambda=cfg.seq_lambda,
            text=text, ease_text=cfg.ease_text,
        )  # fmt: skip
        model.invalidate()
    after = validate(model) if len(rows) else dict(before)
    return model, FoldResult(len(events), len(rows), before, after, None)
