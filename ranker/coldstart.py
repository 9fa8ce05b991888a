"""New users: a prior that needs no history, and a profile-size-aware blend with the trained ranker.

Most sessions start with nothing known. The joint ranker's head weights were tuned on users with
long histories; with an empty or one-item profile its collaborative terms are zero or thin and the
two-tower term of an empty history is noise, so its order is not what a new person should see.

**The prior** (:class:`ItemPrior`), fitted on the train split only::

    prior(i) = z(log(1 + n_i)) + quality * z(bayes(i)),   bayes(i) = (sum_i r + m * r_bar) / (n_i + m)

``n_i`` = training interactions of item ``i``; ``bayes`` is the Bayesian average of its ratings
shrunk towards the global mean ``r_bar`` with ``m`` pseudo-ratings (so a 5-star item with one
rating does not win); ``z`` standardises over the catalog. Data without rating values gets the
popularity term alone. ``quality`` and ``m`` are chosen on validation users with an empty profile.

**The blend** (:class:`ColdStartRanker`): with ``k`` = distinct positively weighted items in the
profile (history plus session likes)::

    score = a_k * base(profile, i) + b_k * prior(i)

- ``k = 0``: ``a = 0`` for every base group but ``session`` (a dislike still pushes similar items
  down), so the order is the prior's within the candidates (the session's constraints);
- ``1 <= k < warm_k``: ``a = 1`` and ``b_k`` tuned on validation users whose history is cut to
  their first ``k`` training items by time (values between tuned sizes use the nearest smaller one);
- ``k >= warm_k``: the trained ranker alone (``b = 0``): warm users see exactly what they saw before.

The blend is a :class:`ranker.base.FeatureRanker`: the base groups scaled by ``a_k`` plus a
``prior`` group add up to the score, so a new user's feature attributions show the prior.

**Calibration by profile size** (:class:`SizeAwareCalibrator`): one isotonic calibrator per size
bucket (``0``, ``1-5``, ``6..warm_k-1``; fitted on validation users cut to sizes in the bucket, on
their top-``n`` lists with the validation items as labels) and the warm calibrator for the rest.

Everything tuned here is saved as ``coldstart.json`` next to the checkpoint and refitted when the
checkpoint changes (:func:`ensure_cold_start`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from catalog.splits import Split, user_histories
from ranker.base import Profile, Ranker, profile_size, regime_size
from ranker.calibration import Calibrator
from ranker.config import ColdStartConfig

PRIOR_GROUP = "prior"
#: Bumped when the tuning or calibration procedure changes, so saved params are refitted.
FIT_VERSION = 2


# ------------------------------------------------------------------------------------------- prior
class ItemPrior:
    """Popularity plus shrunk rating quality per item (see the module docstring)."""

    def __init__(self, counts: np.ndarray, rating_sums: np.ndarray | None, rated: np.ndarray | None) -> None:
        self.counts = np.asarray(counts, dtype=np.float64)
        self.rating_sums = None if rating_sums is None else np.asarray(rating_sums, dtype=np.float64)
        self.rated = None if rated is None else np.asarray(rated, dtype=np.float64)

    @classmethod
    def from_split(cls, split: Split, n_items: int) -> ItemPrior:
        """Counts and rating sums from ``split.train`` (ratings from the ``value`` column when present)."""
        tr = split.train
        items = tr["item_idx"].to_numpy(dtype=np.int64)
        counts = np.bincount(items, minlength=n_items)
        if "value" in tr and tr["value"].notna().any():
            v = tr["value"].to_numpy(dtype=np.float64)
            ok = np.isfinite(v)
            sums = np.bincount(items[ok], weights=v[ok], minlength=n_items)
            rated = np.bincount(items[ok], minlength=n_items)
            if rated.sum() and np.ptp(v[ok]) > 0:
                return cls(counts, sums, rated)
        return cls(counts, None, None)

    def bayes_average(self, m: float) -> np.ndarray | None:
        """Rating mean shrunk towards the global mean with ``m`` pseudo-ratings (None without ratings)."""
        if self.rating_sums is None or self.rated is None:
            return None
        mean = self.rating_sums.sum() / max(self.rated.sum(), 1.0)
        return (self.rating_sums + m * mean) / (self.rated + m)

    def scores(self, quality: float, m: float) -> np.ndarray:
        """The standardised prior over the catalog."""
        s = _z(np.log1p(self.counts))
        b = self.bayes_average(m)
        if quality and b is not None:
            s = s + quality * _z(b)
        return _z(s)


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(np.std(x))
    return (x - float(np.mean(x))) / (sd if sd > 1e-12 else 1.0)


# ------------------------------------------------------------------------------------------- blend
#: Large catalogs: profiles x items of the dense score arrays the blend's tuning holds at once (users are
#: sampled, seeded, down to this), and neighbours kept per item by the sparse co-occurrence.
LARGE_TUNING_ENTRIES = 10_000_000
LARGE_COOC_K = 100


def is_large(base: Any) -> bool:
    """Whether ``base`` scores the large-catalog (sparse / low-rank) features (see :mod:`ranker.sparse`)."""
    feats = getattr(base, "features", None)
    return bool(getattr(feats, "sparse", False))


def cooccurrence(split: Split, n_items: int, *, top_k: int | None = None) -> Any:
    """``P(j | i)``: share of the train users who had item ``i`` and also had ``j`` (zero diagonal).

    ``top_k`` (large catalogs): the ``top_k`` largest per item as CSR, built block-wise, never
    ``n_items x n_items`` dense.
    """
    import scipy.sparse as sps

    tr = split.train
    u = tr["user_idx"].to_numpy(dtype=np.int64)
    i = tr["item_idx"].to_numpy(dtype=np.int64)
    x = sps.csr_matrix((np.ones(u.size, dtype=np.float32), (u, i)), shape=(int(u.max()) + 1 if u.size else 0, n_items))
    x.sum_duplicates()
    x.data[:] = 1.0  # duplicates count once
    if top_k is not None:
        from ranker.sparse import topk_product

        inv = 1.0 / np.maximum(np.asarray(x.sum(0)).ravel(), 1.0)

        def share(blk: sps.csr_matrix, rows: np.ndarray) -> sps.csr_matrix:
            return sps.csr_matrix(sps.diags(inv[rows]) @ blk)

        return topk_product(sps.csr_matrix(x.T), x, top_k, transform=share)
    c = np.asarray((x.T @ x).todense(), dtype=np.float32)
    counts = np.diag(c).copy()
    np.fill_diagonal(c, 0.0)
    return c / np.maximum(counts, 1.0)[:, None]


class BlendWeights(BaseModel):
    """Weights of one profile size: ``a * base + c * cooccurrence + b * prior``."""

    a: float = 1.0
    c: float = 0.0
    b: float = 0.0


_WARM = BlendWeights()


class ColdStartParams(BaseModel):
    """Tuned values (saved as ``coldstart.json``)."""

    quality: float = 0.0
    shrinkage: float = 20.0
    warm_k: int = 15
    blend: dict[int, BlendWeights] = Field(default_factory=dict, description="Profile size -> blend weights.")
    validation: dict[str, Any] = Field(default_factory=dict, description="Validation NDCG@10 per size.")
    calibrators: dict[str, dict[str, Any]] = Field(default_factory=dict, description="'lo-hi' -> calibrator.")
    checkpoint: str | None = None


class ColdStartRanker:
    """The trained ranker blended with co-occurrence and the prior by profile size (module docstring).

    Other attributes (item vectors, head, features) are the base ranker's.
    """

    additive_in_history = False

    def __init__(self, base: Any, prior: np.ndarray, cooc: Any, params: ColdStartParams) -> None:
        import scipy.sparse as sps

        self.base = base
        self.prior = np.asarray(prior, dtype=np.float64)
        self.cooc = sps.csr_matrix(cooc, dtype=np.float32) if sps.issparse(cooc) else np.asarray(cooc, np.float32)
        self.params = params
        self._sizes = np.asarray(sorted(params.blend), dtype=np.int64)
        #: What the prior group means in words: ratings count only where their weight was chosen above 0.
        self.group_words = {
            PRIOR_GROUP: "how popular and well rated it is overall"
            if params.quality > 0
            else "how popular it is overall"
        }
        groups = tuple(base.feature_groups)
        self._collab = "collaborative"
        self.feature_groups: tuple[str, ...] = (
            *groups, *(() if self._collab in groups else (self._collab,)), PRIOR_GROUP,
        )  # fmt: skip

    @property
    def n_items(self) -> int:
        return int(self.base.n_items)

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes this wrapper lacks: the base ranker's vectors, head, features
        if name in ("base", "params", "prior", "cooc", "_sizes", "_collab", "group_words"):
            raise AttributeError(name)
        return getattr(self.base, name)

    def weights(self, k: int) -> BlendWeights:
        """The blend weights for a profile with ``k`` positive items."""
        if k >= self.params.warm_k or not self._sizes.size:
            return _WARM
        if k == 0:
            return BlendWeights(a=0.0, c=0.0, b=1.0)
        pos = int(np.searchsorted(self._sizes, k, side="right")) - 1
        return self.params.blend[int(self._sizes[max(pos, 0)])]

    def score_components(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Base groups scaled by ``a``, co-occurrence in the collaborative group, and the ``prior`` group."""
        comps = dict(self.base.score_components(profiles, items))
        sel = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        shape = (len(profiles), sel.size)
        sizes = [regime_size(p) for p in profiles]
        if self._collab not in comps:
            comps[self._collab] = np.zeros(shape)
        if not self._sizes.size or min(sizes, default=0) >= self.params.warm_k:  # warm: the trained ranker alone
            comps[PRIOR_GROUP] = np.zeros(shape)
            return comps
        w = [self.weights(k) for k in sizes]
        a = np.asarray([x.a for x in w])[:, None]
        c = np.asarray([x.c for x in w])[:, None]
        b = np.asarray([x.b for x in w])[:, None]
        for g in (*self.base.feature_groups, "bias"):
            # with nothing known only the session's dislikes keep their say
            scale = np.where(a > 0, a, 1.0) if g == "session" else a
            comps[g] = np.asarray(comps[g], dtype=np.float64) * scale
        if np.any(c):
            liked = _liked(profiles, self.n_items, positive=True)
            if isinstance(self.cooc, np.ndarray):
                co = liked.toarray() @ self.cooc[:, sel]
            else:  # large catalogs: the top-k CSR, only the asked columns densified
                from ranker.sparse import item_item_columns

                co = item_item_columns(liked, self.cooc, None if items is None else sel)
            comps[self._collab] = comps[self._collab] + c * np.asarray(co, dtype=np.float64)
        comps[PRIOR_GROUP] = b * self.prior[sel][None, :]
        return comps

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))``; higher is better."""
        comps = self.score_components(profiles, items)
        total = np.asarray(comps.pop("bias"), dtype=np.float64).copy()
        for g in self.feature_groups:
            total = total + comps[g]
        return total


def _liked(profiles: Sequence[Profile], n_items: int, *, positive: bool) -> Any:
    """Sparse ``(P, n_items)`` 0/1 matrix of each profile's (positive, when asked) history items."""
    import scipy.sparse as sps

    rows, cols = [], []
    for r, p in enumerate(profiles):
        h = p.history[p.weights > 0] if positive else p.history
        rows.append(np.full(h.size, r, dtype=np.int64))
        cols.append(np.asarray(h, dtype=np.int64))
    rr = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cc = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    m = sps.csr_matrix((np.ones(rr.size, np.float32), (rr, cc)), shape=(len(profiles), n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def tuning_users(users: np.ndarray, base: Any, seed: int) -> np.ndarray:
    """``users`` as they are, or for a large-catalog ``base`` a seeded sample small enough that the tuning's
    dense ``(users, n_items)`` score arrays hold at most :data:`LARGE_TUNING_ENTRIES` entries."""
    if not is_large(base):
        return users
    cap = max(50, LARGE_TUNING_ENTRIES // max(int(base.n_items), 1))
    if users.size <= cap:
        return users
    return np.sort(np.random.default_rng(seed).choice(users, cap, replace=False))


# ------------------------------------------------------------------------------------------ tuning
def first_k_profiles(split: Split, users: np.ndarray, k: int, n_users: int) -> list[Profile]:
    """Profiles of ``users`` holding only their first ``k`` training items by time; unknown to the model."""
    tr = split.train
    order = np.argsort(tr["timestamp"].to_numpy(dtype=np.float64), kind="stable") if "timestamp" in tr else None
    frame = tr.iloc[order] if order is not None else tr
    seqs = user_histories(frame, n_users)
    out = []
    for u in users:
        seq = seqs[int(u)]
        _, first = np.unique(seq, return_index=True)
        out.append(Profile(seq[np.sort(first)][:k]))
    return out


def held_out_masks(
    split: Split, users: np.ndarray, n_users: int, which: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per user: the items to mask (what the user is known to have had) and the target items."""
    train = split.histories("train")
    valid = split.histories("valid")
    test = split.histories("test")
    if which == "valid":
        return [train[int(u)] for u in users], [valid[int(u)] for u in users]
    return [np.concatenate([train[int(u)], valid[int(u)]]) for u in users], [test[int(u)] for u in users]


def ndcg_at(scores: np.ndarray, targets: Sequence[np.ndarray], k: int = 10) -> float:
    """Mean NDCG@k of ``scores`` (masked items ``-inf``) against per-row target items."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    vals = []
    for r, t in enumerate(targets):
        hits = np.isin(top[r], t)
        vals.append(float((hits * disc[: top.shape[1]]).sum() / disc[: min(len(t), k)].sum()))
    return float(np.mean(vals)) if vals else 0.0


def _masked(scores: np.ndarray, masks: Sequence[np.ndarray], item_mask: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).copy()
    s[:, ~np.asarray(item_mask, dtype=bool)] = -np.inf
    for r, m in enumerate(masks):
        s[r, m] = -np.inf
    return s


def tune_cold_start(
    base: Any,
    split: Split,
    n_users: int,
    prior: ItemPrior,
    config: ColdStartConfig | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    cooc: np.ndarray | None = None,
) -> tuple[ColdStartParams, np.ndarray]:
    """Choose the prior's quality weight and shrinkage (k = 0) and ``b_k`` per tuned size, on VALIDATION users.

    ``cooc`` is :func:`cooccurrence` of the split when the caller has it already.

    Returns:
        The params (without calibrators) and the prior scores.
    """
    cfg = config or ColdStartConfig()
    say = progress or (lambda _m: None)
    users = tuning_users(np.unique(split.valid["user_idx"].to_numpy(dtype=np.int64)), base, cfg.seed)
    masks, targets = held_out_masks(split, users, n_users, "valid")
    best = (-1.0, 0.0, cfg.shrinkage_grid[0])
    ones = np.ones((users.size, 1))
    for m in cfg.shrinkage_grid:
        for q in cfg.quality_grid:
            nd = ndcg_at(_masked(ones * prior.scores(q, m)[None, :], masks, split.item_mask), targets)
            if nd > best[0] + 1e-9:
                best = (nd, q, m)
    validation: dict[str, Any] = {"0": {"prior": best[0]}}
    quality, shrink = best[1], best[2]
    p = prior.scores(quality, shrink)
    say(f"cold start: prior quality={quality} shrinkage={shrink}, validation NDCG@10 at k=0 {best[0]:.4f}")
    blend: dict[int, BlendWeights] = {}
    if cooc is None:
        cooc = cooccurrence(split, int(base.n_items), top_k=LARGE_COOC_K if is_large(base) else None)
    for k in sorted(set(cfg.tune_ks)):
        if k <= 0 or k >= cfg.warm_k:
            continue
        profiles = first_k_profiles(split, users, k, n_users)
        base_s = np.asarray(base.score(profiles, None), dtype=np.float64)
        liked = _liked(profiles, int(base.n_items), positive=False)
        if isinstance(cooc, np.ndarray):
            co_s = (liked.toarray() @ cooc).astype(np.float64)
        else:
            co_s = np.asarray((liked @ cooc).toarray(), dtype=np.float64)
        sd_base = float(np.median(np.std(base_s, axis=1))) or 1.0
        sd_co = float(np.median(np.std(co_s, axis=1))) or 1.0
        results: dict[tuple[float, float, float], float] = {}
        for a in (0.0, 1.0):
            for cw in cfg.cooccurrence_grid:
                for bw in cfg.blend_grid:
                    if a == 0.0 and cw == 0.0:
                        continue
                    s = a * base_s / sd_base + cw * co_s / sd_co + bw * p[None, :]
                    results[(a, cw, bw)] = ndcg_at(_masked(s, masks, split.item_mask), targets)
        top = max(results.values())
        # ties: prefer the trained ranker, then less co-occurrence, then less prior
        a, cw, bw = min((key for key, v in results.items() if v >= top - 1e-9), key=lambda t: (-t[0], t[1], t[2]))
        unit = sd_base if a else 1.0  # keep the trained ranker's score scale where it takes part
        blend[k] = BlendWeights(a=a, c=cw * unit / sd_co, b=bw * unit)
        plain = results.get((1.0, 0.0, 0.0), float("nan"))
        validation[str(k)] = {"ranker": plain, "blend": top, "a": a, "c": cw, "b": bw}
        say(f"cold start: k={k} a={a} c={cw} b={bw}, validation NDCG@10 ranker alone {plain:.4f} -> blend {top:.4f}")
    params = ColdStartParams(quality=quality, shrinkage=shrink, warm_k=cfg.warm_k, blend=blend, validation=validation)
    return params, p


def top_n_for_profiles(
    ranker: Ranker, profiles: Sequence[Profile], masks: Sequence[np.ndarray], targets: Sequence[np.ndarray],
    item_mask: np.ndarray, n: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Scores and hit labels of each profile's top-``n`` (masked items never shown)."""
    s = _masked(np.asarray(ranker.score(profiles, None), dtype=np.float64), masks, item_mask)
    top = np.argsort(-s, axis=1, kind="stable")[:, :n]
    scores = np.take_along_axis(s, top, axis=1)
    labels = np.stack([np.isin(top[r], targets[r]) for r in range(top.shape[0])]).astype(np.float64)
    ok = np.isfinite(scores)
    return scores[ok], labels[ok]


def category_groups(items: Sequence[Any], min_size: int = 30) -> list[np.ndarray]:
    """Item indices per catalog category with at least ``min_size`` items (the constraints people set)."""
    by: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        for g in it.categories:
            by.setdefault(g, []).append(i)
    return [np.asarray(v, dtype=np.int64) for _, v in sorted(by.items()) if len(v) >= min_size]


def bucket_sample(
    ranker: Ranker,
    split: Split,
    n_users: int,
    bucket: tuple[int, int],
    *,
    which: str,
    n: int,
    seed: int,
    item_groups: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` scores and labels of held-out users cut to sizes drawn from ``bucket`` (inclusive).

    With ``item_groups``, half the users (drawn at random) rank within one random group, as a person
    who asked for a category does: constrained lists reach lower scores than the catalog-wide top.
    """
    part = split.valid if which == "valid" else split.test
    users = tuning_users(np.unique(part["user_idx"].to_numpy(dtype=np.int64)), ranker, seed)
    masks, targets = held_out_masks(split, users, n_users, which)
    rng = np.random.default_rng(seed)
    sizes = rng.integers(bucket[0], bucket[1] + 1, size=users.size)
    if item_groups:
        n_items = int(ranker.n_items)
        for r in np.flatnonzero(rng.random(users.size) < 0.5):
            outside = np.ones(n_items, dtype=bool)
            outside[item_groups[int(rng.integers(len(item_groups)))]] = False
            masks[r] = np.concatenate([masks[r], np.flatnonzero(outside)])
    xs, ys = [], []
    for k in np.unique(sizes):
        rows = np.flatnonzero(sizes == k)
        profiles = first_k_profiles(split, users[rows], int(k), n_users)
        s, y = top_n_for_profiles(
            ranker, profiles, [masks[r] for r in rows], [targets[r] for r in rows], split.item_mask, n
        )
        xs.append(s)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


class SizeAwareCalibrator:
    """The warm calibrator plus one per profile-size bucket; :meth:`for_profile` picks one.

    Behaves as the warm :class:`Calibrator` where no profile is known (``predict``).
    """

    def __init__(self, warm: Calibrator, buckets: dict[tuple[int, int], Calibrator]) -> None:
        self.warm = warm
        self.buckets = dict(buckets)
        self.method = warm.method
        self.meta = warm.meta

    def for_size(self, k: int) -> Calibrator:
        for (lo, hi), cal in self.buckets.items():
            if lo <= k <= hi:
                return cal
        return self.warm

    def for_profile(self, profile: Profile) -> Calibrator:
        return self.for_size(regime_size(profile))

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return self.warm.predict(scores)


def fit_bucket_calibrators(
    ranker: Ranker,
    split: Split,
    n_users: int,
    config: ColdStartConfig | None = None,
    *,
    item_groups: Sequence[np.ndarray] | None = None,
) -> dict[tuple[int, int], Calibrator]:
    """One isotonic calibrator per size bucket, on VALIDATION users cut to sizes in the bucket."""
    cfg = config or ColdStartConfig()
    out = {}
    for lo, hi in cfg.calibration_buckets:
        s, y = bucket_sample(
            ranker, split, n_users, (lo, hi), which="valid", n=cfg.calibration_top_n, seed=cfg.seed,
            item_groups=item_groups,
        )  # fmt: skip
        if s.size and 0 < y.sum() < y.size:
            out[(lo, hi)] = Calibrator.fit(
                s, y, method="isotonic", meta={"bucket": [lo, hi], "fitted_on": "valid"}, smooth=True
            )
    return out


def ensure_cold_start(
    base: Any,
    split: Split,
    n_users: int,
    warm_calibrator: Calibrator,
    path: Path,
    config: ColdStartConfig | None = None,
    *,
    checkpoint: Path | None = None,
    progress: Callable[[str], None] | None = None,
    item_groups: Sequence[np.ndarray] | None = None,
) -> tuple[Any, Any]:
    """The blended ranker and the size-aware calibrator, tuned once per checkpoint and saved at ``path``.

    ``item_groups`` (see :func:`category_groups`) makes the size buckets' calibration samples include
    constrained lists. Returns ``(base, warm_calibrator)`` unchanged when the config disables the blend.
    """
    cfg = config or ColdStartConfig()
    if not cfg.enabled:
        return base, warm_calibrator
    stamp = None
    if checkpoint is not None and Path(checkpoint).is_file():
        st = Path(checkpoint).stat()
        stamp = f"v{FIT_VERSION}:{st.st_size}:{st.st_mtime_ns}:{_config_key(cfg)}:{len(item_groups or ())}"
    prior = ItemPrior.from_split(split, int(base.n_items))
    # once: the tuning and the served ranker share it (large catalogs: top-k CSR)
    cooc = cooccurrence(split, int(base.n_items), top_k=LARGE_COOC_K if is_large(base) else None)
    path = Path(path)
    params = None
    if path.is_file():
        try:
            params = ColdStartParams.model_validate_json(path.read_text())
        except ValueError:
            params = None
        if params is not None and params.checkpoint != stamp:
            params = None
    if params is None:
        params, p = tune_cold_start(base, split, n_users, prior, cfg, progress=progress, cooc=cooc)
        ranker = ColdStartRanker(base, p, cooc, params)
        cals = fit_bucket_calibrators(ranker, split, n_users, cfg, item_groups=item_groups)
        params.calibrators = {f"{lo}-{hi}": c.to_dict() for (lo, hi), c in cals.items()}
        params.checkpoint = stamp
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(params.model_dump_json(indent=1))
        tmp.replace(path)
    else:
        ranker = ColdStartRanker(base, prior.scores(params.quality, params.shrinkage), cooc, params)
    buckets = {
        (int(k.split("-")[0]), int(k.split("-")[1])): Calibrator.from_dict(d) for k, d in params.calibrators.items()
    }
    return ranker, SizeAwareCalibrator(warm_calibrator, buckets)


def _config_key(cfg: ColdStartConfig) -> str:
    import hashlib

    return hashlib.blake2b(cfg.model_dump_json().encode(), digest_size=6).hexdigest()


__all__ = [
    "PRIOR_GROUP",
    "ColdStartConfig",
    "ColdStartParams",
    "ColdStartRanker",
    "ItemPrior",
    "SizeAwareCalibrator",
    "category_groups",
    "ensure_cold_start",
    "first_k_profiles",
    "fit_bucket_calibrators",
    "held_out_masks",
    "profile_size",
    "tune_cold_start",
]  # fmt: skip
