"""Slot parsers: positions in the shown list, years, decades, ranges, prices, list length, removals."""

from __future__ import annotations

import re

import numpy as np

from agent.understanding.builder import BuilderBase
from agent.understanding.cues import (
    _ALLOW_AFTER,
    _CLEAR_AGE,
    _CLEAR_PRICE,
    _CLEAR_YEARS,
    _DECADE_WORDS,
    _DROP_THE_REST,
    _NEG_AFTER,
    _NEG_BEFORE_RX,
    _NUM,
    _NUM_WORDS,
    _ON_OR_AFTER,
    _ON_OR_BEFORE,
    _ORD_WORDS,
    _RX_BARE,
    _RX_CHEAP,
    _RX_CLASSIC,
    _RX_CMP,
    _RX_DECADE,
    _RX_ENDS_K,
    _RX_FIRST_K,
    _RX_HASH,
    _RX_HASH_WORD,
    _RX_N,
    _RX_N_ENOUGH,
    _RX_N_MAX,
    _RX_N_MORE,
    _RX_N_OF,
    _RX_N_PLEASE,
    _RX_N_SET,
    _RX_N_UNLIMIT,
    _RX_NEWER,
    _RX_OLDER,
    _RX_ONE,
    _RX_ORD,
    _RX_PAIR,
    _RX_PRICE_ANY,
    _RX_PRICE_CMP,
    _RX_PRICE_RANGE,
    _RX_RANGE,
    _RX_RECENT,
    _RX_SHOW_N,
    _RX_TALK_TIME,
    _RX_TOP_N,
    _RX_TOP_ONE,
    _RX_UNTIL_NOW,
    _RX_YEAR,
    _RX_YEAR_TAIL,
    _YEAR_OR_DEC,
    _data_words,
)
from agent.understanding.lexicon import _words, all_item_nouns, lexicon
from agent.understanding.types import ItemRef
from agent.understanding.vocab import CatalogVocab

_EN = lexicon().en
_SLOT_OF = {w: slot for slot, words in _EN.removal_slots.items() for w in words}
_REMOVAL = _EN.raw.get("removal", {}) or {}
_REMOVE_DETERMINERS = _words(_REMOVAL, "determiners", "agent/data/lang/en.yaml removal") or frozenset({"the"})
_ADVERBS = _words(_REMOVAL, "adverbs", "agent/data/lang/en.yaml removal")
_REMOVE_OBJECTS = frozenset(_EN.removal_objects)


def _alt(words: object) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))  # type: ignore[call-overload]


def _slot_of(word: str) -> str:
    return _SLOT_OF.get(re.sub(r"\s+", " ", word), "")


_SLOTS = _alt(_SLOT_OF)
_OBJ = _alt(_EN.removal_objects)
_VERBS = _alt(_EN.removal_verbs)
_DET = rf"(?:(?:{_alt(_REMOVE_DETERMINERS)})\s+){{0,5}}"
_ADV = rf"(?:\s+(?:{_alt(_ADVERBS)}))*\s+" if _ADVERBS else r"\s+"


def _after_alt(phrases: object) -> str:
    return "|".join(r"\s+".join(re.escape(w) for w in p.split()).replace(r"\s+", _ADV) for p in phrases)  # type: ignore[attr-defined]


