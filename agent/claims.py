"""Claims an explanation makes, and a checker that verifies each one.

The :class:`~agent.grounding.GroundingGuard` asks whether every name and number in a text occurs
somewhere in the evidence; a sentence can pass it and still be false ("Because you liked Target"
when Target is the recommended item; "Outbreak, a 1992 Western" when Outbreak is a 1995 thriller).
:class:`ClaimChecker` reads the sentence as claims with roles (which title is recommended, which
is liked, which title an appositive "a 1992 Western" describes) and verifies each against the
:class:`~ranker.evidence.Evidence` and the catalog. Any claim it cannot verify rejects the text.

The claim kinds and how each is verified are data (:data:`CLAIM_KINDS`); the phrases that signal
them (liked cues, audiences, popularity and mood words) live in ``agent/data/claims.yaml``;
category words come from :data:`agent.grounding.GENRE_WORDS`. Nothing here is specific to one
catalog or domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel, Field

from agent.grounding import GENRE_WORDS, _cat_key, _norm, _title_variants, claims_data, display_title, is_popular
from agent.understanding.lexicon import all_item_nouns
from catalog.types import Item
from ranker.evidence import Evidence, HistoryAttribution

__all__ = [
    "CLAIM_KINDS",
    "Claim",
    "ClaimChecker",
    "ClaimKind",
    "ClaimVerdict",
    "ClaimVocab",
    "claim_vocab",
]


class ClaimKind(StrEnum):
    """What a piece of an explanation asserts."""

    LIKED = "liked"
    LIKED_CATEGORY = "liked_category"
    SIMILAR = "similar"
    RECOMMENDED_TITLE = "recommended_title"
    TITLE = "title"
    YEAR = "year"
    DECADE = "decade"
    YEAR_RANGE = "year_range"
    CATEGORY = "category"
    AUDIENCE = "audience"
    POPULARITY = "popularity"
    MATCHES = "matches"
    PHRASE = "phrase"
    CONFIDENCE = "confidence"
    NUMBER = "number"
    UNVERIFIABLE = "unverifiable"


# How each kind is verified (the checker implements exactly these rules).
CLAIM_KINDS: dict[ClaimKind, str] = {
    ClaimKind.LIKED: "'you liked X', 'X is your favorite': X is in Evidence.history with value > 0, not the recommended item",
    ClaimKind.LIKED_CATEGORY: "'you liked comedies': a positively attributed history item has that category (catalog)",
    ClaimKind.SIMILAR: "'similar to Y' / 'fans of Y': Y is a positively attributed history item, not the recommended one",
    ClaimKind.RECOMMENDED_TITLE: "'you may enjoy X': X is the recommended item",
    ClaimKind.TITLE: "any other named title: the recommended item or a positively attributed history item",
    ClaimKind.YEAR: "a year attached to a named item equals its catalog year",
    ClaimKind.DECADE: "a decade ('1990s', '90s') attached to an item contains its catalog year",
    ClaimKind.YEAR_RANGE: "'1990-1999': contains the item's year, or is one of Evidence.matches",
    ClaimKind.CATEGORY: "a category word attached to an item is one of its catalog categories",
    ClaimKind.AUDIENCE: "'for families': only audiences derivable from the item's categories; others are unverifiable",
    ClaimKind.POPULARITY: "'popular', 'a hit': Evidence.popularity_rank (or the catalog's rank) >= min_rank",
    ClaimKind.MATCHES: "'Matches: A, B': the list equals Evidence.matches",
    ClaimKind.PHRASE: "a template phrase: its feature attribution is positive / it has matches / a session like",
    ClaimKind.CONFIDENCE: "'72%': equals the calibrated confidence in percent",
    ClaimKind.NUMBER: "another number: the year of the recommended or an attributed history item",
    ClaimKind.UNVERIFIABLE: "acclaim, awards, people, plot or mood words no evidence carries, and negations: rejected",
}


class Claim(BaseModel):
    """One claim found in a text, with its verdict."""

    kind: ClaimKind
    text: str = Field(description="The words of the text that make the claim.")
    subject: str | None = Field(None, description="Display title of the item the claim is about, if any.")
    ok: bool
    why: str = Field("", description="Why the claim failed (empty when it holds).")


class ClaimVerdict(BaseModel):
    """The checker's verdict on one text: ``ok`` when every claim holds."""

    ok: bool
    claims: list[Claim] = Field(default_factory=list)

    @property
    def failures(self) -> list[Claim]:
        return [c for c in self.claims if not c.ok]

    @property
    def reasons(self) -> list[str]:
        return [f"{c.kind.value}: {c.why}" for c in self.failures]


