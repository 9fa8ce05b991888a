"""Guided mode: a LangGraph graph understand -> retrieve -> rank -> explain -> write.

Understanding is deterministic (rules plus embedding similarity, :mod:`agent.understand`); the
LLM only writes explanation text, through the grounding guard. The dialog state lives in the
graph state and is checkpointed by thread id (the session id) with LangGraph's ``SqliteSaver``,
so a session survives a process restart.

Item and user text are data: they reach the LLM only as quoted evidence fields, and the reply
text around the cards is written from templates.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, TypedDict

import numpy as np
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from agent.engine import Engine
from agent.onboarding import answer as onboarding_answer
from agent.onboarding import offer_line, onboarding_items, should_offer
from agent.reply import ItemCard, OnboardingItem, Reply
from agent.state import DialogState
from agent.understand import Intent, Understanding, apply_understanding, understand
from catalog import FeedbackEvent
from ranker.base import profile_size
from ranker.evidence import Evidence

RECOMMENDING = {Intent.RECOMMEND, Intent.REFINE, Intent.FEEDBACK}
FOCUSED = {Intent.EXPLAIN, Intent.COMPARE, Intent.DESCRIBE}


class TurnState(TypedDict, total=False):
    """Graph state. ``dialog`` persists across turns; the rest is per turn."""

    dialog: Any  # DialogStateDict (JSON primitives)
    session_id: str
    message: str
    user_id: str | None
    understanding: dict[str, Any] | None
    candidates: list[int]
    evidence: list[dict[str, Any]]
    list_report: dict[str, Any] | None
    notes: list[str]
    events: list[dict[str, Any]]
    llm_ok: bool  # False: the LLM already failed this turn, use templates
    reply: dict[str, Any] | None


def _emit(text: str) -> None:
    """Stream a piece of reply text to ``stream_mode="custom"`` listeners (no-op otherwise)."""
    with contextlib.suppress(RuntimeError):  # not inside a streaming run
        get_stream_writer()({"delta": text})


class GuidedTurn:
    """The nodes of the guided graph, bound to one :class:`Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine

    # ------------------------------------------------------------------ understand
    def understand(self, s: TurnState) -> dict[str, Any]:
        e = self.e
        dialog = DialogState.from_graph(s.get("dialog"))
        dialog.session_id = s["session_id"]
        uid = s.get("user_id")
        if uid is not None and uid != dialog.user_id:
            dialog.user_id = uid
        u = understand(s["message"], dialog, e.vocab, e.config.agent.understand)
        u = onboarding_answer(s["message"], dialog, e, u)  # positions refer to a pending offer's titles
        new = apply_understanding(dialog, u)
        new.onboarding = []  # the offer is answered (or passed over) on the turn right after it
        events: list[dict[str, Any]] = []
        # Feedback the user states in words is their own event (the LLM never writes feedback).
        for k, fb in enumerate(u.feedback):
            ev = fb.to_event(f"{new.session_id}:t{new.turn}:{k}", new.session_id, new.user_id)
            e.store.add_feedback(ev)
            new.apply_feedback(ev)
            events.append(ev.model_dump(mode="json"))
        return {
            "dialog": new.to_graph(),
            "understanding": u.model_dump(mode="json"),
            "candidates": [],
            "evidence": [],
            "list_report": None,
            "notes": list(u.notes),
            "events": events,
            "reply": None,
        }

    @staticmethod
    def route(s: TurnState) -> str:
        u = Understanding.model_validate(s["understanding"])
        if u.clarify:
            return "write"
        if u.intent in FOCUSED and u.items:
            return "focus"
        if u.intent in RECOMMENDING or u.wants_new_items:
            return "retrieve"
        return "write"

    # ------------------------------------------------------------------ retrieve
    def retrieve(self, s: TurnState) -> dict[str, Any]:
        from retrieval import HybridRetriever, ItemToItemRetriever, Query

        e = self.e
        dialog = DialogState.from_graph(s["dialog"])
        u = Understanding.model_validate(s["understanding"])
        c = dialog.constraints
        excluded = set(dialog.feedback.excluded())
        if u.wants_new_items:
            excluded |= set(dialog.shown_history)
        filters = c.filters(excluded)
        items = e.dataset.items
        allowed = np.asarray([i for i, it in enumerate(items) if filters.matches(it)], dtype=np.int64)
        notes = list(s.get("notes", []))
        if c.query or c.reference_item_ids:
            gens: list[Any] = []
            if c.query:
                gens.append(e.semantic)  # type: ignore[attr-defined]
            if c.reference_item_ids:
                gens.append(ItemToItemRetriever(e.index))
            retriever = gens[0] if len(gens) == 1 else HybridRetriever(gens, k=e.config.retrieval.rrf_k)
            q = Query(text=c.query or None, item_ids=tuple(c.reference_item_ids))
            # with little known the order leans on popularity, so a wish in words or "like X" must narrow
            # the pool harder (the ranker alone decides for profiles of warm_k items and more)
            pool = e.config.agent.n_candidates
            if profile_size(e.profile(dialog)) < e.config.coldstart.warm_k:
                pool = min(pool, e.config.agent.n_candidates_new)
            cands = retriever.retrieve(q, pool, filters)
            chosen = np.asarray([e.dataset.item_index[i] for i in cands.item_ids], dtype=np.int64)
        else:
            chosen = allowed
        n = c.n or e.config.agent.default_n
        if e.config.agent.fresh_lists and not u.wants_new_items and dialog.shown_history:
            # the person saw the earlier lists and asked for something else: show what they have not seen
            # yet while enough of it matches (liked items are history and never shown again anyway)
            seen = [e.dataset.item_index[i] for i in dialog.shown_history if i in e.dataset.item_index]
            fresh = chosen[~np.isin(chosen, np.asarray(seen, dtype=np.int64))]
            if fresh.size >= n:
                chosen = fresh
        if chosen.size < n:
            notes.append(
                f"only {chosen.size} items match your constraints" if chosen.size else "no items match your constraints"
            )
        return {"candidates": chosen.tolist(), "notes": notes}

    # ------------------------------------------------------------------ rank + explain
    def rank(self, s: TurnState) -> dict[str, Any]:
        e = self.e
        dialog = DialogState.from_graph(s["dialog"])
        cands = np.asarray(s.get("candidates", []), dtype=np.int64)
        if cands.size == 0:
            return {"evidence": [], "list_report": None}
        n = dialog.constraints.n or e.config.agent.default_n
        diversity = dialog.constraints.diversity
        lam = 1.0 - 0.5 * (diversity if diversity is not None else e.config.agent.understand.default_diversity)
        profile = e.profile(dialog)
        with e.lock:
            out = e.explainer(profile, n, candidates=cands, mmr_lambda=lam, user_id=dialog.user_id)
        for ev in out.items:
            ev.matches = constraint_matches(dialog, ev)
        mark_requests(dialog, out.items, getattr(e.ranker, "group_words", None))
        return {
            "evidence": [ev.model_dump(mode="json") for ev in out.items],
            "list_report": out.list_report.model_dump(mode="json"),
        }

    # ------------------------------------------------------------------ focus (explain / compare / describe)
    def focus(self, s: TurnState) -> dict[str, Any]:
        e = self.e
        dialog = DialogState.from_graph(s["dialog"])
        u = Understanding.model_validate(s["understanding"])
        profile = e.profile(dialog)
        evidence: list[dict[str, Any]] = []
        for ref in u.items[:4]:
            i = e.item_idx(ref.item_id)
            if i is None:
                continue
            # explain the item as if recommended: drop it from the profile's history and exclusions
            p = profile
            if i in p.history:
                p = p.without(np.flatnonzero(p.history == i))
            p = type(p)(p.history, p.weights, p.user_idx, p.exclude[p.exclude != i])
            with e.lock:
                out = e.explainer(p, 1, candidates=np.asarray([i]), mmr_lambda=1.0, user_id=dialog.user_id)
            mark_requests(dialog, out.items, getattr(e.ranker, "group_words", None))
            evidence.extend(ev.model_dump(mode="json") for ev in out.items)
        return {"evidence": evidence}

    # ------------------------------------------------------------------ write
    def write(self, s: TurnState) -> dict[str, Any]:
        e = self.e
        dialog = DialogState.from_graph(s["dialog"])
        u = Understanding.model_validate(s["understanding"])
        evidence = [Evidence.model_validate(x) for x in s.get("evidence", [])]
        notes = list(s.get("notes", []))
        intent = u.intent
        focused = intent in FOCUSED and bool(u.items)
        head = _headline(e, dialog, u, evidence, focused)
        _emit(head)
        cards: list[ItemCard] = []
        # a turn that already saw the LLM fail (here or in tool mode) does not wait on it again
        degraded = not s.get("llm_ok", True)
        budget = e.config.agent.llm_explanations if not focused else max(1, e.config.agent.llm_explanations)
        deadline = time.monotonic() + e.config.agent.turn_timeout_s
        # the LLM cards' first generations are asked for together: one batch on the embedded model
        written = e.writer.write_many(evidence[:budget]) if not degraded and budget and evidence else []
        for pos, ev in enumerate(evidence, start=1):
            card = ItemCard.from_evidence(pos, ev, description=e.description(ev.item_id))
            if intent == Intent.DESCRIBE and focused:
                d = e.descriptions.get(ev.item_id)
                if d is None and time.monotonic() < deadline:
                    d = e.describer.describe(e.dataset.item(ev.item_id))
                    e.descriptions.put(d)
                if d is not None and d.grounded:
                    card.description = d.text
            x = written[pos - 1] if pos <= len(written) else e.writer.template(ev)
            card.explanation, card.writer, card.grounded = x.text, x.writer, x.grounded
            degraded = degraded or any("LLM" in r or "Timeout" in r for r in getattr(x, "reasons", []))
            cards.append(card)
            _emit(f"\n{pos}. {card.title}" + (f" ({card.year})" if card.year else "") + f": {card.explanation}")
        if not focused and evidence:
            dialog.record_shown([ev.item_id for ev in evidence])
        elif focused:
            dialog.focus = [ev.item_id for ev in evidence]
        text = head + "".join(
            f"\n{c.position}. {c.title}" + (f" ({c.year})" if c.year else "") + f": {c.explanation}" for c in cards
        )
        offer: list[OnboardingItem] = []
        if not focused and evidence and should_offer(e, dialog):
            shown_now = [ev.item_id for ev in evidence]
            offer = onboarding_items(e, dialog.constraints, exclude=[*shown_now, *dialog.feedback.excluded()])
            if offer:
                dialog.onboarding, dialog.onboarding_offered = [o.item_id for o in offer], True
                line = "\n" + offer_line(offer)
                _emit(line)
                text += line
        reply = Reply(
            session_id=dialog.session_id,
            text=text,
            cards=cards,
            intent=str(intent),
            constraints=dialog.constraints.model_dump(mode="json", exclude_defaults=True),
            notes=notes,
            degraded=degraded,
            list_report=s.get("list_report"),
            suggested_feedback=s.get("events", []),
            onboarding=offer,
        )
        return {"dialog": dialog.to_graph(), "reply": reply.model_dump(mode="json")}


def mark_requests(dialog: DialogState, evidence: list[Evidence], words: dict[str, str] | None = None) -> None:
    """Tell items the person asked "something like" apart from their likes (both weigh as session likes).

    "Something like X" is not "I liked X": such attributions are marked ``reference`` (not ``session``),
    so no shown sentence and no trust basis calls them liked.
    """
    from ranker.explain import basis_words

    asked = set(dialog.constraints.reference_item_ids) - set(dialog.feedback.liked)
    if not asked:
        return
    for ev in evidence:
        changed = False
        for h in ev.history:
            if h.item_id in asked:
                h.reference, h.session, changed = True, False, True
        if changed and ev.trust is not None:
            ev.trust.basis = basis_words(ev.history, ev.features, ev.trust.profile_size, words)


def constraint_matches(dialog: DialogState, ev: Evidence) -> list[str]:
    """The session's constraints this item satisfies, in words: its asked-for categories, the year range."""
    c = dialog.constraints
    out = [g for g in ev.categories if g in set(c.include_categories)]
    if ev.year is not None and (c.year_min is not None or c.year_max is not None):
        lo = "" if c.year_min is None else str(c.year_min)
        hi = "" if c.year_max is None else str(c.year_max)
        out.append(f"{lo}-{hi}" if lo and hi else (f"{lo} or later" if lo else f"{hi} or earlier"))
    return out


def _headline(e: Engine, dialog: DialogState, u: Understanding, evidence: list[Evidence], focused: bool) -> str:
    """The reply's lead sentence, from templates only (never from item or user text)."""
    c = dialog.constraints
    intent = u.intent
    if u.clarify:
        return u.clarify
    if intent == Intent.HELP or (intent == Intent.CHITCHAT and not evidence):
        return (
            "I recommend movies and show why. Try: 'a sci-fi movie from the 80s', 'no horror', "
            "'something like Star Wars', 'why the second one?', 'more like number 3', or 'what do you know about me?'."
        )
    if intent == Intent.MEMORY:
        m = dialog.memory()
        parts = [f"{k}: {v}" for k, v in m["constraints"].items()]
        names = lambda ids: ", ".join(e.vocab.label(i) for i in ids) or "none"  # noqa: E731
        return (
            "Here is what I remember. Constraints: "
            + ("; ".join(parts) or "none")
            + f". Liked: {names(m['liked'])}. Disliked: {names(m['disliked'])}."
        )
    if intent == Intent.RESET:
        return "Starting over: I cleared the constraints for this session."
    if focused:
        if not evidence:
            return "I could not find that item."
        if intent == Intent.COMPARE and len(evidence) >= 2:
            a, b = evidence[0], evidence[1]
            ca = a.trust.confidence if a.trust else 0.0
            cb = b.trust.confidence if b.trust else 0.0
            better = a if ca >= cb else b
            return (
                f"Comparing {a.title} and {b.title}: my confidence is {ca:.0%} vs {cb:.0%}, "
                f"so {better.title} fits you better."
            )
        if intent == Intent.DESCRIBE:
            return f"About {evidence[0].title}:"
        return f"Why {evidence[0].title}:"
    if not evidence and intent in FOCUSED:  # "why that one?" with no item resolved: ask, never claim "no match"
        return "Which one do you mean? Name its title or its place in the list, e.g. 'why the first one?'."
    if not evidence:
        return "No items match those constraints. Try relaxing a genre or the years."
    what = " or ".join(c.include_categories) if c.include_categories else ""
    years = ""
    if c.year_min is not None and c.year_max is not None:
        years = f" from {c.year_min} to {c.year_max}"
    elif c.year_min is not None:
        years = f" from {c.year_min} on"
    elif c.year_max is not None:
        years = f" up to {c.year_max}"
    lead = "Updated picks:" if intent in (Intent.REFINE, Intent.FEEDBACK) else "Here are"
    return f"{lead} {len(evidence)} {what + ' ' if what else ''}movies{years}, best first:"


def build_graph(engine: Engine, checkpointer: Any) -> Any:
    """The compiled guided graph with ``checkpointer`` (thread id = session id)."""
    t = GuidedTurn(engine)
    g: Any = StateGraph(TurnState)  # node callables are typed by TurnState; langgraph's overloads are too narrow
    g.add_node("understand", t.understand)
    g.add_node("retrieve", t.retrieve)
    g.add_node("rank", t.rank)
    g.add_node("focus", t.focus)
    g.add_node("write", t.write)
    g.add_edge(START, "understand")
    g.add_conditional_edges("understand", t.route, {"retrieve": "retrieve", "focus": "focus", "write": "write"})
    g.add_edge("retrieve", "rank")
    g.add_edge("rank", "write")
    g.add_edge("focus", "write")
    g.add_edge("write", END)
    return g.compile(checkpointer=checkpointer)


def feedback_into(dialog: DialogState, event: FeedbackEvent) -> DialogState:
    """The dialog after one user feedback event (idempotent by event id)."""
    d = dialog.model_copy(deep=True)
    d.apply_feedback(event)
    return d
