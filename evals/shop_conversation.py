"""The conversation simulator for shop catalogs: a shopper with a hidden target product.

The MovieLens simulator (:mod:`evals.conversation`) reveals genres, decades and reference titles; a
shopper reveals what shoppers say. Each simulated shopper is a catalog user with a hidden **target**:
one of their held-out RO 8:1:1 *test* items (any behaviour: a view, a cart, a purchase or a rating), so
the ranker never saw it in their history. They chat with the real :class:`agent.recommender.Recommender`
and reveal, one turn at a time:

1. the target's category ("I'm looking for backpacks. Show me 10 products."),
2. its price band ("Between $40 and $60."), a band around the target's price,
3. its brand ("From Trekka."),
4. a feature word of the target that the catalog's vocabulary knows ("Something waterproof."),
5. "more like number k" for the shown product closest to the target, then "Show me other ones.".

After a miss the shopper dislikes the shown product furthest from the target (a real feedback event),
as the MovieLens simulator does. Success is the target shown within ``max_turns`` (5) turns; a failure
counts as ``max_turns + 1`` turns. Every shown card is checked against what the shopper has revealed so
far: its category, brand and price must honour them, and each card that does not is a **violation**,
counted and listed (``violations``). New shoppers (``cohort="cold"``) chat without a user id: the system
knows nothing about them.

Held-out histories, the list-only explainer and the marking of simulated feedback as consumed are
shared with :mod:`evals.conversation`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from catalog import FeedbackEvent, FeedbackKind
from catalog.errors import BadInput
from evals.conversation import Cohort, _consume_feedback, _evaluation_view, _held_out_split, _Probe

if TYPE_CHECKING:
    from agent.understanding import CatalogVocab
    from catalog.splits import Split
    from catalog.types import Dataset, Item

__all__ = [
    "ShopEpisode",
    "ShopMove",
    "ShopSimulatorConfig",
    "Shopper",
    "evaluate_shop_conversations",
    "sample_shoppers",
]

ShopMoveKind = Literal["category", "price", "brand", "feature", "more_like", "others"]
SHOP_PLAN: tuple[ShopMoveKind, ...] = ("price", "brand", "feature", "more_like", "others")
"""Moves after the opening category, in order (unavailable ones are skipped)."""


class ShopSimulatorConfig(BaseModel):
    """How simulated shoppers are drawn and how they talk."""

    n: int = Field(10, ge=1, le=50, description="Products asked for per turn.")
    max_turns: int = Field(5, ge=1, le=20, description="Turns before an episode counts as a failure.")
    band: float = Field(
        0.2, gt=0, lt=1, description="Price band the shopper names: the target's price +- this share, rounded out."
    )
    dislike_far_item: bool = Field(
        True, description="After a miss, dislike the shown product furthest from the target."
    )


def _money(v: float) -> str:
    return f"${v:,.0f}"


def _band(price: float, share: float) -> tuple[float, float]:
    """A round price band around ``price`` that holds it: to $5 below $100, to $10 above."""
    step = 5.0 if price < 100 else 10.0
    lo = math.floor(price * (1 - share) / step) * step
    hi = math.ceil(price * (1 + share) / step) * step
    return max(0.0, lo), max(hi, step)


def _closeness(a: Any, t: Item) -> float:
    """How close a shown card is to the target: same category, brand, and price ratio."""
    s = 1.0 if set(a.categories) & set(t.categories) else 0.0
    if a.brand and t.brand and a.brand == t.brand:
        s += 0.5
    if a.price is not None and t.price:
        s += 0.5 * max(0.0, 1.0 - abs(a.price - t.price) / t.price)
    return s


class ShopMove(BaseModel):
    """What the shopper says and does in one turn."""

    kind: ShopMoveKind
    message: str
    revealed: dict[str, Any] = Field(default_factory=dict)
    feedback: list[dict[str, str]] = Field(default_factory=list)


@dataclass
class Shopper:
    """A shopper with a hidden target who reveals its category, price band, brand and a feature word."""

    user_id: str
    target: Item
    category: str
    feature: str | None
    config: ShopSimulatorConfig
    cold: bool = False
    done: set[str] = field(default_factory=set)
    revealed: dict[str, Any] = field(default_factory=dict)

    @property
    def chat_user(self) -> str | None:
        return None if self.cold else self.user_id

    def opening(self) -> ShopMove:
        self.revealed["category"] = self.category
        return ShopMove(
            kind="category",
            message=f"I'm looking for {self.category.lower()}. Show me {self.config.n} products.",
            revealed={"category": self.category},
        )

    def react(self, cards: Sequence[Any]) -> ShopMove | None:
        fb = self._dislike(cards)
        for kind in SHOP_PLAN:
            if kind in self.done and kind != "others":
                continue
            move = self._move(kind, cards)
            if move is not None:
                self.done.add(kind)
                self.revealed.update(move.revealed)
                move.feedback = fb
                return move
        return None

    def _move(self, kind: ShopMoveKind, cards: Sequence[Any]) -> ShopMove | None:
        t = self.target
        if kind == "price" and t.price is not None:
            lo, hi = _band(t.price, self.config.band)
            return ShopMove(
                kind=kind,
                message=f"Between {_money(lo)} and {_money(hi)}.",
                revealed={"price_min": lo, "price_max": hi},
            )
        if kind == "brand" and t.brand:
            return ShopMove(kind=kind, message=f"From {t.brand}.", revealed={"brand": t.brand})
        if kind == "feature" and self.feature:
            return ShopMove(kind=kind, message=f"Something {self.feature.lower()}.", revealed={"feature": self.feature})
        if kind == "more_like" and cards:
            best = max(cards, key=lambda c: (_closeness(c, t), -c.position))
            return ShopMove(kind=kind, message=f"More like number {best.position}.", revealed={})
        if kind == "others":
            return ShopMove(kind=kind, message="Show me other ones.", revealed={})
        return None

    def _dislike(self, cards: Sequence[Any]) -> list[dict[str, str]]:
        if not self.config.dislike_far_item or not cards:
            return []
        far = min(cards, key=lambda c: (_closeness(c, self.target), -c.position))
        if _closeness(far, self.target) >= 1.5 or far.item_id == self.target.item_id:
            return []
        return [{"item_id": far.item_id, "title": far.title, "kind": FeedbackKind.DISLIKE.value}]

    def violations(self, card: Any) -> list[str]:
        """What a shown card breaks of the constraints revealed so far (empty: it honours them all)."""
        r, out = self.revealed, []
        if "category" in r and r["category"] not in card.categories:
            out.append(f"category {list(card.categories)} is not {r['category']}")
        if "brand" in r and card.brand != r["brand"]:
            out.append(f"brand {card.brand!r} is not {r['brand']!r}")
        if "price_min" in r and (card.price is None or not r["price_min"] <= card.price <= r["price_max"]):
            out.append(f"price {card.price} is outside {r['price_min']:g}-{r['price_max']:g}")
        return out


def _target_category(item: Item, counts: Counter[str]) -> str | None:
    """The category a shopper names: the item's most specific one (fewest items in the catalog)."""
    cats = [c for c in item.categories if c]
    return min(cats, key=lambda c: (counts[c], c)) if cats else None


