"""Guided mode: a LangGraph graph understand -> retrieve -> rank -> explain -> write.

Understanding is deterministic (rules plus embedding similarity, :mod:`agent.understanding`); the
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

from agent.engine import Engine, mark_requests
from agent.onboarding import answer as onboarding_answer
from agent.onboarding import offer_line, onboarding_items, should_offer
from agent.reply import ItemCard, OnboardingItem, Reply
from agent.state import DialogState
from agent.understanding import Intent, Understanding, apply_understanding, understand
from agent.wording import wording
from catalog.titles import display_title
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
    intent: str | None  # set by typed API calls (Recommender.recommend): no message to parse
    reply: dict[str, Any] | None


def _emit(text: str) -> None:
    """Stream a piece of reply text to ``stream_mode="custom"`` listeners (no-op otherwise)."""
    _send({"kind": "text", "text": text})


def _send(event: dict[str, Any]) -> None:
    """Stream one turn event (:data:`agent.reply.TurnEvent` as JSON) to ``stream_mode="custom"`` listeners."""
    with contextlib.suppress(RuntimeError):  # not inside a streaming run
        get_stream_writer()(event)


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
        if intent := s.get("intent"):  # a typed call: the intent is given, there are no words to read
            u = Understanding(intent=Intent(intent))
        else:
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
        dialog = DialogState.from_graph(s["dialog"])
        u = Understanding.model_validate(s["understanding"])
        chosen, notes = self.e.retrieve(dialog, new_items=u.wants_new_items, language=u.language)
        return {"candidates": chosen.tolist(), "notes": [*s.get("notes", []), *notes]}

    # ------------------------------------------------------------------ rank + explain
    def rank(self, s: TurnState) -> dict[str, Any]:
        dialog = DialogState.from_graph(s["dialog"])
        evidence, report = self.e.rank(dialog, np.asarray(s.get("candidates", []), dtype=np.int64))
        return {
            "evidence": [ev.model_dump(mode="json") for ev in evidence],
            "list_report": None if report is None else report.model_dump(mode="json"),
        }

    # ------------------------------------------------------------------ focus (explain / compare / describe)
    def focus(self, s: TurnState) -> dict[str, Any]:
        e = self.e
        dialog = DialogState.from_graph(s["dialog"])
        u = Understanding.model_validate(s["understanding"])
        evidence: list[dict[str, Any]] = []
        # a question over the whole shown list ("are any of these from before 1990?", "which is the newest?") is
        # answered over every shown item; the cards are the items the answer names
        named = _answer_items(e, u)
        for ref in [r for r in u.items if named is None or r.item_id in named][:4]:
            i = e.item_idx(ref.item_id)
            if i is None:
                continue
            ev = e.explain_item(dialog, i)
            mark_requests(dialog, [ev], getattr(e.ranker, "group_words", None))
            evidence.append(ev.model_dump(mode="json"))
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
        # a turn that already saw the LLM fail (here or in tool mode) does not wait on it again
        degraded = not s.get("llm_ok", True)
        writer, describer = e.writer, e.describer  # one turn, one writer (a warm-up may install the LLM meanwhile)
        # cards first: every card with its template explanation, trust and attributions as soon as ranking is
        # done; LLM text (checked by the same guard and claim checker) replaces a card's template text after
        # a batch run's LLM text for a stored list is shown at once when it is this writer's and passes the checks
        # (where that LLM failed them on every try, the template's, without asking the LLM again)
        cards: list[ItemCard] = []
        stored: set[str] = set()
        for pos, ev in enumerate(evidence, start=1):
            card = ItemCard.from_evidence(
                pos, ev, description=e.description(ev.item_id), item=e.dataset.item(ev.item_id)
            )
            x = writer.stored(ev, u.language)
            if x is not None:
                stored.add(ev.item_id)
            else:
                x = writer.template(ev, u.language)
            card.explanation, card.writer, card.grounded = x.text, x.writer, x.grounded
            said = wording(u.language).basis(ev.history, ev.features, card.trust.profile_size) if card.trust else None
            if card.trust is not None and said is not None:  # the trust basis in the person's language too
                card.trust = card.trust.model_copy(update={"basis": said})
            cards.append(card)
        if cards:
            _send({"kind": "cards", "cards": [c.model_dump(mode="json") for c in cards]})
        budget = e.config.agent.llm_explanations if not focused else max(1, e.config.agent.llm_explanations)
        deadline = time.monotonic() + e.config.agent.turn_timeout_s
        # the LLM cards' first generations are asked for together: one batch on the embedded model
        todo = [ev for ev in evidence[:budget] if ev.item_id not in stored]
        use_llm = not degraded and writer.llm is not None and bool(todo)
        written = {x.item_id: x for x in writer.write_many(todo, u.language)} if use_llm else {}
        for card, ev in zip(cards, evidence, strict=True):
            changed = False
            if intent == Intent.DESCRIBE and focused:
                d = e.descriptions.get(ev.item_id)
                if d is None and time.monotonic() < deadline:
                    d = describer.describe(e.dataset.item(ev.item_id))
                    e.descriptions.put(d)
                if d is not None and d.grounded and d.text != card.description:
                    card.description, changed = d.text, True
            x = written.get(ev.item_id)
            if x is not None:
                degraded = degraded or x.llm_failed
                if (x.text, x.writer, x.grounded) != (card.explanation, card.writer, card.grounded):
                    card.explanation, card.writer, card.grounded = x.text, x.writer, x.grounded
                    changed = True
            if changed:
                _send({"kind": "card", "card": card.model_dump(mode="json")})
        if cards and "llm" in e.warming:
            notes.append(wording(u.language).say("llm_loading"))
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
                line = "\n" + offer_line(offer, u.language)
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


def _headline(e: Engine, dialog: DialogState, u: Understanding, evidence: list[Evidence], focused: bool) -> str:
    """The reply's lead sentence, from the language's templates only (never from item or user text).

    The templates live in ``agent/data/lang/<language>.yaml`` (``replies``); the item nouns in the
    catalog's domain file. A message in Chinese gets a Chinese lead.
    """
    c = dialog.constraints
    intent = u.intent
    lex = e.vocab.lexicon
    lang = u.language

    def say(key: str, **values: Any) -> str:
        return lex.reply(lang, key, **values)

    def joined(words: list[str]) -> str:  # "A, B and C" in the reply's language
        return say("list_and").join([say("list_comma").join(words[:-1]), words[-1]] if len(words) > 1 else words)

    if u.clarify:
        return u.clarify
    if intent == Intent.HELP or (intent == Intent.CHITCHAT and not evidence):
        return say("help")
    if intent == Intent.MEMORY:
        m = dialog.memory()
        parts = [f"{k}: {v}" for k, v in m["constraints"].items()]
        none = say("none")
        names = lambda ids: ", ".join(e.vocab.label(i) for i in ids) or none  # noqa: E731
        return say(
            "memory", constraints="; ".join(parts) or none, liked=names(m["liked"]), disliked=names(m["disliked"])
        )
    if intent == Intent.RESET:
        return say("reset")
    if focused:
        if intent == Intent.COMPARE and u.asked_of_list:
            return _list_check(e, u, say, joined)
        named = _answer_items(e, u)
        if intent == Intent.COMPARE and u.asked_age and named:
            # "which of these is the most recent?": the catalog's years of every shown item, never the ranking's
            # confidence
            items = [e.dataset.item(x) for x in named]
            titles = [display_title(it.title) for it in items]
            verb = say("is_one") if len(titles) == 1 else say("is_many")
            return say(f"age_{u.asked_age}", titles=joined(titles), year=items[0].year, **{"is": verb})
        if not evidence:
            return say("not_found")
        if intent == Intent.COMPARE and len(evidence) >= 2:
            a, b = evidence[0], evidence[1]
            ca = a.trust.confidence if a.trust else 0.0
            cb = b.trust.confidence if b.trust else 0.0
            better = a if ca >= cb else b
            return say(
                "compare",
                a=display_title(a.title),
                b=display_title(b.title),
                ca=f"{ca:.0%}",
                cb=f"{cb:.0%}",
                better=display_title(better.title),
            )
        if intent == Intent.DESCRIBE and u.asked_categories:
            # "is the fifth one a horror movie?": answered from the catalog's own categories for the item
            listed = e.dataset.item(evidence[0].item_id).categories
            kinds = [lex.label(x, lang) for x in listed]
            listing = joined(kinds)
            missing = [x for x in u.asked_categories if x not in listed]
            if not missing:
                asked = say("and").join(lex.label(x, lang) for x in u.asked_categories)
                return say("is_category_yes", title=display_title(evidence[0].title), cats=asked, listed=listing)
            asked = say("or").join(lex.label(x, lang) for x in missing)
            return say(
                "is_category_no", title=display_title(evidence[0].title), cats=asked, listed=listing or say("none")
            )
        if intent == Intent.DESCRIBE:
            return say("describe", title=display_title(evidence[0].title))
        return say("why", title=display_title(evidence[0].title))
    if not evidence and intent in FOCUSED:  # "why that one?" with no item resolved: ask, never claim "no match"
        return say("which_one")
    if not evidence:
        return say("no_match")
    cats = c.include_categories or c.need_categories
    what = say("and" if c.include_all else "or").join(lex.label(x, lang) for x in cats)
    years = _period(say, "years", c.year_min, c.year_max)
    if c.exclude_categories:  # what was left out is part of what the list is
        years += say("without", cats=say("or").join(lex.label(x, lang) for x in c.exclude_categories))
    if c.price_min is not None and c.price_max is not None:
        years += say("price_between", lo=_money(c.price_min), hi=_money(c.price_max))
    elif c.price_max is not None:
        years += say("price_to", hi=_money(c.price_max))
    elif c.price_min is not None:
        years += say("price_from", lo=_money(c.price_min))
    if c.include_brands:  # every shown item is of one of these brands (an exact filter)
        what = (say("or").join(c.include_brands) + (" " + what if what else "")).strip()
    key = "lead_refine" if intent in (Intent.REFINE, Intent.FEEDBACK) else "lead_new"
    sep = " " if what and lang == "en" else ""
    if what and lex.domain.category_nouns and cats:  # "5 Backpacks", not "5 Backpacks products"
        head = say(key, n=len(evidence), what=what, years=years, items="")
    else:
        head = say(key, n=len(evidence), what=what + sep, years=years)
    conflict = e.need_conflict(dialog)
    if conflict is not None:  # said first: the list that follows is the need's, not the history's
        need_cats, usual = conflict
        line = say("need_differs", need=c.need, need_categories=say("or").join(need_cats), usual=say("and").join(usual))
        head = line + " " + head
    return head


def _period(say: Any, key: str, lo: int | None, hi: int | None) -> str:
    """A period in the reply's words from the templates ``<key>_between`` / ``_from`` / ``_to``; "" for none."""
    if lo is not None and hi is not None:
        return str(say(f"{key}_between", lo=lo, hi=hi))
    if lo is not None:
        return str(say(f"{key}_from", lo=lo))
    if hi is not None:
        return str(say(f"{key}_to", hi=hi))
    return ""