_AFTER = _after_alt(_EN.removal_after)
"""The ``after`` phrases with adverbs allowed between and before their words ("doesn't really matter")."""
_AFTER_DROPS_PERIOD = _after_alt(
    p for p in _EN.removal_after if p not in _words(_REMOVAL, "after_keeps_period", "agent/data/lang/en.yaml removal")
)
"""Those that drop a period named before them ("the 40s restriction can go", not "the 90s limit is fine")."""
_RX_REMOVE_SLOT = re.compile(
    rf"\b(?:{_VERBS})\s+{_DET}(?P<slot1>{_SLOTS})(?:\s+(?:{_OBJ}))?\b(?!\s+than\b)"
    rf"|\b(?<!\beither )(?<!\bboth )(?<!\beach )(?:the\s+|any\s+|whatever\s+|which\s+)?(?P<slot2>{_SLOTS})(?:\s+(?:{_OBJ}))?"
    rf"(?:\s+of\s+(?:the\s+)?(?:{_alt(all_item_nouns())}|them|it|these|those))?{_ADV}(?:{_AFTER})\b"
    rf"|\b(?:no|without)\s+(?:the\s+|any\s+)?(?P<slot3>{_SLOTS})\s+(?:{_OBJ})\b"
    rf"|\b(?:{_AFTER})\s+(?:(?:what|which|the|about the|about)\s+)?(?P<slot4>{_SLOTS})\b"
)
"""A removal naming a slot: "drop the year limit", "the decade doesn't matter", "no year limit",
"doesn't matter what year"; not "either kind is fine" (any of the categories named)."""
_RX_SET_TO_NUMBER = re.compile(rf"\s+(?:(?:up|down)\s+)?(?:to|at|into)\s+{_NUM}\b(?!\s*(?:stars?|/|%|\d))")
_RX_THAT_KIND = re.compile(r"\b(?:that|those|this|these)\s+(?:kind|kinds|sort|sorts|type|types)\b")
_AND = r"\s*,?\s*(?:and|&|plus|as well as)\s+"
_RX_AND_SLOT = re.compile(rf"{_AND}{_DET}(?P<slot>{_SLOTS})(?:\s+(?:{_OBJ}))?\b")
"""A second slot joined to a removed one: "forget the year and the number"."""
_RX_REMOVE_THAT = re.compile(
    rf"\b(?:{_VERBS})\s+(?:that|this|the|those|these)\s+(?:filter|filters|limit|restriction|ban|rule|exclusion|condition)\b"
    r"(?!\s+(?:on|against|for|of|about|to|\w+\s+(?:on|against|for|of)\b))"
)
"""A removal naming no slot, only "that filter" (the rule the same message names)."""
_RX_REMOVE_IT = re.compile(
    rf"\b(?:(?:{_VERBS})\s+(?:that|it|this)|take\s+(?:that|it|this)\s+(?:off|out))\b"
    r"(?=\s*(?:[.,;!?]|$|please|pls|too|as well|then|now))"
)
"""A bare "drop that" in a message that removes a named slot: the same removal."""
_AND_ALSO = r"^\W*(?:(?:oh|ok|okay)\s+)?(?:and|also|plus)\s+"
_RX_AND_ALSO_SLOT = re.compile(
    rf"{_AND_ALSO}{_DET}(?P<slot>{_SLOTS})(?:\s+(?:{_OBJ}))?"
    r"(?:\s+(?:too|as well|also|please|pls))*\W*$"
)
"""A message that only adds one more slot to the last turn's removal ("and the decade too")."""
_RX_NEITHER_SLOT = re.compile(
    rf"\b(?:(?:and|but)\s+)?(?:neither|nor)\s+(?:does|do|did|is|are|will|should)\s+{_DET}(?P<slot>{_SLOTS})"
    rf"(?:\s+(?:{_OBJ}))?\b|\b(?:and\s+)?(?:the\s+)?same\s+(?:goes\s+)?(?:for|with)\s+{_DET}(?P<slot2>{_SLOTS})"
    rf"(?:\s+(?:{_OBJ}))?\b"
)
"""One more slot after a removal in the same message: "the year doesnt matter and neither does the number",
"same goes for the decade"."""
_RX_ONE_AS_IN = re.compile(r"(?:(?<!\bid )(?<!\bwould )(?<!\bwed )(?<!\bi )(?<!\bwe )\blike|\bi mean|\bas in|\bie)\s+$")
"""Right before "one movie" that says what each item is ("combined, like one movie thats both"), not "id like one"."""
_STORY_SUBJECTS = _words(_EN.raw, "story_subjects", "agent/data/lang/en.yaml")
_STORY_PAST = _words(_EN.raw, "story_past_verbs", "agent/data/lang/en.yaml")
_ITEM_NOUNS = frozenset(all_item_nouns())
_RX_COPULA_THE = re.compile(r"\b(?:are|were|is|was|re)\s+(?:the|my|our|his|her|their)\s+$")
_RX_JUST_BEFORE = re.compile(r"\b(?:just|only|simply|merely)\s+$")
"""Right before the one wish that stands ("not that recent, just not too old")."""
_RX_REPLACED_BEFORE = re.compile(r"\b(?:instead of|rather than|in place of|as opposed to)\s+(?:\w+\s+){0,2}$")
"""Right before a period that another period of the message replaces ("instead of the 1950s, after 1960")."""
_RX_AND_ALSO_LEAD = re.compile(_AND_ALSO)
"""A message that adds one more asked category to the last turn's removal ("and the horror thing too")."""
_RX_AND = re.compile(_AND)
"""What joins one more removed thing to a removal ("forget the decade and the no horror bit")."""
_RX_PERIOD_TOO = re.compile(
    rf"\b(?:the\s+)?{_YEAR_OR_DEC}\s+(?:is|are|seems?|feels?|looks?|sounds?|was|were)\s+(?:(?:a bit|a little|way|far|kind of|kinda|just)\s+)?too\s+"
    r"(?:narrow|restrictive|limiting|strict|tight|small|short|limited)\b"
)
"""A period said to be too narrow: it is what the message replaces, not asked for again."""
_RX_NEG_CLAUSE = re.compile(
    r"\b(?:nothing|none|no|not any|not one)\s+(?:\w+\s+)?(?:that|which|thats|whats)\s+"
    r"(?:came out|comes out|come out|was made|were made|was released|were released|is|are|was|were)\s*$"
)
"""A refused relative clause right before a year comparison ("nothing that came out later than")."""
_RX_PERIOD_REPLACED = re.compile(
    rf"\b(?:instead of|rather than|in place of|replacing|not)\s+(?:the\s+)?{_YEAR_OR_DEC}(?!\s*(?:or|and|to|-)\b)"
    r"(?=\s*(?:[.,;!?]|$|please|pls|then|now))"
)
"""A period named as the one being replaced ("after 1960 instead of the 40s")."""
_WHO_BORN = r"(?:i was|i am|im|we were|he was|she was|they were|was|were)"
_RX_BORN = re.compile(rf"\b{_WHO_BORN}\s+born\s+in\s+(\d{{4}})\b")
_RX_BORN_REL = re.compile(rf"\b(before|after|since)\s+{_WHO_BORN}\s+born\b")
"""A birth year and a bound relative to it ("i was born in 1972 ... before i was born")."""
_PERIOD_NAMED = rf"(?:(?:before|after|since|pre|post|until|till|from)[\s-]+)?{_YEAR_OR_DEC}"
_RX_REMOVE_PERIOD = re.compile(
    rf"\b(?:{_VERBS})\s+{_DET}(?:{_YEAR_OR_DEC}(?:\s+(?:{_OBJ}))?|{_PERIOD_NAMED}\s+(?:{_OBJ}))(?!\w)"
    rf"|\b{_PERIOD_NAMED}\s+(?:{_OBJ}){_ADV}(?:{_AFTER_DROPS_PERIOD})\b"
)
"""A removal naming the period itself: "forget about the 80s", "never mind 1995", "the 40s restriction can go",
"the before 1980 bit doesnt matter"."""
_RX_YEAR_INCL = re.compile(
    r"(?<!\bto )(?<!\bto and )\b(?:including|incl|inclusive of|counting|and including)\s+(?:the\s+year\s+)?(\d{4})\b"
    r"|\b(\d{4})\s+(?:itself\s+)?(?:included|inclusive|counts(?:\s+too)?|is\s+included)\b"
)
_RX_NUM_BEFORE = re.compile(
    rf"(?<!\bin )(?<!\bevery )(?<!\beach )(?<!\bany )(?<!\bthe )\b{_NUM}\s+(?=[a-z]|(?:19|20)?\d0s\b)"
)
"""A number right before a word (a category in the plural makes it a count: "6 westerns")."""
_RX_YEAR_NEXT = re.compile(
    rf"\b(1[89]\d\d|20\d\d)\s*,?\s*(?:({_alt(_words(_EN.raw, 'year_and_next', 'agent/data/lang/en.yaml'))})"
    rf"|({_alt(_words(_EN.raw, 'year_and_previous', 'agent/data/lang/en.yaml'))}))\b"
)
"""A year and the one after or before it: "1954 or the year after" is 1954-1955."""
_RX_YEAR_TOLERANCE = re.compile(
    rf"\b(?:{_alt(_words(_EN.raw, 'year_tolerance', 'agent/data/lang/en.yaml'))})\s+"
    rf"(?:(\d{{1,2}})|({_alt(k for k, v in _EN.number_words.items() if v <= 10)}|a|an))\s+(?:more\s+)?years?\b"
)
"""A margin around the year said: "1950, give or take a year" (both bounds move by it)."""
_RX_YEAR_EXCL = re.compile(
    r"\b(?:not including|excluding|not counting|except)\s+(?:the\s+year\s+)?(\d{4})\b"
    r"|\b(\d{4})\s+(?:itself\s+)?(?:not included|excluded|doesnt count|does not count|not counted|is not included)\b"
)
"""Whether a bound's own year counts: "after 1975, including 1975", "before 1985, 1985 itself not counted"."""
_RX_RULE_GONE = re.compile(
    rf"{_ADV}(?:(?:can|could|may|should)\s+(?:go|be\s+(?:dropped|removed|lifted|gone|ignored|forgotten))"
    rf"(?:\s+(?:too|as\s+well|now|away))?|is\s+(?:gone|lifted|removed|dropped)|{_VERBS}|{_AFTER})\b"
)
"""After a category's rule word: it is taken back ("... ban can go too", "... filter doesn't matter", "... limit remove")."""
_RX_CAT_NOT_NEEDED = re.compile(
    r"\s+(?:(?:part|bit|thing|side)\s+)?(?:"
    r"(?:(?:is|are)\s+(?:not|no longer)|isnt|arent)\s+(?:really\s+)?(?:required|a must|necessar\w*|needed|essential|mandatory)"
    r"|(?:doesnt|does not|dont|do not)\s+(?:really\s+)?matter"
    r"|(?:(?:doesnt|does not|dont|do not)\s+(?:really\s+)?(?:have|need)\s+to|neednt|need not)\s+be"
    r"(?:\s+(?:there|in there|in it|in them|included|part of it|a requirement|a must))?(?=\s*(?:[,.;!?]|$|and\b|but\b|anymore|any more))"
    r"|(?:is|are)\s+optional)\b"
)
"""After an asked-for category: it is no longer required ("action isnt required", "the comedy bit is optional",
"war doesnt have to be, westerns are enough")."""
_RX_REMOVE_VERB = re.compile(rf"\b(?:{_alt(w for w in _EN.removal_verbs if w not in _EN.neg_cues and w != 'skip')})\s+")
"""A removal verb that may name a category next ("drop comedy"); negation cues ("without") are negation."""
_AGE = _EN.raw.get("relative_age", {}) or {}
_AGE_SRC = "agent/data/lang/en.yaml relative_age"
_AGE_NEG = (
    rf"(?:(?:{_alt(_words(_AGE, 'negators', _AGE_SRC))})|(?:{_alt(_data_words('negation', 'before') | _EN.neg_cues)})"
    r"(?:\s+(?:the|any|anything))?)"
    rf"\s+(?:(?:{_alt(_words(_AGE, 'degrees', _AGE_SRC))})\s+)?"
)
"""A negator or a dislike before an age word, a degree allowed ("not too", "not into the really")."""
_RX_NOT_OLD = re.compile(rf"\b(?:{_alt(_EN.not_old)}|{_AGE_NEG}(?:{_alt(_words(_AGE, 'old', _AGE_SRC))}))\b")
_RX_NOT_NEW = re.compile(rf"\b(?:{_alt(_EN.not_new)}|{_AGE_NEG}(?:{_alt(_words(_AGE, 'new', _AGE_SRC))}))\b")
"""A negated age wish: the phrases of ``not_old``/``not_new`` or the ``relative_age`` grammar."""


