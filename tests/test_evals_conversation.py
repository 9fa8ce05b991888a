"""Simulated-user conversations against the real Recommender (ml-100k, FAISS, joint ranker, SQLite; llm=None)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from catalog import make_split
from evals.conversation import (
    Episode,
    SimulatorConfig,
    _decade_phrase,
    display_title,
    evaluate_conversations,
    sample_users,
)

N_USERS = 5


@pytest.fixture(scope="module")
def rec() -> Any:
    from agent.recommender import Recommender

    r = Recommender.from_config(None, llm=None)
    yield r
    r.close()


@pytest.fixture(scope="module")
def run(rec: Any) -> dict[str, Any]:
    engine = rec.engine
    before = (engine.histories, engine.explainer)
    res = evaluate_conversations(rec, engine.dataset, n_users=N_USERS, max_turns=5, seed=3)
    res["_restored"] = engine.histories is before[0] and engine.explainer is before[1]
    return res


def _norm(s: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", s.lower()))


# ------------------------------------------------------------------------------------------ no recommender needed


def test_display_title_and_decades() -> None:
    assert display_title("Empire Strikes Back, The (1980)") == "The Empire Strikes Back"
    assert display_title("Fargo") == "Fargo"
    assert _decade_phrase(1939) == "the 30s"
    assert _decade_phrase(1986) == "the 80s"
    assert _decade_phrase(2004) == "the 2000s"


def test_sample_users_targets_are_held_out_and_references_never_the_target(ml100k: Any) -> None:
    split = make_split(ml100k, "ro811")
    sims = sample_users(ml100k, split, 40, seed=1)
    again = sample_users(ml100k, split, 40, seed=1)
    assert [(s.user_id, s.target.item_id) for s in sims] == [(s.user_id, s.target.item_id) for s in again]
    assert len({s.user_id for s in sims}) == 40
    test = {(int(u), int(i)) for u, i in zip(split.test["user_idx"], split.test["item_idx"], strict=True)}
    train = {(int(u), int(i)) for u, i in zip(split.train["user_idx"], split.train["item_idx"], strict=True)}
    for s in sims:
        u, i = ml100k.user_index[s.user_id], ml100k.item_index[s.target.item_id]
        assert (u, i) in test and (u, i) not in train
        assert s.genres and set(s.genres) <= set(s.target.categories)
        for ref in s.references:
            assert ref.item_id != s.target.item_id
            assert _norm(display_title(s.target.title)) not in _norm(display_title(ref.title))
            assert set(ref.categories) & set(s.target.categories)
    assert any(s.references for s in sims)


def test_specific_genre_order_names_the_rarest_genre_first(ml100k: Any) -> None:
    from collections import Counter

    counts = Counter(c for it in ml100k.items for c in it.categories)
    split = make_split(ml100k, "ro811")
    for s in sample_users(ml100k, split, 20, seed=2, config=SimulatorConfig(genre_order="specific")):
        assert counts[s.genres[0]] == min(counts[g] for g in s.genres)


# ------------------------------------------------------------------------------------------ real conversations


def test_simulator_never_reveals_the_target_title(run: dict[str, Any]) -> None:
    for ep in run["episodes"]:
        title = _norm(display_title(ep["target"]["title"]))
        for t in ep["transcript"]:
            assert ep["target"]["title"] not in t["message"]
            assert title not in _norm(t["message"]), (title, t["message"])
            assert ep["target"]["item_id"] not in (t["constraints"].get("reference_item_ids") or [])


def test_transcripts_are_bounded_and_success_means_shown(run: dict[str, Any]) -> None:
    assert len(run["episodes"]) == N_USERS
    for ep in run["episodes"]:
        tr = ep["transcript"]
        assert 1 <= len(tr) <= 5
        assert [t["turn"] for t in tr] == list(range(1, len(tr) + 1))
        hits = [t["turn"] for t in tr if t["target_position"] is not None]
        if ep["success"]:
            assert hits == [len(tr)] == [ep["turns"]]
            assert tr[-1]["shown"][tr[-1]["target_position"] - 1] == ep["target"]["item_id"]
        else:
            assert not hits and ep["turns"] == 6
            assert all(ep["target"]["item_id"] not in t["shown"] for t in tr)
        assert all(len(t["shown"]) <= run["n"] for t in tr)


def test_metrics_are_consistent(run: dict[str, Any]) -> None:
    eps = run["episodes"]
    assert run["success_rate"] == pytest.approx(np.mean([e["success"] for e in eps]))
    assert run["average_turns"] == pytest.approx(np.mean([e["turns"] for e in eps]))
    assert 1.0 <= run["average_turns"] <= 6.0
    curve = run["success_by_turn"]
    assert len(curve) == 5 and all(a <= b for a, b in itertools.pairwise(curve))
    assert curve[-1] == pytest.approx(run["success_rate"])
    assert curve[0] == pytest.approx(np.mean([e["success"] and e["turns"] == 1 for e in eps]))
    assert run["n"] == 10 and run["max_turns"] == 5 and run["users"] == N_USERS
    json.dumps({k: v for k, v in run.items() if not k.startswith("_")})  # JSON-ready


def test_the_agent_understands_what_the_simulator_reveals(run: dict[str, Any]) -> None:
    """Each revealed attribute shows up in the active constraints (the simulator talks the agent's language)."""
    for ep in run["episodes"]:
        year = ep["target"]["year"]
        for t in ep["transcript"]:
            c, msg = t["constraints"], t["message"]
            assert t["intent"] in ("recommend", "refine"), msg
            assert c.get("n") == 10, msg
            assert not c.get("query"), (msg, c)
            if t["move"] == "genre":
                assert ep["target"]["categories"] and set(c["include_categories"]) <= set(ep["target"]["categories"])
            if t["move"] == "decade":
                assert c["year_min"] == year // 10 * 10 and c["year_max"] == year // 10 * 10 + 9, (msg, c)
            if t["move"] == "period":
                assert c["year_min"] <= year <= c["year_max"] and c["year_max"] - c["year_min"] <= 3, (msg, c)
            if t["move"] == "exclude":
                assert c["exclude_categories"] and not set(c["exclude_categories"]) & set(ep["target"]["categories"])


def test_engine_state_is_restored_and_simulated_feedback_consumed(rec: Any, run: dict[str, Any]) -> None:
    assert run["_restored"]
    store = rec.engine.store
    for ep in run["episodes"]:
        assert store.feedback(session_id=ep["session_id"], unconsumed=True) == []
    disliked = [f for ep in run["episodes"] for t in ep["transcript"] for f in t["feedback"]]
    for ep in run["episodes"]:
        for t in ep["transcript"]:
            for f in t["feedback"]:  # a disliked item never comes back in the same session
                later = [x for x in ep["transcript"] if x["turn"] >= t["turn"]]
                assert all(f["item_id"] not in x["shown"] for x in later)
    assert isinstance(disliked, list)


def test_same_seed_same_conversations(rec: Any, run: dict[str, Any]) -> None:
    again = evaluate_conversations(rec, None, n_users=2, max_turns=5, seed=3)
    for a, b in zip(again["episodes"], run["episodes"][:2], strict=True):
        assert a["session_id"] != b["session_id"]  # fresh sessions, same talk
        assert [(t["message"], t["shown"]) for t in a["transcript"]] == [
            (t["message"], t["shown"]) for t in b["transcript"]
        ]
    Episode.model_validate(again["episodes"][0])


def test_unknown_catalog_is_refused(rec: Any, ml100k: Any) -> None:
    from catalog.types import Dataset

    other = Dataset(name="other", items=ml100k.items[:10], users=ml100k.users, interactions=ml100k.interactions[:0])
    with pytest.raises(ValueError, match="catalog"):
        evaluate_conversations(rec, other, n_users=1)


@pytest.mark.slow
def test_full_explanations_show_the_same_lists(rec: Any, run: dict[str, Any]) -> None:
    """The list-only fast path and the full turn (SHAP + trust) show identical items."""
    full = evaluate_conversations(rec, None, n_users=2, max_turns=5, seed=3, explanations=True)
    assert full["explanations"] is True
    for a, b in zip(full["episodes"], run["episodes"][:2], strict=True):
        assert [t["shown"] for t in a["transcript"]] == [t["shown"] for t in b["transcript"]]
        assert a["success"] == b["success"] and a["turns"] == b["turns"]


@pytest.mark.slow
def test_cli_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ui.cli import app

    out = tmp_path / "conv.json"
    res = CliRunner().invoke(app, ["eval", "conversation", "--users", "2", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "success within 5 turns" in res.output and "average turns" in res.output
    data = json.loads(out.read_text())
    assert data["users"] == 2 and len(data["success_by_turn"]) == 5 and data["llm"] is False


def test_simulated_user_reveals_attributes_in_order_and_dislikes_the_furthest_item(ml100k: Any) -> None:
    from agent.reply import ItemCard
    from evals.conversation import SimulatedUser

    items = {it.title: it for it in ml100k.items}
    target = items["Empire Strikes Back, The"]  # Action Adventure Drama Romance Sci-Fi War, 1980
    ref = items["Star Wars"]
    sim = SimulatedUser(
        user_id="1", target=target, references=[ref], genres=["Sci-Fi"], config=SimulatorConfig(n=3), domain="ml-100k"
    )  # the domain file says how genres and items are called

    def cards(*titles: str) -> list[ItemCard]:
        return [
            ItemCard(position=k, item_id=items[t].item_id, title=t, year=items[t].year,
                     categories=list(items[t].categories), score=0.0)
            for k, t in enumerate(titles, start=1)
        ]  # fmt: skip

    assert sim.opening().message == "I'd like a sci-fi movie. Show me 3 movies."
    shown = cards("Aliens", "Blade Runner", "Alien")  # Alien: Action Horror Sci-Fi Thriller (1979)
    m = sim.react(shown)
    assert m is not None and m.kind == "decade" and m.message == "Something from the 80s."
    assert [f["title"] for f in m.feedback] == ["Blade Runner"]  # Film-Noir Sci-Fi: shares the least
    close = SimulatedUser(user_id="1", target=target, references=[], genres=["Sci-Fi"], config=SimulatorConfig())
    m2 = close.react(cards("Star Trek: The Wrath of Khan"))  # genre Jaccard 0.5: not far enough to dislike
    assert m2 is not None and m2.feedback == []
    shown = cards("Aliens", "Alien", "Terminator, The")
    m = sim.react(shown)
    assert m is not None and m.kind == "exclude" and m.message == "No thriller, please."  # most common non-target genre
    m = sim.react(cards("Star Trek: The Wrath of Khan", "Sleeper", "Brazil"))
    assert m is not None and m.kind == "reference" and m.message == "Something like Star Wars."
    assert [f["title"] for f in m.feedback] == ["Sleeper"]  # Comedy Sci-Fi from 1973: the furthest
    m = sim.react(cards("Star Trek: The Wrath of Khan", "Brazil"))
    assert m is not None and m.kind == "period" and m.message == "Preferably from the early 80s."
    m = sim.react(cards("Brazil", "Star Trek: The Wrath of Khan"))
    assert m is not None and m.kind == "more_like" and m.message == "More like number 2."
    m = sim.react(cards("Brazil"))
    assert m is not None and m.kind == "others"


# ------------------------------------------------------------------------------------------ new users (cold start)


def test_cold_users_span_the_popularity_range(ml100k: Any) -> None:
    from evals.conversation import sample_cold_users

    split = make_split(ml100k, "ro811", seed=2020)
    sims = sample_cold_users(ml100k, split, 40, seed=1)
    assert len(sims) == 40 and all(s.cold and s.chat_user is None for s in sims)
    counts = np.bincount(split.train["item_idx"].to_numpy(), minlength=ml100k.n_items)
    by_bin: dict[int, list[int]] = {}
    for s in sims:
        i = ml100k.item_index[s.target.item_id]
        assert s.popularity == counts[i]
        by_bin.setdefault(int(s.stratum or 0), []).append(int(counts[i]))
        u = ml100k.user_index[s.user_id]
        rows = split.test[(split.test["user_idx"] == u) & (split.test["item_idx"] == i)]
        assert len(rows) == 1 and float(rows["value"].iloc[0]) >= 4  # a title this person liked, held out
        assert all(r.item_id != s.target.item_id for r in s.references)
    assert sorted(by_bin) == [0, 1, 2, 3] and all(len(v) == 10 for v in by_bin.values())
    assert max(by_bin[0]) < min(by_bin[3])  # bins are popularity quantiles
    popular = np.sort(counts)[::-1][100]
    assert sum(c < popular for v in by_bin.values() for c in v) >= 20  # not only the catalog's top titles


def test_new_user_answers_onboarding_by_taste_once(ml100k: Any) -> None:
    from agent.reply import OnboardingItem
    from evals.conversation import SimulatedUser

    items = {it.title: it for it in ml100k.items}

    def offer(*titles: str) -> list[OnboardingItem]:
        return [
            OnboardingItem(item_id=items[t].item_id, title=t, year=items[t].year, categories=list(items[t].categories))
            for t in titles
        ]

    target = items["Empire Strikes Back, The"]
    sim = SimulatedUser(
        user_id="1", target=target, references=[], genres=["Sci-Fi"], config=SimulatorConfig(), cold=True
    )
    m = sim.react([], offer("Fargo", "Return of the Jedi", "Toy Story", "Star Wars", "English Patient, The"))
    assert m is not None and m.kind == "onboarding"
    assert m.message == "I liked Return of the Jedi and Star Wars."  # the two closest to the target, in offered order
    assert m.revealed["liked"] == [items["Return of the Jedi"].item_id, items["Star Wars"].item_id]
    again = sim.react([], offer("Star Wars"))
    assert again is not None and again.kind == "decade"  # the offer is answered once
    other = SimulatedUser(
        user_id="1", target=target, references=[], genres=["Sci-Fi"], config=SimulatorConfig(), cold=True
    )
    skip = other.react([], offer("Toy Story", "Liar Liar", "Scream"))  # no shared genre: pass over the offer
    assert skip is not None and skip.kind == "decade"
    with_target = SimulatedUser(
        user_id="1", target=target, references=[], genres=["Sci-Fi"], config=SimulatorConfig(), cold=True
    )
    m = with_target.react([], offer("Empire Strikes Back, The", "Star Wars"))
    assert m is not None and "Empire" not in m.message  # never names the hidden target


def test_cold_run_offers_onboarding_and_answers_land_as_likes(rec: Any) -> None:
    res = evaluate_conversations(rec, None, n_users=4, max_turns=5, seed=3, cohort="cold")
    assert res["cohort"] == "cold" and res["users"] == 4
    eps = [Episode.model_validate(e) for e in res["episodes"]]
    assert all(e.cold and e.user_id.startswith("new:") for e in eps)
    assert all(e.onboarding_offered for e in eps)  # nothing known about them: every first list offers titles
    assert res["onboarding_offered_rate"] == 1.0
    for e in eps:
        if e.onboarding_liked:
            liked = {x["item_id"] for x in rec.profile(e.session_id)["liked"]}
            assert set(e.onboarding_liked) <= liked
            turn = next(t for t in e.transcript if t.move == "onboarding")
            assert turn.intent in ("feedback", "refine", "recommend") and turn.shown
    tail = [e for e in eps if (e.target_popularity or 0) < res["popularity_median"]]
    assert res["long_tail_users"] == len(tail)
    assert res["long_tail_success_rate"] == (
        sum(e.success for e in tail) / len(tail) if tail else res["long_tail_success_rate"]
    )
    both = evaluate_conversations(rec, None, n_users=2, max_turns=5, seed=3, cohort="both")
    assert both["users"] == 2 and both["cold_start"]["users"] == 2 and both["cold_start"]["cohort"] == "cold"
    assert not any(Episode.model_validate(e).onboarding_offered for e in both["episodes"])  # known users: no offer
