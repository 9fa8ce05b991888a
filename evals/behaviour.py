"""Choosing behaviour weights on validation data: EASE under candidate :class:`BehaviourWeights`.

Each candidate re-weights the training entries (the split itself does not change: it is over (user, item)
entries), EASE is fitted, and validation users are ranked over all items. Two figures per candidate: NDCG@10
over all held-out entries (the protocol's positives: any behaviour) and over the held-out entries the user
bought (purchase or rating), which is what a shop wants to predict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from catalog.behaviour import BehaviourWeights
from catalog.splits import make_split
from catalog.types import Dataset, InteractionKind
from evals.ranking import EvalSet, evaluate_set, history_profiles

CANDIDATES: dict[str, BehaviourWeights] = {
    "binary (every entry 1)": BehaviourWeights(view=1, click=1, cart=1, purchase=1, rating=1, combine="max"),
    "counts (every event 1, summed)": BehaviourWeights(view=1, click=1, cart=1, purchase=1, rating=1, combine="sum"),
    "mild funnel, max": BehaviourWeights(view=0.5, click=0.75, cart=1, purchase=1.5, rating=1, combine="max"),
    "funnel, max": BehaviourWeights(view=0.25, click=0.5, cart=1, purchase=2, rating=1, combine="max"),
    "steep funnel, max": BehaviourWeights(view=0.1, click=0.3, cart=1, purchase=3, rating=1, combine="max"),
    "funnel, sum": BehaviourWeights(view=0.25, click=0.5, cart=1, purchase=2, rating=1, combine="sum"),
    "steep funnel, sum": BehaviourWeights(view=0.1, click=0.3, cart=1, purchase=3, rating=1, combine="sum"),
    "counts, purchase 2": BehaviourWeights(view=1, click=1, cart=1, purchase=2, rating=1, combine="sum"),
    "rising, max": BehaviourWeights(view=1, click=1.5, cart=2, purchase=3, rating=1, combine="max"),
    "rising, sum": BehaviourWeights(view=1, click=1.5, cart=2, purchase=3, rating=1, combine="sum"),
}


def _bought(evalset: EvalSet, split_part: Any) -> EvalSet:
    """The same users, targets cut to the entries they bought (users without one dropped)."""
    kinds = {InteractionKind.PURCHASE.value, InteractionKind.RATING.value}
    part = split_part[split_part["kind"].isin(kinds)]
    bought: dict[int, set[int]] = {}
    for u, i in zip(part["user_idx"].to_numpy(), part["item_idx"].to_numpy(), strict=True):
        bought.setdefault(int(u), set()).add(int(i))
    keep = [
        (p, np.asarray(sorted(bought[int(p.user_idx or 0)]), dtype=np.int64))
        for p in evalset.profiles
        if bought.get(int(p.user_idx or 0))
    ]
    return EvalSet(
        protocol=evalset.protocol, on=evalset.on, profiles=[p for p, _ in keep], targets=[t for _, t in keep],
        item_mask=evalset.item_mask, n_items=evalset.n_items,
    )  # fmt: skip


def tune_behaviour_weights(
    dataset: Dataset,
    *,
    seed: int = 2020,
    candidates: dict[str, BehaviourWeights] | None = None,
    current: BehaviourWeights | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """EASE's ro811 validation figures under each candidate (and the configured weights, marked).

    Returns:
        One row per candidate: ``label``, ``weights``, ``ndcg@10``, ``recall@10`` (all held-out entries),
        ``bought_ndcg@10``, ``bought_recall@10`` (held-out entries the user bought), ``current``.
    """
    from ranker.baselines import EASERanker

    say = progress or (lambda _m: None)
    cands = dict(candidates or CANDIDATES)
    if current is not None and current not in cands.values():
        cands["configured"] = current
    rows = []
    for label, w in cands.items():
        split = make_split(dataset, "ro811", seed=seed, weights=w)
        valid = history_profiles(dataset, split, "valid")
        ease = EASERanker().fit(dataset, split)
        m = evaluate_set(ease, valid, ks=(10,))
        b = _bought(valid, split.valid)
        mb = evaluate_set(ease, b, ks=(10,)) if len(b) else {"ndcg@10": float("nan"), "recall@10": float("nan")}
        row = {
            "label": label + (" (configured)" if w == current else ""), "weights": w.model_dump(),
            "ndcg@10": m["ndcg@10"], "recall@10": m["recall@10"], "bought_ndcg@10": mb["ndcg@10"],
            "bought_recall@10": mb["recall@10"], "bought_users": len(b), "current": w == current,
        }  # fmt: skip
        say(f"  {row['label']}: ndcg@10 {row['ndcg@10']:.4f}, bought ndcg@10 {row['bought_ndcg@10']:.4f}")
        rows.append(row)
    return rows
