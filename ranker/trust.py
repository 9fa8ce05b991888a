"""Trust reports per recommended item and list-level metrics.

Per item (:class:`ranker.evidence.TrustReport`):

- ``confidence`` = calibrated probability of relevance, ``p = calibrator(score)`` (see
  :mod:`ranker.calibration`; fitted on validation data).
- ``uncertainty`` = standard deviation of the item's score over ``n_samples`` perturbed scorings:
  MC dropout when the ranker offers ``score_samples(profiles, items, n_samples, seed)``, otherwise a
  bootstrap over the history (entries resampled with replacement; multiplicities become weights).
  From the same samples, ``stability`` = share of samples in which the item stays in the top-``n``
  (among the ``stability_pool`` strongest candidates and the list itself).
- ``user_support`` / ``item_support`` = interactions of the user (distinct history items) and of
  the item (training data); ``cold_start`` when either is below ``cold_start_min`` (default 5).
- ``fidelity`` = ``d_top - d_rand`` in score units, where ``d_top`` is the score drop when the
  top-3 attributed history entries are removed and ``d_rand`` the mean drop over
  ``fidelity_random_draws`` removals of 3 random history entries (drawn from the whole history).

Composite trust, in [0, 1], a weighted mean of four terms each in [0, 1]::

    composite = (w_c * confidence + w_s * stability + w_u * support + w_f * fidelity_n) / (w_c + w_s + w_u + w_f)

    support    = min(s(user_support), s(item_support)),  s(x) = min(1, log(1 + x) / log(1 + support_saturation))
    fidelity_n = clip((d_top - d_rand) / max(|d_top|, |d_rand|, eps), 0, 1)

with default weights ``w_c = 0.4, w_s = 0.2, w_u = 0.2, w_f = 0.2`` and ``support_saturation = 50``.
The four terms are reported in ``TrustReport.components``.

Per list (:class:`ListReport`): intra-list diversity and novelty (:mod:`ranker.diversity`), the
expected utility ``sum p`` of the shown list, the best achievable ``sum p`` over the same number of
eligible items, and ``regret`` = their difference (expected relevant items given up against the best
alternative list, from calibrated probabilities), plus the best item not shown.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field

from ranker.base import Profile, Ranker, profile_size, top_n
from ranker.calibration import Calibrator
from ranker.diversity import ItemSimilarity, intra_list_diversity, novelty
from ranker.evidence import HistoryExplanation, TrustReport


class TrustConfig(BaseModel):
    """Trust-report settings; the composite's formula is in the module docstring."""

    cold_start_min: int = Field(5, ge=0, description="Fewer interactions than this (user or item) = cold start.")
    support_saturation: int = Field(50, ge=1, description="Interactions at which the support term reaches 1.")
    n_samples: int = Field(16, ge=2, description="Bootstrap / MC-dropout samples for uncertainty and stability.")
    stability_pool: int = Field(100, ge=1, description="Top candidates among which top-n stability is measured.")
    fidelity_k: int = Field(3, ge=1, description="History entries removed in the fidelity test.")
    fidelity_random_draws: int = Field(5, ge=1, description="Random removals averaged for the fidelity baseline.")
    weight_confidence: float = Field(0.4, ge=0, description="Weight of the calibrated probability.")
    weight_stability: float = Field(0.2, ge=0, description="Weight of top-n stability under perturbation.")
    weight_support: float = Field(0.2, ge=0, description="Weight of the data-support term.")
    weight_fidelity: float = Field(0.2, ge=0, description="Weight of the normalised explanation fidelity.")
    seed: int = Field(0, description="Seed for bootstrap and random removals.")


class ListReport(BaseModel):
    """List-level metrics of one recommended list."""

    n: int = Field(ge=0, description="List length.")
    intra_list_diversity: float = Field(description="1 - mean pairwise similarity of the list's items.")
    similarity: str = Field(description="Similarity behind the diversity: 'jaccard' (categories) or 'cosine'.")
    novelty: float = Field(description="Mean -log2 share of users who interacted with each item.")
    expected_utility: float = Field(ge=0, description="Sum of calibrated probabilities of the shown items.")
    best_utility: float = Field(ge=0, description="Largest achievable sum over the same number of eligible items.")
    regret: float = Field(ge=0, description="best_utility - expected_utility.")
    best_alternative_item_id: str | None = Field(None, description="Most probable eligible item not shown.")
    best_alternative_confidence: float = Field(0.0, ge=0, le=1, description="Its calibrated probability.")
    mean_trust: float = Field(0.0, ge=0, le=1, description="Mean composite trust of the list.")