def _fits(e: Engine, u: Understanding, item_id: str) -> bool:
    """Whether a shown item has every category and lies in the years a question about the list names."""
    item, lo, hi = e.dataset.item(item_id), u.asked_year_min, u.asked_year_max
    if any(x not in item.categories for x in u.asked_categories):
        return False
    if lo is None and hi is None:
        return True
    return item.year is not None and (lo is None or item.year >= lo) and (hi is None or item.year <= hi)


def _answer_items(e: Engine, u: Understanding) -> list[str] | None:
    """The shown items the answer to a question over the whole list names: those that fit ("are any of these
    from before 1990?"), or the newest / oldest by the catalog's years; None for any other turn."""
    shown = [r.item_id for r in u.items]
    if u.intent == Intent.COMPARE and u.asked_of_list:
        return [x for x in shown if _fits(e, u, x)]
    if u.intent == Intent.COMPARE and u.asked_age:
        years = {x: e.dataset.item(x).year for x in shown}
        dated = [y for y in years.values() if y is not None]
        if not dated:
            return None
        best = max(dated) if u.asked_age == "newest" else min(dated)
        return [x for x in shown if years[x] == best]
    return None


def _list_check(e: Engine, u: Understanding, say: Any, joined: Any) -> str:
    """ "are any of these from before 1990?": which shown items fit the asked categories and years, from the
    catalog's own records of every shown item (each sentence true whatever the question's quantifier: none,
    some or all fit)."""
    lang, lo, hi = u.language, u.asked_year_min, u.asked_year_max
    fits: list[str] = []
    if u.asked_categories:
        cats = say("list_and").join(e.vocab.lexicon.label(x, lang) for x in u.asked_categories)
        fits.append(say("fit_categories", cats=cats))
    if lo is not None or hi is not None:
        fits.append(_period(say, "fit_years", lo, hi))
    fit, n = say("fit_join").join(fits), len(u.items)
    hits = [e.dataset.item(x) for x in _answer_items(e, u) or []]
    if not hits:
        return say("list_check_none", n=n, fit=fit, **{"is": say("is_one")})
    if len(hits) == n:
        return say("list_check_all", n=n, fit=fit)
    titles = [
        say("titled_year", title=display_title(it.title), year=it.year) if it.year else display_title(it.title)
        for it in hits
    ]
    verb = say("is_one") if len(hits) == 1 else say("is_many")
    return say("list_check_some", count=len(hits), n=n, fit=fit, titles=joined(titles), **{"is": verb})


def _money(v: float) -> str:
    return f"${v:,.0f}" if float(v).is_integer() else f"${v:,.2f}"


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
