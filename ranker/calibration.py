"""Score calibration: map a ranker's score to a probability of relevance.

What the probability means: for a profile built from a user's training history, the probability
that an item is one of that user's held-out interactions (the validation items when fitting).

Fitting (:func:`fit_calibrator`) uses VALIDATION data only: per user, positives are the held-out
validation items and negatives are unseen items sampled uniformly (``negatives_per_positive`` per
positive). Each sampled negative carries the weight ``n_unseen / n_sampled`` so the weighted sample
stands for the full catalog ranking: the fitted curve estimates the full-ranking rate, not the rate
in an artificially balanced sample. Two methods:

- ``isotonic``: weighted pool-adjacent-violators; prediction interpolates linearly between the
  block centres (monotone non-decreasing by construction), clipped at the ends.
- ``platt``: weighted logistic regression ``p = sigmoid(a * score + b)`` fitted by Newton steps
  (tiny ridge; ``a >= 0`` enforced, falling back to the base rate, so the ranking is never reversed).

A fitted :class:`Calibrator` is saved as JSON next to the model checkpoint
(:func:`calibrator_path`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from catalog.splits import Split
from ranker.base import Profile, Ranker


class CalibrationConfig(BaseModel):
    """How the score-to-probability calibrator is fitted."""

    method: Literal["isotonic", "platt"] = Field("isotonic", description="Isotonic regression or Platt scaling.")
    fit_on: Literal["top_n", "sampled"] = Field(
        "top_n",
        description="top_n: every validation user's top `top_n` of the full ranking (the region where confidence "
        "is shown and regret is computed); sampled: validation positives plus weighted sampled negatives.",
    )
    top_n: int = Field(20, ge=1, description="List depth of the top_n fit.")
    negatives_per_positive: int = Field(
        50, ge=1, description="Unseen items sampled per validation positive (weighted to stand for all unseen)."
    )
    max_users: int | None = Field(None, ge=1, description="Fit on at most this many users (None = all).")
    batch_users: int = Field(128, ge=1, description="Profiles scored per ranker call while sampling.")
    seed: int = Field(0, description="Seed for negative sampling and user subsampling.")


def _pav(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted isotonic (non-decreasing) fit; returns block centres (x) and block means (y)."""
    centres, means, _ = _pav_blocks(x, y, w)
    return centres, means