def _target_feature(item: Item, vocab: CatalogVocab | None) -> str | None:
    """A feature bullet of the item that the catalog's vocabulary knows (what a shopper would say)."""
    feats = item.attributes.get("features") if isinstance(item.attributes, dict) else None
    if not isinstance(feats, list | tuple):
        return None
    known = set(vocab.features.values()) if vocab is not None else None
    for f in feats:
        if known is None or str(f) in known:
            return str(f)
    return None


def sample_shoppers(
    dataset: Dataset,
    split: Split,
    n_users: int,
    *,
    seed: int = 0,
    config: ShopSimulatorConfig | None = None,
    vocab: CatalogVocab | None = None,
    cold: bool = False,
) -> list[Shopper]:
    """Draw shoppers and their hidden targets (deterministic for ``seed``): a user with a test item that has a
    category and a price; the target is drawn among their test items. ``cold`` marks them new shoppers.
    """
    cfg = config or ShopSimulatorConfig()
    rng = np.random.default_rng(seed + (1 if cold else 0))
    items = dataset.items
    counts = Counter(c for it in items for c in it.categories)
    by_user: dict[int, set[int]] = {}
    for u, i in zip(split.test["user_idx"].to_numpy(), split.test["item_idx"].to_numpy(), strict=True):
        it = items[int(i)]
        if it.categories and it.price is not None:
            by_user.setdefault(int(u), set()).add(int(i))
    order = rng.permutation(np.asarray(sorted(by_user), dtype=np.int64))[: max(0, n_users)]
    out: list[Shopper] = []
    for u in order.tolist():
        target = items[int(rng.choice(sorted(by_user[u])))]
        cat = _target_category(target, counts)
        if cat is None:
            continue
        out.append(
            Shopper(
                user_id=dataset.users[u].user_id,
                target=target,
                category=cat,
                feature=_target_feature(target, vocab),
                config=cfg,
                cold=cold,
            )
        )
    return out


