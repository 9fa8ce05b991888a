"""Cold start: ranking quality and calibration for users the model knows little or nothing about.

Protocol (RO 8:1:1 test users): each user keeps only their first ``k`` training interactions by time
(``k`` in 0, 1, 3, 5, 10) and is scored as a NEW user (``user_idx=None``: no user embedding, no
own row among the neighbours' evidence beyond those items). Every item the user is known to have
had (train and validation) is masked, as in the full-ranking protocol, and the test items are the
targets. Models see the same ``k`` items:

- ``trustrec``: the served ranker (:class:`ranker.coldstart.ColdStartRanker`, the trained joint
  model blended with co-occurrence and the prior by profile size);
- ``joint``: the trained joint model alone, for reference (what users saw before the blend);
- ``ease``: EASE fitted on the training split, scoring the ``k`` items;
- ``pop``: training popularity.

Calibration is reported on its own for ``k = 0``, ``k`` in 1-5 (sizes drawn uniformly per user; half
the users rank within one random category, as people who set a constraint do) and warm users (full
training history), each as the top-``n`` expected calibration error on test items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from catalog.splits import Split
from catalog.types import Dataset
from evals.calibration import brier_score, expected_calibration_error
from evals.metrics import full_ranking_metrics
from ranker.base import Profile, Ranker
from ranker.calibration import Calibrator, top_n_sample
from ranker.coldstart import bucket_sample, category_groups, first_k_profiles, held_out_masks

DEFAULT_KS: tuple[int, ...] = (0, 1, 3, 5, 10)
METRIC_KEYS: tuple[str, ...] = ("ndcg@10", "recall@10", "hit@10")


def _scores(ranker: Ranker, profiles: Sequence[Profile], batch: int = 256) -> np.ndarray:
    rows = [
        np.asarray(ranker.score(profiles[s : s + batch], None), dtype=np.float64)
        for s in range(0, len(profiles), batch)
    ]
    return np.concatenate(rows) if rows else np.zeros((0, ranker.n_items))


def ranking_table(
    models: dict[str, Ranker],
    dataset: Dataset,
    split: Split,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{model: {str(k): {"ndcg@10": .., "recall@10": .., "hit@10": ..}}}`` on test users cut to ``k`` items."""
    say = progress or (lambda _m: None)
    users = np.unique(split.test["user_idx"].to_numpy(dtype=np.int64))
    masks, targets = held_out_masks(split, users, dataset.n_users, "test")
    keep = np.asarray([t.size > 0 for t in targets])
    users = users[keep]
    masks = [m for m, ok in zip(masks, keep, strict=True) if ok]
    targets = [t for t, ok in zip(targets, keep, strict=True) if ok]
    ineligible = ~np.asarray(split.item_mask, dtype=bool)
    out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in models}
    for k in ks:
        profiles = first_k_profiles(split, users, int(k), dataset.n_users)
        for name, model in models.items():
            s = _scores(model, profiles)
            s[:, ineligible] = -np.inf
            for r, m in enumerate(masks):
                s[r, m] = -np.inf
            res = full_ranking_metrics(s, targets, ks=(10,))
            out[name][str(k)] = {key: float(res[key]) for key in METRIC_KEYS}
        say(f"k={k}: " + ", ".join(f"{n} {out[n][str(k)]['ndcg@10']:.4f}" for n in models))
    return out


