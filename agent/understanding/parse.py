"""Deterministic understanding of one user message for guided mode.

``understand(message, state, vocab)`` turns a chat message into an :class:`Understanding`: the
intent, the slot update (:class:`agent.state.ConstraintUpdate`), the items the message is about
(by position in the last shown list, by title, or "that one"), reference items ("like Star
Wars"), and suggested feedback events. It uses rules plus the catalog's vocabulary
(:class:`CatalogVocab`) and the lexicon's language and domain files, and optionally an embedding
function as a fallback for titles it cannot match by spelling. No LLM is involved.

A message in a language without spaces (Chinese) is first rewritten to the canonical cue words
(:func:`agent.understanding.normalise.canonicalise`); the reply is written in its language.

Extraction order (each step consumes the words it used, so later steps cannot reuse them):
removals ("drop the year limit") -> a least rating ("at least 4 stars") -> positions ("the second
one", "#3") -> titles of shown items -> titles after cues ("like X") -> years -> prices (relative ones,
"cheaper", resolved once the categories are known) -> list length -> brands -> feature words ->
categories with scoped negation -> a stated need ("for running") -> cue words -> the remaining content
words (never fillers) become the free-text query.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import Any

from agent.safety import InjectionFlag, clean_text, detect_injection
from agent.state import ConstraintUpdate, DialogState
from agent.understanding.cues import (
    _AGE_SUPERLATIVE,
    _ALL,
    _ALL_EITHER,
    _CLEAR_CATS,
    _CLEAR_REFS,
    _COMPARE,
    _CORRECTION_ADDS,
    _CORRECTION_LEAD,
    _CUES,
    _DEICTIC,
    _DESCRIBE,
    _DISLIKE_FB,
    _DIV_DOWN,
    _DIV_UP,
    _DROP_THE_REST,
    _EXPLAIN,
    _FRESH,
    _HELP,
    _IMPRESSION,
    _ITEM_IS_QUESTION,
    _ITEM_IS_QUESTION_NOT,
    _LIKE_FB,
    _LIST_QUESTION,
    _MEMORY_CLEAR,
    _MEMORY_VIEW,
    _MORE_ALONG,
    _MORE_ITEMS,
    _MORE_LIKE,
    _NOTINT_FB,
    _ORD_WORDS,
    _PEOPLE,
    _PLURAL_DEICTIC,
    _POPULAR_ASK,
    _QUERY_STOP,
    _QUOTED_EN,
    _RATING,
    _REFERENCE_LEAD,
    _REFINE_MARK,
    _REPLACE,
    _RESET,
    _RESET_ALL,
    _RESET_KEEP,
    _SELF_CORRECTION,
    _SINGULAR_DEICTIC,
    _THEN_FOR_THAN,
    _UNDO,
    _UNDO_LEAD,
    asks_all_anywhere,
)
from agent.understanding.lexicon import _words, all_item_nouns, lexicon
from agent.understanding.negation import NegationScope
from agent.understanding.normalise import _Msg, canonicalise, normalize
from agent.understanding.shop import ShopPasses
from agent.understanding.slots import _RX_REMOVE_IT, _STORY_PAST, _STORY_SUBJECTS, SlotPasses
from agent.understanding.titles import TitlePasses
from agent.understanding.types import Intent, ItemRef, SuggestedFeedback, UnderstandConfig, Understanding
from agent.understanding.vocab import CatalogVocab
from catalog.types import FeedbackKind

_OBJECT_FILLERS = frozenset({"a", "an", "the", "any", "all", "those", "these", "most", "some", "of", "to", "watching",
                             "watch", "see", "seeing", "more", "really", "much", "them", "anything", "everything",
                             "something", "stuff", "things", "kind", "sort", "type", "that", "is", "are"})  # fmt: skip


class _Builder(SlotPasses, TitlePasses, NegationScope, ShopPasses):
    """Collects one message's findings (the passes live in the modules by concept)."""


_ADVERB_ENDINGS = (
    "ally",
    "ently",
    "antly",
    "ously",
    "ively",
    "ably",
    "ibly",
    "fully",
    "lessly",
    "edly",
    "ingly",
    "ctly",
    "inely",
)
"""Word endings of manner adverbs ("normally", "honestly", "seriously"): never what an item is about."""
_ADDED_NEED_NOT_BE = re.compile(
    r"\b(?:too|as well|also)\b.*\b(?:they|those|these|them|it|that one|those ones)\s+"
    r"(?:dont|doesnt|do not|does not|neednt|need not)\s+(?:(?:have|need)\s+to\s+)?(?:also\s+)?be\b"
)
"""One more category, said not to need the earlier one as well ("sci-fi ones too? they dont have to be X")."""
_BEFORE_A_VERB = frozenset(
    {
        "up",
        "keep",
        "keeps",
        "kept",
        "start",
        "started",
        "stop",
        "stopped",
        "im",
        "youre",
        "were",
        "theyre",
        "hes",
        "shes",
    }
)
"""Words after which an "-ing" word is a verb ("keeps pushing", "end up picking"), not what an item is about."""
_OFF_THE_ASKED = re.compile(
    r"\b(?:off|from|out of) (?:the|my|this|that|your) (?:list|request|search|selection|filters)\b|\bkeep the (?:rest|others?)\b|\bthe rest (?:stays?|can stay)\b"
)
"""Taking one of the asked-for categories off what was asked ("take X off the list, keep the rest")."""


_ARTICLES = frozenset({"the", "a", "an"})


_REQUEST_SIGNALS = _words(lexicon().en.raw, "request_signals", "agent/data/lang/en.yaml") | frozenset(all_item_nouns())


def _titled(msg: Any, b: Any) -> set[int]:
    """The tokens where a title the message named stands ("the" elsewhere is no title)."""
    return {j for _, k, n in _title_places(msg, b) for j in range(k, k + n)}


def _span_asks(msg: Any, b: Any, titled: set[int], ks: list[int], start: int, end: int, wishes: frozenset[str]) -> bool:
    """Whether the tokens ``ks`` (text ``start:end``) ask for something: a category, title, number, item noun,
    request word, one of ``wishes`` or a question mark."""
    return "?" in msg.norm[start:end] or any(
        k in b.cat_tokens
        or k in titled
        or msg.toks[k].isdigit()
        or msg.toks[k] in _REQUEST_SIGNALS
        or msg.toks[k] in wishes
        for k in ks
    )