class ShopTurn(BaseModel):
    turn: int
    move: ShopMoveKind
    message: str
    constraints: dict[str, Any] = Field(default_factory=dict)
    shown: list[str] = Field(default_factory=list)
    target_position: int | None = None
    violations: list[str] = Field(default_factory=list)


class ShopEpisode(BaseModel):
    """One simulated shopping conversation."""

    user_id: str
    session_id: str
    cold: bool
    target: dict[str, Any]
    success: bool
    turns: int = Field(description="The success turn, or max_turns + 1 on failure.")
    shown_cards: int = Field(description="Cards shown over the episode.")
    violations: list[str] = Field(default_factory=list, description="Shown cards that broke a revealed constraint.")
    transcript: list[ShopTurn]


def _play(rec: Any, sim: Shopper, session_id: str, probe: _Probe, engine: Any) -> ShopEpisode:
    target = sim.target
    probe.target = engine.dataset.item_index[target.item_id]
    move: ShopMove | None = sim.opening()
    transcript: list[ShopTurn] = []
    success_turn: int | None = None
    shown_cards = 0
    bad: list[str] = []
    for turn in range(1, sim.config.max_turns + 1):
        if move is None:
            break
        for k, fb in enumerate(move.feedback):
            rec.feedback(
                FeedbackEvent(
                    event_id=f"{session_id}:sim:{turn}:{k}", session_id=session_id, user_id=sim.chat_user,
                    item_id=fb["item_id"], kind=FeedbackKind(fb["kind"]),
                )
            )  # fmt: skip
        reply = rec.chat(session_id, move.message, user_id=sim.chat_user)
        shown = [c.item_id for c in reply.cards]
        shown_cards += len(shown)
        turn_bad = [f"turn {turn}, {c.item_id} ({c.title}): {why}" for c in reply.cards for why in sim.violations(c)]
        bad.extend(turn_bad)
        pos = shown.index(target.item_id) + 1 if target.item_id in shown else None
        transcript.append(
            ShopTurn(
                turn=turn, move=move.kind, message=move.message, constraints=dict(reply.constraints), shown=shown,
                target_position=pos, violations=turn_bad,
            )
        )  # fmt: skip
        if pos is not None:
            success_turn = turn
            break
        move = sim.react(reply.cards)
    m = sim.config.max_turns
    return ShopEpisode(
        user_id=f"new:{sim.user_id}" if sim.cold else sim.user_id,
        session_id=session_id,
        cold=sim.cold,
        target={"item_id": target.item_id, "title": target.title, "brand": target.brand, "price": target.price,
                "categories": list(target.categories), "feature": sim.feature},
        success=success_turn is not None,
        turns=success_turn if success_turn is not None else m + 1,
        shown_cards=shown_cards,
        violations=bad,
        transcript=transcript,
    )  # fmt: skip