# ----------------------------------------------------------------------------------- vocabulary
Phrase = tuple[str, ...]


def _phrase(text: str) -> Phrase:
    return tuple(_norm(text).split())


@dataclass(frozen=True)
class ClaimVocab:
    """The phrase tables of ``agent/data/claims.yaml``, normalised."""

    version: str
    liked: frozenset[Phrase]
    possessive_liked: frozenset[Phrase]
    negations: frozenset[str]
    recommend: frozenset[Phrase]
    similar: frozenset[Phrase]
    pronouns: frozenset[str]
    audience_categories: Mapping[Phrase, str]
    bad_audiences: frozenset[Phrase]
    audience_heads: frozenset[str]
    popularity: frozenset[Phrase]
    min_popularity_rank: float
    unverifiable: frozenset[Phrase]
    decades: Mapping[str, int]
    phrases: Mapping[Phrase, Mapping[str, Any]]
    percent_words: frozenset[str]
    matches_cue: str


@cache
def claim_vocab() -> ClaimVocab:
    """Load and normalise ``agent/data/claims.yaml`` (once)."""
    raw = claims_data()
    for key, val in raw.items():
        # YAML reads a bare no/yes/on/off as a boolean: every phrase must be a string
        if isinstance(val, list) and not all(isinstance(x, str | dict) for x in val):
            raise ValueError(f"agent/data/claims.yaml: {key} has a non-string entry (quote it): {val}")
    rec = {_phrase(p) for p in raw["recommend_phrases"]}
    rec |= {(m, v) for m in raw["recommend_modals"] for v in raw["recommend_verbs"]}
    rec |= {(m, "also", v) for m in raw["recommend_modals"] for v in raw["recommend_verbs"]}
    pop = raw["popularity"]
    return ClaimVocab(
        version=str(raw["version"]),
        liked=frozenset(_phrase(p) for p in raw["liked_cues"]),
        possessive_liked=frozenset(_phrase(p) for p in raw["possessive_liked_cues"]),
        negations=frozenset(_norm(w) for w in raw["negations"]),
        recommend=frozenset(rec),
        similar=frozenset(_phrase(p) for p in raw["similar_cues"]),
        pronouns=frozenset(raw["subject_pronouns"]),
        audience_categories={_phrase(k): v for k, v in raw["audience_categories"].items()},
        bad_audiences=frozenset(_phrase(p) for p in raw["unverifiable_audiences"]),
        audience_heads=frozenset(_norm(w) for w in raw["audience_heads"]),
        popularity=frozenset(_phrase(p) for p in pop["phrases"]),
        min_popularity_rank=float(pop["min_rank"]),
        unverifiable=frozenset(_phrase(p) for p in raw["unverifiable"]),
        decades={_norm(k): int(v) for k, v in raw["decade_words"].items()},
        phrases={_phrase(p["text"]): p for p in raw["phrases"]},
        percent_words=frozenset(raw["percent_words"]),
        matches_cue=_norm(raw["matches_cue"]),
    )


# ------------------------------------------------------------------------------------ tokenising
@dataclass(frozen=True)
class _Word:
    norm: str
    orig: str
    start: int
    end: int
    pre: str  # raw text between the previous word and this one

    @property
    def cap(self) -> bool:
        return self.orig[:1].isupper()


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SENT_END = re.compile(r"[.!?]")


def _words(text: str) -> list[_Word]:
    out: list[_Word] = []
    last = 0
    for m in _WORD.finditer(text):
        pieces = re.finditer(r"[a-z0-9]+", m.group(0).lower().replace("'", ""))
        first = True
        for p in pieces:
            # a piece keeps the span of its whole word (titles are matched on pieces, as _norm does)
            out.append(_Word(p.group(0), m.group(0), m.start(), m.end(), text[last : m.start()] if first else ""))
            first = False
        last = m.end()
    return out