_DECADE_PART = {"end": "late", "start": "early", "beginning": "early", "middle": "mid"}


def _decade_bounds(m: re.Match[str], gi: int, vocab: CatalogVocab) -> tuple[int, int]:
    """(start, end) years of a decade match; ``gi`` is the index of its 'early/mid/late' group."""
    part, four, two, word = m.group(gi), m.group(gi + 1), m.group(gi + 2), m.group(gi + 3)
    if four:
        start = int(four)
    elif word:
        start = 1900 + _DECADE_WORDS[word]
    else:
        d = int(two) * 10
        yr = vocab.year_range
        newest = yr[1] if yr else 2100
        start = 2000 + d if 2000 + d <= newest else 1900 + d
    lo, hi = start, start + 9
    # "the end of the 50s" is their late years, "the start of the 90s" their early ones
    part = _DECADE_PART.get(next((w for w in (part or "").split() if w in _DECADE_PART), ""), part)
    if part == "early":
        lo, hi = start, start + 3
    elif part == "mid":
        lo, hi = start + 3, start + 6
    elif part == "late":
        lo, hi = start + 6, start + 9
    return lo, hi


def _year_or_decade(m: re.Match[str], gi: int, vocab: CatalogVocab) -> tuple[int, int] | None:
    """Bounds of a ``_YEAR_OR_DEC`` group block starting at group ``gi`` (year, part, four, two, word)."""
    if m.group(gi):
        y = int(m.group(gi))
        return y, y
    if m.group(gi + 2) or m.group(gi + 3) or m.group(gi + 4):
        return _decade_bounds(m, gi + 1, vocab)
    return None


def _num(s: str) -> int | None:
    s = s.strip()
    if s.isdigit():
        return int(s)
    return _NUM_WORDS.get(s)


def _ord(s: str) -> int:
    s = re.sub(r"\s+", " ", s)
    if s in ("second last", "second to last", "penultimate"):
        return -2
    if s in _ORD_WORDS:
        return _ORD_WORDS[s]
    return int(re.match(r"\d+", s).group(0))  # type: ignore[union-attr]


_ONE_AS_PRONOUN_AFTER = frozenset({"that", "this", "the", "which", "each", "every", "any"})
"""Words after which "one" names an item ("is that one childrens as well?"), not a count."""
_RX_YEAR_HEDGE = re.compile(
    rf"\b(?:{_alt(_words(_EN.raw, 'year_hedge_before', 'agent/data/lang/en.yaml'))})\s+(?:the year\s+)?(?P<y>(?:19|20)\d\d)\b(?!s)"
    rf"|\b(?P<y2>(?:19|20)\d\d)\s*(?:{_alt(_words(_EN.raw, 'year_hedge_after', 'agent/data/lang/en.yaml'))})\b"
)
"""A single year said loosely: "around 1990", "1975ish"."""
_RX_KEEP_BEFORE = re.compile(
    r"\b(?:keep|keeping|leave|leaving|stick with|retain|maintain|hold on to|hold onto)\s+"
    r"(?:(?:the|that|this|my|your|our|those|these)\s+)?$"
)
"""Right before a rule kept as it is ("keep the war ban", "leave the decade filter")."""


