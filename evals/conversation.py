"""Conversational evaluation with simulated users (InteRecAgent's Hit/AT, iEvaLM's attribute revealing).

Each simulated user is a real ml-100k user with a hidden **target**: one of their held-out *test*
items under the RO 8:1:1 split (``catalog.make_split(ds, "ro811")``), so the ranker never saw it
in that user's training history. The user chats with the real :class:`agent.recommender.Recommender`
under their own ``user_id`` and reveals the target's attributes one turn at a time, the way a
person would:

1. a genre of the target ("I'd like a sci-fi movie. Show me 10 movies."),
2. its decade ("Something from the 80s."),
3. a genre to leave out: the one most common among the shown items that the target lacks
   ("No romance, please."),
4. a reference title: a film the user rated highly that shares the most genres with the target
   ("Something like The Empire Strikes Back.") - never the target's own title,
5. a narrower period ("Preferably from the late 80s."), then "more like number k" for the shown
   item closest to the target, then "Show me other ones.".

After every reply the user checks whether the target is among the shown cards (success, the
episode ends). Otherwise they dislike the shown item furthest from the target (a real
:class:`catalog.FeedbackEvent` through ``Recommender.feedback``) and reveal the next attribute.
Success means the target was shown within ``max_turns`` (5) turns; average turns count a failure
as ``max_turns + 1`` (6), as InteRecAgent does. Everything is deterministic for a seed.

Protocol details that matter for comparisons:

* **List length.** The simulator asks for ``n`` items per turn (default 10, iEvaLM's Recall@10
  convention); the figure depends on it, so the result states ``n``. Run with ``n=5`` for a
  stricter, shorter list.
* **Held-out history.** While the evaluation runs, each simulated user's history in the engine
  is their interactions *minus* their test items (train + valid). The served engine uses every
  known interaction as history, and history items are never recommended, so without this the
  target could never be shown. The engine's histories are restored afterwards.
* **Explanations.** Which items are shown is decided by the ranker's selection
  (:meth:`ranker.explain.RecommendationExplainer.select`) before SHAP attributions, trust reports
  and explanation text are computed, so those do not change the lists. With
  ``explanations=False`` (the default) the evaluation swaps in a list-only explainer that runs the
  same selection and skips attributions and trust (about 8x faster per turn on 2 CPU cores);
  ``explanations=True`` runs the full turn. ``tests/test_evals_conversation.py`` checks that both
  show the same lists.
* **Side effects.** Sessions get fresh ids (``sim-<run_id>-<k>``); the feedback they store is
  marked consumed afterwards, so ``trustrec train --incremental`` does not learn from simulated users.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from catalog import FeedbackEvent, FeedbackKind, make_split
from catalog.errors import BadInput
from catalog.titles import display_title

if TYPE_CHECKING:
    from catalog.splits import Split
    from catalog.types import Dataset, Item

__all__ = [
    "Episode",
    "Move",
    "SimulatedUser",
    "SimulatorConfig",
    "TurnRecord",
    "display_title",
    "evaluate_conversations",
    "sample_cold_users",
    "sample_users",
]

MoveKind = Literal["genre", "decade", "exclude", "reference", "period", "more_like", "others", "onboarding"]
Cohort = Literal["warm", "cold", "both"]
PLAN: tuple[MoveKind, ...] = ("decade", "exclude", "reference", "period", "more_like", "others")
"""Moves after the opening genre, in the order a simulated user tries them (unavailable ones are skipped)."""


class SimulatorConfig(BaseModel):
    """How simulated users are drawn and how they talk."""

    n: int = Field(10, ge=1, le=50, description="Items asked for per turn ('Show me 10 movies').")
    max_turns: int = Field(5, ge=1, le=20, description="Turns before an episode counts as a failure.")
    min_target_rating: float = Field(
        4.0, description="Targets are test items the user rated at least this (users without one are not drawn)."
    )
    min_reference_rating: float = Field(4.0, description="Least rating of a history item used as 'something like X'.")
    genre_order: Literal["random", "specific"] = Field(
        "random",
        description="Which target genre the user names first: a random one (seeded) or the catalog's rarest one.",
    )
    dislike_far_item: bool = Field(
        True, description="After a miss, dislike the shown item furthest from the target (a real feedback event)."
    )
    dislike_max_similarity: float = Field(
        0.5, ge=0, le=1, description="Only dislike an item whose similarity to the target is below this."
    )
    onboarding_max_likes: int = Field(
        2,
        ge=1,
        le=5,
        description="New users: at most this many offered titles named as liked (the closest to the target).",
    )
    popularity_strata: int = Field(
        4, ge=1, le=20, description="New users: targets are drawn equally from this many training-count quantile bins."
    )


# ------------------------------------------------------------------------------------------ text helpers


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", display_title(text).lower()))


def _genre_word(category: str, domain: str | None = None) -> str:
    """How a person says the category (the domain file's ``spoken`` form, else lower case)."""
    from agent.understanding.lexicon import lexicon

    return lexicon(domain).spoken(category)


def _nouns(domain: str | None) -> tuple[str, str]:
    """The domain's reply nouns, singular and plural ("movie", "movies")."""
    from agent.understanding.lexicon import lexicon

    nouns = lexicon(domain).domain.reply_nouns.get("en", {})
    return nouns.get("one", "item"), nouns.get("many", "items")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _decade_phrase(year: int) -> str:
    d = year // 10 * 10
    return f"the {d % 100:02d}s" if 1900 <= d <= 1999 else f"the {d}s"


def _part_of_decade(year: int) -> str:
    r = year % 10
    return "early" if r <= 2 else ("mid" if r <= 5 else "late")


def _similarity(a: Item, b: Item) -> float:
    """Genre Jaccard, less a little per decade apart (how far a shown item is from the target)."""
    ca, cb = set(a.categories), set(b.categories)
    jac = len(ca & cb) / len(ca | cb) if ca | cb else 0.0
    if a.year is not None and b.year is not None:
        jac -= 0.05 * abs(a.year // 10 - b.year // 10)
    return jac


# ------------------------------------------------------------------------------------------ the simulated user


class Move(BaseModel):
    """What the simulated user says and does in one turn."""

    kind: MoveKind
    message: str
    revealed: dict[str, Any] = Field(default_factory=dict, description="The attribute this move reveals.")
    feedback: list[dict[str, str]] = Field(
        default_factory=list, description="Feedback events sent before the message: {item_id, title, kind}."
    )


@dataclass
class SimulatedUser:
    """A user with a hidden target who reveals its attributes turn by turn.

    Args:
        user_id: External user id (the chat runs under it).
        target: The hidden target item.
        references: History items the user rated highly that share genres with the target, best first.
        genres: The target's genres in the order the user names them.
        config: Simulator settings.
    """

    user_id: str
    target: Item
    references: list[Item]
    genres: list[str]
    config: SimulatorConfig
    excluded: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    cold: bool = False
    popularity: int | None = None
    stratum: int | None = None
    domain: str | None = None  # the catalog's name: its domain file says how categories and items are called

    @property
    def chat_user(self) -> str | None:
        """The user id the chat runs under: None for a new user (the system knows nothing about them)."""
        return None if self.cold else self.user_id

    def opening(self) -> Move:
        """Turn 1: a genre of the target and the list length."""
        g = self.genres[0]
        w = _genre_word(g, self.domain)
        n = self.config.n
        one, many = _nouns(self.domain)
        return Move(
            kind="genre", message=f"I'd like {_article(w)} {w} {one}. Show me {n} {many}.", revealed={"genre": g}
        )

    def react(self, cards: Sequence[Any], onboarding: Sequence[Any] = ()) -> Move | None:
        """The next move after a reply that missed the target (None when nothing is left to say).

        Args:
            cards: The reply's item cards (``item_id``, ``title``, ``categories``, ``year``).
            onboarding: Titles the reply offered to react to (``reply.onboarding``). A new user names
                the ones that share a genre with their target, closest first, as liked (that is
                what a person with that taste picks), or passes over the offer when none does.
        """
        fb = self._dislike(cards)
        if onboarding and "onboarding" not in self.done:
            self.done.add("onboarding")
            move = self._onboarding(onboarding)
            if move is not None:
                move.feedback = fb
                return move
        for kind in PLAN:
            if kind in self.done and kind != "others":
                continue
            move = self._move(kind, cards)
            if move is not None:
                self.done.add(kind)
                move.feedback = fb
                return move
        return None

    # ---------------------------------------------------------------- moves
    def _move(self, kind: MoveKind, cards: Sequence[Any]) -> Move | None:
        t = self.target
        if kind == "decade" and t.year is not None:
            return Move(
                kind=kind, message=f"Something from {_decade_phrase(t.year)}.", revealed={"decade": t.year // 10 * 10}
            )
        if kind == "exclude":
            counts = Counter(c for card in cards for c in card.categories)
            options = [
                (-k, g)
                for g, k in counts.items()
                if g not in t.categories and g not in self.excluded and g != "unknown"
            ]
            if not options:
                return None
            g = min(options)[1]
            self.excluded.append(g)
            return Move(kind=kind, message=f"No {_genre_word(g, self.domain)}, please.", revealed={"exclude": g})
        if kind == "reference" and self.references:
            ref = self.references[0]
            return Move(
                kind=kind,
                message=f"Something like {display_title(ref.title)}.",
                revealed={"reference": ref.item_id, "reference_title": ref.title},
            )
        if kind == "period" and t.year is not None:
            part = _part_of_decade(t.year)
            return Move(
                kind=kind,
                message=f"Preferably from the {part} {_decade_phrase(t.year)[4:]}.",
                revealed={"period": f"{part} {t.year // 10 * 10}s"},
            )
        if kind == "more_like" and cards:
            sims = [(_similarity(_ItemView.of(c), t), -c.position, c) for c in cards]
            best = max(sims, key=lambda x: (x[0], x[1]))
            if best[0] <= 0:
                return None
            card = best[2]
            return Move(kind=kind, message=f"More like number {card.position}.", revealed={"more_like": card.item_id})
        if kind == "others":
            return Move(kind=kind, message="Show me other ones.", revealed={})
        return None

    def _onboarding(self, offered: Sequence[Any]) -> Move | None:
        t = self.target
        mine = {c for c in t.categories if c != "unknown"}
        options = [
            (_similarity(_ItemView.of(o), t), -k, o)
            for k, o in enumerate(offered)
            # a person naming "Aliens" would give a target "Alien" away: such titles are never named
            if o.item_id != t.item_id and mine & set(o.categories) and t.title not in display_title(o.title)
        ]
        if not options:
            return None
        picks = sorted(options, key=lambda x: (x[0], x[1]), reverse=True)[: self.config.onboarding_max_likes]
        picks.sort(key=lambda x: -x[1])  # in the order they were offered
        names = [display_title(o.title) for _, _, o in picks]
        said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return Move(kind="onboarding", message=f"I liked {said}.", revealed={"liked": [o.item_id for _, _, o in picks]})

    def _dislike(self, cards: Sequence[Any]) -> list[dict[str, str]]:
        if not self.config.dislike_far_item or not cards:
            return []
        sims = [(_similarity(_ItemView.of(c), self.target), c.position, c) for c in cards]
        sim, _, card = min(sims, key=lambda x: (x[0], -x[1]))
        if sim >= self.config.dislike_max_similarity:
            return []
        return [{"item_id": card.item_id, "title": card.title, "kind": FeedbackKind.DISLIKE.value}]


@dataclass(frozen=True)
class _ItemView:
    """The parts of an item card the simulator compares (duck-typed like :class:`catalog.Item`)."""

    categories: tuple[str, ...]
    year: int | None

    @classmethod
    def of(cls, card: Any) -> Any:
        return cls(tuple(card.categories or ()), card.year)


# ------------------------------------------------------------------------------------------ drawing users


def _held_out_split(dataset: Dataset, engine: Any | None) -> Split:
    split = getattr(engine, "split", None)
    if engine is not None and split is not None and split.protocol == "ro811" and engine.dataset is dataset:
        return split
    seed = engine.config.seed if engine is not None else 2020
    return make_split(dataset, "ro811", seed=seed)


def sample_users(
    dataset: Dataset, split: Split, n_users: int, *, seed: int = 0, config: SimulatorConfig | None = None
) -> list[SimulatedUser]:
    """Draw simulated users and their hidden targets (deterministic for ``seed``).

    A user is eligible when one of their test items was rated at least ``min_target_rating`` and
    has genres and a year. The target is drawn among those; the reference titles come from the
    user's train + valid items rated at least ``min_reference_rating``, sharing genres with the
    target, never the target nor a title containing the target's (or contained in it).

    Returns:
        Up to ``n_users`` users, in draw order.
    """
    cfg = config or SimulatorConfig()
    rng = np.random.default_rng(seed)
    items = dataset.items
    cat_counts = Counter(c for it in items for c in it.categories)
    test = split.test
    good = test[(test["value"].fillna(0) >= cfg.min_target_rating)]
    by_user: dict[int, list[int]] = {}
    for u, i in zip(good["user_idx"].to_numpy(), good["item_idx"].to_numpy(), strict=True):
        it = items[int(i)]
        if it.year is not None and [c for c in it.categories if c != "unknown"]:
            by_user.setdefault(int(u), []).append(int(i))
    hist = pd.concat([split.train, split.valid])
    eligible = np.asarray(sorted(by_user), dtype=np.int64)
    order = rng.permutation(eligible)[: max(0, n_users)]
    out: list[SimulatedUser] = []
    for u in order.tolist():
        target = items[int(rng.choice(sorted(by_user[u])))]
        genres = [c for c in target.categories if c != "unknown"]
        if cfg.genre_order == "specific":
            genres.sort(key=lambda g: (cat_counts[g], g))
        else:
            genres = [genres[k] for k in rng.permutation(len(genres))]
        out.append(
            SimulatedUser(
                user_id=dataset.users[u].user_id,
                target=target,
                references=_references(items, hist, u, target, genres, cfg),
                genres=genres,
                config=cfg,
                domain=dataset.name,
            )
        )
    return out


def _references(
    items: Sequence[Item], hist: pd.DataFrame, u: int, target: Item, genres: list[str], cfg: SimulatorConfig
) -> list[Item]:
    """Up to 3 titles user ``u`` rated highly that share genres with the target (never the target)."""
    mine = hist[(hist["user_idx"] == u) & (hist["value"].fillna(0) >= cfg.min_reference_rating)]
    tn = _norm(target.title)
    refs: list[tuple[float, float, int, int]] = []
    for i, v in zip(mine["item_idx"].to_numpy(), mine["value"].to_numpy(), strict=True):
        it = items[int(i)]
        if it.item_id == target.item_id:
            continue
        rn = _norm(it.title)
        if not rn or rn in tn or tn in rn:
            continue
        sim = _similarity(it, target)
        if not set(it.categories) & set(genres):
            continue
        refs.append((-sim, -float(v), -int(it.rating.count), int(i)))
    refs.sort()
    return [items[r[3]] for r in refs[:3]]


def _genre_order(target: Item, cfg: SimulatorConfig, cat_counts: Counter[str], rng: np.random.Generator) -> list[str]:
    genres = [c for c in target.categories if c != "unknown"]
    if cfg.genre_order == "specific":
        return sorted(genres, key=lambda g: (cat_counts[g], g))
    return [genres[k] for k in rng.permutation(len(genres))]


def sample_cold_users(
    dataset: Dataset, split: Split, n_users: int, *, seed: int = 0, config: SimulatorConfig | None = None
) -> list[SimulatedUser]:
    """Draw new users (no history known to the system) with hidden targets across the popularity range.

    The pool is every RO 8:1:1 *test* interaction rated at least ``min_target_rating`` whose item has
    genres and a year: a title a real person liked. Its distinct items are cut into
    ``popularity_strata`` bins at the quantiles of their training-interaction counts, and targets
    are drawn in turn from each bin (so rarely rated titles are as common among targets as popular
    ones). The person behind a target is the real user who liked it; the chat knows nothing about
    them (``user_id`` None), but they talk like that person: the reference titles come from their
    own train + valid ratings, and they react to onboarding offers by taste (:meth:`SimulatedUser.react`).

    Returns:
        Up to ``n_users`` users, each with ``cold=True``, ``popularity`` (training count of the
        target) and ``stratum`` (0 = least popular bin).
    """
    cfg = config or SimulatorConfig()
    rng = np.random.default_rng(seed)
    items = dataset.items
    cat_counts = Counter(c for it in items for c in it.categories)
    counts = np.bincount(split.train["item_idx"].to_numpy().astype(np.int64), minlength=dataset.n_items)
    test = split.test
    good = test[(test["value"].fillna(0) >= cfg.min_target_rating)]
    pairs = [
        (int(u), int(i))
        for u, i in zip(good["user_idx"].to_numpy(), good["item_idx"].to_numpy(), strict=True)
        if items[int(i)].year is not None and [c for c in items[int(i)].categories if c != "unknown"]
    ]
    if not pairs:
        return []
    distinct = np.asarray(sorted({i for _, i in pairs}), dtype=np.int64)
    k = cfg.popularity_strata
    edges = np.quantile(counts[distinct], [j / k for j in range(1, k)]) if k > 1 else np.zeros(0)
    strata: list[list[tuple[int, int]]] = [[] for _ in range(k)]
    for u, i in pairs:
        strata[int(np.searchsorted(edges, counts[i], side="right"))].append((u, i))
    queues = [[bin_[j] for j in rng.permutation(len(bin_))] for bin_ in strata]
    hist = pd.concat([split.train, split.valid])
    out: list[SimulatedUser] = []
    seen: set[tuple[int, int]] = set()
    while len(out) < n_users and any(queues):
        for b, q in enumerate(queues):
            if len(out) >= n_users or not q:
                continue
            u, i = q.pop()
            if (u, i) in seen:
                continue
            seen.add((u, i))
            target = items[i]
            genres = _genre_order(target, cfg, cat_counts, rng)
            out.append(
                SimulatedUser(
                    user_id=dataset.users[u].user_id,
                    target=target,
                    references=_references(items, hist, u, target, genres, cfg),
                    genres=genres,
                    config=cfg,
                    cold=True,
                    popularity=int(counts[i]),
                    stratum=b,
                    domain=dataset.name,
                )
            )
    return out


def _median_popularity(split: Split, dataset: Dataset, cfg: SimulatorConfig) -> float:
    """Median training count of the distinct items new users' targets are drawn from."""
    counts = np.bincount(split.train["item_idx"].to_numpy().astype(np.int64), minlength=dataset.n_items)
    test = split.test
    good = test[(test["value"].fillna(0) >= cfg.min_target_rating)]
    items = dataset.items
    ids = sorted(
        {
            int(i)
            for i in good["item_idx"].to_numpy()
            if items[int(i)].year is not None and [c for c in items[int(i)].categories if c != "unknown"]
        }
    )
    return float(np.median(counts[ids])) if ids else math.nan


# ------------------------------------------------------------------------------------------ episodes


class TurnRecord(BaseModel):
    """One turn of an episode, as a summary."""

    turn: int
    move: MoveKind
    message: str
    feedback: list[dict[str, str]] = Field(default_factory=list)
    intent: str = ""
    constraints: dict[str, Any] = Field(default_factory=dict, description="Active constraints after the turn.")
    shown: list[str] = Field(default_factory=list, description="Item ids shown, in order.")
    target_position: int | None = Field(None, description="1-based position of the target among the cards, if shown.")
    target_rank: int | None = Field(
        None, description="Rank of the target by score among this turn's candidates (None: not a candidate)."
    )
    candidates: int | None = Field(None, description="Number of eligible candidates this turn.")
    writers: dict[str, int] = Field(default_factory=dict, description="Cards per explanation writer (llm, template).")
    seconds: float = 0.0


class Episode(BaseModel):
    """One simulated conversation."""

    user_id: str
    session_id: str
    target: dict[str, Any] = Field(description="item_id, title, year, categories of the hidden target.")
    success: bool
    turns: int = Field(description="Turns taken: the success turn, or max_turns + 1 on failure.")
    turns_used: int = Field(description="Turns actually played.")
    reference_understood: bool | None = Field(
        None, description="Whether the 'something like X' title was recognised (None: not said)."
    )
    target_fits_constraints: bool = Field(description="Whether the target satisfies the final active constraints.")
    transcript: list[TurnRecord]
    cold: bool = Field(False, description="A new user: the chat ran without a user id (no history).")
    target_popularity: int | None = Field(None, description="Training interactions of the target (new users).")
    stratum: int | None = Field(None, description="Popularity bin of the target, 0 = least popular (new users).")
    onboarding_offered: bool = Field(False, description="Whether a reply offered onboarding titles.")
    onboarding_liked: list[str] = Field(default_factory=list, description="Offered titles the user said they liked.")


def _fits(item: Item, c: dict[str, Any]) -> bool:
    cats = set(item.categories)
    inc = c.get("include_categories") or []
    if inc and not cats & set(inc):
        return False
    if cats & set(c.get("exclude_categories") or []):
        return False
    y = item.year
    if c.get("year_min") is not None and (y is None or y < c["year_min"]):
        return False
    return not (c.get("year_max") is not None and (y is None or y > c["year_max"]))


class _Probe:
    """Wraps the engine's explainer: records the target's rank per turn, optionally skips explanations.

    With ``explain=False`` a call runs the same selection as the real explainer and returns evidence
    without history attributions, feature attributions or trust reports (the list is unchanged).
    """

    def __init__(self, inner: Any, explain: bool) -> None:
        self.inner = inner
        self.explain = explain
        self.target: int | None = None
        self.last: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(
        self,
        profile: Any,
        n: int = 10,
        *,
        candidates: np.ndarray | None = None,
        mmr_lambda: float | None = None,
        user_id: str | None = None,
    ) -> Any:
        from ranker.evidence import Evidence
        from ranker.explain import ExplainedRecommendations

        inner = self.inner
        lam = inner.config.diversity.mmr_lambda if mmr_lambda is None else mmr_lambda
        items, scores, masked = inner.select(profile, n, candidates=candidates, mmr_lambda=lam)
        eligible = np.isfinite(masked)
        rank = None
        if self.target is not None and eligible[self.target]:
            rank = int(np.sum(masked[eligible] > masked[self.target])) + 1
        self.last = {"target_rank": rank, "candidates": int(eligible.sum()), "items": [int(i) for i in items]}
        if self.explain:
            out = inner(profile, n, candidates=candidates, mmr_lambda=lam, user_id=user_id)
            self.last["same_list"] = [int(inner.dataset.item_index[e.item_id]) for e in out.items] == self.last["items"]
            return out
        ds = inner.dataset
        evidence = [
            Evidence(
                item_id=ds.items[int(i)].item_id,
                title=ds.items[int(i)].title,
                year=ds.items[int(i)].year,
                categories=list(ds.items[int(i)].categories),
                score=float(s),
                base_value=0.0,
            )
            for i, s in zip(items, scores, strict=True)
        ]
        return ExplainedRecommendations(
            user_id=user_id,
            items=evidence,
            list_report=inner.trust.list_report(profile, items, masked, None),
            history_method="skipped",
            max_additivity_error=0.0,
            mmr_lambda=lam,
        )


@contextmanager
def _evaluation_view(engine: Any, split: Split, users: Sequence[int], probe: _Probe) -> Iterator[None]:
    """Hide the simulated users' test items from their histories and install the probe; restore after."""
    test_by_user: dict[int, set[int]] = {}
    for u, i in zip(split.test["user_idx"].to_numpy(), split.test["item_idx"].to_numpy(), strict=True):
        test_by_user.setdefault(int(u), set()).add(int(i))
    with engine.lock:
        old_hist, old_expl = engine.histories, engine.explainer
        new = list(old_hist)
        for u in users:
            held = test_by_user.get(u, set())
            h = np.asarray(old_hist[u])
            new[u] = h[~np.isin(h, list(held))] if held else h
        engine.histories, engine.explainer = new, probe
    try:
        yield
    finally:
        with engine.lock:
            engine.histories, engine.explainer = old_hist, old_expl


def _play(rec: Any, sim: SimulatedUser, session_id: str, probe: _Probe, max_turns: int, engine: Any) -> Episode:
    target = sim.target
    probe.target = engine.dataset.item_index[target.item_id]
    transcript: list[TurnRecord] = []
    move: Move | None = sim.opening()
    success_turn: int | None = None
    ref_understood: bool | None = None
    constraints: dict[str, Any] = {}
    offered = False
    liked: list[str] = []
    for turn in range(1, max_turns + 1):
        if move is None:
            break
        if move.kind == "onboarding":
            liked = list(move.revealed.get("liked", []))
        for k, fb in enumerate(move.feedback):
            rec.feedback(
                FeedbackEvent(
                    event_id=f"{session_id}:sim:{turn}:{k}",
                    session_id=session_id,
                    user_id=sim.chat_user,
                    item_id=fb["item_id"],
                    kind=FeedbackKind(fb["kind"]),
                )
            )
        assert target.title not in move.message  # the simulator never leaks the target
        probe.last = {}
        t0 = time.perf_counter()
        reply = rec.chat(session_id, move.message, user_id=sim.chat_user)
        offered = offered or bool(getattr(reply, "onboarding", None))
        dt = time.perf_counter() - t0
        shown = [c.item_id for c in reply.cards]
        pos = shown.index(target.item_id) + 1 if target.item_id in shown else None
        constraints = dict(reply.constraints)
        if move.kind == "reference":
            # by title: ml-100k lists a few titles twice under two ids (e.g. Desperate Measures)
            said = _norm(move.revealed["reference_title"])
            got = [engine.dataset.item_index.get(i) for i in constraints.get("reference_item_ids") or []]
            ref_understood = any(i is not None and _norm(engine.dataset.items[i].title) == said for i in got)
        transcript.append(
            TurnRecord(
                turn=turn, move=move.kind, message=move.message, feedback=move.feedback, intent=reply.intent,
                constraints=constraints, shown=shown, target_position=pos,
                target_rank=probe.last.get("target_rank"), candidates=probe.last.get("candidates"),
                writers=dict(Counter(str(c.writer) for c in reply.cards)), seconds=round(dt, 3),
            )
        )  # fmt: skip
        if pos is not None:
            success_turn = turn
            break
        move = sim.react(reply.cards, getattr(reply, "onboarding", None) or ())
    ok = success_turn is not None
    return Episode(
        user_id=f"new:{sim.user_id}" if sim.cold else sim.user_id,
        session_id=session_id,
        target={"item_id": target.item_id, "title": target.title, "year": target.year,
                "categories": list(target.categories)},
        success=ok,
        turns=success_turn if success_turn is not None else max_turns + 1,
        turns_used=len(transcript),
        reference_understood=ref_understood,
        target_fits_constraints=_fits(target, constraints),
        transcript=transcript,
        cold=sim.cold,
        target_popularity=sim.popularity,
        stratum=sim.stratum,
        onboarding_offered=offered,
        onboarding_liked=liked,
    )  # fmt: skip


def evaluate_conversations(
    recommender: Any,
    dataset: Dataset | None = None,
    n_users: int = 200,
    max_turns: int = 5,
    seed: int = 0,
    n: int = 10,
    *,
    explanations: bool = False,
    config: SimulatorConfig | None = None,
    progress: Callable[[int, int, Episode], None] | None = None,
    cohort: Cohort = "warm",
) -> dict[str, Any]:
    """Run simulated users against ``recommender`` and measure success within ``max_turns`` turns.

    Args:
        recommender: An :class:`agent.recommender.Recommender` (guided mode).
        dataset: The recommender's catalog (default: ``recommender.engine.dataset``); another
            dataset object is accepted only if it has the same item ids.
        n_users: Simulated users to draw.
        max_turns: Turns before an episode fails (failures count as ``max_turns + 1`` turns).
        seed: Seed of the user and target draw (the run is deterministic for a seed).
        n: Items asked for per turn.
        explanations: Run the full turn (SHAP attributions, trust reports) instead of the list-only
            explainer; the shown lists are the same, only slower.
        config: Simulator settings (``n`` and ``max_turns`` above override it).
        progress: Called after each episode with ``(done, total, episode)``.
        cohort: ``"warm"`` (ml-100k users chatting under their id, the default), ``"cold"`` (new
            users, :func:`sample_cold_users`) or ``"both"`` (warm figures at the top level and the
            new users' under ``cold_start``).

    Returns:
        ``success_rate``, ``average_turns``, ``success_by_turn`` (cumulative share per turn),
        ``n``, ``max_turns``, ``users``, ``seed``, ``protocol``, ``explanations``, diagnostics
        (``reference_understood_rate``, ``failures_target_fits_constraints``,
        ``failures_target_not_candidate``, ``turn_seconds_p50``), ``episodes`` (per user: target,
        turns, success, transcript summary), ``run_id``, ``seconds`` and ``cohort``. New users'
        figures add ``long_tail`` / ``head`` (targets below / at or above the median training count
        of the target pool, also flat as ``long_tail_success_rate`` ...), ``by_stratum``,
        ``popularity_median`` and ``onboarding_offered_rate`` / ``onboarding_answered_rate``.

    Raises:
        ValueError: ``dataset`` does not match the recommender's catalog, or no user is eligible.
    """
    t_start = time.perf_counter()
    cfg = (config or SimulatorConfig()).model_copy(update={"n": n, "max_turns": max_turns})
    engine = recommender.engine
    ds = engine.dataset
    if dataset is not None and [it.item_id for it in dataset.items] != [it.item_id for it in ds.items]:
        raise ValueError("dataset differs from the recommender's catalog; pass recommender.engine.dataset")
    if cohort not in ("warm", "cold", "both"):
        raise BadInput(f"cohort must be warm, cold or both, not {cohort!r}")
    split = _held_out_split(ds, engine)
    sims = sample_users(ds, split, n_users, seed=seed, config=cfg) if cohort != "cold" else []
    cold_sims = sample_cold_users(ds, split, n_users, seed=seed, config=cfg) if cohort != "warm" else []
    if (cohort != "cold" and not sims) or (cohort != "warm" and not cold_sims):
        raise ValueError("no user has a test item to use as a target; check the dataset and min_target_rating")
    run_id = uuid.uuid4().hex[:10]
    probe = _Probe(engine.explainer, explanations)
    total = len(sims) + len(cold_sims)
    played: list[Episode] = []

    def run(group: list[SimulatedUser], tag: str) -> list[Episode]:
        episodes: list[Episode] = []
        uidx = [ds.user_index[s.user_id] for s in group if not s.cold]
        with _evaluation_view(engine, split, uidx, probe):
            for k, sim in enumerate(group):
                ep = _play(recommender, sim, f"sim-{run_id}-{tag}{k}", probe, cfg.max_turns, engine)
                episodes.append(ep)
                played.append(ep)
                _consume_feedback(engine, ep.session_id)
                if progress is not None:
                    progress(len(played), total, ep)
        return episodes

    warm_eps = run(sims, "")
    cold_eps = run(cold_sims, "new")
    secs = time.perf_counter() - t_start
    cold = None
    if cohort != "warm":
        median = _median_popularity(split, ds, cfg)
        cold = summarize_cold(cold_eps, cfg, median, seed=seed, explanations=explanations, run_id=run_id, seconds=secs)
    if cohort == "cold":
        assert cold is not None
        return cold
    out = summarize(warm_eps, cfg, seed=seed, explanations=explanations, run_id=run_id, seconds=secs)
    out["cohort"] = cohort
    if cold is not None:
        out["cold_start"] = cold
    return out


def _consume_feedback(engine: Any, session_id: str) -> None:
    """Mark the simulated session's stored feedback consumed, so incremental training skips it."""
    events = engine.store.feedback(session_id=session_id)
    if events:
        engine.store.mark_consumed([e.event_id for e in events])


def summarize(
    episodes: Sequence[Episode], config: SimulatorConfig, *, seed: int, explanations: bool, run_id: str, seconds: float
) -> dict[str, Any]:
    """The figures of a set of episodes (see :func:`evaluate_conversations` for the keys)."""
    m = config.max_turns
    total = len(episodes)
    wins = [e for e in episodes if e.success]
    fails = [e for e in episodes if not e.success]
    by_turn = [sum(1 for e in wins if e.turns <= k) / total for k in range(1, m + 1)] if total else []
    refs = [e.reference_understood for e in episodes if e.reference_understood is not None]
    times = [t.seconds for e in episodes for t in e.transcript]
    not_cand = sum(1 for e in fails if e.transcript and e.transcript[-1].target_rank is None)
    return {
        "success_rate": len(wins) / total if total else math.nan,
        "average_turns": float(np.mean([e.turns for e in episodes])) if total else math.nan,
        "success_by_turn": by_turn,
        "n": config.n,
        "max_turns": m,
        "users": total,
        "seed": seed,
        "protocol": f"ro811 test item as hidden target; attribute-revealing simulator; failure counts as {m + 1} turns",
        "explanations": explanations,
        "genre_order": config.genre_order,
        "reference_understood_rate": float(np.mean(refs)) if refs else math.nan,
        "failures": len(fails),
        "failures_target_fits_constraints": sum(1 for e in fails if e.target_fits_constraints),
        "failures_target_not_candidate": not_cand,
        "failures_median_final_rank": float(
            np.median([r for r in (e.transcript[-1].target_rank for e in fails if e.transcript) if r is not None])
        )
        if any(e.transcript and e.transcript[-1].target_rank is not None for e in fails)
        else math.nan,
        "turn_seconds_p50": float(np.median(times)) if times else math.nan,
        "moves": dict(Counter(t.move for e in episodes for t in e.transcript)),
        "success_by_move": dict(Counter(e.transcript[-1].move for e in wins if e.transcript)),
        "run_id": run_id,
        "seconds": round(seconds, 2),
        "episodes": [e.model_dump(mode="json") for e in episodes],
    }


def _group(episodes: Sequence[Episode]) -> dict[str, Any]:
    n = len(episodes)
    return {
        "users": n,
        "success_rate": sum(e.success for e in episodes) / n if n else math.nan,
        "average_turns": float(np.mean([e.turns for e in episodes])) if n else math.nan,
    }


def summarize_cold(
    episodes: Sequence[Episode],
    config: SimulatorConfig,
    median_popularity: float,
    *,
    seed: int,
    explanations: bool,
    run_id: str,
    seconds: float,
) -> dict[str, Any]:
    """:func:`summarize` for new users, plus the long-tail half, the popularity bins and onboarding."""
    out = summarize(episodes, config, seed=seed, explanations=explanations, run_id=run_id, seconds=seconds)
    m = config.max_turns
    tail = [e for e in episodes if e.target_popularity is not None and e.target_popularity < median_popularity]
    head = [e for e in episodes if e.target_popularity is not None and e.target_popularity >= median_popularity]
    by_stratum = []
    for b in sorted({e.stratum for e in episodes if e.stratum is not None}):
        eps = [e for e in episodes if e.stratum == b]
        pops = [e.target_popularity for e in eps if e.target_popularity is not None]
        by_stratum.append({"stratum": b, "popularity_min": min(pops), "popularity_max": max(pops), **_group(eps)})
    n = len(episodes)
    lt, hd = _group(tail), _group(head)
    out.update(
        {
            "cohort": "cold",
            "protocol": (
                f"new users (no user id, no history); hidden targets: ro811 test items rated >= "
                f"{config.min_target_rating:g}, drawn equally from {config.popularity_strata} training-count "
                f"quantile bins; attribute-revealing simulator that answers onboarding by genre; "
                f"failure counts as {m + 1} turns"
            ),
            "popularity_median": median_popularity,
            "long_tail": lt,
            "head": hd,
            "long_tail_users": lt["users"],
            "long_tail_success_rate": lt["success_rate"],
            "long_tail_average_turns": lt["average_turns"],
            "head_success_rate": hd["success_rate"],
            "head_average_turns": hd["average_turns"],
            "by_stratum": by_stratum,
            "onboarding_offered_rate": sum(e.onboarding_offered for e in episodes) / n if n else math.nan,
            "onboarding_answered_rate": sum(bool(e.onboarding_liked) for e in episodes) / n if n else math.nan,
        }
    )
    return out