_GENRE_PHRASES: dict[Phrase, str] = {}
for _w, _k in GENRE_WORDS.items():
    _GENRE_PHRASES.setdefault(_phrase(_w), _k)

_CONNECTIVES = {"and", "or", "both", "also", "as", "well", "the", "a", "an", "too", "either"}
_DETERMINERS = {"this", "the", "a", "an", "another", "also", "more", "something", "one", "its"}
_FILLER = {"title", "titles", "item", "items", "ones", "one", "pick", "picks", *all_item_nouns()}

# span kinds
_TITLE, _LIKED, _REC, _SIMILAR, _PRONOUN = "title", "liked", "rec", "similar", "pronoun"
_GENRE, _AUD_CAT, _AUD_BAD, _POP, _UNVER, _PHRASE = "genre", "aud_cat", "aud_bad", "pop", "unver", "phrase"
_POSS, _NEG, _REC_LIST = "possessive_liked", "negation", "rec_list"
_YEAR, _DECADE, _RANGE, _PERCENT, _NUMBER, _MATCHES, _CAPWORD, _WORDK = (
    "year", "decade", "range", "percent", "number", "matches", "capword", "word",
)  # fmt: skip


@dataclass
class _Span:
    kind: str
    i0: int
    i1: int  # exclusive
    value: Any = None
    text: str = ""
    new_sentence: bool = False
    pre: str = ""  # raw text before the span's first word


# ---------------------------------------------------------------------------------------- checker
_PENDING = "<liked-pending>"