def _ece_view(cal: Calibrator, scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return _ece_of(cal.predict(scores), labels)


def _ece_of(p: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    p = np.clip(p, 0.0, 1.0)
    return {
        "n": int(labels.size),
        "ece": expected_calibration_error(p, labels),
        "brier": brier_score(p, labels),
        "mean_confidence": float(p.mean()) if p.size else 0.0,
        "hit_rate": float(labels.mean()) if labels.size else 0.0,
    }


def calibration_by_size(
    ranker: Ranker,
    calibrator: Any,
    split: Split,
    n_users: int,
    *,
    n: int = 10,
    seed: int = 0,
    item_groups: Sequence[np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Top-``n`` ECE on TEST items for new users (k = 0), short profiles (k in 1-5) and warm users.

    With ``item_groups`` half the new and short profiles rank within one category, as in the fit.
    """
    out = {}
    for name, bucket in (("k=0", (0, 0)), ("k=1-5", (1, 5))):
        s, y = bucket_sample(ranker, split, n_users, bucket, which="test", n=n, seed=seed, item_groups=item_groups)
        cal = calibrator.for_size(bucket[0]) if hasattr(calibrator, "for_size") else calibrator
        out[name] = _ece_view(cal, s, y)
    from evals.calibration import shown_confidence

    top = top_n_sample(ranker, split, n=n, which="test")
    sizes = np.fromiter((np.unique(h).size for h in split.histories("train")), dtype=np.int64, count=n_users)
    users = top["user"].astype(np.int64)
    warm_k = max((hi for _, hi in getattr(calibrator, "buckets", {})), default=-1) + 1  # past the last bucket
    is_warm = sizes[users] >= warm_k
    cal = calibrator.warm if hasattr(calibrator, "warm") else calibrator
    if is_warm.any():  # a small shop may have no user past the last bucket
        out["warm"] = _ece_view(cal, top["score"][is_warm], top["label"][is_warm])
    # every test user's own profile, with the calibrator of its size: the confidence cards show (shop
    # data: most users hold fewer than warm_k items; MovieLens: all are warm, so this equals "warm")
    p = shown_confidence(calibrator, top["score"], users, sizes)
    out["as served"] = _ece_of(p, top["label"])
    return out


def plot_ndcg(table: dict[str, dict[str, dict[str, float]]], path: Path, title: str) -> Path:
    """NDCG@10 against the number of known items, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in table.items():
        ks = sorted(int(k) for k in rows)
        ax.plot(ks, [rows[str(k)]["ndcg@10"] for k in ks], marker="o", label=name)
    ax.set_xlabel("known items k (first k training interactions by time)")
    ax.set_ylabel("NDCG@10 on test items")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def requirements(table: dict[str, dict[str, dict[str, float]]], model: str = "trustrec") -> dict[str, bool]:
    """The issue's bars: k = 0 at least popularity's NDCG; k >= 1 above popularity and at least EASE-with-k."""
    out = {}
    for k, row in table[model].items():
        pop = table["pop"][k]["ndcg@10"]
        if int(k) == 0:
            out[f"k={k}: >= pop"] = row["ndcg@10"] >= pop - 1e-9
        else:
            out[f"k={k}: > pop and >= ease"] = row["ndcg@10"] > pop and row["ndcg@10"] >= table["ease"][k]["ndcg@10"]
    return out


def evaluate_cold_start(
    ranker: Ranker,
    calibrator: Any,
    base: Ranker | None,
    dataset: Dataset,
    split: Split,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    plot: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The cold-start table (trustrec, joint alone, EASE, popularity), requirements and calibration by size."""
    from ranker.baselines import EASERanker, PopRanker

    models: dict[str, Ranker] = {"trustrec": ranker}
    if base is not None and base is not ranker:
        models["joint"] = base
    models["ease"] = EASERanker().fit(dataset, split)
    models["pop"] = PopRanker().fit(dataset, split)
    table = ranking_table(models, dataset, split, ks, progress=progress)
    res: dict[str, Any] = {
        "protocol": split.protocol,
        "ks": [int(k) for k in ks],
        "users": int(np.unique(split.test["user_idx"]).size),
        "table": table,
        "requirements": requirements(table),
        "calibration": calibration_by_size(
            ranker, calibrator, split, dataset.n_users, item_groups=category_groups(dataset.items)
        ),
    }
    if plot is not None:
        res["plot"] = str(plot_ndcg(table, plot, f"Cold start on {split.protocol} test users"))
    return res


__all__ = ["DEFAULT_KS", "calibration_by_size", "evaluate_cold_start", "plot_ndcg", "ranking_table", "requirements"]