class SlotPasses(BuilderBase):
    """Positions, years, prices, counts and removals of one message."""

    def add_position(self, pos: int, text: str, start: int) -> None:
        self.positions.append(pos)
        negated = self.msg.prev_word(start) in ("not", "no", "skip", "remove", "drop", "except", "without", "hide")
        item = self.state.shown_at(pos)
        if item is None:
            n = len(self.state.shown)
            lex = self.vocab.lexicon
            self.clarify = (
                lex.reply(self.lang, "none_shown")
                if n == 0
                else lex.reply(self.lang, "only_shown", n=n, s="s" if n != 1 else "")
            )
            return
        p = pos if pos > 0 else len(self.state.shown) + pos + 1
        ref = ItemRef(item_id=item, position=p, source="position", text=text)
        if ref.item_id not in {t.item_id for t in self.targets}:
            self.targets.append(ref)
        if negated:
            self.neg_positions.add(p)

    def positions_pass(self, compare_cue: bool, *, item_cue: bool = False) -> None:
        """Items named by their place in the list shown; with ``item_cue`` (a message about shown items) also
        the first or last few of it ("they've seen the first two")."""
        m = self.msg
        if item_cue and self.state.shown:
            for mt in m.matches(_RX_ENDS_K):
                k = _num(mt.group("k")) or 2
                last = mt.group("end") in ("last", "bottom", "final")
                for p in range(-k, 0) if last else range(1, k + 1):
                    self.add_position(p, mt.group(0), mt.start())
        if compare_cue:
            for mt in m.matches(_RX_FIRST_K):
                k = _num(mt.group(1)) or 2
                for p in range(1, k + 1):
                    self.add_position(p, mt.group(0), mt.start())
            for mt in m.matches(_RX_PAIR):
                a, b = int(mt.group(1)), int(mt.group(2))
                if 1 <= a <= max(len(self.state.shown), 20) and 1 <= b <= max(len(self.state.shown), 20):
                    self.add_position(a, mt.group(0), mt.start())
                    self.add_position(b, mt.group(0), mt.start())
        for mt in m.matches(_RX_HASH):
            span, k = m.span_tokens(mt.start(), mt.end()), m.token_at(mt.end())
            if m.toks[span[0]] == "pick" and k < len(m.toks) and self._category_at(k) is not None:
                for t in span:  # "pick 3 comedies": a count, not the third pick
                    m.used[t] = False
                continue
            self.add_position(int(mt.group(1)), mt.group(0), mt.start())
        for mt in m.matches(_RX_HASH_WORD):
            self.add_position(_NUM_WORDS[mt.group(1)], mt.group(0), mt.start())
        for mt in m.matches(_RX_TOP_ONE):
            self.add_position(1, mt.group(0), mt.start())
        for mt in _RX_ORD.finditer(m.norm):
            if not m.free(mt.start(), mt.end()):
                continue
            det, word, noun = mt.group(1), mt.group(2), mt.group(3)
            prev = m.prev_word(mt.start())
            after = m.norm[mt.end() : mt.end() + 12]
            if word in ("first", "last") and re.match(
                r"\s+(time|times|night|week|years?|months?|days?|minute|thing|of all|place|few|couple|several|decade|\d+\s+years)\b",
                after,
            ):
                continue
            if re.match(r"\s+(?:time|times|go|round|viewing|watch|try|attempt|rewatch)\b", after):
                continue  # "for the third time", "my second viewing": how often, not a place in the list
            if re.match(
                r"\s+(?:part|parts|bit|bits|change|changes|step|steps|message|messages|request|requests|edit|edits"
                r"|filter|filters|condition|conditions|sentence|point|points|question|questions|turn|reply)\b",
                m.norm[mt.end() :],
            ):
                continue  # "undo that last part", "the second condition": a part of the talk, not of the list
            if self._told_of(m.token_at(mt.end()), category=not noun):
                continue  # "the last horror we tried": one the person watched once, not a place in the list
            if (
                det
                or noun
                or prev
                in (
                    "compare",
                    "and",
                    "vs",
                    "versus",
                    "or",
                    "with",
                    "between",
                    "like",
                    "about",
                    "why",
                    "not",
                    "explain",
                    "describe",
                    "whats",
                    "hows",
                )
                or re.fullmatch(r"\d+(?:st|nd|rd|th)", word)
                or (self.state.shown and re.match(r"\s+about\b", after))  # "whats fourth about"
            ):
                m.take(mt.start(), mt.end())
                self.add_position(_ord(word), mt.group(0), mt.start())
        if self.state.shown:
            for mt in _RX_BARE.finditer(m.norm):
                s, e = mt.start(1), mt.end(1)
                if m.free(s, e) and 1 <= int(mt.group(1)) <= len(self.state.shown):
                    m.take(s, e)
                    self.add_position(int(mt.group(1)), mt.group(0), mt.start())

    def _release(self, start: int, end: int) -> None:
        """Give the words between characters ``start`` and ``end`` back to the later passes."""
        for k in range(self.msg.token_at(start), self.msg.token_at(end)):
            self.msg.used[k] = False

    def _told_of(self, k: int, *, category: bool) -> bool:
        """Whether what starts at token ``k`` (a category phrase with ``category``; else an ordinal's noun,
        only while nothing is shown) is followed by a person and a verb in the past ("horror we tried", "war
        film i sat through", "the last one we picked"): something from the person's own story."""
        m = self.msg
        if category:
            hit = self._category_at(k) if k < len(m.toks) else None
            if hit is None:
                return False
            j = k + hit[1]
        elif self.state.shown:
            return False
        else:
            j = k
        while j < len(m.toks) and m.toks[j] in _ITEM_NOUNS:
            j += 1
        return (
            j + 1 < len(m.toks)
            and m.toks[j] in _STORY_SUBJECTS
            and (m.toks[j + 1].endswith("ed") or m.toks[j + 1] in _STORY_PAST)
        )

    def years_pass(self) -> None:
        m = self.msg
        for mt in _RX_TALK_TIME.finditer(m.norm):  # "i said no X earlier": when it was said, no period
            g = "when" if mt.group("when") else "lead"
            m.take(mt.start(g), mt.end(g))
        if m.matches(_RX_PERIOD_TOO) or m.matches(_RX_PERIOD_REPLACED):
            # "the 1980s is too narrow, make it 1964 or later", "after 1960 instead of the 40s": the old period goes
            self.slots["clear_years"] = True
        born, rel = _RX_BORN.search(m.norm), _RX_BORN_REL.search(m.norm)
        if born and rel and m.free(born.start(), born.end()) and m.free(rel.start(), rel.end()):
            # "i was born in 1972, so ... before i was born": a bound from the year the message gives
            year, word = int(born.group(1)), rel.group(1)
            m.take(born.start(), born.end())
            m.take(rel.start(), rel.end())
            if word == "before":
                self.slots["year_max"] = year - 1
            else:
                self.slots["year_min"] = year + 1 if word == "after" else year
        # "including 1975" / "1985 itself not counted": whether a bound's own year counts, not a year wish
        incl = [int(mt.group(1) or mt.group(2)) for mt in m.matches(_RX_YEAR_INCL)]
        excl = [int(mt.group(1) or mt.group(2)) for mt in m.matches(_RX_YEAR_EXCL)]
        self._year_bounds_pass(incl, excl)

    def _year_bounds_pass(self, incl: list[int], excl: list[int]) -> None:
        m, cfg, vocab = self.msg, self.cfg, self.vocab
        lo = hi = None
        used_before = list(m.used)  # the words this pass reads: where in the message the period was said
        if m.has(_CLEAR_YEARS):
            m.matches(_CLEAR_YEARS)
            self.slots["clear_years"] = True
        if m.matches(_CLEAR_AGE):  # "it doesnt have to be old", "old or new": no period
            self.slots["clear_years"] = True
        open_ended = False  # "1930s or later": the bound said is the only one (an earlier other bound goes)
        for mt in m.matches(_RX_UNTIL_NOW):  # "between the 30s and now", "from 1971 up to today": from then on
            b = _year_or_decade(mt, 1, vocab) or _year_or_decade(mt, 6, vocab)
            if b is not None:
                lo, open_ended = b[0], True
        for mt in m.matches(_RX_RANGE):
            a = _year_or_decade(mt, 1, vocab) or _year_or_decade(mt, 11, vocab)
            b = _year_or_decade(mt, 6, vocab) or _year_or_decade(mt, 16, vocab)
            if a and b:
                lo, hi = min(a[0], b[0]), max(a[1], b[1])
        for mt in m.matches(_RX_YEAR_NEXT):
            y = int(mt.group(1))
            lo, hi = (y, y + 1) if mt.group(2) else (y - 1, y)
        for mt in m.matches(_RX_CMP):
            word = re.sub(r"\s+", " ", mt.group(1))
            b = _year_or_decade(mt, 2, vocab)
            if b is None:
                continue
            tail = re.sub(r"\s+", " ", (mt.group(7) or "").strip())
            # "nothing older than 1960", "nothing that came out later than 1983": the comparison is refused
            neg = (
                self._is_negated_span(mt.start())
                or _RX_NEG_CLAUSE.search(m.norm[: mt.start()]) is not None
                or _NEG_BEFORE_RX.search(m.norm[: mt.start()]) is not None  # "leave out anything before 1960"
            )
            refused = _NEG_AFTER.match(m.norm[mt.end() :])
            if refused and m.free(mt.end(), mt.end() + refused.end()):
                # "anything before 1963 is out", "早于1963年的一律不要": the period said is what is refused
                m.take(mt.end(), mt.end() + refused.end())
                neg = True
            if word in ("before", "prior to", "earlier than", "older than", "pre"):
                if neg:
                    lo = b[0]
                else:
                    hi = b[0] - 1
            elif word in (
                "until",
                "till",
                "up to",
                "up until",
                "no later than",
                "up to and including",
                "up to and incl",
                "up to and through",
                "through",
                "thru",
            ):
                hi = b[1]
            elif word in (
                "after",
                "later than",
                "newer than",
                "more recent than",
                "younger than",
                "beyond",
                "past",
                "post",
            ):
                if neg:
                    hi = b[1]
                else:
                    lo = b[1] + 1
            elif word in ("since", "no earlier than", "starting", "starting in") or tail in _ON_OR_AFTER or tail == "+":
                lo, open_ended = b[0], open_ended or bool(tail)
            elif tail in _ON_OR_BEFORE:
                hi, open_ended = b[1], True
            else:  # from / in / circa
                if neg:
                    self.notes.append(f"cannot exclude a period ({mt.group(0).strip()}); ignored")
                else:
                    lo, hi = b
        for mt in m.matches(_RX_YEAR_TAIL):
            b = _year_or_decade(mt, 1, vocab) or _year_or_decade(mt, 7, vocab)
            if b is not None and mt.group(6):
                lo, open_ended = b[0], True  # "1990 or later", "the 80s onwards"
            elif b is not None:
                hi, open_ended = b[1], True  # "1985 or earlier"
        for mt in m.matches(_RX_DECADE):
            if _RX_REPLACED_BEFORE.search(m.norm[: mt.start()]) and (lo is not None or hi is not None):
                continue  # "instead of the 1950s give me after 1960": the period said instead wins
            if self._is_negated_span(mt.start()):
                self.notes.append(f"cannot exclude a period ({mt.group(0).strip()}); ignored")
                continue
            lo, hi = _decade_bounds(mt, 1, vocab)
        for mt in m.matches(_RX_YEAR):
            if _RX_REPLACED_BEFORE.search(m.norm[: mt.start()]) and (lo is not None or hi is not None):
                continue
            y = int(mt.group(1))
            if _ALLOW_AFTER.match(m.norm[mt.end() :]):
                # "nothing before 1970. oh, 1969 is fine too": the bound that left that year out moves to take it in
                here = lo is not None or hi is not None
                cur_lo = lo if here else self.state.constraints.year_min
                cur_hi = hi if here else self.state.constraints.year_max
                if cur_lo is not None and y < cur_lo:
                    lo, hi = y, cur_hi
                    continue
                if cur_hi is not None and y > cur_hi:
                    lo, hi = cur_lo, y
                    continue
            lo, hi = y, y
        yr = vocab.year_range
        if yr is not None:
            shown_years = sorted(y for y in (vocab.year_of(i) for i in self.state.shown) if y is not None)
            ref_year = shown_years[len(shown_years) // 2] if shown_years else None
            named = {self.state.shown_at(p) for p in self.positions} - {None}
            if len(named) == 1 and (year := vocab.year_of(named.pop())) is not None:  # type: ignore[arg-type]
                ref_year = year  # "like the second one but a bit older": older than that one, not than the list
            median = int(np.nanmedian(vocab.years))
            # relative wishes move the window: the opposite bound is dropped
            explicit = lo is not None or hi is not None
            # "not too old" / "not too recent": the negated relative wish, before "old"/"recent" alone
            not_old, not_new = m.matches(_RX_NOT_OLD), m.matches(_RX_NOT_NEW)
            if not_old and not_new:
                # "not that recent, just not too old": the wish said with "just" is the only one
                if _RX_JUST_BEFORE.search(m.norm[: not_old[0].start()]):
                    not_new = []
                elif _RX_JUST_BEFORE.search(m.norm[: not_new[0].start()]):
                    not_old = []
            if not_old and not explicit:
                lo = yr[1] - cfg.not_old_age
            if not_new and not explicit:
                hi = yr[1] - cfg.recent_years
            # "older stuff please, before 1955": the year said wins over the relative word
            if m.matches(_RX_OLDER) and not explicit:
                base = ref_year if ref_year is not None else (self.state.constraints.year_max or median)
                hi, lo = base - 1, None
                self.slots["clear_years"] = True
            if m.matches(_RX_NEWER) and not explicit:
                since = ref_year if ref_year is not None else self.state.constraints.year_min
                # with nothing to compare with, "the more recent ones" are the recent ones
                lo, hi = (since + 1 if since is not None else yr[1] - cfg.recent_years + 1), None
                self.slots["clear_years"] = True
            # "recent" / "classic" are vague: an explicit year or decade in the same message wins
            # ("old classics from the 1950s" is the 1950s)
            if m.matches(_RX_RECENT) and not explicit:
                lo = yr[1] - cfg.recent_years + 1
            if m.matches(_RX_CLASSIC) and not explicit:
                hi = yr[1] - cfg.classic_age
            if lo is not None and hi is not None and lo > hi:
                lo = None
        # "around 1990" is 1988-1992, unless a margin is said ("around 1992, give or take a year")
        loose = lo is not None and lo == hi and not _RX_YEAR_TOLERANCE.search(m.norm)
        hedge = _RX_YEAR_HEDGE.search(m.norm) if loose else None
        if hedge and lo is not None and int(hedge.group("y") or hedge.group("y2")) == lo:
            lo, hi = lo - cfg.approx_year_margin, lo + cfg.approx_year_margin  # "from around 1990": 1988-1992
            m.take(hedge.start(), hedge.end())
        for mt in m.matches(_RX_YEAR_TOLERANCE):
            margin = int(mt.group(1)) if mt.group(1) else _EN.number_words.get(mt.group(2), 1)
            lo = lo - margin if lo is not None else None
            hi = hi + margin if hi is not None else None
        for y in incl:
            lo = y if lo == y + 1 else lo
            hi = y if hi == y - 1 else hi
        for y in excl:
            lo = y + 1 if lo == y else lo
            hi = y - 1 if hi == y else hi
        if open_ended and (lo is None) != (hi is None):
            self.slots["clear_years"] = True
        said = [m.starts[i] for i, (was, now) in enumerate(zip(used_before, m.used, strict=True)) if now and not was]
        if said and self.years_removed_at is not None and max(said) < self.years_removed_at:
            # "mystery made before 1969... wait no, the year doesnt matter": the removal said last wins
            lo = hi = None
        if lo is not None:
            self.slots["year_min"] = lo
        if hi is not None:
            self.slots["year_max"] = hi

    def prices_pass(self) -> None:
        m = self.msg
        if m.has(_CLEAR_PRICE):
            m.matches(_CLEAR_PRICE)
            self.slots["clear_prices"] = True
        found: dict[str, float] = {}

        def money(mt: re.Match[str], g: int) -> float:
            return float(mt.group(g) or mt.group(g + 1))

        for mt in m.matches(_RX_PRICE_RANGE):
            a, b = money(mt, 1), money(mt, 3)
            found["price_min"], found["price_max"] = min(a, b), max(a, b)
        for mt in m.matches(_RX_PRICE_CMP):
            word, v = mt.group(1), money(mt, 2)
            if word in (
                "under",
                "below",
                "less than",
                "cheaper than",
                "at most",
                "max",
                "maximum",
                "up to",
                "no more than",
                "within",
                "for",
            ):
                found["price_max"] = v
            elif word in ("around", "about", "roughly", "approximately"):
                found["price_min"], found["price_max"] = round(v * 0.8, 2), round(v * 1.2, 2)
            else:
                found["price_min"] = v
        cheap = bool(m.matches(_RX_CHEAP))
        stray = m.matches(_RX_PRICE_ANY)
        if not self.vocab.has_prices:
            if found or cheap or stray:
                self.price_wish = True
                self.notes.append("this catalog has no prices; the price wish was ignored")
            return
        if cheap and "price_max" not in found:
            found["price_max"] = float(np.nanquantile(self.vocab.prices, 0.25))
        if stray and not found:
            v = money(stray[0], 1)
            found["price_max"] = v
        self.slots.update(found)

    def n_pass(self) -> None:
        m, n = self.msg, None
        unlimited = m.matches(_RX_N_UNLIMIT)
        if unlimited:  # "no need to limit it to 14", "any amount"
            self.slots["clear_n"] = True
        for rx in (
            _RX_TOP_N,
            _RX_N_MORE,
            _RX_N,
            _RX_SHOW_N,
            _RX_N_PLEASE,
            _RX_N_OF,
            _RX_N_ENOUGH,
            _RX_N_MAX,
            _RX_N_SET,
        ):
            for mt in m.matches(rx):
                if rx is _RX_N_MAX:
                    self.cue_spans.append((mt.start(), mt.end()))  # "no more than 5": no negation cue
                n = _num(next(g for g in mt.groups() if g is not None))
                if (
                    rx is _RX_N_OF
                    and n == 1
                    and re.match(r"\s+(?:is|would be|will be)\s+(?:enough|fine|ok)", m.norm[mt.end() :])
                ):
                    n = None  # "one of them is enough": either category will do, not a list of one
                if n == 1 and _RX_ONE_AS_IN.search(m.norm[: mt.start()]):
                    n = None  # "X and Y combined, like one movie thats both": what each item is, not a count
                if rx is _RX_N and _RX_COPULA_THE.search(m.norm[: mt.start()]):
                    n = None  # "crime and mystery are the two things i never get into": says what they are
                    self._release(mt.start(), mt.end())
        for mt in m.matches(_RX_ONE):
            n = None if _RX_ONE_AS_IN.search(m.norm[: mt.start()]) else 1
        for mt in _RX_NUM_BEFORE.finditer(m.norm):
            # "6 westerns", "half a dozen comedies": a number before a category in the plural counts the list
            k = m.token_at(mt.end())
            while k < len(m.toks) and re.fullmatch(r"(?:19|20)?\d0s", m.toks[k]):
                k += 1  # "7 90s westerns": the decade said between
            if mt.group(1) == "one" and m.prev_word(mt.start()) in _ONE_AS_PRONOUN_AFTER:
                continue  # "is that one childrens as well?": "that one" is the item asked about, not a count
            hit = self._category_at(k) if n is None and k < len(m.toks) and m.free(mt.start(), mt.end()) else None
            if hit is not None and (m.toks[k + hit[1] - 1].endswith("s") or (_num(mt.group(1)) or 0) >= 2):
                # "8 documentary pls", "5 horror": typed without the plural, a number of two or more still counts
                m.take(mt.start(), mt.end())
                n = _num(mt.group(1))
        if n is not None:
            if n < 1:
                self.notes.append("a list needs at least one item; list length unchanged")
                return
            if n > self.cfg.max_n:
                self.notes.append(f"at most {self.cfg.max_n} items per list; showing {self.cfg.max_n}")
                n = self.cfg.max_n
            self.slots["n"] = n

    def removal_pass(self) -> None:
        """Constraints the message takes away: "drop the year limit", "never mind the genre", "the
        decade doesn't matter", "no year limit", "remove comedy". Sets ``clear_*`` slots or
        ``remove``; the words used are consumed and remembered as cue spans (they are neither
        feedback nor a reset)."""
        m = self.msg
        found: list[tuple[str, int, int]] = []
        chain_ends: list[int] = []  # where a verb's list of removed slots ends ("forget the year and ...")
        for mt in m.matches(_RX_REMOVE_SLOT):
            word = mt.group("slot1") or mt.group("slot2") or mt.group("slot3") or mt.group("slot4") or ""
            if _RX_SET_TO_NUMBER.match(m.norm, mt.end()):
                self._release(mt.start(), mt.end())  # "change the count to 12": a new count, read by n_pass
                continue
            if _RX_THAT_KIND.search(mt.group(0)) and self._names_category_before(mt.start()):
                # "last time i sat through a war movie i regretted it, so skip that kind": that kind is the
                # category just named (left out by the negation pass), not the category slot
                self._release(mt.start(), mt.end())
                continue
            if _slot_of(word) == "categories" and self._category_right_before(mt.start()):
                # "the musical genre is ok now": that category's genre, read by the allowance pass, not every one
                self._release(mt.start(), mt.end())
                continue
            found.append((word, mt.start(), mt.end()))
            end = mt.end()
            while mt.group("slot1") and (more := _RX_AND_SLOT.match(m.norm, end)) and m.free(more.start(), more.end()):
                m.take(more.start(), more.end())  # "forget the year and the number": both go
                found.append((more.group("slot"), more.start(), more.end()))
                end = more.end()
            if mt.group("slot1"):
                chain_ends.append(end)
        if not found and self._last_turn_removed() and (more := _RX_AND_ALSO_SLOT.match(m.norm)):
            # "you can drop the no-musical rule" then "and the decade too": one more thing removed
            m.take(more.start(), more.end())
            found.append((more.group("slot"), more.start(), more.end()))
        if found:
            for mt in m.matches(_RX_NEITHER_SLOT):
                found.append((mt.group("slot") or mt.group("slot2"), mt.start(), mt.end()))
        if found:  # "the age doesnt matter, drop that": the removal said again, not an item dropped
            for mt in m.matches(_RX_REMOVE_IT):
                self.cue_spans.append((mt.start(), mt.end()))
        for mt in m.matches(_RX_REMOVE_THAT):
            # "i dont mind animation, you can drop that filter": the rule the message just named, not an item
            self.cue_spans.append((mt.start(), mt.end()))
        for word, start, end in found:
            self._clear_slot(word, start, end)
        for mt in m.matches(_RX_REMOVE_PERIOD):
            self.cue_spans.append((mt.start(), mt.end()))
            self.removed_slots.add("years")
            self.slots["clear_years"] = True
        # "forget the decade and the no horror bit": a category joined to the removed slots goes as well
        verbs = [(mt.start(), mt.end()) for mt in _RX_REMOVE_VERB.finditer(m.norm) if m.free(mt.start(), mt.end())]
        verbs += [(end, j.end()) for end in chain_ends if (j := _RX_AND.match(m.norm, end))]
        if not found and not verbs and self._last_turn_removed() and (lead := _RX_AND_ALSO_LEAD.match(m.norm)):
            obj = self._object_category(lead.end())
            c = self.state.constraints
            if obj is not None and set(obj[1][0]) <= {*c.include_categories, *c.exclude_categories}:
                verbs.append((lead.start(), lead.end()))  # "lose the decade" then "and the horror thing too"
        for v_start, v_end in sorted(verbs):
            if v_end >= len(m.norm):
                continue
            obj = self._object_category(v_end)
            if obj is None or re.search(r"[,.;!?]", m.norm[v_end : m.starts[obj[0]]]):
                continue  # "forget that, war instead": the verb's object ended at the comma
            i, (cats, n) = obj
            end = i + n
            if end < len(m.toks) and m.toks[end] in _REMOVE_OBJECTS:
                end += 1
            c = self.state.constraints
            asked = set(c.include_categories) | set(c.exclude_categories)
            if self._take_said_before(m.token_at(v_start), cats):
                asked |= set(cats)  # "fantasy musicals. forget the musical part": this message's own wish goes
            # a category the person asked for either way is no longer asked for; any other is excluded
            # ("remove the comedies" from a list that never asked for them)
            self.remove.extend(cat for cat in cats if cat in asked)
            self.exclude.extend(cat for cat in cats if cat not in asked)
            self.cue_spans.append((v_start, m.ends[end - 1]))
            self.cat_tokens.update(range(i, i + n))
            m.take(v_start, m.ends[end - 1])
            pos = m.ends[end - 1]
            while (j := _RX_AND.match(m.norm, pos)) and j.end() < len(m.norm):
                # "forget about X and Y both": the categories joined to the removed one go as well
                obj = self._object_category(j.end())
                if obj is None or m.used[obj[0]]:
                    break
                k, (cats, n) = obj
                self.remove.extend(cat for cat in cats if cat in asked)
                self.exclude.extend(cat for cat in cats if cat not in asked)
                self.cat_tokens.update(range(k, k + n))
                m.take(j.start(), m.ends[k + n - 1])
                pos = m.ends[k + n - 1]
            while (more := _RX_AND_SLOT.match(m.norm, pos)) and m.free(more.start(), more.end()):
                m.take(more.start(), more.end())  # "lift the X restriction, and the decade one too": both go
                self._clear_slot(more.group("slot"), more.start(), more.end())
                pos = more.end()
        self._category_rule_removal()

    def _category_right_before(self, pos: int) -> bool:
        """Whether a category phrase ends right before character ``pos`` ("musical" in "musical genre")."""
        m = self.msg
        i = m.token_at(pos)
        for k in range(max(0, i - 3), i):
            hit = self._category_at(k)
            if hit is not None and k + hit[1] == i:
                return not re.search(r"[,.;:!?]", m.norm[m.ends[i - 1] : pos])  # not "not only war, any genre"
        return False

    def _take_said_before(self, stop: int, cats: tuple[str, ...]) -> bool:
        """Whether the message named ``cats`` before token ``stop``; those words are taken (not read again)."""
        m, found, k = self.msg, False, 0
        while k < stop:
            hit = None if m.used[k] else self._category_at(k)
            if hit is not None and set(hit[0]) == set(cats):
                m.take_tokens(k, hit[1])
                self.cat_tokens.update(range(k, k + hit[1]))
                found = True
                k += hit[1]
            else:
                k += 1
        return found

    def _object_category(self, pos: int) -> tuple[int, tuple[tuple[str, ...], int]] | None:
        """The category phrase a removal names from character ``pos`` on (determiners skipped): its first token
        and the categories it names with their length in tokens, or None."""
        m = self.msg
        i = m.token_at(pos)
        while i < len(m.toks) and not m.used[i] and m.toks[i] in _REMOVE_DETERMINERS:
            i += 1
        hit = self._category_at(i) if i < len(m.toks) else None
        return (i, hit) if hit is not None else None

    def _clear_slot(self, word: str, start: int, end: int) -> None:
        """Take away the slot ``word`` names (its words at ``start:end`` are a cue span)."""
        slot = _slot_of(word)
        self.cue_spans.append((start, end))
        self.removed_slots.add(slot)
        if slot == "years":
            self.slots["clear_years"] = True
            self.years_removed_at = start if self.years_removed_at is None else min(start, self.years_removed_at)
        elif slot == "categories":
            self.slots["clear_categories"] = True
            if word.endswith("s"):
                # "forget the genres, keep the 70s": every rule on the kind goes, the ones left out as well
                self.genres_lifted = True
        elif slot == "references":
            self.slots["clear_references"] = True
        elif slot == "query":
            self.slots["query"] = ""
        elif slot == "n":
            self.slots["clear_n"] = True

    def _last_turn_removed(self) -> bool:
        """Whether the last turn that changed the constraints took something away."""
        p, c = self.state.previous_constraints, self.state.constraints
        if p is None:
            return False
        return bool(
            set(p.exclude_categories) - set(c.exclude_categories)
            or set(p.include_categories) - set(c.include_categories)
            or set(p.reference_item_ids) - set(c.reference_item_ids)
            or ((p.year_min, p.year_max) != (None, None) and (c.year_min, c.year_max) == (None, None))
            or (p.n is not None and c.n is None)
        )

    def _category_rule_removal(self) -> None:
        """An asked-for category's rule named and taken back: "the mystery ban can go", "the horror filter
        doesn't matter", Chinese "纪录片那个限制去掉" (read as "documentary limit remove"). The category must
        have been asked for, either way; it is no longer asked for."""
        m, c = self.msg, self.state.constraints
        asked = set(c.include_categories) | set(c.exclude_categories)
        if not asked:
            return
        i = 0
        while i < len(m.toks):
            hit = self._category_at(i) if not m.used[i] else None
            if hit is None:
                i += 1
                continue
            cats, n = hit
            end = i + n
            if not set(cats) <= asked:
                i += n
                continue
            kept = None if _DROP_THE_REST.search(m.norm) else _RX_KEEP_BEFORE.search(m.norm[: m.starts[i]])
            if kept is not None and end < len(m.toks) and m.toks[end] in _REMOVE_OBJECTS:
                # "keep the war ban but forget the year limit": that rule stays as it is, nothing asked anew
                self.cat_tokens.update(range(i, end))
                m.take(kept.start(), m.ends[end])
                i = end + 1
                continue
            mt = None
            if end < len(m.toks) and m.toks[end] in _REMOVE_OBJECTS:
                mt = _RX_RULE_GONE.match(m.norm[m.ends[end] :])
                stop = m.ends[end] + mt.end() if mt else 0
            if mt is None:  # "action isnt required", "the comedy part is optional"
                mt = _RX_CAT_NOT_NEEDED.match(m.norm[m.ends[end - 1] :])
                stop = m.ends[end - 1] + mt.end() if mt else 0
            if mt is None:
                i += n
                continue
            self.remove.extend(cats)
            self.cue_spans.append((m.starts[i], stop))
            self.cat_tokens.update(range(i, i + n))
            m.take(m.starts[i], stop)
            i = m.token_at(stop)