def _summary(episodes: Sequence[ShopEpisode], cfg: ShopSimulatorConfig) -> dict[str, Any]:
    n = len(episodes)
    m = cfg.max_turns
    wins = [e for e in episodes if e.success]
    return {
        "users": n,
        "success_rate": len(wins) / n if n else math.nan,
        "average_turns": float(np.mean([e.turns for e in episodes])) if n else math.nan,
        "success_by_turn": [sum(1 for e in wins if e.turns <= k) / n for k in range(1, m + 1)] if n else [],
        "shown_cards": sum(e.shown_cards for e in episodes),
        "violations": sum(len(e.violations) for e in episodes),
        "violation_list": [v for e in episodes for v in e.violations],
        "success_by_move": dict(Counter(e.transcript[-1].move for e in wins if e.transcript)),
    }


def evaluate_shop_conversations(
    recommender: Any,
    n_users: int = 200,
    max_turns: int = 5,
    seed: int = 0,
    n: int = 10,
    *,
    cohort: Cohort = "both",
    config: ShopSimulatorConfig | None = None,
    progress: Callable[[int, int, ShopEpisode], None] | None = None,
) -> dict[str, Any]:
    """Run simulated shoppers against ``recommender`` (guided mode) on its shop catalog.

    Returns:
        ``success_rate``, ``average_turns``, ``success_by_turn``, ``shown_cards``, ``violations`` (cards that
        broke a revealed category, brand or price) and ``violation_list`` for known shoppers at the top level
        (``cohort`` warm or both) and for new shoppers under ``cold_start`` (both) or at the top level (cold);
        plus ``n``, ``max_turns``, ``seed``, ``protocol``, ``dataset``, ``episodes`` and ``seconds``.

    Raises:
        BadInput: An unknown cohort, or a catalog without a shopper to draw (no test item with a price).
    """
    if cohort not in ("warm", "cold", "both"):
        raise BadInput(f"cohort must be warm, cold or both, not {cohort!r}")
    t0 = time.perf_counter()
    cfg = (config or ShopSimulatorConfig()).model_copy(update={"n": n, "max_turns": max_turns})
    engine = recommender.engine
    ds = engine.dataset
    split = _held_out_split(ds, engine)
    warm = sample_shoppers(ds, split, n_users, seed=seed, config=cfg, vocab=engine.vocab) if cohort != "cold" else []
    cold = (
        sample_shoppers(ds, split, n_users, seed=seed, config=cfg, vocab=engine.vocab, cold=True)
        if cohort != "warm"
        else []
    )
    if not warm and not cold:
        raise BadInput(f"{ds.name}: no user has a test item with a category and a price to use as a target")
    run_id = uuid.uuid4().hex[:10]
    probe = _Probe(engine.explainer, False)
    total = len(warm) + len(cold)
    played: list[ShopEpisode] = []

    def run(group: list[Shopper], tag: str) -> list[ShopEpisode]:
        eps: list[ShopEpisode] = []
        uidx = [ds.user_index[s.user_id] for s in group if not s.cold]
        with _evaluation_view(engine, split, uidx, probe):
            for k, sim in enumerate(group):
                ep = _play(recommender, sim, f"shop-{run_id}-{tag}{k}", probe, engine)
                eps.append(ep)
                played.append(ep)
                _consume_feedback(engine, ep.session_id)
                if progress is not None:
                    progress(len(played), total, ep)
        return eps

    warm_eps, cold_eps = run(warm, ""), run(cold, "new")
    base = {
        "n": cfg.n,
        "max_turns": cfg.max_turns,
        "seed": seed,
        "dataset": ds.name,
        "protocol": (
            "ro811 test item as hidden target; the shopper reveals category, price band, brand and a feature "
            f"word; failure counts as {cfg.max_turns + 1} turns; violations: shown cards outside a revealed "
            "category, brand or price band"
        ),
        "run_id": run_id,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if cohort == "cold":
        return {**base, "cohort": "cold", **_summary(cold_eps, cfg), "episodes": [e.model_dump() for e in cold_eps]}
    out = {**base, "cohort": cohort, **_summary(warm_eps, cfg), "episodes": [e.model_dump() for e in warm_eps]}
    if cohort == "both":
        out["cold_start"] = {**_summary(cold_eps, cfg), "episodes": [e.model_dump() for e in cold_eps]}
    return out