class ClaimChecker:
    """Extracts claims from an explanation and verifies each against the evidence and the catalog.

    Args:
        items: The catalog (years and categories of liked items are looked up here, by item id).
        vocab: Phrase tables (default: ``agent/data/claims.yaml``).
    """

    def __init__(self, items: Iterable[Item], *, vocab: ClaimVocab | None = None) -> None:
        self.vocab = vocab or claim_vocab()
        self.items: dict[str, Item] = {}
        self._titles: dict[Phrase, list[str]] = {}
        for it in items:
            self.items[it.item_id] = it
            for v in _title_variants(it.title):
                self._titles.setdefault(tuple(v.split()), []).append(it.item_id)
        self._max_title = max((len(k) for k in self._titles), default=1)
        counts = sorted(it.rating.count for it in self.items.values())
        self._counts = counts if counts and counts[-1] > 0 else []
        tables = [self.vocab.liked, self.vocab.possessive_liked, self.vocab.recommend, self.vocab.similar, self.vocab.popularity,
                  self.vocab.unverifiable, self.vocab.bad_audiences, set(self.vocab.audience_categories),
                  set(self.vocab.phrases), set(_GENRE_PHRASES)]  # fmt: skip
        self._max_phrase = max(len(p) for t in tables for p in t)

    # ------------------------------------------------------------------ public
    def check(self, text: str, ev: Evidence) -> ClaimVerdict:
        """Every claim of ``text`` about ``ev``, verified; ``ok`` when all hold (see :data:`CLAIM_KINDS`)."""
        text = text.replace("\u2019", "'").replace("\u2018", "'")
        words = _words(text)
        spans = self._spans(text, words, ev)
        claims = self._walk(spans, ev)
        return ClaimVerdict(ok=all(c.ok for c in claims), claims=claims)

    # ------------------------------------------------------------------ catalog lookups
    def _item(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    def _rec_facts(self, ev: Evidence) -> tuple[int | None, set[str]]:
        it = self._item(ev.item_id)
        if it is not None:
            return it.year, {_cat_key(c) for c in it.categories}
        return ev.year, {_cat_key(c) for c in ev.categories}

    def _facts(self, subject: str | None, ev: Evidence) -> tuple[int | None, set[str]] | None:
        """(year, category keys) of the subject: None = the recommended item, else a history item id."""
        if subject is None or subject == ev.item_id:
            return self._rec_facts(ev)
        it = self._item(subject)
        if it is None:
            return None
        return it.year, {_cat_key(c) for c in it.categories}

    def _popularity(self, subject: str | None, ev: Evidence) -> float | None:
        if subject is None or subject == ev.item_id:
            return ev.popularity_rank
        it = self._item(subject)
        if it is None or not self._counts:
            return None
        import bisect

        return bisect.bisect_left(self._counts, it.rating.count) / len(self._counts)

    # ------------------------------------------------------------------ spans
    def _title_at(
        self, words: list[_Word], i: int, ev: Evidence, ev_keys: Mapping[Phrase, list[str]], sent_start: bool
    ) -> tuple[int, str] | None:
        evid = {ev.item_id, *(h.item_id for h in ev.history)}
        for L in range(min(self._max_title, len(words) - i), 0, -1):
            key = tuple(w.norm for w in words[i : i + L])
            cands = list(dict.fromkeys([*self._titles.get(key, []), *ev_keys.get(key, [])]))
            if not cands:
                continue
            in_ev = [c for c in cands if c in evid]
            if in_ev:
                # the recommended item first, then the strongest history item
                order = [ev.item_id, *(h.item_id for h in sorted(ev.history, key=lambda h: -h.value))]
                return L, min(in_ev, key=order.index)
            span = words[i : i + L]
            chars = sum(len(w.norm) for w in span) + L - 1
            if L >= 2 and (chars >= 8 or any(w.cap for w in span)):
                return L, cands[0]
            w = span[0]
            name_like = w.cap and w.norm not in _COMMON and _genre_of(w.norm) is None
            if L == 1 and name_like and (not sent_start or w.norm not in _COMMON_START):
                return L, cands[0]
        return None

    def _spans(self, text: str, words: list[_Word], ev: Evidence) -> list[_Span]:
        v = self.vocab
        spans: list[_Span] = []
        # titles of evidence items count even when the catalog names them differently (or lacks them)
        ev_keys: dict[Phrase, list[str]] = {}
        for iid, title in [(ev.item_id, ev.title), *((h.item_id, h.title) for h in ev.history)]:
            for var in _title_variants(title):
                ev_keys.setdefault(tuple(var.split()), []).append(iid)
        i = 0
        n = len(words)
        while i < n:
            w = words[i]
            sent_start = i == 0 or bool(_SENT_END.search(w.pre))
            new_sent = i > 0 and bool(_SENT_END.search(w.pre))
            t = self._title_at(words, i, ev, ev_keys, sent_start)
            if t is not None:
                L, iid = t
                spans.append(_Span(_TITLE, i, i + L, iid, _raw(text, words, i, i + L), new_sent))
                i += L
                continue
            # "Matches: A, B" up to the end of the sentence
            if w.norm == v.matches_cue and text[w.end : w.end + 1] == ":":
                j = i + 1
                while j < n and not _SENT_END.search(words[j].pre):
                    j += 1
                end = words[j].start if j < n else len(text)
                body = text[w.end + 1 : end]
                spans.append(_Span(_MATCHES, i, j, body, _raw(text, words, i, j), new_sent))
                i = j
                continue
            found: _Span | None = None
            for L in range(min(self._max_phrase, n - i), 0, -1):
                key = tuple(x.norm for x in words[i : i + L])
                if L > 1 and any(_SENT_END.search(x.pre) for x in words[i + 1 : i + L]):
                    continue
                kind, val = self._phrase_kind(key)
                if kind is not None:
                    found = _Span(kind, i, i + L, val, _raw(text, words, i, i + L), new_sent)
                    break
            if found is None:
                found = self._word_span(text, words, i, new_sent)
            spans.append(found)
            i = found.i1
        for sp in spans:
            sp.pre = words[sp.i0].pre
        return spans

    def _phrase_kind(self, key: Phrase) -> tuple[str | None, Any]:
        v = self.vocab
        if key in v.phrases:
            return _PHRASE, v.phrases[key]
        if key in v.unverifiable:
            return _UNVER, None
        if key in v.popularity:
            return _POP, None
        if key in v.bad_audiences:
            return _AUD_BAD, None
        if key in v.audience_categories:
            return _AUD_CAT, v.audience_categories[key]
        if key in v.liked:
            return _LIKED, None
        if key in v.possessive_liked:
            return _POSS, None
        if len(key) == 1 and key[0] in v.negations:
            return _NEG, None
        if key in v.recommend:
            return _REC, None
        if key in v.similar:
            return _SIMILAR, None
        if key in _GENRE_PHRASES:
            return _GENRE, _GENRE_PHRASES[key]
        if len(key) == 1:
            g = _genre_of(key[0])
            if g is not None:
                return _GENRE, g
        return None, None

    def _word_span(self, text: str, words: list[_Word], i: int, new_sent: bool) -> _Span:
        v = self.vocab
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        raw = _raw(text, words, i, i + 1)
        if w.norm.isdigit():
            num = int(w.norm)
            after = text[w.end : w.end + 2].lstrip()
            if after.startswith("%") or (nxt is not None and nxt.norm in v.percent_words):
                return _Span(_PERCENT, i, i + 1 + (0 if after.startswith("%") else 1), num, raw, new_sent)
            if 1800 <= num <= 2100:
                if nxt is not None and nxt.norm.isdigit() and re.fullmatch(r"\s*[-\u2013\u2014]\s*|\s+to\s+", nxt.pre):
                    return _Span(_RANGE, i, i + 2, (num, int(nxt.norm)), _raw(text, words, i, i + 2), new_sent)
                return _Span(_YEAR, i, i + 1, num, raw, new_sent)
            return _Span(_NUMBER, i, i + 1, num, raw, new_sent)
        m = re.fullmatch(r"(\d{2}|\d{4})s", w.norm)
        if m:
            return _Span(_DECADE, i, i + 1, int(m.group(1)), raw, new_sent)
        if w.norm in v.decades:
            return _Span(_DECADE, i, i + 1, v.decades[w.norm], raw, new_sent)
        if w.norm in v.pronouns:
            return _Span(_PRONOUN, i, i + 1, None, raw, new_sent)
        if w.cap and w.norm not in _COMMON:
            return _Span(_CAPWORD, i, i + 1, w.orig, raw, new_sent)
        return _Span(_WORDK, i, i + 1, w.norm, raw, new_sent)

    # ------------------------------------------------------------------ roles and verdicts
    def _walk(self, spans: list[_Span], ev: Evidence) -> list[Claim]:
        claims: list[Claim] = []
        hist = {h.item_id: h for h in ev.history}
        owner: str | None = None  # None: the recommended item; else a history item id (or _PENDING)
        mode: str | None = None
        liked_titles = 0
        last_liked: str | None = None

        def add(kind: ClaimKind, s: _Span, subject: str | None, why: str) -> None:
            claims.append(Claim(kind=kind, text=s.text, subject=self._label(subject, ev), ok=not why, why=why))

        for idx, s in enumerate(spans):
            if s.new_sentence:
                owner, mode = None, None
            k = s.kind
            if re.search(r"[:;]", s.pre):
                # a colon or semicolon ends a liked list: what follows is about the recommended item
                owner = None if mode in (_LIKED, None) or owner == _PENDING else owner
                mode = None if mode == _LIKED else mode
            elif mode == _LIKED and "(" in s.pre:
                mode = None  # "Fargo (1996)": the parenthesis describes the title before it
                owner = None if owner == _PENDING else owner
            listing = k in (_TITLE, _GENRE) or (k == _WORDK and s.value in _CONNECTIVES | _FILLER)
            if mode == _LIKED and not listing and not (k == _CAPWORD and liked_titles == 0):
                mode = None
                if owner == _PENDING:
                    owner = None
            rec_bare = idx > 0 and spans[idx - 1].kind == _REC
            if mode == _REC and k == _GENRE and s.text[:1].isupper() and rec_bare:
                # "you may enjoy Action, a 1995 drama": a capitalised category word used as a name
                add(ClaimKind.RECOMMENDED_TITLE, s, None,
                    f"names {s.text!r} where the recommended item is {display_title(ev.title)!r}")  # fmt: skip
                mode = None
                continue
            if mode == _REC and k not in (_TITLE, _CAPWORD) and not (k == _WORDK and s.value in _DETERMINERS):
                mode = None
            if mode == _SIMILAR and k != _TITLE:
                mode = None
            if mode == _REC_LIST and k != _TITLE and not (k == _WORDK and s.value in ("and", "or", "also", "both")):
                mode = None
            if k == _WORDK and s.value == "for":
                why = self._why_audience(spans, idx)
                if why:
                    add(ClaimKind.AUDIENCE, s, owner if owner != _PENDING else None, why)
            if k == _LIKED:
                mode, owner, liked_titles = _LIKED, _PENDING, 0
            elif k == _POSS:
                nxt = spans[idx + 1] if idx + 1 < len(spans) else None
                if nxt is not None and nxt.kind == _TITLE:
                    mode, owner, liked_titles = _LIKED, _PENDING, 0  # "your favorite, Star Wars"
                else:
                    subj = None if owner == _PENDING else owner  # "Alien may be your favorite"
                    add(ClaimKind.LIKED, s, subj, self._why_liked(subj or ev.item_id, ev, hist))
            elif k == _NEG:
                add(ClaimKind.UNVERIFIABLE, s, None, f"negated claims ({s.text!r}) are not verified")
            elif k == _REC:
                mode, owner = _REC, None
            elif k == _SIMILAR:
                nxt = spans[idx + 1] if idx + 1 < len(spans) else None
                if nxt is not None and nxt.kind == _TITLE:
                    mode = _SIMILAR
            elif k == _PRONOUN:
                owner = None
            elif k == _TITLE:
                iid = s.value
                nxt = spans[idx + 1] if idx + 1 < len(spans) else None
                # "Because you liked Fargo, Heat is ...": a new clause whose subject is the item
                clause = nxt is not None and (nxt.kind == _REC or (nxt.kind == _WORDK and nxt.value in _VERBS))
                if mode == _LIKED and liked_titles and iid == ev.item_id and "," in s.pre and clause:
                    mode = None
                if mode == _LIKED:
                    add(ClaimKind.LIKED, s, iid, self._why_liked(iid, ev, hist))
                    liked_titles += 1
                    last_liked = iid
                elif mode in (_REC, _REC_LIST):
                    why = (
                        ""
                        if iid == ev.item_id
                        else f"names {self._label(iid, ev)!r} where the recommended item is {display_title(ev.title)!r}"
                    )
                    add(ClaimKind.RECOMMENDED_TITLE, s, iid, why)
                    mode = _REC_LIST  # "you may enjoy X and Y": Y is claimed as recommended too
                elif mode == _SIMILAR:
                    why = self._why_liked(iid, ev, hist, reference_ok=True).replace("as liked", "as the similar item")
                    add(ClaimKind.SIMILAR, s, iid, why)
                    last_liked = iid
                    mode = None
                else:
                    why = ""
                    if iid != ev.item_id and not (iid in hist and hist[iid].value > 0):
                        why = f"names {self._label(iid, ev)!r}, neither the recommended item nor a liked item"
                    add(ClaimKind.TITLE, s, iid, why)
                    if iid in hist:
                        last_liked = iid
                owner = None if iid == ev.item_id else iid
            elif k == _CAPWORD:
                if mode == _LIKED and liked_titles == 0:
                    add(ClaimKind.LIKED, s, None, f"{s.value!r} is not a liked item of this history")
                    mode = None
                elif mode == _REC:
                    add(ClaimKind.RECOMMENDED_TITLE, s, None,
                        f"names {s.value!r} where the recommended item is {display_title(ev.title)!r}")  # fmt: skip
                    mode = None
            elif k == _GENRE:
                if mode == _LIKED and owner == _PENDING:
                    pos = [h for h in ev.history if h.value > 0]
                    ok = any(s.value in (f[1] if (f := self._facts(h.item_id, ev)) else set()) for h in pos)
                    add(ClaimKind.LIKED_CATEGORY, s, None, "" if ok else f"no liked item is listed as {s.text!r}")
                else:
                    add(ClaimKind.CATEGORY, s, owner, self._why_category(owner, s, ev))
            elif k == _AUD_CAT:
                add(ClaimKind.AUDIENCE, s, owner, self._why_category(owner, s, ev))
            elif k == _AUD_BAD:
                add(ClaimKind.AUDIENCE, s, owner, f"audience {s.text!r} is not derivable from the evidence")
            elif k == _UNVER:
                add(ClaimKind.UNVERIFIABLE, s, owner, f"{s.text!r} is not carried by any evidence")
            elif k == _POP:
                subj = None if owner == _PENDING else owner
                rank = self._popularity(subj, ev)
                why = ""
                if rank is None:
                    why = "no popularity figure to support it"
                elif not is_popular(rank):
                    why = f"popularity rank {rank:.2f} < {self.vocab.min_popularity_rank:g}"
                add(ClaimKind.POPULARITY, s, subj, why)
            elif k in (_YEAR, _DECADE, _RANGE):
                subj = None if owner == _PENDING else owner
                add(*self._time_claim(s, subj, ev))
            elif k == _PERCENT:
                conf = round(ev.trust.confidence * 100) if ev.trust is not None else None
                why = "" if conf == s.value else f"{s.value}% is not the confidence ({conf}%)"
                add(ClaimKind.CONFIDENCE, s, None, why)
            elif k == _NUMBER:
                ok_nums = {str(y) for y in self._years(ev)}
                if ev.trust is not None:
                    ok_nums.add(str(round(ev.trust.confidence * 100)))
                add(ClaimKind.NUMBER, s, None, "" if str(s.value) in ok_nums else f"number {s.value} is in no evidence")
            elif k == _MATCHES:
                got = {_norm(x) for x in re.split(r",|;|\band\b", str(s.value)) if _norm(x)}
                want = {_norm(x) for x in ev.matches if _norm(x)}
                why = "" if got and got == want else f"says {sorted(got)}, the item matches {sorted(want)}"
                add(ClaimKind.MATCHES, s, None, why)
            elif k == _PHRASE:
                add(ClaimKind.PHRASE, s, last_liked, self._why_phrase(s.value, last_liked, ev, hist))
        return claims

    def _why_audience(self, spans: list[_Span], idx: int) -> str:
        """'for young people': words that are no category before an audience noun; '' when none."""
        between: list[str] = []
        for s in spans[idx + 1 : idx + 5]:
            first = _norm(s.text).split()[:1]
            if first and first[0] in self.vocab.audience_heads and s.kind in (_WORDK, _SIMILAR):
                if between:
                    return f"audience {' '.join(between)!r} {first[0]} is not derivable from the evidence"
                return ""
            if s.kind not in (_WORDK, _CAPWORD):
                return ""
            if s.value not in ("the", "all", "a"):
                between.append(s.text)
        return ""

    def _label(self, subject: str | None, ev: Evidence) -> str | None:
        if subject is None or subject == _PENDING:
            return display_title(ev.title) if subject is None else None
        if subject == ev.item_id:
            return display_title(ev.title)
        it = self._item(subject)
        if it is not None:
            return display_title(it.title)
        h = next((h for h in ev.history if h.item_id == subject), None)
        return display_title(h.title) if h else subject

    def _why_liked(
        self, iid: str, ev: Evidence, hist: Mapping[str, HistoryAttribution], *, reference_ok: bool = False
    ) -> str:
        name = self._label(iid, ev)
        if iid == ev.item_id:
            return f"names the recommended item {name!r} as liked"
        if iid not in hist:
            return f"{name!r} is not in this user's history"
        if hist[iid].value <= 0:
            return f"{name!r} did not raise this score (attribution {hist[iid].value:.3g} <= 0)"
        if hist[iid].reference and not reference_ok:
            return f"{name!r} was only asked about ('something like'), never said to be liked"
        return ""

    def _why_category(self, owner: str | None, s: _Span, ev: Evidence) -> str:
        subj = None if owner == _PENDING else owner
        facts = self._facts(subj, ev)
        if facts is None:
            return f"no catalog facts for {self._label(subj, ev)!r}"
        key = str(s.value)
        if key in facts[1]:
            return ""
        return f"{self._label(subj, ev)!r} is not listed as {s.text!r}"

    def _time_claim(self, s: _Span, subj: str | None, ev: Evidence) -> tuple[ClaimKind, _Span, str | None, str]:
        facts = self._facts(subj, ev)
        year = facts[0] if facts else None
        name = self._label(subj, ev)
        if s.kind == _RANGE:
            y0, y1 = s.value
            in_matches = _norm(f"{y0}-{y1}") in {_norm(x) for x in ev.matches}
            ok = in_matches or (year is not None and y0 <= year <= y1)
            return ClaimKind.YEAR_RANGE, s, subj, "" if ok else f"{name!r} ({year}) is not from {y0}-{y1}"
        if year is None:
            return (ClaimKind.YEAR if s.kind == _YEAR else ClaimKind.DECADE), s, subj, f"no year known for {name!r}"
        if s.kind == _YEAR:
            return ClaimKind.YEAR, s, subj, "" if year == s.value else f"{name!r} is from {year}, not {s.value}"
        d = int(s.value)
        ok = (year // 10 * 10 == d) if d >= 100 else ((year % 100) // 10 * 10 == d)
        return ClaimKind.DECADE, s, subj, "" if ok else f"{name!r} is from {year}, not the {s.text}"

    def _years(self, ev: Evidence) -> set[int]:
        out = set()
        for iid in (ev.item_id, *(h.item_id for h in ev.history if h.value > 0)):
            f = self._facts(iid, ev)
            if f and f[0] is not None:
                out.add(f[0])
        return out

    def _why_phrase(
        self, spec: Mapping[str, Any], subject: str | None, ev: Evidence, hist: Mapping[str, HistoryAttribution]
    ) -> str:
        text = spec["text"]
        if "feature" in spec and ev.features.get(spec["feature"], 0.0) <= 0:
            return f"{text!r} needs a positive {spec['feature']} attribution"
        if spec.get("needs_history") and not any(h.value > 0 for h in ev.history):
            return f"{text!r} needs a positively attributed history item"
        if spec.get("needs_matches") and not ev.matches and ev.features.get("text", 0.0) <= 0:
            return f"{text!r} needs a satisfied constraint or a positive text match"
        if spec.get("first_like"):
            h = hist.get(subject or "")
            others = [x for x in ev.history if x.value > 0 and x.item_id != (subject or "")]
            size_ok = ev.trust is None or ev.trust.profile_size <= 1
            if h is None or not h.session or others or not size_ok:
                return f"{text!r} needs the named item to be the only like, given in this session"
        if spec.get("needs_reference") and not any(h.value > 0 and h.reference for h in ev.history):
            return f"{text!r} needs a positively attributed item the person asked for something like"
        if spec.get("session_like"):
            h = hist.get(subject or "")
            if (h is None and not any(x.session for x in ev.history)) or (h is not None and not h.session):
                return f"{text!r} needs a like given in this session"
        return ""


def _genre_of(word: str) -> str | None:
    return GENRE_WORDS.get(word) or (GENRE_WORDS.get(word[:-1]) if word.endswith("s") and len(word) > 3 else None)


def _raw(text: str, words: list[_Word], i0: int, i1: int) -> str:
    return text[words[i0].start : words[i1 - 1].end] if i1 > i0 else ""


# Capitalised words that are not names (sentence starters, connectives, the templates' lead words).
_COMMON = {
    "a", "also", "an", "and", "as", "based", "because", "both", "fans", "for", "given", "here", "i", "if", "in",
    "it", "its", "like", "many", "of", "on", "people", "recommended", "since", "so", "the", "then", "this",
    "those", "to", "try", "viewers", "we", "with", "you", "your", "youll", "youve", "youd", "youre", "similar",
    "another", "next", "our", "watch", "enjoy", "liked", "popular", "matches", "listed", "under", "is", "from",
    "that", "these", "what", "who", "which", "there", "thanks", "plus", "consider", "check", "or", "but",
    "all", "more", "one", "some", "any", "each", "why", "how", "when", "where", "after", "before", "just",
    "well", "highly", "very", "top",
}  # fmt: skip
_VERBS = {
    "is", "was", "has", "offers", "brings", "delivers", "should", "could", "would", "might", "may", "will",
    "blends", "combines", "features", "shares", "also", "fits", "makes", "mixes",
}  # fmt: skip
_COMMON_START = _COMMON | {"heres", "however", "overall", "yes", "no", "sure"}