def _occasion_tokens(msg: Any, b: Any, titled: set[int]) -> set[int]:
    """The tokens of sentences that tell the occasion, not the wish, in a message of several sentences: no
    category, title, number, item noun, request word or question mark ("It's date night and we finally got a
    babysitter. Show me 3 westerns.": the first sentence is no query). Empty when no sentence is a request."""
    bounds = [mt.end() for mt in re.finditer(r"[.!?;]+", msg.norm)]
    if len(bounds) < 1 or bounds[-1] < len(msg.norm.rstrip()):
        bounds.append(len(msg.norm))
    if len(bounds) < 2:
        return set()
    sentences: list[tuple[list[int], bool]] = []
    start = 0
    for end in bounds:
        ks = [k for k in range(len(msg.toks)) if start <= msg.starts[k] < end]
        sentences.append((ks, len(ks) <= 1 or _span_asks(msg, b, titled, ks, start, end, frozenset())))
        start = end
    if not any(asks for _, asks in sentences):
        return set()
    return {k for ks, asks in sentences if not asks for k in ks}


_STORY = lexicon().en.raw.get("story_clause") or {}
_STORY_BREAK = re.compile(rf"[,;:.!?]+|\b(?:{'|'.join(map(re.escape, _STORY.get('breaks') or ()))})\b")
_STORY_OPENERS = frozenset(str(w) for w in [*(_STORY.get("openers") or ()), *(_STORY.get("breaks") or ())])
_STORY_STARTS = frozenset(str(w) for w in _STORY.get("subjects") or ())
_STORY_WISHES = frozenset(str(w) for w in _STORY.get("wishes") or ())


def _story_tokens(msg: Any, b: Any, titled: set[int]) -> set[int]:
    """The tokens of clauses that tell a person's story inside a request (``story_clause`` in the language
    file: "no animation, my boyfriend fell asleep halfway through", "3 options so we can vote"). Empty when no
    clause asks for anything."""
    cuts = [0, *(mt.start() for mt in _STORY_BREAK.finditer(msg.norm)), len(msg.norm) + 1]
    story: set[int] = set()
    asking = told_before = False
    for start, end in itertools.pairwise(cuts):
        ks = [k for k in range(len(msg.toks)) if start <= msg.starts[k] < end]
        words = [msg.toks[k] for k in ks]
        asks = _span_asks(msg, b, titled, ks, start, end, _STORY_WISHES)
        asking = asking or asks
        lead = 0
        while lead < len(words) and words[lead] in _STORY_OPENERS:
            lead += 1
        told = lead < len(words) and words[lead] in _STORY_STARTS and len(words) > lead + 1
        if not asks and (told or (told_before and not re.search(r"[.!?]", msg.norm[start : start + 1]))):
            story.update(ks)  # "my son rolled his eyes so hard i ...": a clause going on with the story is story
        told_before = not asks and (told or told_before)
    return story if asking else set()


def _title_places(msg: Any, b: Any) -> list[tuple[ItemRef, int, int]]:
    """Every place where the words of a title the message named stand together: (the reference, first token,
    length)."""
    places = []
    for ref in [*b.refs, *b.title_items]:
        words = ref.text.split()
        for k in range(len(msg.toks) - len(words) + 1) if words else ():
            if msg.toks[k : k + len(words)] == words:
                places.append((ref, k, len(words)))
    return places


def _taken_back(said: ConstraintUpdate) -> dict[str, Any]:
    """What a correction takes back of the words before it: each kind it says again (what to look for, by
    category or by title; the exclusions; the period; the count)."""
    taken: dict[str, Any] = {}
    if said.include or said.reference_item_ids:
        taken |= {"include": [], "replace_include": False, "include_all": None}
        taken |= {"reference_item_ids": [], "clear_references": False}
    if said.exclude:
        taken["exclude"] = []
    if said.year_min is not None or said.year_max is not None or said.clear_years:
        taken |= {"year_min": None, "year_max": None, "clear_years": False}
    if said.n is not None or said.clear_n:
        taken |= {"n": None, "clear_n": False}
    return taken


_BARE_NUMBER_END = re.compile(r"(?:^|[\s,.:;!-])(\d{1,3})\s*(?:please|pls|thanks|instead)?[\s.!]*$", re.IGNORECASE)
"""A correction that ends in a bare number: the count said again."""


