"""Calibration of the ranker's confidence on held-out TEST data (the calibrator is fitted on validation).

The calibrator estimates "probability that an item is one of the user's held-out interactions of
one part" (see :mod:`ranker.calibration`). The test views mirror the fitting conditions: profiles
are the training histories (``loo``: plus the validation item) and, under ``ro811``, validation
items stay unlabelled candidates exactly as test items were during fitting; so the calibrator is
tested on the quantity it estimates, on data it never saw. Views:

- ``sampled``: every test positive plus ``negatives_per_positive`` unseen items per positive, the
  negatives weighted to stand for the whole unseen catalog (the population the calibrator models).
- ``top_n``: the items a user is actually shown, the top-``n`` of the full ranking; label = the item
  is one of the user's test items. This is where the displayed confidence matters.
- ``top_n_valid_masked`` (ro811 only, secondary): the same with validation items masked as in
  RecBole's test pass; the held-out pool then differs from fitting, and the calibrator is expected
  to under-state the hit rate there.

Metrics: expected calibration error with equal-width bins (``ECE = sum_b W_b/W |mean(y)_b - mean(p)_b|``,
weighted), the same with equal-mass bins, the Brier score, and a reliability diagram (PNG).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from catalog.splits import Split
from catalog.types import Dataset
from ranker.base import Ranker
from ranker.calibration import CalibrationConfig, Calibrator, labelled_sample, top_n_sample

__all__ = [
    "brier_score",
    "evaluate_calibration",
    "expected_calibration_error",
    "reliability_bins",
    "write_reliability_diagram",
]


def reliability_bins(
    p: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    n_bins: int = 15,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> dict[str, np.ndarray]:
    """Per-bin weight, mean prediction and observed frequency (empty bins dropped)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(p) if w is None else np.asarray(w, dtype=np.float64)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        order = np.argsort(p, kind="stable")
        cw = np.cumsum(w[order])
        cuts = np.searchsorted(cw, np.linspace(0, cw[-1], n_bins + 1)[1:-1])
        edges = np.r_[0.0, p[order][np.minimum(cuts, p.size - 1)], 1.0]
        edges = np.unique(edges)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    nb = edges.size - 1
    wb = np.bincount(idx, weights=w, minlength=nb)
    pb = np.bincount(idx, weights=w * p, minlength=nb)
    yb = np.bincount(idx, weights=w * y, minlength=nb)
    keep = wb > 0
    return {
        "lo": edges[:-1][keep],
        "hi": edges[1:][keep],
        "weight": wb[keep],
        "mean_p": pb[keep] / wb[keep],
        "freq": yb[keep] / wb[keep],
    }


def expected_calibration_error(
    p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, n_bins: int = 15, strategy: str = "uniform"
) -> float:
    """Weighted ECE (``strategy`` ``uniform`` = equal-width bins, ``quantile`` = equal-mass bins)."""
    b = reliability_bins(p, y, w, n_bins=n_bins, strategy="quantile" if strategy == "quantile" else "uniform")
    return float(np.sum(b["weight"] * np.abs(b["freq"] - b["mean_p"])) / np.sum(b["weight"]))


