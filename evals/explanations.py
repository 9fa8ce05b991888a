"""Faithfulness of history attributions, over a sample of users and their top-``n`` lists.

For each sampled user (profile = training history) and each recommended item:

- **Additivity**: ``|sum(values) + base - score|`` (target <= 1e-4).
- **Deletion test**: remove the ``k`` (=3) history entries with the largest attributions; the rate
  at which the score drops (target >= 90%), and the rate at which it drops by more than the mean
  drop over ``random_draws`` removals of ``k`` random history entries, drawn from the whole
  history (target >= 80%). ``beats_single_random_rate`` compares against one random draw instead.
- **Deletion / insertion curves** over the explained entries (the players; the rest of the
  history is fixed context): remove (deletion) or add back to the context (insertion) the
  entries in attribution order, ``j = 0..K``; the curve is the score normalised as
  ``(f - base) / (f(full) - base)`` and its AUC is the mean over ``j``. Lower deletion AUC and
  higher insertion AUC are better; the same curves for a random order are the reference.
- **Comprehensiveness / sufficiency** (ERASER, DeYoung et al. 2020), normalised the same way and
  averaged over ``k`` in {1, 3, 5} (AOPC): comprehensiveness = drop when the top-``k`` are
  removed (higher is better), sufficiency = drop when only the top-``k`` are kept (lower is better).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from catalog.splits import Split
from catalog.types import Dataset
from ranker.base import Profile, Ranker, recommend
from ranker.explain import ShapConfig, ShapExplainer

__all__ = ["evaluate_explanations"]


def _auc(curve: np.ndarray) -> float:
    """Mean height of a curve sampled at j = 0..K (trapezoid over [0, 1])."""
    if curve.size < 2:
        return float(curve.mean()) if curve.size else float("nan")
    return float(np.trapezoid(curve, dx=1.0 / (curve.size - 1)))


def evaluate_explanations(
    ranker: Ranker,
    dataset: Dataset,
    split: Split,
    *,
    n_users: int = 100,
    n: int = 10,
    config: ShapConfig | None = None,
    additive: bool | None = None,
    k: int = 3,
    random_draws: int = 5,
    curve_k: int = 10,
    aopc_ks: Sequence[int] = (1, 3, 5),
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Attribution faithfulness figures (see the module docstring).

    Args:
        ranker: Deterministic ranker.
        dataset: The dataset of ``split``.
        split: Profiles are its training histories.
        n_users: Users sampled (seeded) among those with at least ``k + 1`` training items.
        n: Recommended items explained per user.
        config: Attribution settings.
        additive: Override the ranker's ``additive_in_history`` declaration.
        k: Entries removed in the deletion test.
        random_draws: Random removals averaged for the reference.
        curve_k: Deepest step of the deletion/insertion curves.
        aopc_ks: Cut-offs averaged for comprehensiveness and sufficiency.
        seed: Sampling seed.
        progress: Called with (done, total) users.

    Returns:
        A JSON-ready dict of the figures and the settings behind them.
    """
    explainer = ShapExplainer(ranker, config, additive=additive)
    hist = split.histories("train")
    eligible = np.array([u for u in range(dataset.n_users) if hist[u].size > k], dtype=np.int64)
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(eligible, size=min(n_users, eligible.size), replace=False))
    add_err: list[float] = []
    lowered: list[bool] = []
    beats_mean: list[bool] = []
    beats_single: list[bool] = []
    d_tops: list[float] = []
    d_rands: list[float] = []
    curves: dict[str, list[np.ndarray]] = {"del": [], "del_rand": [], "ins": [], "ins_rand": []}
    methods: set[str] = set()
    n_players: list[int] = []
    skipped_flat = 0
    for done, u in enumerate(users, start=1):
        profile = Profile(hist[u], user_idx=int(u))
        recs = recommend(ranker, profile, n)
        items = recs.item_idx
        ex = explainer.explain_history(profile, items)
        methods.add(ex.method)
        add_err.extend(ex.additivity_error.tolist())
        h = profile.history.size
        m = ex.positions.size
        n_players.append(m)
        draws = [rng.choice(h, size=k, replace=False) for _ in range(random_draws)]
        kk = min(curve_k, m)
        rand_order = ex.positions[rng.permutation(m)]
        profiles: list[Profile] = [profile.without(d) for d in draws]
        layout: list[tuple[int, str, int]] = []  # (row, curve, j) for each extra profile
        for r in range(items.size):
            order = ex.positions[np.argsort(-ex.values[r], kind="stable")]
            profiles.append(profile.without(order[:k]))
            layout.append((r, "top", k))
            for name, ordr in (("del", order), ("del_rand", rand_order)):
                for j in range(kk + 1):
                    profiles.append(profile.without(ordr[:j]) if j else profile)
                    layout.append((r, name, j))
            for name, ordr in (("ins", order), ("ins_rand", rand_order)):
                for j in range(kk + 1):
                    profiles.append(profile.without(ordr[j:]) if j < m else profile)
                    layout.append((r, name, j))
        out = np.asarray(ranker.score(profiles, items), dtype=np.float64)
        rand_scores = out[:random_draws]  # (draws, items)
        extra = out[random_draws:]
        per_item: dict[tuple[int, str], np.ndarray] = {}
        for row, (r, name, j) in enumerate(layout):
            key = (r, name)
            if key not in per_item:
                per_item[key] = np.full(kk + 1 if name != "top" else 1, np.nan)
            per_item[key][0 if name == "top" else j] = extra[row, r]
        for r in range(items.size):
            full = ex.scores[r]
            d_top = full - per_item[(r, "top")][0]
            d_rand_each = full - rand_scores[:, r]
            d_tops.append(float(d_top))
            d_rands.append(float(d_rand_each.mean()))
            lowered.append(bool(d_top > 0))
            beats_mean.append(bool(d_top > d_rand_each.mean()))
            beats_single.append(bool(d_top > d_rand_each[0]))
            span = full - ex.base_values[r]
            if abs(span) < 1e-9 or m == 0:
                skipped_flat += 1
                continue
            for name in curves:
                curves[name].append((per_item[(r, name)] - ex.base_values[r]) / span)
        if progress is not None:
            progress(done, users.size)

    def curve_stats(name: str) -> dict[str, Any]:
        cs = curves[name]
        if not cs:
            return {"auc": float("nan"), "mean_curve": []}
        depth = min(c.size for c in cs)
        mat = np.stack([c[:depth] for c in cs])
        return {"auc": float(np.mean([_auc(c) for c in mat])), "mean_curve": mat.mean(axis=0).round(4).tolist()}

    def aopc(name: str, insertion: bool) -> float:
        vals = []
        for c in curves[name]:
            for kv in aopc_ks:
                if kv < c.size:
                    vals.append(1.0 - c[kv])  # drop relative to the full score
        return float(np.mean(vals)) if vals else float("nan")

    err = np.asarray(add_err)
    return {
        "users": int(users.size),
        "explained": len(lowered),
        "n": n,
        "methods": sorted(methods),
        "players_mean": float(np.mean(n_players)) if n_players else 0.0,
        "additivity": {
            "max_error": float(err.max()) if err.size else 0.0,
            "mean_error": float(err.mean()) if err.size else 0.0,
            "within_1e-4": float((err <= 1e-4).mean()) if err.size else 1.0,
        },
        "deletion_test": {
            "k": k,
            "random_draws": random_draws,
            "lowered_rate": float(np.mean(lowered)) if lowered else float("nan"),
            "beats_random_rate": float(np.mean(beats_mean)) if beats_mean else float("nan"),
            "beats_single_random_rate": float(np.mean(beats_single)) if beats_single else float("nan"),
            "mean_drop_top": float(np.mean(d_tops)) if d_tops else float("nan"),
            "mean_drop_random": float(np.mean(d_rands)) if d_rands else float("nan"),
        },
        "deletion_curve": {"attribution": curve_stats("del"), "random": curve_stats("del_rand")},
        "insertion_curve": {"attribution": curve_stats("ins"), "random": curve_stats("ins_rand")},
        "comprehensiveness": {
            "attribution": aopc("del", False),
            "random": aopc("del_rand", False),
            "ks": list(aopc_ks),
        },
        "sufficiency": {"attribution": aopc("ins", True), "random": aopc("ins_rand", True), "ks": list(aopc_ks)},
        "flat_items_skipped_in_curves": skipped_flat,
        "settings": {"curve_k": curve_k, "seed": seed, "shap": (config or ShapConfig()).model_dump()},
    }
