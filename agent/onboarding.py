"""Onboarding: a short, skippable way in for a person the system knows nothing about.

When a session with nothing known (no stored history, no session likes, no reference items) asks
for recommendations, the reply still carries the prior list, plus a few diverse, widely known
titles that satisfy the current constraints (:func:`onboarding_items`) and one line inviting the
person to name a title they liked or pick from those (:func:`offer_line`). It is offered once per
session (``DialogState.onboarding_offered``).

On the next turn the offered titles are what "the second one", "A and C" or "all of them" refer to
(:func:`read_answer`); the answer becomes ordinary suggested LIKE feedback, which the turn applies
as the user's own events (the LLM never writes feedback). Any other turn simply moves on: the
offer is not repeated.

Item text stays data: the offer line names catalog titles only, and the UI escapes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.reply import OnboardingItem
from agent.state import Constraints, DialogState
from agent.understanding import Intent, SuggestedFeedback, Understanding, normalize, title_variants, tokens
from agent.understanding.cues import _MORE_LIKE, _REFERENCE_LEAD
from catalog import FeedbackKind
from catalog.titles import display_title

if TYPE_CHECKING:
    from agent.engine import Engine

__all__ = ["ONBOARDING_SIZE", "answer", "offer_line", "onboarding_items", "read_answer", "should_offer"]

ONBOARDING_SIZE = 5
"""Titles offered at once (short: one turn, not a questionnaire)."""
_POOL = 300  # most-interacted items (within the constraints) the offer is chosen from

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8, "last": -1,
}  # fmt: skip
_ALL = frozenset({"all", "both", "each", "every"})
_SKIP = re.compile(
    r"^\W*(?:skip(?: it| this| that)?|none(?: of (?:them|these|those))?|neither(?: of (?:them|these|those))?|"
    r"nope|no|not really|no thanks|not those|(?:i )?(?:havent|have not|never) seen (?:any|them|those|these)(?: of them)?)"
    r"\W*$"
)
_ABOUT_THE_CARDS = re.compile(rf"\b(?:looks|sounds|seems|look|sound)\b|{_MORE_LIKE.pattern}")
"""A first impression or a wish for more like it ("the second one looks fun", "anything else like it"): about a
card not yet watched, so its positions are the cards' positions, not the offered titles'."""
_LIKE_CUE = re.compile(r"\b(like|liked|love|loved|enjoy|enjoyed|adore|adored|favou?rites?|great|good)\b")
# a bare number is a position only next to these ("2 and 4", "#3", "number 5", "I liked 2")
_NUM_BEFORE = frozenset({"#", "number", "nr", "no", "and", "or", "liked", "loved", "enjoyed", "like", "love"})
_NUM_AFTER = frozenset({"and", "or"})
# words an answer may carry besides titles and positions ("I liked the second and the fifth one")
_FILLER = frozenset(
    """i id ive me my we the a an and or but also too as well plus one ones title titles of them these those
    this that it liked like love loved enjoyed enjoy adore adored really very much quite both all each every
    yes yeah yep oh ok okay sure seen watched have has had did do so great good favourite favorite favourites
    favorites number no nr # from your list offered on were was is are those two three four five""".split()  # noqa: SIM905
)
# understood intents that are not an answer to the offer
_NOT_ANSWER = frozenset({Intent.EXPLAIN, Intent.COMPARE, Intent.DESCRIBE, Intent.MEMORY, Intent.RESET, Intent.HELP})


def train_counts(engine: Engine) -> np.ndarray:
    """Training interactions per item (cached on the engine; the catalog's "most interacted")."""
    counts = getattr(engine, "_onboarding_counts", None)
    if counts is None or len(counts) != engine.dataset.n_items:
        idx = engine.split.train["item_idx"].to_numpy()
        counts = np.bincount(np.asarray(idx, dtype=np.int64), minlength=engine.dataset.n_items)
        engine._onboarding_counts = counts  # type: ignore[attr-defined]
    return counts


def knows_nothing(engine: Engine, dialog: DialogState) -> bool:
    """True for a session with no stored history, no session likes and no reference items."""
    if dialog.feedback.liked or dialog.constraints.reference_item_ids:
        return False
    idx = engine.dataset.user_index.get(dialog.user_id) if dialog.user_id else None
    return idx is None or np.asarray(engine.histories[idx]).size == 0