class TrustScorer:
    """Computes trust reports and list reports for one ranker.

    Args:
        ranker: The ranker (deterministic ``score``; ``score_samples`` used for MC dropout if present).
        calibrator: Score-to-probability map.
        item_counts: Training interactions per item.
        n_users: Users in the training data (novelty's denominator).
        config: Settings.
        similarity: Item similarity for diversity (None disables ILD: reported as 0).
        item_ids: External item ids, for the best alternative's id (default: the index as text).
    """

    def __init__(
        self,
        ranker: Ranker,
        calibrator: Calibrator,
        item_counts: np.ndarray,
        n_users: int,
        config: TrustConfig | None = None,
        *,
        similarity: ItemSimilarity | None = None,
        item_ids: list[str] | None = None,
    ) -> None:
        self.ranker = ranker
        self.calibrator = calibrator
        self.item_counts = np.asarray(item_counts, dtype=np.int64)
        self.n_users = n_users
        self.config = config or TrustConfig()
        self.similarity = similarity
        self.item_ids = item_ids

    # ------------------------------------------------------------------ components

    def _bootstrap_profiles(self, profile: Profile, n_samples: int) -> list[Profile]:
        rng = np.random.default_rng(self.config.seed)
        h = profile.history.size
        if h == 0:
            return [profile] * n_samples
        out = []
        for _ in range(n_samples):
            counts = np.bincount(rng.integers(0, h, size=h), minlength=h)
            keep = np.flatnonzero(counts)
            out.append(
                Profile(
                    profile.history[keep],
                    profile.weights[keep] * counts[keep],
                    profile.user_idx,
                    profile.exclude,
                    profile.regime_size,
                )
            )
        return out

    def _fidelity_profiles(self, profile: Profile, hist: HistoryExplanation) -> list[Profile]:
        k = self.config.fidelity_k
        h = profile.history.size
        if h == 0 or hist.items.size == 0:
            return []
        rng = np.random.default_rng(self.config.seed + 1)
        draws = [rng.choice(h, size=min(k, h), replace=False) for _ in range(self.config.fidelity_random_draws)]
        tops = [hist.top_positions(r, k) for r in range(hist.items.size)]
        return [profile.without(t) for t in tops] + [profile.without(d) for d in draws]

    def perturbed(
        self, profile: Profile, hist: HistoryExplanation, pool: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores on ``pool`` (sorted, holding every explained item) under perturbation ``(n_samples, len(pool))`` and the fidelity drops.

        One ranker call scores the bootstrap resamples and the fidelity profiles together; a ranker
        with ``score_samples(profiles, items, n_samples=, seed=)`` (MC dropout) supplies the samples.

        Returns:
            ``(samples, d_top, d_rand)``; the drops are per item of ``hist.items``.
        """
        s = self.config.n_samples
        fid = self._fidelity_profiles(profile, hist)
        sampler = getattr(self.ranker, "score_samples", None)
        use_sampler = callable(sampler)
        boot = [] if use_sampler else self._bootstrap_profiles(profile, s)
        out = (
            np.asarray(self.ranker.score(boot + fid, pool), dtype=np.float64)
            if boot or fid
            else np.zeros((0, pool.size))
        )
        if use_sampler:
            assert sampler is not None
            samples = np.asarray(sampler([profile], pool, n_samples=s, seed=self.config.seed), dtype=np.float64)[
                :, 0, :
            ]
        else:
            samples = out[:s]
        k = hist.items.size
        if not fid:
            return samples, np.zeros(k), np.zeros(k)
        f = out[len(boot) :]
        col = np.searchsorted(pool, hist.items)  # pool is sorted and holds every item
        at_items = f[:, col]  # (k + draws, k)
        d_top = hist.scores - at_items[np.arange(k), np.arange(k)]
        d_rand = (hist.scores[None, :] - at_items[k:]).mean(axis=0)
        return samples, d_top, d_rand

    def calibrator_for(self, profile: Profile) -> Calibrator:
        """The calibrator of this profile's size bucket when the calibrator has buckets
        (:class:`ranker.coldstart.SizeAwareCalibrator`), else the one calibrator."""
        pick = getattr(self.calibrator, "for_profile", None)
        return pick(profile) if callable(pick) else self.calibrator

    def support(self, n_interactions: int) -> float:
        sat = self.config.support_saturation
        return float(min(1.0, math.log1p(max(n_interactions, 0)) / math.log1p(sat)))

    def reports(
        self,
        profile: Profile,
        items: np.ndarray,
        hist: HistoryExplanation,
        *,
        n: int | None = None,
        candidate_scores: np.ndarray | None = None,
    ) -> list[TrustReport]:
        """One :class:`TrustReport` per item of ``hist.items`` (the explained list).

        Args:
            profile: The scored profile.
            items: The list (same order as ``hist.items``).
            hist: Its history attributions (for the fidelity test).
            n: List length for the stability test (default ``len(items)``).
            candidate_scores: All-item scores with ineligible items at ``-inf`` (restricts the
                stability test to the same candidates); default: every unseen item is eligible.
        """
        items = np.asarray(items, dtype=np.int64)
        cfg = self.config
        n = n or items.size
        if candidate_scores is None:
            candidate_scores = np.asarray(self.ranker.score([profile], None), dtype=np.float64)[0]
        eligible = np.asarray(candidate_scores, dtype=np.float64).copy()
        eligible[np.concatenate([profile.history, profile.exclude])] = -np.inf
        # stability is measured among the strongest candidates: items far down rarely enter a top-n
        pool = np.union1d(items, top_n(eligible, cfg.stability_pool))
        samples, d_top, d_rand = self.perturbed(profile, hist, pool)
        retained = np.zeros(items.size)
        for row in samples:
            retained += np.isin(items, pool[top_n(row, n)])
        stability = retained / max(samples.shape[0], 1)
        col = np.searchsorted(pool, items)
        std = samples[:, col].std(axis=0) if samples.size else np.zeros(items.size)
        probs = np.clip(self.calibrator_for(profile).predict(hist.scores), 0.0, 1.0)
        user_n = int(np.unique(profile.history).size)
        s_user = self.support(user_n)
        wsum = cfg.weight_confidence + cfg.weight_stability + cfg.weight_support + cfg.weight_fidelity
        if wsum <= 0:
            raise ValueError("trust weights sum to zero; give at least one component a positive weight")
        out = []
        for r, i in enumerate(items):
            item_n = int(self.item_counts[i])
            support = min(s_user, self.support(item_n))
            denom = max(abs(d_top[r]), abs(d_rand[r]), 1e-9)
            fid_n = float(np.clip((d_top[r] - d_rand[r]) / denom, 0.0, 1.0))
            comps = {
                "confidence": float(probs[r]),
                "stability": float(stability[r]),
                "support": float(support),
                "fidelity": fid_n,
            }
            composite = (
                cfg.weight_confidence * comps["confidence"]
                + cfg.weight_stability * comps["stability"]
                + cfg.weight_support * comps["support"]
                + cfg.weight_fidelity * comps["fidelity"]
            ) / wsum
            out.append(
                TrustReport(
                    confidence=float(probs[r]),
                    uncertainty=float(std[r]),
                    user_support=user_n,
                    item_support=item_n,
                    cold_start=bool(user_n < cfg.cold_start_min or item_n < cfg.cold_start_min),
                    fidelity=float(d_top[r] - d_rand[r]),
                    composite=float(np.clip(composite, 0.0, 1.0)),
                    components=comps,
                    profile_size=profile_size(profile),
                )
            )
        return out

    def list_report(
        self, profile: Profile, items: np.ndarray, candidate_scores: np.ndarray, trust: list[TrustReport] | None = None
    ) -> ListReport:
        """List-level metrics; ``candidate_scores`` are all-item scores, ineligible items ``-inf``."""
        items = np.asarray(items, dtype=np.int64)
        s = np.asarray(candidate_scores, dtype=np.float64).copy()
        banned = np.concatenate([profile.history, profile.exclude]).astype(np.int64)
        s[banned] = -np.inf
        eligible = np.isfinite(s)
        p = np.zeros(s.size)
        p[eligible] = np.clip(self.calibrator_for(profile).predict(s[eligible]), 0.0, 1.0)
        shown_p = p[items] if items.size else np.zeros(0)
        best_items = top_n(np.where(eligible, p, -np.inf), items.size)
        best = float(p[best_items].sum()) if best_items.size else 0.0
        rest = np.where(eligible, p, -np.inf)
        rest[items] = -np.inf
        alt = int(np.argmax(rest)) if np.isfinite(rest).any() else None
        utility = float(shown_p.sum())
        return ListReport(
            n=int(items.size),
            intra_list_diversity=intra_list_diversity(items, self.similarity) if self.similarity else 0.0,
            similarity=self.similarity.kind if self.similarity else "none",
            novelty=novelty(items, self.item_counts, self.n_users),
            expected_utility=utility,
            best_utility=max(best, utility),
            regret=max(0.0, best - utility),
            best_alternative_item_id=None
            if alt is None
            else (self.item_ids[alt] if self.item_ids is not None else str(alt)),
            best_alternative_confidence=0.0 if alt is None else float(p[alt]),
            mean_trust=float(np.mean([t.composite for t in trust])) if trust else 0.0,
        )