def brier_score(p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Weighted mean squared error of the probabilities."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.average((p - y) ** 2, weights=w))


def shown_confidence(cal: Any, scores: np.ndarray, users: np.ndarray, sizes: np.ndarray | None) -> np.ndarray:
    """The confidence a card shows: a size-aware calibrator (:class:`ranker.coldstart.SizeAwareCalibrator`)
    maps each user's scores with the calibrator of that user's profile size, as the trust report does;
    any other calibrator maps all scores alike."""
    pick = getattr(cal, "for_size", None)
    if pick is None or sizes is None or users.size == 0:
        return np.asarray(cal.predict(scores), dtype=np.float64)
    p = np.empty(scores.size, dtype=np.float64)
    k = sizes[users]
    for size in np.unique(k):
        rows = k == size
        p[rows] = pick(int(size)).predict(scores[rows])
    return p


def _view(
    cal: Calibrator, sample: dict[str, np.ndarray], n_bins: int, weighted: bool, sizes: np.ndarray | None = None
) -> dict[str, Any]:
    p = shown_confidence(cal, sample["score"], sample["user"].astype(np.int64), sizes)
    y = sample["label"]
    w = sample["weight"] if weighted else None
    bins = reliability_bins(p, y, w, n_bins=n_bins)
    return {
        "n": int(y.size),
        "positives": int(y.sum()),
        "ece": expected_calibration_error(p, y, w, n_bins=n_bins),
        "ece_equal_mass": expected_calibration_error(p, y, w, n_bins=n_bins, strategy="quantile"),
        "brier": brier_score(p, y, w),
        "mean_confidence": float(np.average(p, weights=w)),
        "observed_rate": float(np.average(y, weights=w)),
        "bins": {k: v.tolist() for k, v in bins.items()},
    }


def write_reliability_diagram(views: dict[str, dict[str, Any]], path: Path, title: str) -> Path:
    """Draw one reliability panel per view (bin mean prediction vs observed frequency) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(views), figsize=(5.2 * len(views), 4.8), squeeze=False)
    for ax, (name, v) in zip(axes[0], views.items(), strict=True):
        b = v["bins"]
        top = max(max(b["mean_p"], default=0.0), max(b["freq"], default=0.0)) * 1.1 or 1.0
        ax.plot([0, top], [0, top], ls="--", color="grey", lw=1, label="perfect")
        ax.plot(b["mean_p"], b["freq"], marker="o", label="calibrated model")
        for x, yv, wv in zip(b["mean_p"], b["freq"], b["weight"], strict=True):
            ax.annotate(f"{wv:.0f}", (x, yv), fontsize=6, alpha=0.6, xytext=(2, 2), textcoords="offset points")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("mean predicted probability (bin)")
        ax.set_ylabel("observed frequency")
        ax.set_title(f"{name}: ECE {v['ece']:.4f}, Brier {v['brier']:.4f}")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def evaluate_calibration(
    ranker: Ranker,
    dataset: Dataset,
    split: Split,
    *,
    calibrator: Calibrator | None = None,
    config: CalibrationConfig | None = None,
    n: int = 10,
    n_bins: int = 15,
    diagram: Path | None = None,
    model_name: str = "model",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit (unless given) on validation, then measure calibration on test; optionally draw the diagram.

    Returns:
        ``{"calibrator": ..., "sampled": {...}, "top_n": {...}, "platt"/"isotonic" comparison, ...}``.
    """
    cfg = config or CalibrationConfig()
    say = progress or (lambda _m: None)
    say("scoring validation positives and sampled negatives")
    valid = labelled_sample(
        ranker, split, which="valid", negatives_per_positive=cfg.negatives_per_positive, seed=cfg.seed
    )
    if calibrator is None:
        say(f"fitting {cfg.method} calibrator on validation scores")
        calibrator = Calibrator.fit(
            valid["score"],
            valid["label"],
            valid["weight"],
            method=cfg.method,
            meta={"protocol": split.protocol, "fitted_on": "valid", **cfg.model_dump()},
        )
    say("scoring test positives and sampled negatives")
    sampled = labelled_sample(
        ranker, split, which="test", negatives_per_positive=cfg.negatives_per_positive, seed=cfg.seed + 1
    )
    say(f"scoring every test user's top-{n}")
    top = top_n_sample(ranker, split, n=n)
    # profile size of each user's test-time profile (what picks a size-aware calibrator, as on a card)
    hist = split.histories("train")
    if split.protocol == "loo":
        hist = [np.concatenate([t, v]) for t, v in zip(hist, split.histories("valid"), strict=True)]
    sizes = np.fromiter((np.unique(h).size for h in hist), dtype=np.int64, count=len(hist))
    views = {
        "sampled": _view(calibrator, sampled, n_bins, True, sizes),
        f"top_{n}": _view(calibrator, top, n_bins, False, sizes),
    }
    masked = None
    if split.protocol == "ro811":
        masked = _view(calibrator, top_n_sample(ranker, split, n=n, mask_valid=True), n_bins, False, sizes)
    comparison: dict[str, dict[str, float]] = {}
    for method in ("isotonic", "platt"):
        alt = Calibrator.fit(valid["score"], valid["label"], valid["weight"], method=method)
        va, vt = _view(alt, sampled, n_bins, True), _view(alt, top, n_bins, False)
        comparison[method] = {
            "sampled_ece": va["ece"],
            "sampled_brier": va["brier"],
            f"top_{n}_ece": vt["ece"],
            f"top_{n}_brier": vt["brier"],
        }
    out: dict[str, Any] = {
        "model": model_name,
        "protocol": split.protocol,
        "calibrator": {"method": calibrator.method, **{k: v for k, v in calibrator.meta.items() if k != "params"}},
        "n_bins": n_bins,
        **views,
        "comparison": comparison,
    }
    if masked is not None:
        out[f"top_{n}_valid_masked"] = {k: v for k, v in masked.items() if k != "bins"}
    if diagram is not None:
        write_reliability_diagram(views, diagram, f"{model_name} ({split.protocol}): reliability on test")
        out["diagram"] = str(diagram)
    return out