def should_offer(engine: Engine, dialog: DialogState) -> bool:
    """Whether this list turn should carry the onboarding offer (once per session, new people only)."""
    return not dialog.onboarding_offered and knows_nothing(engine, dialog)


def onboarding_items(
    engine: Engine, constraints: Constraints, *, k: int = ONBOARDING_SIZE, exclude: Iterable[str] = ()
) -> list[OnboardingItem]:
    """Up to ``k`` widely known titles within ``constraints``, from different categories.

    Candidates are the catalog's most-interacted items (training counts) that pass the constraints'
    exact filters; they are taken in popularity order, each one only if it brings a category none
    of the earlier picks has (categories the constraints ask for do not count), and the rest of the
    list is filled by popularity when the catalog runs out of new categories.
    """

    ds = engine.dataset
    c = constraints
    filters = c.filters(exclude)
    counts = train_counts(engine)
    pool: list[int] = []
    for i in np.argsort(-counts, kind="stable").tolist():
        if counts[i] <= 0 or len(pool) >= _POOL:
            break
        if filters.matches(ds.items[i]):
            pool.append(int(i))
    asked = set(c.include_categories)
    chosen: list[int] = []
    covered: set[str] = set()
    for i in pool:
        cats = {x for x in ds.items[i].categories if x != "unknown"} - asked
        if not chosen or cats - covered:
            chosen.append(i)
            covered |= cats
        if len(chosen) >= k:
            break
    for i in pool:
        if len(chosen) >= k:
            break
        if i not in chosen:
            chosen.append(i)
    return [
        OnboardingItem(
            item_id=ds.items[i].item_id,
            title=display_title(ds.items[i].title),
            year=ds.items[i].year,
            categories=list(ds.items[i].categories),
        )
        for i in chosen
    ]


def _label(item: OnboardingItem) -> str:
    return f"{item.title} ({item.year})" if item.year else item.title


def offer_line(items: list[OnboardingItem], language: str = "en") -> str:
    """The one line that invites an answer (catalog titles only), in the person's ``language``
    (``offer`` of ``agent/data/lang/explain-<language>.yaml``)."""
    from agent.wording import wording

    w = wording(language)
    if w.code == "en":
        names = ", ".join(_label(it) for it in items)
    else:
        names = w.raw["list_sep"].join(
            w.title(it.title) + (w.say("year", year=it.year) if it.year else "") for it in items
        )
    return w.say("offer", names=names)


def _find(toks: list[str], used: list[bool], want: list[str]) -> int | None:
    k = len(want)
    for i in range(0, len(toks) - k + 1):
        if toks[i : i + k] == want and not any(used[i : i + k]):
            return i
    return None


def _picks(text: str, offered: list[str], engine_items: dict[str, Any]) -> tuple[list[int], list[bool], list[str]]:
    """Offered positions (0-based) named by title, ordinal, number or "all"; and which tokens were used."""
    toks = tokens(normalize(text))
    used = [False] * len(toks)
    picks: list[int] = []
    for k, item_id in enumerate(offered):
        item = engine_items.get(item_id)
        if item is None:
            continue
        for v in sorted(title_variants(item.title), key=len, reverse=True):
            want = v.split()
            at = _find(toks, used, want)
            if at is not None:
                used[at : at + len(want)] = [True] * len(want)
                picks.append(k)
                break
    n = len(offered)
    for j, t in enumerate(toks):
        if used[j]:
            continue
        before = toks[j - 1] if j else ""
        after = toks[j + 1] if j + 1 < len(toks) else ""
        if after and after not in _FILLER:
            continue  # "the last decade", "all comedies", "5 more": not about the offered titles
        pos = _ORDINALS.get(t)
        if pos is None and t.isdigit() and len(t) <= 2 and (not before or before in _NUM_BEFORE or after in _NUM_AFTER):
            pos = int(t)
        if pos is not None and (pos == -1 or 1 <= pos <= n):
            picks.append(n - 1 if pos == -1 else pos - 1)
            used[j] = True
        elif t in _ALL:
            picks.extend(range(n))
            used[j] = True
    return list(dict.fromkeys(picks)), used, toks


