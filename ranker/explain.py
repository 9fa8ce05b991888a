"""SHAP attributions for recommendations, and the one-call entry point that assembles evidence.

Two explanations per recommended (user, item):

**Over the user's history items** ("because you liked X"). The players are history entries; a
coalition is the profile with the other explained entries removed (:meth:`Profile.without`), so a
Shapley value says how much "you interacted with X" moved this score. The base value is the score
with every explained entry removed. Methods:

- ``additive`` (exact, fast path): when the ranker declares its score additive in the history
  (``ranker.additive_in_history = True``, e.g. EASE or ItemKNN: ``score = sum_j w_j B[j, i]``, or
  ``additive=True`` is passed), each entry's Shapley value is its marginal contribution
  ``f(H) - f(H \\ {j})``, computed for the whole history in one batched call.
- ``permutation``: ``shap.PermutationExplainer`` (antithetic permutations, exactly additive by
  construction) over a binary presence vector with ``shap.maskers.Independent`` and an all-absent
  background; the masked model turns each presence row into a profile and scores all rows in one
  ``ranker.score`` call, for all explained items at once (multi-output).
- ``exact``: ``shap.ExactExplainer`` on the same game when the window has at most
  ``exact_max_features`` entries.

To bound cost on the non-additive paths only ``max_history`` entries (M, default 20) are players;
the rest of the history stays in every coalition as fixed context (so the base value is the
score of the context alone). The window holds the entries whose single removal moves the explained
scores most (``selection="loo"``, one batched call over the ``selection_pool`` most recent entries)
or simply the most recent ones (``selection="recent"``).

**Over interpretable feature groups** for a :class:`ranker.base.FeatureRanker`, whose score is a
sum of group contributions plus a bias: with the catalog's items as background, the exact Shapley
value of group ``g`` is ``c_g(u, i) - mean_j c_g(u, j)`` and the base value is the user's mean
score over the catalog.

Additivity is checked for both: ``max |sum(values) + base - score|`` is reported, not assumed.

:func:`explain_recommendations` / :class:`RecommendationExplainer` produce one
:class:`ranker.evidence.Evidence` per recommended item (scores, both attributions, a trust
report) plus list-level metrics (:class:`ranker.trust.ListReport`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field

from catalog.types import Dataset
from ranker.base import FeatureRanker, Profile, Ranker, profile_size, top_n
from ranker.calibration import Calibrator
from ranker.diversity import DiversityConfig, ItemSimilarity, mmr_rerank
from ranker.evidence import Evidence, HistoryAttribution, HistoryExplanation
from ranker.features import SPARSE_ABOVE
from ranker.sparse import neighbour_candidates
from ranker.trust import ListReport, TrustConfig, TrustScorer


class ShapConfig(BaseModel):
    """How history attributions are computed."""

    method: Literal["auto", "additive", "permutation", "exact"] = Field(
        "auto",
        description="auto = additive when the ranker declares additive_in_history, else exact for small "
        "windows and permutation otherwise.",
    )
    max_history: int = Field(20, ge=1, description="History entries explained (M) on non-additive paths.")
    selection: Literal["loo", "recent"] = Field(
        "loo", description="Window: entries with the largest single-removal effect (loo) or the most recent."
    )
    selection_pool: int = Field(50, ge=1, description="loo screening looks at this many most recent entries.")
    n_permutations: int = Field(4, ge=1, description="Antithetic permutations for the Permutation explainer.")
    exact_max_features: int = Field(8, ge=1, description="Use the Exact explainer up to this window size.")
    additive_max_history: int = Field(5000, ge=1, description="Above this history length use the window.")
    top_history: int = Field(5, ge=0, description="History attributions kept per item in the evidence.")
    batch_profiles: int = Field(2048, ge=1, description="Profiles per ranker.score call on the additive path.")
    seed: int = Field(0, description="Seed for permutation sampling.")


class ExplainConfig(BaseModel):
    """Everything :class:`RecommendationExplainer` needs besides the ranker and data."""

    shap: ShapConfig = Field(default_factory=ShapConfig, description="History attributions.")
    trust: TrustConfig = Field(default_factory=TrustConfig, description="Trust report.")
    diversity: DiversityConfig = Field(default_factory=DiversityConfig, description="MMR re-ranking.")
    candidate_first_above: int = Field(
        SPARSE_ABOVE,
        ge=1,
        description="Catalogs with more items than this score only candidates, not every item: those given "
        "(retrieval's), else the history's collaborative neighbours plus the most popular items "
        "(candidate_pool); the feature-group background is then the scored candidates.",
    )
    candidate_pool: int = Field(
        500, ge=1, description="Neighbour candidates (and a fifth as many popular ones) when none are given."
    )


@dataclass(frozen=True)
class FeatureExplanation:
    """Exact feature-group Shapley values (catalog background) for several items of one profile."""

    groups: tuple[str, ...]
    values: np.ndarray
    base_values: np.ndarray
    scores: np.ndarray

    @property
    def additivity_error(self) -> np.ndarray:
        return np.abs(self.values.sum(axis=1) + self.base_values - self.scores)


def _ranker_neighbours(ranker: Ranker) -> sp.csr_matrix | None:
    """A top-k neighbour matrix the ranker already holds (ItemKNN's ``W``, RP3beta features), or None."""
    base: Any = getattr(ranker, "base", ranker)  # the new-user blend wraps the joint model
    w = getattr(base, "W", None)
    if w is None and getattr(base, "features", None) is not None:
        w = getattr(base.features, "rp3", None)
    return sp.csr_matrix(w) if w is not None and sp.issparse(w) else None


def is_additive_in_history(ranker: Ranker) -> bool:
    """Whether the ranker declares its score additive in the history entries."""
    return bool(getattr(ranker, "additive_in_history", False))


class ShapExplainer:
    """SHAP attributions of a ranker's scores over history entries and feature groups.

    Args:
        ranker: Any :class:`Ranker`; must be deterministic at scoring time (dropout off).
        config: Attribution settings.
        additive: Override the ranker's ``additive_in_history`` declaration.
    """

    def __init__(self, ranker: Ranker, config: ShapConfig | None = None, *, additive: bool | None = None) -> None:
        self.ranker = ranker
        self.config = config or ShapConfig()
        self.additive = is_additive_in_history(ranker) if additive is None else additive

    # ------------------------------------------------------------------ history attributions

    def _score(self, profiles: Sequence[Profile], items: np.ndarray) -> np.ndarray:
        out = []
        bs = self.config.batch_profiles
        for s in range(0, len(profiles), bs):
            out.append(np.asarray(self.ranker.score(profiles[s : s + bs], items), dtype=np.float64))
        return np.concatenate(out) if out else np.zeros((0, items.size))

    def _method(self, h: int) -> str:
        m = self.config.method
        if m == "auto":
            if self.additive and h <= self.config.additive_max_history:
                return "additive"
            return "exact" if min(h, self.config.max_history) <= self.config.exact_max_features else "permutation"
        return m

    def _window(self, profile: Profile, items: np.ndarray, full: np.ndarray) -> np.ndarray:
        """History positions that are players; the rest is fixed context."""
        h = profile.history.size
        m = self.config.max_history
        if h <= m:
            return np.arange(h)
        if self.config.selection == "recent":
            return np.arange(h - m, h)
        pool = np.arange(max(0, h - self.config.selection_pool), h)
        drops = full[None, :] - self._score([profile.without([int(p)]) for p in pool], items)
        scale = np.maximum(np.abs(drops).max(axis=0, keepdims=True), 1e-12)
        relevance = (np.abs(drops) / scale).max(axis=1)
        return np.sort(pool[np.argsort(-relevance, kind="stable")[:m]])

    def explain_history(
        self, profile: Profile, items: np.ndarray | Sequence[int], scores: np.ndarray | None = None
    ) -> HistoryExplanation:
        """Shapley values of the profile's history entries for each of ``items``.

        Args:
            profile: The scored profile.
            items: Explained items.
            scores: Their scores for the full profile when already computed (saves a call); the
                additivity check compares the game against these.

        Returns:
            A :class:`HistoryExplanation`; an empty history gives ``m = 0`` and base = score.
        """
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        full = self._score([profile], items)[0] if scores is None else np.asarray(scores, dtype=np.float64)
        h = profile.history.size
        method = self._method(h)
        if h == 0 or items.size == 0:
            return HistoryExplanation(items, np.zeros(0, np.int64), np.zeros((items.size, 0)), full, full, method)
        if method == "additive":
            positions = np.arange(h) if h <= self.config.additive_max_history else self._window(profile, items, full)
            profiles = [profile.without([int(p)]) for p in positions]
            profiles.append(profile.without(positions))
            out = self._score(profiles, items)
            # additive in history: the marginal contribution is the same in every coalition = Shapley value
            values = (full[None, :] - out[:-1]).T
            return HistoryExplanation(items, positions, values, out[-1], full, method)
        positions = self._window(profile, items, full)
        values, base = self._shap_game(profile, items, positions, method)
        return HistoryExplanation(items, positions, values, base, full, method)

    def _shap_game(
        self, profile: Profile, items: np.ndarray, positions: np.ndarray, method: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run shap on the presence game, every coalition scored in one ranker call.

        shap's explainers ask for one batch of coalitions per permutation. Which coalitions they ask
        for depends only on the seeded permutations, never on the model's outputs, so a first pass
        with a recording model collects them; the distinct ones are scored in a single
        ``ranker.score`` call; a second pass with the same seed replays the scores to shap.
        """
        import shap

        m = positions.size
        recorded: list[np.ndarray] = []

        def profiles_for(rows: np.ndarray) -> list[Profile]:
            return [profile.without(positions[~r]) if (~r).any() else profile for r in rows]

        def record(mask_rows: np.ndarray) -> np.ndarray:
            rows = np.asarray(mask_rows) > 0.5
            recorded.append(rows)
            return np.zeros((rows.shape[0], items.size))

        table: dict[bytes, np.ndarray] = {}

        def replay(mask_rows: np.ndarray) -> np.ndarray:
            rows = np.asarray(mask_rows) > 0.5
            missing = [r for r in rows if r.tobytes() not in table]
            if missing:  # not expected; score directly rather than fail
                for r, v in zip(missing, self._score(profiles_for(np.asarray(missing)), items), strict=True):
                    table[r.tobytes()] = v
            return np.stack([table[r.tobytes()] for r in rows])

        masker = shap.maskers.Independent(np.zeros((1, m)), max_samples=1)
        x = np.ones((1, m))

        def run(model: Any) -> Any:
            if method == "exact":
                return shap.explainers.Exact(model, masker)(x, max_evals=2**m + 1, silent=True)
            expl = shap.explainers.Permutation(model, masker, seed=self.config.seed)
            return expl(x, max_evals=self.config.n_permutations * (2 * m + 1), silent=True)

        state = np.random.get_state()  # shap seeds and shuffles numpy's global generator
        try:
            run(record)
            uniq = np.unique(np.concatenate(recorded), axis=0) if recorded else np.zeros((0, m), dtype=bool)
            for r, v in zip(uniq, self._score(profiles_for(uniq), items), strict=True):
                table[r.tobytes()] = v
            res = run(replay)
        finally:
            np.random.set_state(state)
        values = np.asarray(res.values, dtype=np.float64)[0]  # (m, k) or (m,) for one item
        base = np.asarray(res.base_values, dtype=np.float64).reshape(-1)
        if values.ndim == 1:
            values = values[:, None]
        return values.T, np.broadcast_to(base, (items.size,)).copy()

    # ------------------------------------------------------------------ feature-group attributions

    def explain_features(
        self,
        profile: Profile,
        items: np.ndarray | Sequence[int],
        components: dict[str, np.ndarray] | None = None,
        *,
        background: np.ndarray | None = None,
    ) -> FeatureExplanation | None:
        """Exact feature-group Shapley values (catalog or candidate background), or None for a plain Ranker.

        Args:
            profile: The scored profile.
            items: Explained items.
            components: ``score_components([profile], background)`` when already computed (saves a call).
            background: The items whose mean is the base value (sorted item indices; must include
                ``items``); None = the whole catalog. Large catalogs use the scored candidates.
        """
        if not isinstance(self.ranker, FeatureRanker):
            return None
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        comps = components if components is not None else self.ranker.score_components([profile], background)
        groups = tuple(self.ranker.feature_groups)
        n_cols = self.ranker.n_items if background is None else int(background.size)
        cols = items if background is None else np.searchsorted(background, items)
        # bias may be a scalar, per item, or shaped like the score
        bias_all = np.broadcast_to(np.asarray(comps.get("bias", 0.0), dtype=np.float64), (1, n_cols))[0]
        vals = np.stack([np.asarray(comps[g], dtype=np.float64)[0] for g in groups], axis=1)  # (n_cols, G)
        mean = vals.mean(axis=0)
        values = vals[cols] - mean[None, :]
        base = bias_all[cols] + mean.sum()
        scores = vals[cols].sum(axis=1) + bias_all[cols]
        return FeatureExplanation(groups, values, base, scores)


# ---------------------------------------------------------------------------------------------------


class ExplainedRecommendations(BaseModel):
    """A recommended list with evidence per item and list-level metrics."""

    user_id: str | None = Field(None, description="External user id, when known.")
    items: list[Evidence] = Field(description="One evidence object per recommended item, best first.")
    list_report: ListReport = Field(description="Diversity, novelty, regret of the list.")
    history_method: str = Field(description="How history attributions were computed.")
    max_additivity_error: float = Field(description="Largest |values + base - score| over history attributions.")
    feature_max_additivity_error: float | None = Field(None, description="Same for feature groups (None if none).")
    mmr_lambda: float = Field(description="Relevance weight used for MMR re-ranking (1 = plain ranking).")


class RecommendationExplainer:
    """Recommend, explain and assess trust for one profile at a time, with cached context.

    Args:
        ranker: The ranker (deterministic scoring).
        dataset: Catalog: titles, categories, ids.
        calibrator: Score-to-probability map fitted on validation data.
        item_counts: Training interactions per item (support, novelty, popularity).
        config: Attribution, trust and diversity settings.
        similarity: Item similarity for diversity and MMR (default: category Jaccard).
        additive: Override the ranker's ``additive_in_history`` declaration.
    """

    def __init__(
        self,
        ranker: Ranker,
        dataset: Dataset,
        calibrator: Calibrator,
        item_counts: np.ndarray,
        config: ExplainConfig | None = None,
        *,
        similarity: ItemSimilarity | None = None,
        additive: bool | None = None,
        neighbours: sp.csr_matrix | None = None,
    ) -> None:
        self.ranker = ranker
        #: ``(n_items, n_items)`` top-k neighbour matrix for candidates on large catalogs (None: the
        #: ranker's own ``W`` or RP3beta features when it has them, else popularity alone)
        self.neighbours = neighbours if neighbours is not None else _ranker_neighbours(ranker)
        self.dataset = dataset
        self.config = config or ExplainConfig()
        self.similarity = similarity or ItemSimilarity.from_categories(dataset)
        self.shap = ShapExplainer(ranker, self.config.shap, additive=additive)
        counts = np.asarray(item_counts, dtype=np.int64)
        self.item_counts = counts
        # share of catalog items with fewer training interactions (1 = the most popular)
        self.popularity_rank = np.searchsorted(np.sort(counts), counts, side="left") / max(counts.size - 1, 1)
        self.trust = TrustScorer(
            ranker,
            calibrator,
            item_counts,
            dataset.n_users,
            self.config.trust,
            similarity=self.similarity,
            item_ids=[it.item_id for it in dataset.items],
        )

    def select(
        self, profile: Profile, n: int, *, candidates: np.ndarray | None = None, mmr_lambda: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The list (item indices), its scores, and the all-item scores (ineligible items ``-inf``)."""
        items, scores, masked, _, _ = self._select(profile, n, candidates, mmr_lambda)
        return items, scores, masked

    def _select(
        self, profile: Profile, n: int, candidates: np.ndarray | None, mmr_lambda: float | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray] | None, np.ndarray | None]:
        """``(items, their scores, all-item scores with ineligible at -inf, components, background)``;
        ``background`` is None when ``components`` cover every item, else the items they cover."""
        lam = self.config.diversity.mmr_lambda if mmr_lambda is None else mmr_lambda
        comps = None
        if self.ranker.n_items > self.config.candidate_first_above:
            return self._select_candidates(profile, n, candidates, lam)
        if isinstance(self.ranker, FeatureRanker):
            # one call gives the scores and the feature-group background
            comps = self.ranker.score_components([profile], None)
            all_scores = np.asarray(comps.get("bias", 0.0), dtype=np.float64) + sum(
                np.asarray(comps[g], dtype=np.float64) for g in self.ranker.feature_groups
            )
            all_scores = np.broadcast_to(all_scores, (1, self.ranker.n_items))[0].copy()
        else:
            all_scores = np.asarray(self.ranker.score([profile], None), dtype=np.float64)[0]
        banned = np.concatenate([profile.history, profile.exclude])
        masked = all_scores.copy()
        if candidates is not None:
            keep = np.zeros(masked.size, dtype=bool)
            keep[np.asarray(candidates, dtype=np.int64)] = True
            masked[~keep] = -np.inf
        masked[banned] = -np.inf
        pool = top_n(masked, max(n, self.config.diversity.pool) if lam < 1.0 else n)
        items = mmr_rerank(pool, masked[pool], self.similarity, n, lam) if lam < 1.0 else pool[:n]
        return items, all_scores[items], masked, comps, None

    def candidates_for(self, profile: Profile) -> np.ndarray:
        """Candidates when none are given on a large catalog: the history's neighbours and the most popular."""
        pool = self.config.candidate_pool
        return neighbour_candidates(profile, self.neighbours, self.item_counts, pool, max(1, pool // 5))

    def _select_candidates(
        self, profile: Profile, n: int, candidates: np.ndarray | None, lam: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray] | None, np.ndarray | None]:
        """Candidate-first :meth:`_select`: only the candidates are scored (large catalogs).

        The all-item arrays keep their shape (``-inf`` outside the candidates), so the trust report and
        list metrics read them as before; the components cover the scored candidates (the background).
        """
        cand = self.candidates_for(profile) if candidates is None else np.asarray(candidates, dtype=np.int64)
        banned = np.concatenate([profile.history, profile.exclude]).astype(np.int64)
        cand = np.setdiff1d(np.unique(cand), banned)
        all_scores = np.full(self.ranker.n_items, -np.inf)
        comps = None
        if cand.size:
            if isinstance(self.ranker, FeatureRanker):
                comps = self.ranker.score_components([profile], cand)
                part = np.asarray(comps.get("bias", 0.0), dtype=np.float64) + sum(
                    np.asarray(comps[g], dtype=np.float64) for g in self.ranker.feature_groups
                )
                all_scores[cand] = np.broadcast_to(part, (1, cand.size))[0]
            else:
                all_scores[cand] = np.asarray(self.ranker.score([profile], cand), dtype=np.float64)[0]
        masked = all_scores.copy()
        pool = top_n(masked, max(n, self.config.diversity.pool) if lam < 1.0 else n)
        pool = pool[np.isfinite(masked[pool])]
        items = mmr_rerank(pool, masked[pool], self.similarity, n, lam) if lam < 1.0 else pool[:n]
        return items, all_scores[items], masked, comps, cand

    def __call__(
        self,
        profile: Profile,
        n: int = 10,
        *,
        candidates: np.ndarray | None = None,
        mmr_lambda: float | None = None,
        user_id: str | None = None,
    ) -> ExplainedRecommendations:
        """Top-``n`` for ``profile`` with evidence; see :func:`explain_recommendations`."""
        lam = self.config.diversity.mmr_lambda if mmr_lambda is None else mmr_lambda
        if profile.regime_size is None:  # coalitions and bootstrap samples keep the shown score's regime
            profile = dataclasses.replace(profile, regime_size=profile_size(profile))
        items, scores, masked, comps, background = self._select(profile, n, candidates, lam)
        if items.size == 0:  # every candidate is already in the history or excluded
            return ExplainedRecommendations(
                user_id=user_id, items=[], list_report=self.trust.list_report(profile, items, masked, []),
                history_method="none", max_additivity_error=0.0, feature_max_additivity_error=None, mmr_lambda=lam,
            )  # fmt: skip
        hist = self.shap.explain_history(profile, items, scores)
        feats = self.shap.explain_features(profile, items, comps, background=background)
        reports = self.trust.reports(profile, items, hist, n=n, candidate_scores=masked)
        list_report = self.trust.list_report(profile, items, masked, reports)
        ds = self.dataset
        evidence: list[Evidence] = []
        k_top = self.config.shap.top_history
        for r, i in enumerate(items):
            it = ds.items[int(i)]
            order = np.argsort(-np.abs(hist.values[r]), kind="stable")[:k_top]
            attributions = []
            for o in order:
                pos = int(hist.positions[o])
                h_it = ds.items[int(profile.history[pos])]
                attributions.append(
                    HistoryAttribution(
                        item_id=h_it.item_id, title=h_it.title, value=float(hist.values[r, o]),
                        session=bool(profile.weights[pos] > 1.0),
                    )
                )  # fmt: skip
            features = (
                {} if feats is None else {g: float(v) for g, v in zip(feats.groups, feats.values[r], strict=True)}
            )
            reports[r].basis = basis_words(
                attributions, features, reports[r].profile_size, getattr(self.ranker, "group_words", None)
            )
            evidence.append(
                Evidence(
                    item_id=it.item_id,
                    title=it.title,
                    year=it.year,
                    categories=list(it.categories),
                    score=float(scores[r]),
                    base_value=float(hist.base_values[r]),
                    history=attributions,
                    features=features,
                    feature_base_value=None if feats is None else float(feats.base_values[r]),
                    trust=reports[r],
                    popularity_rank=float(min(1.0, self.popularity_rank[int(i)])),
                )
            )
        return ExplainedRecommendations(
            user_id=user_id,
            items=evidence,
            list_report=list_report,
            history_method=hist.method,
            max_additivity_error=float(hist.additivity_error.max()) if items.size else 0.0,
            feature_max_additivity_error=None if feats is None else float(feats.additivity_error.max(initial=0.0)),
            mmr_lambda=lam,
        )


#: What each feature group means, in words (the trust report's ``basis``).
GROUP_WORDS: dict[str, str] = {
    "prior": "how popular it is overall",
    "popularity": "how popular it is",
    "collaborative": "what people with similar taste chose",
    "text": "how its text resembles what you liked",
    "attributes": "categories and years you like",
    "session": "your feedback in this chat",
    "two_tower": "the learned model of your taste",
}


def basis_words(
    history: Sequence[HistoryAttribution],
    features: dict[str, float],
    profile_size: int,
    words: dict[str, str] | None = None,
) -> list[str]:
    """What one recommendation rests on, strongest first: the top liked item, then positive feature groups.

    ``words`` overrides :data:`GROUP_WORDS` per group (a ranker's ``group_words``: what its groups mean).
    """
    names = {**GROUP_WORDS, **(words or {})}
    out: list[str] = []
    if profile_size == 0:
        out.append("nothing known about you yet")
    top = max((h for h in history if h.value > 0), key=lambda h: h.value, default=None)
    if top is not None and top.reference:
        out.append(f"your wish for something like {top.title}")
    elif top is not None:
        first = " (your first like)" if top.session and profile_size == 1 else ""
        out.append(f"your {'like of' if top.session else 'interest in'} {top.title}{first}")
    for g, v in sorted(features.items(), key=lambda kv: -kv[1]):
        if v > 0 and g in names and len(out) < 3:
            out.append(names[g])
    return out


def explain_recommendations(
    ranker: Ranker,
    dataset: Dataset,
    profile: Profile,
    n: int = 10,
    *,
    calibrator: Calibrator,
    item_counts: np.ndarray,
    config: ExplainConfig | None = None,
    candidates: np.ndarray | None = None,
    mmr_lambda: float | None = None,
    additive: bool | None = None,
    **kwargs: Any,
) -> ExplainedRecommendations:
    """Recommend ``n`` items for ``profile`` and explain each (the library entry point for the agent).

    Args:
        ranker: Deterministic ranker.
        dataset: The catalog.
        profile: History plus session feedback.
        n: List length.
        calibrator: Fitted on validation scores (see :mod:`ranker.calibration`).
        item_counts: Training interactions per item.
        config: Attribution, trust and diversity settings.
        candidates: Restrict to these item indices (e.g. retrieval output).
        mmr_lambda: Relevance weight for MMR (1 = plain ranking); default from config.
        additive: Override the ranker's ``additive_in_history`` declaration.
        **kwargs: Passed to :class:`RecommendationExplainer` (e.g. ``similarity``).

    Returns:
        :class:`ExplainedRecommendations`: ``.items`` is the ``list[Evidence]``, ``.list_report``
        the list-level metrics. For repeated calls build one :class:`RecommendationExplainer`.
    """
    explainer = RecommendationExplainer(ranker, dataset, calibrator, item_counts, config, additive=additive, **kwargs)
    return explainer(profile, n, candidates=candidates, mmr_lambda=mmr_lambda)