def _pav_blocks(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pav` plus each block's total weight."""
    order = np.argsort(x, kind="mergesort")
    x, y, w = x[order], y[order], w[order]
    # merge equal x first so the fit is a function of x
    _, start = np.unique(x, return_index=True)
    wsum = np.add.reduceat(w, start)
    ysum = np.add.reduceat(w * y, start)
    xsum = np.add.reduceat(w * x, start)
    means: list[float] = []
    weights: list[float] = []
    xs: list[float] = []
    for m, ww, xx in zip(ysum / np.maximum(wsum, 1e-300), wsum, xsum, strict=True):
        means.append(float(m))
        weights.append(float(ww))
        xs.append(float(xx))
        while len(means) > 1 and means[-2] > means[-1]:
            w2 = weights[-2] + weights[-1]
            means[-2] = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w2
            xs[-2] = xs[-2] + xs[-1]
            weights[-2] = w2
            del means[-1], weights[-1], xs[-1]
    bw = np.asarray(weights)
    centres = np.asarray(xs) / np.maximum(bw, 1e-300)
    return centres, np.clip(np.asarray(means), 0.0, 1.0), bw


def _platt(x: np.ndarray, y: np.ndarray, w: np.ndarray, iters: int = 100) -> tuple[float, float]:
    """Weighted logistic regression on one feature (Newton's method, standardised input)."""
    mu = float(np.average(x, weights=w))
    sd = float(np.sqrt(np.average((x - mu) ** 2, weights=w))) or 1.0
    z = (x - mu) / sd
    theta = np.zeros(2)
    design = np.stack([z, np.ones_like(z)], axis=1)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (w * (p - y))
        # a small ridge keeps Newton finite on separable data
        grad = grad + 1e-6 * theta * w.sum()
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + 1e-6 * w.sum() * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    a = theta[0] / sd
    if not np.isfinite(a) or a < 0:
        # a calibrator must not reverse the ranking: fall back to the base rate
        rate = float(np.clip(np.average(y, weights=w), 1e-12, 1 - 1e-12))
        return 0.0, float(np.log(rate / (1 - rate)))
    return float(a), float(theta[1] - a * mu)


class Calibrator:
    """A fitted monotone map from score to probability of relevance."""

    def __init__(self, method: str, params: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
        if method not in ("isotonic", "platt"):
            raise ValueError(f"unknown calibration method {method!r}; use 'isotonic' or 'platt'")
        self.method = method
        self.params = params
        self.meta = dict(meta or {})

    @classmethod
    def fit(
        cls,
        scores: np.ndarray,
        labels: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        method: str = "isotonic",
        meta: dict[str, Any] | None = None,
        smooth: bool = False,
    ) -> Calibrator:
        """Fit on scores with binary labels (1 = relevant) and optional sample weights.

        ``smooth`` (isotonic, count weights): each block's rate becomes its Jeffreys posterior mean
        ``(hits + 1/2) / (n + 1)``, pooled again to stay monotone, so a score range where the sample saw
        no hit reads as "rare", not as a certain 0.

        Raises:
            ValueError: Empty input, or labels that are all one class.
        """
        x = np.asarray(scores, dtype=np.float64).reshape(-1)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
        if x.size == 0 or x.size != y.size or x.size != w.size:
            raise ValueError(f"calibration needs equal, non-empty scores/labels/weights ({x.size}/{y.size}/{w.size})")
        if y.min() == y.max():
            raise ValueError("calibration needs both relevant and irrelevant examples")
        if method == "isotonic":
            cx, cy, cw = _pav_blocks(x, y, w)
            if smooth:
                cx, cy = _pav(cx, (cy * cw + 0.5) / (cw + 1.0), cw)
            params: dict[str, Any] = {"x": cx.tolist(), "y": cy.tolist()}
        elif method == "platt":
            a, b = _platt(x, y, w)
            params = {"a": a, "b": b}
        else:
            raise ValueError(f"unknown calibration method {method!r}; use 'isotonic' or 'platt'")
        m = dict(meta or {})
        m.update({"n": int(x.size), "n_pos": int((y > 0).sum()), "base_rate": float(np.average(y, weights=w))})
        return cls(method, params, m)

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Probabilities for ``scores`` (same shape), monotone non-decreasing in the score."""
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "platt":
            return np.asarray(1.0 / (1.0 + np.exp(-(self.params["a"] * s + self.params["b"]))))
        return np.interp(s, np.asarray(self.params["x"]), np.asarray(self.params["y"]))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(d["method"], d["params"], d.get("meta"))

    def save(self, path: Path) -> Path:
        """Write the calibrator as JSON (creates the folder)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        """Read a calibrator JSON. Raises FileNotFoundError naming the path and how to create it."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no calibrator at {path}; fit one with `trustrec eval calibration`")
        return cls.from_dict(json.loads(path.read_text()))


def calibrator_path(models_dir: Path, model_name: str, protocol: str) -> Path:
    """Where the calibrator of ``model_name`` trained on ``protocol`` lives, next to its checkpoint."""
    return Path(models_dir) / f"{model_name}-{protocol}.calibration.json"


def labelled_sample(
    ranker: Ranker,
    split: Split,
    *,
    which: Literal["valid", "test"] = "valid",
    negatives_per_positive: int = 50,
    max_users: int | None = None,
    batch_users: int = 128,
    seed: int = 0,
    mask_valid: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Scores of held-out positives and sampled unseen negatives, with full-catalog weights.

    Profiles are the users' training histories (under ``loo`` with ``which="test"``: training plus
    the validation item, as the protocol's test pass). Under ``ro811`` with ``which="test"`` the
    sample mirrors the validation one (validation items stay unlabelled candidates, as test items
    were while fitting), so the calibrator is tested on the quantity it estimates; pass
    ``mask_valid=True`` to drop validation items from the candidates instead (RecBole's test masks).

    Returns:
        Dict of equal-length arrays: ``score``, ``label`` (1/0), ``weight`` and ``user``.
    """
    n_users = int(split.user_mask.size)
    train = split.histories("train")
    valid = split.histories("valid")
    held = valid if which == "valid" else split.histories("test")
    empty = np.zeros(0, np.int64)
    history, weights = train, split.weights("train")  # the behaviour weights a served profile carries
    known_extra = [empty] * n_users
    if which == "test" and split.protocol == "loo":
        history = [np.concatenate([t, v]) for t, v in zip(train, valid, strict=True)]
        weights = [np.concatenate([a, b]) for a, b in zip(weights, split.weights("valid"), strict=True)]
    elif which == "test" and mask_valid:
        known_extra = valid
    eligible = np.flatnonzero(split.item_mask)
    users = np.array([u for u in range(n_users) if held[u].size and history[u].size], dtype=np.int64)
    rng = np.random.default_rng(seed)
    if max_users is not None and users.size > max_users:
        users = np.sort(rng.choice(users, size=max_users, replace=False))
    out: dict[str, list[np.ndarray]] = {"score": [], "label": [], "weight": [], "user": []}
    for start in range(0, users.size, batch_users):
        chunk = users[start : start + batch_users]
        profiles = [Profile(history[u], weights[u], user_idx=int(u)) for u in chunk]
        scores = ranker.score(profiles, None)
        for row, u in enumerate(chunk):
            pos = np.unique(held[u])
            banned = np.zeros(scores.shape[1], dtype=bool)
            banned[history[u]] = True
            banned[known_extra[u]] = True
            banned[pos] = True
            pool = eligible[~banned[eligible]]
            k = min(pool.size, negatives_per_positive * pos.size)
            neg = rng.choice(pool, size=k, replace=False) if k else empty
            wneg = pool.size / max(k, 1)
            items = np.concatenate([pos, neg])
            out["score"].append(scores[row, items])
            out["label"].append(np.r_[np.ones(pos.size), np.zeros(neg.size)])
            out["weight"].append(np.r_[np.ones(pos.size), np.full(neg.size, wneg)])
            out["user"].append(np.full(items.size, u, dtype=np.int64))
        if progress is not None:
            progress(min(start + batch_users, users.size), users.size)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def top_n_sample(
    ranker: Ranker,
    split: Split,
    *,
    n: int = 10,
    which: Literal["valid", "test"] = "test",
    mask_valid: bool = False,
    batch_users: int = 512,
) -> dict[str, np.ndarray]:
    """Scores and hit labels of every user's top-``n`` of the full ranking (the shown items).

    Same profiles and masks as :func:`labelled_sample`; label = the item is a held-out item of ``which``.
    """
    n_users = int(split.user_mask.size)
    train = split.histories("train")
    valid = split.histories("valid")
    held = valid if which == "valid" else split.histories("test")
    history, weights = train, split.weights("train")
    if which == "test" and split.protocol == "loo":
        history = [np.concatenate([t, v]) for t, v in zip(train, valid, strict=True)]
        weights = [np.concatenate([a, b]) for a, b in zip(weights, split.weights("valid"), strict=True)]
    users = np.array([u for u in range(n_users) if held[u].size and history[u].size], dtype=np.int64)
    out: dict[str, list[np.ndarray]] = {"score": [], "label": [], "user": []}
    for start in range(0, users.size, batch_users):
        chunk = users[start : start + batch_users]
        profiles = [Profile(history[u], weights[u], user_idx=int(u)) for u in chunk]
        s = np.array(ranker.score(profiles, None), dtype=np.float64)
        s[:, ~np.asarray(split.item_mask, dtype=bool)] = -np.inf
        tgt = np.zeros(s.shape, dtype=bool)
        for row, u in enumerate(chunk):
            s[row, history[u]] = -np.inf
            if which == "test" and mask_valid and split.protocol == "ro811":
                s[row, valid[u]] = -np.inf
            tgt[row, held[u]] = True
        top = np.argsort(-s, axis=1, kind="stable")[:, :n]
        out["score"].append(np.take_along_axis(s, top, axis=1).ravel())
        out["label"].append(np.take_along_axis(tgt, top, axis=1).ravel().astype(np.float64))
        out["user"].append(np.repeat(chunk, top.shape[1]))
    res = {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}
    ok = np.isfinite(res["score"])
    return {k: v[ok] for k, v in res.items()}


def fit_calibrator(
    ranker: Ranker,
    split: Split,
    config: CalibrationConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Calibrator:
    """Fit a calibrator on the split's VALIDATION data (see the module docstring)."""
    cfg = config or CalibrationConfig()
    if cfg.fit_on == "top_n":
        top = top_n_sample(ranker, split, n=cfg.top_n, which="valid")
        if top["score"].size == 0:
            raise ValueError(f"split {split.protocol!r} has no validation interactions to calibrate on")
        return Calibrator.fit(
            top["score"], top["label"], np.ones(top["score"].size), method=cfg.method,
            meta={"protocol": split.protocol, "fitted_on": "valid", **cfg.model_dump()},
        )  # fmt: skip
    sample = labelled_sample(
        ranker,
        split,
        which="valid",
        negatives_per_positive=cfg.negatives_per_positive,
        max_users=cfg.max_users,
        batch_users=cfg.batch_users,
        seed=cfg.seed,
        progress=progress,
    )
    if sample["score"].size == 0:
        raise ValueError(f"split {split.protocol!r} has no validation interactions to calibrate on")
    return Calibrator.fit(
        sample["score"],
        sample["label"],
        sample["weight"],
        method=cfg.method,
        meta={"protocol": split.protocol, "fitted_on": "valid", **cfg.model_dump()},
    )


def ensure_calibrator(
    ranker: Ranker,
    split: Split,
    path: Path,
    config: CalibrationConfig | None = None,
    *,
    checkpoint: Path | None = None,
) -> tuple[Calibrator, bool]:
    """Load the calibrator at ``path``, or fit it on validation data and save it there.

    A saved calibrator is reused only when it was fitted for the same protocol, method and, when
    ``checkpoint`` is given, the same checkpoint file (size and modification time), so a retrained
    model gets a fresh calibrator.

    Returns:
        ``(calibrator, fitted)``: ``fitted`` is True when it was fitted now.
    """
    cfg = config or CalibrationConfig()
    stamp = None
    if checkpoint is not None and Path(checkpoint).is_file():
        st = Path(checkpoint).stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    path = Path(path)
    if path.is_file():
        try:
            cal = Calibrator.load(path)
        except (ValueError, KeyError):
            cal = None
        if (
            cal is not None
            and cal.meta.get("protocol") == split.protocol
            and cal.method == cfg.method
            and all(cal.meta.get(k) == v for k, v in cfg.model_dump().items())
            and cal.meta.get("checkpoint") == stamp
        ):
            return cal, False
    cal = fit_calibrator(ranker, split, cfg)
    cal.meta["checkpoint"] = stamp
    cal.save(path)
    return cal, True
