"""Benchmarks that print figures: chat-turn latency and full-ranking evaluation time against the
physical floor (anchors.md). Wall-clock figures only; nothing here asserts a time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

CHAT_SCRIPT = (
    "I'd like a sci-fi movie from the 80s",
    "no horror",
    "why the second one?",
    "something like Star Wars",
    "a comedy from the 90s",
    "more like number 3",
)


def _pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean())}


def bench_chat(
    recommender: Any, *, sessions: int = 3, script: Sequence[str] = CHAT_SCRIPT, user_id: str = "196"
) -> dict[str, Any]:
    """Time chat turns through :meth:`Recommender.stream`: first text and whole turn, per turn.

    One warm-up turn runs first (not counted). Each session plays ``script`` once.
    """
    list(recommender.stream(f"bench-warm-{uuid.uuid4().hex[:8]}", script[0], user_id=user_id))
    first, whole, llm_cards, cards = [], [], 0, 0
    for _ in range(sessions):
        sid = f"bench-{uuid.uuid4().hex[:10]}"
        for msg in script:
            t0 = time.perf_counter()
            t_first = None
            reply = None
            for chunk in recommender.stream(sid, msg, user_id=user_id):
                if t_first is None and isinstance(chunk, str) and chunk.strip():
                    t_first = time.perf_counter() - t0
                if not isinstance(chunk, str):
                    reply = chunk
            whole.append(time.perf_counter() - t0)
            first.append(t_first if t_first is not None else whole[-1])
            if reply is not None:
                cards += len(reply.cards)
                llm_cards += sum(c.writer == "llm" for c in reply.cards)
    return {
        "turns": len(whole),
        "first_text_s": _pct(first),
        "whole_turn_s": _pct(whole),
        "cards": cards,
        "llm_written_cards": llm_cards,
        "targets": {"first_text_p50_s": 1.5, "whole_turn_p50_s": 4.0},
    }


def bench_eval(dataset: Any, split: Any, rankers: dict[str, Any], *, repeats: int = 5) -> dict[str, Any]:
    """Full-ranking evaluation pass time per ranker, next to the physical floor.

    The floor is a 64-d dot product of every evaluated user against every item, then top-k and
    metrics, on precomputed random factors: the least work any full-ranking pass must do.
    """
    from evals.metrics import full_ranking_metrics
    from evals.ranking import history_profiles, time_evaluation

    evalset = history_profiles(dataset, split, "test")
    n_users = len(evalset.profiles)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((n_users, 64)).astype(np.float32)
    v = rng.standard_normal((dataset.n_items, 64)).astype(np.float32)
    targets = evalset.targets
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        scores = u @ v.T
        full_ranking_metrics(scores, targets, (5, 10, 20))
        times.append(time.perf_counter() - t0)
    out: dict[str, Any] = {
        "users": n_users,
        "items": dataset.n_items,
        "floor_64d_s": float(np.median(times[1:])),
        "anchor_floor_s": 0.010,
    }
    for name, ranker in rankers.items():
        out[f"{name}_s"] = time_evaluation(ranker, evalset, repeats=repeats)
    return out