def read_answer(text: str, dialog: DialogState, engine: Engine, u: Understanding) -> Understanding | None:
    """The turn's understanding re-read as an answer to the pending onboarding offer, or None.

    Only the turn right after the offer (``dialog.onboarding`` non-empty) is read this way. An
    answer names offered titles (by title, "the second one", "2 and 4", "all of them") or any
    catalog title with a like cue ("I liked Fargo"); a bare title ("Fargo") counts as a like too.
    Positions then refer to the offered titles, not to the cards. Explain, compare, describe,
    memory, reset and help turns, and turns with negative feedback, are not answers.

    Returns:
        A copy of ``u`` whose feedback is one LIKE per named title (applied by the caller as the
        user's own events) and whose intent is a list turn, or None when the message is no answer.
    """
    offered = list(dialog.onboarding)
    if not offered or u.intent in _NOT_ANSWER:
        return None
    if any(f.kind != FeedbackKind.LIKE for f in u.feedback):
        return None
    by_id = {it.item_id: it for it in engine.dataset.items}
    picks, used, toks = _picks(u.text or text, offered, by_id)
    rest = [t for t, x in zip(toks, used, strict=True) if not x and t not in _FILLER]
    # titles understood from the whole catalog ("I liked Fargo", or just "Fargo")
    card_refs = {r.item_id for r in u.items if r.source in ("position", "all_shown", "focus")}
    title_ids = [f.item_id for f in u.feedback if f.item_id not in card_refs]
    title_ids += [r.item_id for r in u.references if r.source in ("title", "embedding")]
    title_ids = [i for i in dict.fromkeys(title_ids) if i in by_id]
    norm = normalize(u.text or text)
    cue = bool(_LIKE_CUE.search(norm))
    asked_like = {r.item_id for r in u.references if _named_as_reference(norm, r.text)}
    if not title_ids and _ABOUT_THE_CARDS.search(norm):
        return None  # "the second one looks fun, anything else like it?": the second card, not the second offer
    if not cue and not picks and title_ids and set(title_ids) <= asked_like:
        return None  # "ones closer to mr hollands opus": a wish for items like it, not a like of it
    bare = not rest or (bool(title_ids) and set(u.slots.reference_item_ids) <= set(title_ids) and not u.slots.query)
    if not picks and not title_ids:
        return None
    if not (cue or bare):
        return None
    liked = list(dict.fromkeys([offered[k] for k in picks] + title_ids))
    slots = u.slots
    if not cue and set(slots.reference_item_ids) <= set(liked):
        # a bare title is an answer (a like), not a "more like X" constraint
        slots = slots.model_copy(update={"reference_item_ids": [], "clear_references": False})
    reason = (u.text or text)[:120]
    return u.model_copy(
        update={
            "intent": u.intent if u.intent in (Intent.RECOMMEND, Intent.REFINE) else Intent.FEEDBACK,
            "feedback": [SuggestedFeedback(item_id=i, kind=FeedbackKind.LIKE, reason=reason) for i in liked],
            "items": [],
            "positions": [],
            "references": [r for r in u.references if r.item_id in slots.reference_item_ids],
            "clarify": None,
            "slots": slots,
        }
    )


def _named_as_reference(norm: str, title_text: str) -> bool:
    """Whether ``title_text`` stands in ``norm`` right after a reference lead ("something like", "closer to")."""
    at = norm.find(title_text) if title_text else -1
    return at > 0 and _REFERENCE_LEAD.search(norm[:at]) is not None


def is_skip(text: str) -> bool:
    """Whether the message just declines the offer ("skip", "none of them")."""
    return bool(_SKIP.match(normalize(text)))


def answer(text: str, dialog: DialogState, engine: Engine, u: Understanding) -> Understanding:
    """``u``, re-read against a pending offer: an answer (:func:`read_answer`), a skip (the list goes
    on, constraints unchanged), or ``u`` itself when the message is about something else."""
    if not dialog.onboarding:
        return u
    if is_skip(u.text or text):
        return Understanding(intent=Intent.REFINE if dialog.shown else Intent.RECOMMEND, text=u.text)
    return read_answer(text, dialog, engine, u) or u