@functools.cache
def _correction_rx(lang: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """Where a message in ``lang`` corrects itself, and the words that make a correction an addition."""
    if lang == "en":
        return _SELF_CORRECTION, _CORRECTION_ADDS
    raw = lexicon().languages[lang].raw if lang in lexicon().languages else {}
    cues, adds = raw.get("self_correction"), raw.get("correction_additions")
    if not cues:
        return None
    alts = "|".join(re.escape(str(w)) for w in sorted(cues, key=len, reverse=True))
    add_alts = "|".join(re.escape(str(w)) for w in adds or ()) or "(?!)"
    return re.compile(rf"[，,。.；;！!？?…~、\s]+\s*(?P<cue>(?:{alts}))"), re.compile(add_alts)


def _read_correction(
    text: str, lang: str, state: DialogState, vocab: CatalogVocab, cfg: UnderstandConfig, depth: int
) -> Understanding | None:
    """A message that corrects itself ("horror... no wait, romance!", "no war, oops i meant no crime"), read as
    two turns: the words before the last correction, then the correction in their light. What the correction
    says again of a kind (what to look for, the exclusions, the period, the count) replaces what the words before
    said of it, unless it says it adds ("no war either"). None when there is no correction after something said,
    or the words before it ask for nothing."""
    rx = _correction_rx(lang)
    if rx is None:
        return None
    cut = None
    for mt in rx[0].finditer(text):
        if re.search(r"\w", text[: mt.start()]) and re.search(r"\w", text[mt.end() :]):
            cut = mt
    if cut is None:
        return None
    before, after = text[: cut.start()], text[cut.start("cue") :]
    first = _understand(before, state, vocab, cfg, depth + 1)
    if first.slots.is_empty() and not (first.items or first.positions or first.feedback):
        return None  # "hmm, no wait, i mean X": nothing to correct; the whole message is read as one
    mid = apply_understanding(state, first)
    second = _understand(after, mid, vocab, cfg, depth + 1)
    bare = _BARE_NUMBER_END.search(after)
    if first.slots.n is not None and second.slots.is_empty() and bare and len(re.findall(r"\d+", after)) == 1:
        # "12 of them, no wait, 15", "150 -- oops, extra zero, 15": the count said again
        n = min(int(bare.group(1)), cfg.max_n)
        if n >= 1:
            second = second.model_copy(update={"slots": second.slots.model_copy(update={"n": n}), "clarify": None})
    if second.clarify and second.slots.is_empty():
        return None  # "drama, i mean, i really love it": no correction, "it" is what was said before
    taken = {} if rx[1].search(after) else _taken_back(second.slots)
    if "actually" in cut.group("cue").lower().split()[-1:] and "exclude" in taken:
        del taken["exclude"]  # "no horror. actually, i dont want war": a bare "actually" adds a refusal
    slip = [c for c in first.slots.exclude if c in state.constraints.include_categories]
    if slip and second.slots.include and not rx[1].search(after):
        # "not X, i mean Y" after asking for X: X was the slip, taken back, not refused
        taken["exclude"] = [c for c in first.slots.exclude if c not in slip]
        taken["remove"] = list(dict.fromkeys([*first.slots.remove, *slip]))
        # the others asked before stay ("westerns and comedies" -> "not westerns, i mean dramas": comedies and dramas)
        second = second.model_copy(update={"slots": second.slots.model_copy(update={"replace_include": False})})
    if taken:  # "no war... sorry, i meant no crime": what the words before said of that kind is taken back
        mid = apply_understanding(state, first.model_copy(update={"slots": first.slots.model_copy(update=taken)}))
    end = mid.with_update(second.slots)
    u = second.model_copy(deep=True)
    u.slots = ConstraintUpdate.between(state.constraints, end.constraints)
    if second.intent in (Intent.CHITCHAT, Intent.HELP) or (
        second.intent == Intent.REFINE and first.intent == Intent.RECOMMEND
    ):
        u.intent = first.intent  # "horror... no wait, romance": still a first request
    named = list(second.items) or [
        ItemRef(item_id=i, position=p, source="position") for p in second.positions if (i := state.shown_at(p))
    ]
    if named and first.items:  # "i like the second one... oops i meant the third one": another item
        u.items, u.positions = named, list(second.positions)
        if first.feedback and not second.feedback:
            u.feedback = [f.model_copy(update={"item_id": it.item_id}) for f in first.feedback[:1] for it in named]
    for field in ("items", "positions", "feedback", "asked_categories", "category_hints"):
        if not getattr(u, field):
            setattr(u, field, list(getattr(first, field)))
    if not u.slots.reference_item_ids:
        u.references = []
    elif not u.references:
        u.references = list(first.references)
    u.wants_new_items = first.wants_new_items or second.wants_new_items
    u.avoid_terms = list(dict.fromkeys([*first.avoid_terms, *second.avoid_terms]))
    u.notes = list(dict.fromkeys([*first.notes, *second.notes]))
    u.memory_action = second.memory_action or first.memory_action
    u.memory_part = second.memory_part or first.memory_part
    u.text = text
    u.canonical = " ".join(p for p in (first.canonical, second.canonical) if p)
    return u


def _loose(phrase: str) -> str:
    """``phrase`` as a regex that allows an apostrophe after any letter ("doesnt" matches "doesn't")."""
    return "".join(r"\s+" if ch == " " else re.escape(ch) + ("['’]?" if ch.isalpha() else "") for ch in phrase)


@functools.cache
def _quoted_rule_rx(lang: str) -> re.Pattern[str] | None:
    """A whole message in ``lang`` that quotes a rule said before and lifts it (``quoted_rule`` in the
    language file): the optional lead, the quoted words, a break, the lifting words."""
    raw = lexicon().languages[lang].raw if lang in lexicon().languages else {}
    data = raw.get("quoted_rule") or {}
    if not data.get("lifts"):
        return None
    b = r"\b" if lang == "en" else ""

    def alt(key: str) -> str:
        words = sorted((str(w) for w in data.get(key) or ()), key=len, reverse=True)
        return "|".join(_loose(w) for w in words) or "(?!)"

    now = rf"(?:{b}(?:{alt('now')}){b}\s*[,，]?\s*)"
    brk = r"[,，.。;；:：!！?？…\u2013\u2014~-]+"
    return re.compile(
        rf"\W*(?:(?P<lead>{alt('leads')}){b}\s*)?(?P<said>.+?)(?:\s*{b}(?:{alt('trails')}))?"
        rf"(?:\s*{brk}\s*{now}?|\s*{now})(?:{alt('lifts')}){b}"
        r"(?:\s*(?:please|pls|thanks|thx|now|then|吧|啦|了|哈))?[\s.!?。！？~]*"
        rf"(?:\s*{brk}?\s*(?P<rest>\w.*?))?[\s.!?。！？~]*",
        re.IGNORECASE,
    )


def _read_quoted_rule(
    text: str, lang: str, state: DialogState, vocab: CatalogVocab, cfg: UnderstandConfig, depth: int
) -> Understanding | None:
    """A message that quotes a rule and lifts it ("earlier i said no war, now that doesnt matter",
    "刚才说不要战争，现在不限制了"): what the quoted words name (categories either way, the period, the count, the
    titles) is taken back, and any words after the lift are read after it. Without a lead ("i said") the quoted
    words must name only rules in force ("no war, that doesnt matter anymore" after "no war"). None when the
    message is not of that form."""
    rx = _quoted_rule_rx(lang)
    mt = rx.fullmatch(text.strip()) if rx is not None else None
    if mt is None:
        return None
    first = _understand(mt.group("said"), state, vocab, cfg, depth + 1)
    s, c = first.slots, state.constraints
    cats = [*s.include, *s.exclude]
    years = s.year_min is not None or s.year_max is not None
    if not (cats or years or s.n is not None or s.reference_item_ids):
        lifted = s.remove or s.allow or s.clear_years or s.clear_n or s.clear_references or s.clear_categories
        return first.model_copy(update={"text": text}) if lifted else None  # "drop the X rule, that's gone"
    in_force = (
        set(s.include) <= set(c.include_categories)
        and set(s.exclude) <= set(c.exclude_categories)
        and (not years or (c.year_min, c.year_max) != (None, None))
        and (s.n is None or c.n is not None)
        and set(s.reference_item_ids) <= set(c.reference_item_ids)
    )
    if not (mt.group("lead") or in_force):
        return None
    u = first.model_copy(deep=True)
    u.slots = ConstraintUpdate(
        remove=list(dict.fromkeys(cats)),
        clear_years=years,
        clear_n=s.n is not None,
        clear_references=bool(s.reference_item_ids),
    )
    u.intent, u.clarify = Intent.REFINE, None
    u.items, u.positions, u.feedback, u.references = [], [], [], []
    u.text = text
    if mt.group("rest"):  # "..., but thats fine now, X can be in there": the rest, as said of the rules then
        mid = apply_understanding(state, u)
        second = _understand(mt.group("rest"), state, vocab, cfg, depth + 1)
        u.slots = ConstraintUpdate.between(c, mid.with_update(second.slots).constraints)
        u.notes = list(dict.fromkeys([*u.notes, *second.notes]))
    return u


def _written_as_a_name(text: str, terms: str) -> bool:
    """Whether ``terms`` (normalised words) stand in ``text`` with a capital first letter, not at the start
    of a sentence, in a message that is not all capitals ("anything like Inception?")."""
    if text.isupper() or not terms:
        return False
    first = re.escape(terms.split()[0])
    for mt in re.finditer(rf"(?<![\w'])({first})(?![\w'])", text, re.IGNORECASE):
        before = text[: mt.start()].rstrip()
        if mt.group(1)[:1].isupper() and before and before[-1] not in ".!?\"'“‘«":
            return True
    return False


_MAX_CORRECTIONS = 4
"""Corrections read as steps in one message; more are read as plain text (a bound on the recursion)."""


def understand(
    message: str, state: DialogState | None, vocab: CatalogVocab, config: UnderstandConfig | None = None
) -> Understanding:
    """Read one user message in the context of the dialog so far.

    Args:
        message: The raw user message (any string; longer than the safety cap is cut, with a note).
        state: The dialog state before this turn (None for a new conversation).
        vocab: The catalog vocabulary (:meth:`CatalogVocab.from_dataset`).
        config: Thresholds and defaults.

    Returns:
        The intent, the slot update (not yet merged: see :func:`apply_understanding`), the items
        referred to, suggested feedback, and notes. Never raises on a string message.
    """
    return _understand(message, state, vocab, config, 0)


def _understand(
    message: str, state: DialogState | None, vocab: CatalogVocab, config: UnderstandConfig | None, depth: int
) -> Understanding:
    cfg = config or UnderstandConfig()
    state = state or DialogState()
    raw = message if isinstance(message, str) else str(message)
    notes: list[str] = []
    if len(raw) > cfg.safety.max_message_chars:
        notes.append(f"message cut to {cfg.safety.max_message_chars} characters")
    text = clean_text(raw, cfg.safety.max_message_chars)
    flags: list[InjectionFlag] = detect_injection(text)
    canon = canonicalise(text, vocab.lexicon.domain.name)
    norm0 = normalize(canon.text)
    if depth < _MAX_CORRECTIONS:
        corrected = _read_quoted_rule(text, canon.lang, state, vocab, cfg, depth) or _read_correction(
            text, canon.lang, state, vocab, cfg, depth
        )
        if corrected is not None:
            corrected.injection = sorted({f.rule for f in flags})
            corrected.notes = [*notes, *corrected.notes]
            return corrected
    if canon.lang == "en":
        norm0 = _THEN_FOR_THAN.sub(r"\1 than", norm0)  # "not older then 1984"
    msg = _Msg(vocab.respell(norm0) if canon.lang == "en" else norm0)
    b = _Builder(msg, state, vocab, cfg)
    b.lang = canon.lang
    b.text = text
    b.notes.extend(notes)
    lex = vocab.lexicon

    def ask(key: str, **values: Any) -> str:
        return lex.reply(b.lang, key, **values)

    # 0. removals first: their words ("drop", "never mind") are neither feedback nor a reset
    b.removed_references_pass()
    b.removal_pass()
    b.rating_pass()  # "at least 4 stars" is a constraint, not a rating of an item
    norm = b.cue_blanked_norm()

    compare_cue = bool(_COMPARE.search(norm))
    explain_cue = bool(_EXPLAIN.search(norm))
    describe_cue = bool(_DESCRIBE.search(norm))
    like_cue = bool(_LIKE_FB.search(norm))
    if like_cue and (explain_cue or describe_cue) and not _LIKE_FB.search(_IMPRESSION.sub(" ", norm)):
        like_cue = False  # "movie 5 sounds good, why'd you recommend it?": a question, not a like
    asked = _EXPLAIN.search(norm)
    if (
        like_cue
        and asked
        and not _LIKE_FB.search(norm[: asked.start()])
        and not re.search(r"[.!;]", norm[asked.end() :])
    ):
        like_cue = False  # "what makes it a good pick?": the like words are part of the question
    dislike_cue = bool(_DISLIKE_FB.search(norm))
    # "remove those filters", "lose the rest": no item
    drop_rest = bool(_DROP_THE_REST.search(norm))  # "keep X and lose the rest": a reset that keeps X
    notint_cue = bool(_NOTINT_FB.search(norm)) and not _RESET_ALL.search(norm) and not drop_rest
    more_like = bool(_MORE_LIKE.search(norm))
    item_cue = compare_cue or explain_cue or describe_cue or like_cue or dislike_cue or notint_cue or more_like

    # 1. items named by position or by a shown title; then catalog titles
    b.positions_pass(compare_cue, item_cue=item_cue)
    if item_cue and state.shown:
        b.shown_titles_pass()
    b.titles_pass()
    if notint_cue and (b.refs or b.title_items) and (more_like or _MORE_ALONG.search(norm)):
        notint_cue = False  # "we've seen X already. more along those lines?": seen, and more like it wanted
    for ref, k, n in _title_places(msg, b):  # "quoting liar liar ... movies like liar liar": the title said twice
        if (n >= 2 or len(ref.text) >= 4) and not any(msg.used[k : k + n]):
            msg.take_tokens(k, n)
    if (b.title_items or b.positions) and re.search(r"\bwhat(?: i)?s\b.*\babout\b", norm):
        # "whats first on the list about", "what's Fargo about": the item's description
        describe_cue = True
    named = {r.text for r in [*b.refs, *b.title_items]}
    unknown = [t for t in canon.unknown_titles if t not in named]
    for mt in _QUOTED_EN.finditer(text) if canon.lang == "en" else ():
        # "got 9 movies like 'the lanterns of vellmere bay'?": a quoted title after a reference lead that the
        # catalog does not have is asked about, as a quoted Chinese title is (an unquoted one is searched for);
        # a catalog title matching only part of the quote ("the quiet" of 'the quiet orchard of marlow') is not it
        if not _REFERENCE_LEAD.search(normalize(text[: mt.start()]) + " "):
            continue
        quoted = set(normalize(mt.group(1)).split()) - _ARTICLES
        partial = [r for r in b.refs if quoted - set(r.text.split())]
        b.refs = [r for r in b.refs if r not in partial]
        if partial or not (b.refs or b.title_items):
            unknown.append(mt.group(1).strip())
    # 2. ranges and counts
    b.years_pass()
    b.relative_price_pass()
    b.prices_pass()
    b.n_pass()
    b.brands_pass()
    b.features_pass()
    # 3. categories
    if msg.has(_CLEAR_CATS):
        msg.matches(_CLEAR_CATS)
        b.slots["replace_include"] = True
    b.categories_pass()
    asked_of_item: list[str] = []
    if b.positions and b.include and _ITEM_IS_QUESTION.search(norm) and not _ITEM_IS_QUESTION_NOT.search(norm):
        # "is the fifth one a horror movie?": a question about that item, not a wish for the category
        asked_of_item, b.include, b.include_all, describe_cue = b.include, [], False, True
    b.resolve_relative_price()
    b.unknown_brand_pass()
    b.need_pass()

    def about_category(rx: re.Pattern[str]) -> bool:
        """Every match of a like/dislike cue is about a category ("I can't stand musicals"): a
        preference to filter on, not feedback on an item."""
        hits = list(rx.finditer(norm))
        for mt in hits:
            i = msg.token_at(mt.end())
            while i < len(msg.toks) and msg.toks[i] in _OBJECT_FILLERS:
                i += 1
            if i not in b.cat_tokens:
                return False
        return bool(hits)

    if like_cue and about_category(_LIKE_FB):
        like_cue = False
    if dislike_cue and about_category(_DISLIKE_FB):
        dislike_cue = False
    if notint_cue and about_category(_NOTINT_FB):
        notint_cue = False  # "skip horror": a category to leave out, not an item
    if notint_cue and all(any(s <= mt.start() < e for s, e in b.cue_spans) for mt in _NOTINT_FB.finditer(norm)):
        notint_cue = False  # "i see some X in there, take those out": the refusal of that category

    # cue phrases are not query words
    for rx in _CUES:
        msg.consume(rx)

    u = Understanding(
        intent=Intent.CHITCHAT,
        text=text,
        injection=sorted({f.rule for f in flags}),
        language=b.lang,
        canonical=canon.text if canon.lang != "en" else "",
    )
    u.positions = list(dict.fromkeys(b.positions))
    u.asked_categories = asked_of_item
    u.notes = b.notes
    u.clarify = b.clarify

    # deictic targets ("that one", "them")
    def deictic() -> list[ItemRef]:
        def focused(x: str) -> ItemRef:
            return ItemRef(item_id=x, position=(state.shown.index(x) + 1) if x in state.shown else None, source="focus")

        plural = _PLURAL_DEICTIC.search(norm) and not _SINGULAR_DEICTIC.search(norm) and len(state.focus) <= 1
        if (_ALL.search(norm) or plural) and state.shown:
            return [ItemRef(item_id=x, position=k, source="all_shown") for k, x in enumerate(state.shown, start=1)]
        if state.focus:
            return [focused(x) for x in state.focus]
        if len(state.shown) == 1:
            return [ItemRef(item_id=state.shown[0], position=1, source="focus")]
        if more_like and len(state.constraints.reference_item_ids) == 1:
            # "fargo was great" then "find me more like it": "it" is the one title the talk is about
            return [focused(state.constraints.reference_item_ids[0])]
        return []

    targets = list(b.targets)
    has_deictic = bool(_DEICTIC.search(norm))

    # 4. memory, reset, diversity, more-items
    slots = dict(b.slots)
    if _MEMORY_CLEAR.search(norm):
        part = _MEMORY_CLEAR.search(norm).group(1)  # type: ignore[union-attr]
        u.intent, u.memory_action = Intent.MEMORY, "clear"
        u.memory_part = {"liked": "likes", "disliked": "dislikes", "preferences": "constraints", "filters": "constraints",
                         "constraints": "constraints", "ratings": "ratings", "likes": "likes", "dislikes": "dislikes"}.get(part, "all")  # fmt: skip
        return u
    if _MEMORY_VIEW.search(norm):
        u.intent, u.memory_action = Intent.MEMORY, "view"
        return u
    if state.previous_constraints is not None and _UNDO.search(norm):  # "actually scrap that": one step back
        u.slots = ConstraintUpdate(undo=True)
        u.intent = Intent.REFINE if state.shown else Intent.RECOMMEND
        return u
    # "remove both of those conditions": every constraint goes and the list is shown again (a refinement);
    # "start over" alone is a reset that asks afresh
    lift_all = bool(_RESET_ALL.search(norm))  # "clear all the filters (and start over)": shown afresh
    reset = bool(_RESET.search(norm)) or drop_rest or lift_all
    if reset:
        slots["reset"] = True
    if _DIV_UP.search(norm):
        cur = state.constraints.diversity if state.constraints.diversity is not None else cfg.default_diversity
        slots["diversity"] = round(min(1.0, cur + cfg.diversity_step), 4)
    elif _DIV_DOWN.search(norm):
        cur = state.constraints.diversity if state.constraints.diversity is not None else cfg.default_diversity
        slots["diversity"] = round(max(0.0, cur - cfg.diversity_step), 4)
    u.wants_new_items = bool(_MORE_ITEMS.search(norm)) or "something different" in norm
    if _CLEAR_REFS.search(norm):
        slots["clear_references"] = True
    if b.removed_refs:  # "forget the english patient": that reference goes, the others stay
        slots["clear_references"] = True
        kept = [r for r in state.constraints.reference_item_ids if r not in b.removed_refs]
        if kept:
            slots["reference_item_ids"] = kept

    # what the catalog does not record ("whos in the second one", "how long is it"): its words are no query
    absent = _absent_asked(lex, b.lang, msg.norm if b.lang == "en" else text, msg if b.lang == "en" else None)

    # 5. the free-text query: content words nobody used, minus negated ones and the occasion told around them
    query_words: list[str] = []
    titled = _titled(msg, b) if b.lang == "en" else set()
    context = _occasion_tokens(msg, b, titled) if b.lang == "en" else set()
    story = _story_tokens(msg, b, titled) if b.lang == "en" else set()
    for k, t in enumerate(msg.toks):
        if (
            msg.used[k]
            or k in context
            or t in _QUERY_STOP
            or t in ("$", "#", "€", "£")
            or len(t) < 2
            or t in _ORD_WORDS
            or t.isdigit()
        ):
            continue
        if vocab.is_noise(t):  # a function word or filler misspelt ("recomend", "anythign")
            continue
        if t.endswith(_ADVERB_ENDINGS):  # "as many as you normally would": how, not what
            continue
        if t.endswith("ing") and k > 0 and msg.toks[k - 1] in _BEFORE_A_VERB:  # "keeps pushing", "end up picking"
            continue
        if (
            k > 0
            and (msg.toks[k - 1] in _STORY_SUBJECTS or msg.toks[k - 1] in _PEOPLE)
            and (t.endswith("ed") or t in _STORY_PAST)
        ):
            continue  # "last time i sat through X i regretted it": the person's story, not what to search
        refused_after = re.match(r"[\s-]*free\b(?!\s+(?:of|from)\b)", msg.norm[msg.ends[k] :])  # "gore-free"
        if b._negated(k) or b._is_negated_span(msg.starts[k]) or refused_after:
            b.avoid.append(t)
            continue
        if k in story:  # "so we can vote": the person's story, not what to search
            continue
        query_words.append(t)
    query = " ".join(query_words)[: cfg.max_query_chars].strip()
    u.avoid_terms = b.avoid

    # 6. intent
    fb: list[SuggestedFeedback] = []
    # "sorry meant comedy", "i meant after 1990": what the message says again of a kind replaces the old one
    corrects = bool(_CORRECTION_LEAD.match(msg.norm)) and not _CORRECTION_ADDS.search(msg.norm)

    def fresh_or_replaced(new_topic: bool) -> bool:
        """A fresh request on a new topic ("show me X"): the asked categories, references and years start over,
        and True (a new list, not a refinement). Else a correction ("X instead", "just X") puts the categories
        named in place of the asked ones ("no wait, they must all be X too" adds to them: replaces nothing)."""
        asked = _FRESH.search(norm)
        if asked and new_topic and not _REFINE_MARK.search(norm[asked.start() :]) and not b.all_with_earlier:
            slots["replace_include"] = True
            slots.setdefault("clear_references", True)
            if "year_min" not in slots and "year_max" not in slots:
                slots["clear_years"] = True
            slots["query"] = query
            return True
        if (_REPLACE.search(norm) or b.only_these or _UNDO_LEAD.match(norm) or corrects) and not b.all_with_earlier:
            if b.include:
                slots["replace_include"] = True
            elif b.refs and not state.constraints.reference_item_ids:
                # "war movies" then "forget that, something like <title> instead": the title takes the place of
                # the asked categories (a title said instead of another one replaces just that one)
                slots["replace_include"] = True
        return False

    target_refs = targets + [r for r in b.title_items if r.item_id not in {t.item_id for t in targets}]

    def pick_targets(allow_deictic: bool = True) -> list[ItemRef]:
        if target_refs:
            return target_refs
        if allow_deictic and (has_deictic or len(state.shown) == 1 or state.focus):
            return deictic()
        return []

    rating = _RATING.search(norm)
    intent: Intent | None = None
    items: list[ItemRef] = []
    # "which of these is the most recent?", "which one came out earliest": the shown items by the catalog's years
    age = _AGE_SUPERLATIVE.search(norm) if re.search(r"\bwhich\b", norm) and len(state.shown) >= 2 else None
    asked_years = {k: slots[k] for k in ("year_min", "year_max") if slots.get(k) is not None}
    if (
        state.shown
        and (b.include or asked_years)
        and not (b.exclude or target_refs or b.refs)
        and _LIST_QUESTION.search(norm)
        and not _ITEM_IS_QUESTION_NOT.search(norm)
    ):
        # "are any of these from before 1990?", "are they all comedies?": each shown item is checked against
        # what the question names (the answer lists those that fit); nothing is searched or changed
        intent = Intent.COMPARE
        u.asked_of_list, u.asked_categories = True, list(b.include)
        u.asked_year_min, u.asked_year_max = asked_years.get("year_min"), asked_years.get("year_max")
        items = [ItemRef(item_id=x, position=k, source="all_shown") for k, x in enumerate(state.shown, 1)]
        b.include, b.include_all = [], False
    elif age or (
        compare_cue and (len(target_refs) >= 2 or (has_deictic and len(state.shown) >= 2) or _ALL.search(norm))
    ):
        intent = Intent.COMPARE
        if age:
            u.asked_age = "newest" if age.group("newest") else "oldest"
        items = (
            target_refs
            if len(target_refs) >= 2
            else [ItemRef(item_id=x, position=k, source="all_shown") for k, x in enumerate(state.shown, 1)]
        )
    elif explain_cue and not (like_cue or dislike_cue) and (target_refs or state.shown or has_deictic):
        intent = Intent.EXPLAIN
        items = pick_targets(allow_deictic=has_deictic or len(state.shown) == 1)
    elif describe_cue and not slots.get("year_min") and not b.include:
        intent = Intent.DESCRIBE
        items = pick_targets()
        if not items:
            u.clarify = u.clarify or (ask("which_one_short") if state.shown else ask("which_item"))
    if notint_cue and (b.remove or b.allow) and _RX_REMOVE_IT.search(norm) and not (targets or b.title_items):
        notint_cue = False  # "the X part isnt essential, drop it": "it" is the category taken back, not an item
    if intent is None and (
        like_cue or dislike_cue or notint_cue or more_like or rating or b.neg_positions or b.disliked_titles
    ):
        if b.refs and not target_refs and not (dislike_cue or b.disliked_titles):
            items = list(b.refs)  # a title named in the message ("I loved Fargo, anything like it?") beats "it"
        else:
            items = pick_targets() or ([] if (dislike_cue or b.disliked_titles) else list(b.refs))
        kind: FeedbackKind | None = None
        value: float | None = None
        if rating:
            kind = FeedbackKind.RATING
            scale = float(rating.group(2) or rating.group(3) or 5)
            value = round(min(5.0, max(0.0, float(rating.group(1)) * 5.0 / scale)), 2)
        elif dislike_cue or b.disliked_titles:
            kind = FeedbackKind.DISLIKE
            items = items or b.disliked_titles
            for r in b.disliked_titles:
                if r.item_id not in {t.item_id for t in items}:
                    items.append(r)
        elif notint_cue or b.neg_positions:
            kind = FeedbackKind.NOT_INTERESTED
        elif more_like:
            kind = FeedbackKind.MORE_LIKE_THIS
        elif like_cue:
            kind = FeedbackKind.LIKE
        # liking a title the person names that was not shown ("I watched Fargo and really liked it") asks
        # for more like it, as "more like Fargo" does; liking a shown item is feedback on the list
        named_like = (
            kind == FeedbackKind.LIKE
            and bool(items)
            and all(r.source == "title" and r.item_id not in state.shown for r in items)
            and not (targets or b.neg_positions)
        )
        if kind is not None and items:
            for r in items:
                fb.append(SuggestedFeedback(item_id=r.item_id, kind=kind, value=value, reason=text[:120]))
            if (
                kind in (FeedbackKind.MORE_LIKE_THIS,)
                or named_like
                or (kind == FeedbackKind.LIKE and (_FRESH.search(norm) or u.wants_new_items or query))
            ):
                slots["reference_item_ids"] = [r.item_id for r in items]
            list_intent = Intent.REFINE if state.shown else Intent.RECOMMEND
            intent = (
                list_intent
                if (
                    kind == FeedbackKind.MORE_LIKE_THIS
                    or named_like
                    or b.include
                    or b.exclude
                    or "year_min" in slots
                    or "year_max" in slots
                    or _FRESH.search(norm)
                )
                else Intent.FEEDBACK
            )
        elif kind is not None and not (b.include or b.exclude or "year_min" in slots or "year_max" in slots):
            intent = Intent.FEEDBACK
            u.clarify = u.clarify or (ask("which_one_short") if state.shown else ask("which_item"))
        # a like/dislike cue about no item in a message that asks for categories or years ("too much horror
        # lately, no more of it... what crime movies u got") is the request, not feedback to ask about
        if kind in (FeedbackKind.DISLIKE, FeedbackKind.NOT_INTERESTED) and intent == Intent.FEEDBACK:
            query = ""
        if (
            kind in (FeedbackKind.DISLIKE, FeedbackKind.NOT_INTERESTED)
            and intent == Intent.REFINE
            and b.include
            and fresh_or_replaced(True)
        ):
            # "seen them all, show me comedies": the list turned down and a new request, not one more option
            # ("none of those appeal to me, try X instead": X in their place, a refinement)
            intent = Intent.RECOMMEND

    # references ("like X") become slots
    if intent in (None, Intent.REFINE, Intent.RECOMMEND) and b.refs:
        ref_ids = [r.item_id for r in b.refs if r.item_id not in {f.item_id for f in fb if f.kind != FeedbackKind.LIKE}]
        if ref_ids:
            slots["reference_item_ids"] = list(dict.fromkeys([*slots.get("reference_item_ids", []), *ref_ids]))
        u.references = b.refs
        if b.refs and like_cue and intent is None:
            for r in b.refs:
                fb.append(SuggestedFeedback(item_id=r.item_id, kind=FeedbackKind.LIKE, reason=text[:120]))

    if b.include:
        slots["include"] = b.include
        old = state.constraints.include_categories
        if lex.domain.category_switch and old and not set(b.include) <= set(old) and not reset:
            # a shop's categories are kinds of product: naming another one switches to it, and the old
            # one's brand, feature and price wishes and stated need go with it (unless said again)
            slots.update(replace_include=True, clear_brands=True, clear_features=True, clear_prices=True)
            slots.setdefault("need", "")
    if ("year_min" in slots or "year_max" in slots) and (
        re.search(r"\b(?:instead|rather than|in place of)\b", norm) or corrects
    ):
        # "anything after 1953 instead of that decade", "sorry, i meant anything before 1969": the new period
        # replaces the old one
        slots["clear_years"] = True
    old_inc, old_exc = state.constraints.include_categories, state.constraints.exclude_categories
    emphatic = re.search(
        r"\b(?:definitely|absolutely|certainly|def|defo|really)\s+(?:no|not|nothing|none)\b"
        r"|\bno more (?:of )?(?:those|them|that|it|these)\b",  # "enough X, no more of those": a ban
        norm,
    )
    if (
        b.exclude
        and ((b.include and (not set(b.include) <= set(old_inc) or b.only_these)) or _OFF_THE_ASKED.search(norm))
        and not emphatic
    ):
        # "not war after all, let's do animation" / "adventure is out, only children's": an asked-for category
        # taken back while another is asked for is a switch (no longer asked for), not a new ban; so is one
        # taken "off the list" ("keep the rest"); "and definitely no crime" is a ban
        taken_back = [c for c in b.exclude if c in old_inc and c not in old_exc]
        b.remove = [*b.remove, *(c for c in taken_back if c not in b.remove)]
        b.exclude = [c for c in b.exclude if c not in taken_back]
    if reset and b.exclude and _RESET_KEEP.search(norm):
        # "forget all that except the western bit": what was asked of the kept categories stays as it was
        kept = [c for c in b.exclude if c in old_inc]
        b.include = [*b.include, *(c for c in kept if c not in b.include)]
        b.exclude = [c for c in b.exclude if c not in kept]
        if b.include:
            slots["include"] = b.include
    if b.exclude:
        slots["exclude"] = b.exclude
    if b.allow:
        slots["allow"] = b.allow
    added = [c for c in b.include if c not in old_inc]
    if added and b.remove and _ADDED_NEED_NOT_BE.search(msg.norm):
        # "can the list have sci-fi too? they dont have to be children's": the new category is one more option,
        # it need not also be the earlier one; the earlier one stays asked for
        b.remove = [c for c in b.remove if c not in old_inc]
        b.include_all = False
        slots["include_all"] = False
    if b.remove:
        slots["remove"] = b.remove
    if b.include_all and b.include:
        slots["include_all"] = True
    elif b.include or (state.constraints.include_all and _ALL_EITHER.search(norm)):
        slots["include_all"] = False  # named alone, or "doesnt need to be both, either is fine"
    elif (
        len(state.constraints.include_categories) >= 2
        and not state.constraints.include_all
        and not (targets or b.title_items or b.refs)
        and asks_all_anywhere(norm)
        and not _ALL_EITHER.search(norm)
    ):
        slots["include_all"] = True  # "actually only ones that are both": the categories asked before, at once

    constraint_words = bool(
        b.price_wish
        or b.price_word
        or b.include
        or b.exclude
        or b.allow
        or any(
            k in slots
            for k in (
                "year_min",
                "year_max",
                "price_min",
                "price_max",
                "n",
                "diversity",
                "reference_item_ids",
                "clear_years",
                "clear_prices",
                "clear_categories",
                "remove",
                "clear_references",
                "clear_n",
                "include_all",
                "brands",
                "exclude_brands",
                "features",
                "rating_min",
                "need",
            )
        )
    )
    if (
        intent is None
        and targets
        and "?" in text
        and not (b.include or b.exclude or query or b.refs)
        and not any(k in slots for k in ("year_min", "year_max", "n", "clear_years", "clear_categories", "remove"))
    ):
        # only an item asked about ("the 2nd one?"): tell about it; without a question mark it stays an
        # answer to an onboarding offer ("the third one")
        intent, items = Intent.DESCRIBE, targets
    if absent and intent in (None, Intent.FEEDBACK) and (targets or b.title_items or has_deictic):
        # a question about an item the catalog cannot answer: describe what it records (and say so)
        intent, fb = Intent.DESCRIBE, []
        items = pick_targets()
        if not items:
            u.clarify = u.clarify or (ask("which_one_short") if state.shown else ask("which_item"))
    fresh = bool(_FRESH.search(norm))
    # a negated wish nothing can check ("nothing too long", "不要太血腥") is still a request, not chit-chat
    unplaced_wish = bool(b.avoid or canon.unplaced_negated) and not (has_deictic or targets or b.title_items)
    if intent is None:
        if (
            constraint_words
            or query
            or fresh
            or u.wants_new_items
            or slots.get("replace_include")
            or unplaced_wish
            or lift_all
            or _POPULAR_ASK.search(norm)
        ):
            if state.shown or (state.turn > 0 and not state.constraints.is_empty()):
                intent = Intent.REFINE
            else:
                intent = Intent.RECOMMEND
            new_topic = bool(b.include or b.refs or query or slots.get("need"))
            if fresh_or_replaced(new_topic):
                intent = Intent.RECOMMEND
            if query and "query" not in slots:
                slots["query"] = query
        elif reset:
            intent = Intent.RESET
        elif _HELP.search(norm):
            intent = Intent.HELP
        else:
            intent = Intent.CHITCHAT
    if intent in (Intent.RECOMMEND, Intent.REFINE) and reset and "query" not in slots:
        slots["query"] = query
    if intent in (Intent.RECOMMEND, Intent.REFINE) and query and not b.include and vocab.embed is not None:
        u.category_hints = [c for c, _ in vocab.category_hints(query, cfg.category_hint_threshold)]

    if absent and intent in (Intent.DESCRIBE, Intent.EXPLAIN, Intent.CHITCHAT, Intent.HELP):
        u.notes.append(ask("not_recorded", what=absent))
    if unknown and not u.clarify and intent not in (Intent.MEMORY, Intent.RESET, Intent.COMPARE):
        # a title written in a language the catalog does not spell it in: ask, never guess
        u.clarify = ask("unknown_title", title=unknown[0])
        if intent in (Intent.CHITCHAT, Intent.HELP):
            intent = Intent.REFINE if state.shown else Intent.RECOMMEND
    if intent in (Intent.RECOMMEND, Intent.REFINE):
        # "not too gory", "something cheerful": wishes no field of the catalog can check; say so (in the
        # person's language, in their words) instead of dropping them or using them silently
        if b.avoid:
            u.notes.append(ask("cannot_avoid", terms=" ".join(dict.fromkeys(b.avoid))))
        if canon.unplaced_negated:
            u.notes.append(ask("cannot_avoid", terms="、".join(canon.unplaced_negated)))
        unchecked = canon.unplaced if b.lang != "en" else ([query] if query else [])
        head = query.split()[0] if b.lang == "en" and query else ""
        first = next((i for i, t in enumerate(msg.toks) if head and t == head and not msg.used[i]), None)
        if unchecked and first is not None and _REFERENCE_LEAD.search(msg.norm[: msg.starts[first]]):
            # "something like interstellar": a title the catalog does not have, not information the items lack;
            # named as the person wrote it ("zarnoff and the velvet ombudsman"), up to its last query word
            tail = query.split()[-1]
            last = max(
                (i for i, t in enumerate(msg.toks) if i >= first and t == tail and not msg.used[i]), default=first
            )
            terms = msg.norm[msg.starts[first] : msg.ends[last]]
            if _written_as_a_name(text, terms) and not u.clarify:
                # "anything like Inception?": a name written with a capital is a title the person means; ask,
                # as for a quoted one (lower case, "something like interstellar", is searched and said so)
                u.clarify = ask("unknown_title", title=terms)
            else:
                u.notes.append(ask("no_such_title", terms=terms))
        elif unchecked:
            u.notes.append(ask("not_checked", terms=("、" if b.lang != "en" else " ").join(unchecked)))
    u.intent = intent
    u.items = items
    u.feedback = fb
    if u.references == [] and b.refs and intent in (Intent.RECOMMEND, Intent.REFINE):
        u.references = b.refs
    if intent in (Intent.EXPLAIN, Intent.DESCRIBE, Intent.COMPARE):
        # an explain/compare turn does not change the constraints
        slots = {k: v for k, v in slots.items() if k in ("n",)}
    if b.genres_lifted:  # "forget the genres": the left-out ones go too, unless said again ("but still no X")
        lifted = [c for c in state.constraints.exclude_categories if c not in slots.get("exclude", [])]
        slots["allow"] = list(dict.fromkeys([*slots.get("allow", []), *lifted]))
    try:
        u.slots = ConstraintUpdate(**slots)
    except ValueError as e:  # defensive: a slot out of range never breaks a turn
        u.notes.append(f"ignored an invalid slot: {e}")
        u.slots = ConstraintUpdate()
    return u


@functools.cache
def _phrases_rx(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for whole-word phrases (longest first), compiled once per list."""
    alts = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) or "(?!)"
    return re.compile(rf"\b(?:{alts})\b")


def _absent_asked(lex: Any, lang: str, text: str, msg: Any = None) -> str:
    """The name (in ``lang``) of what the message asks for that the catalog does not record (the domain
    file's ``absent``: "whos in it" where no cast is recorded), or "". With ``msg`` the words are taken."""
    for entry in lex.domain.absent:
        phrases = entry["asks"].get(lang) or ()
        if lang == "en":
            spans = [mt.span() for mt in _phrases_rx(phrases).finditer(text)]
            if msg is not None:
                for a, z in spans:
                    msg.take(a, z)
            hit = bool(spans)
        else:
            hit = any(p in text for p in phrases)
        if hit:
            what = entry["what"]
            return str(what.get(lang) or what.get("en") or "")
    return ""


def apply_understanding(state: DialogState, u: Understanding) -> DialogState:
    """The dialog state after this turn: slots merged, focus on the items the turn was about.

    Suggested feedback is *not* applied (only user events are: :meth:`DialogState.apply_feedback`).
    """
    focus = [r.item_id for r in u.items] if u.items else None
    new = state.with_update(u.slots, focus=focus, intent=str(u.intent))
    if u.intent == Intent.MEMORY and u.memory_action == "clear":
        part = u.memory_part or "all"
        new.clear(part if part in ("constraints", "likes", "dislikes", "ratings", "all") else "all")  # type: ignore[arg-type]
    return new


__all__ = ["apply_understanding", "understand"]
