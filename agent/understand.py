"""Deterministic understanding of one user message for guided mode.

``understand(message, state, vocab)`` turns a chat message into an :class:`Understanding`: the
intent, the slot update (:class:`agent.state.ConstraintUpdate`), the items the message is about
(by position in the last shown list, by title, or "that one"), reference items ("like Star
Wars"), and suggested feedback events. It uses rules plus the catalog's vocabulary
(:class:`CatalogVocab`: categories with synonyms, fuzzy titles with years, year and price range)
and, optionally, an embedding function as a fallback for titles it cannot match by spelling.
No LLM is involved; the small embedded model only writes text.

Text-derived feedback is never applied here: it comes back as :class:`SuggestedFeedback`, which
the API may turn into a user :class:`catalog.FeedbackEvent` (the agent applies user events only).

Extraction order (each step consumes the words it used, so later steps cannot reuse them):
positions ("the second one", "#3") -> titles of shown items -> titles after cues ("like X",
"tell me about X") -> years -> prices -> list length -> categories with negation -> cue words ->
the remaining content words become the free-text query.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher, get_close_matches
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.safety import InjectionFlag, SafetyConfig, clean_text, detect_injection
from agent.state import MAX_N, ConstraintUpdate, DialogState
from catalog.types import Dataset, FeedbackEvent, FeedbackKind, Item

Embedder = Callable[[Sequence[str]], np.ndarray]
"""Maps texts to an ``(len(texts), dim)`` array of embeddings (e.g. the retrieval TextEncoder's encode)."""


class Intent(StrEnum):
    """What the user wants from this turn."""

    RECOMMEND = "recommend"
    REFINE = "refine"
    EXPLAIN = "explain"
    COMPARE = "compare"
    DESCRIBE = "describe"
    FEEDBACK = "feedback"
    CHITCHAT = "chitchat"
    HELP = "help"
    MEMORY = "memory"
    RESET = "reset"


class UnderstandConfig(BaseModel):
    """Thresholds and defaults of the rule-based understanding."""

    title_threshold: float = Field(0.8, ge=0, le=1.5, description="Least fuzzy score to accept a title after a cue.")
    title_threshold_bare: float = Field(0.9, ge=0, le=1.5, description="Least score for a title without a cue.")
    shown_title_threshold: float = Field(
        0.85, ge=0, le=1, description="Least token similarity for a shown item's title."
    )
    embedding_threshold: float = Field(0.6, ge=-1, le=1, description="Least cosine for an embedding title match.")
    category_hint_threshold: float = Field(0.35, ge=-1, le=1, description="Least cosine for a soft category hint.")
    max_n: int = Field(50, ge=1, le=MAX_N, description="Largest list length a user can ask for.")
    default_diversity: float = Field(0.3, ge=0, le=1, description="Diversity assumed when the user has not said.")
    diversity_step: float = Field(0.3, ge=0, le=1, description="How far 'more variety' / 'more of the same' moves it.")
    recent_years: int = Field(5, ge=1, description='"Recent" = the catalog\'s last this-many years.')
    classic_age: int = Field(30, ge=1, description='"Classic/old" = at least this many years before the newest item.')
    max_query_chars: int = Field(200, ge=1, description="Longest free-text query kept.")
    safety: SafetyConfig = Field(default_factory=SafetyConfig, description="Message cap and text hygiene.")


# --------------------------------------------------------------------------------------------
# text normalisation


_APOS = re.compile(r"(?<=[a-z0-9])'(?=[a-z])|'(?=\d0s\b)|(?<=\d)'s\b|(?<=[a-z])'(?=\s|$)")
_TOKEN = re.compile(r"[a-z0-9]+|[#$€£]")
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8"}


def normalize(text: str) -> str:
    """Lower-case, accent-free, apostrophes dropped inside words ("children's" -> "childrens",
    "'80s" -> "80s"), ``&`` -> ``and``, whitespace collapsed. Punctuation is kept."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("’", "'").replace("‘", "'").replace("`", "'").replace("“", '"').replace("”", '"')
    text = _APOS.sub(lambda m: "s" if m.group(0) == "'s" else "", text)
    text = text.replace("&", " and ")
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """Word tokens of normalised text."""
    return _TOKEN.findall(normalize(text))


STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "id",
        "im",
        "ive",
        "dont",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "just",
        "really",
        "very",
        "some",
        "any",
        "please",
        "so",
        "too",
        "also",
    ]
)
_ARTICLES = ("the", "a", "an", "les", "la", "le", "il", "das", "die", "der", "el", "los", "las", "l")


def title_variants(title: str) -> list[str]:
    """Normalised spellings a user might type: "Godfather, The" -> "the godfather", "godfather";
    "Seven (Se7en)" also gives "se7en"; roman numerals become digits."""
    parts = [title]
    m = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", title)
    if m:
        parts = [m.group(1), m.group(2)]
    out: list[str] = []
    for p in parts:
        p = p.strip()
        am = re.match(r"^(.*),\s*(" + "|".join(_ARTICLES) + r")'?\s*(:.*)?$", p, re.IGNORECASE)
        if am:
            core = am.group(1) + (am.group(3) or "")
            full = f"{am.group(2)} {core}"
        else:
            core = full = p
        for v in (full, core):
            toks = [_ROMAN.get(t, t) for t in tokens(v)]
            if toks:
                s = " ".join(toks)
                if s not in out:
                    out.append(s)
        if am is None:
            toks = [_ROMAN.get(t, t) for t in tokens(p)]
            if len(toks) > 1 and toks[0] in _ARTICLES:
                s = " ".join(toks[1:])
                if s not in out:
                    out.append(s)
    return out


# --------------------------------------------------------------------------------------------
# the catalog vocabulary

# Synonyms keyed by a normalised category name; only categories the catalog has are used.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "action": ("action", "action packed", "actionpacked", "action movie", "action movies"),
    "adventure": ("adventure", "adventures", "adventurous"),
    "animation": ("animation", "animated", "cartoon", "cartoons", "anime", "animations"),
    "childrens": ("childrens", "children", "child", "kids", "kid", "family", "families", "family friendly"),
    "comedy": (
        "comedy",
        "comedies",
        "comedic",
        "funny",
        "funnier",
        "hilarious",
        "humor",
        "humour",
        "humorous",
        "laugh",
        "laughs",
    ),
    "crime": ("crime", "crimes", "gangster", "gangsters", "mafia", "mob", "heist", "heists"),
    "documentary": ("documentary", "documentaries", "docs", "docu", "docuseries", "nonfiction", "non fiction"),
    "drama": ("drama", "dramas", "dramatic"),
    "fantasy": ("fantasy", "fantasies", "fantastical", "magic", "magical", "fairy tale", "fairytale", "fairy tales"),
    "film noir": ("film noir", "noir", "noirs", "films noir"),
    "horror": ("horror", "horrors", "scary", "scarier", "spooky", "creepy", "frightening", "slasher", "slashers"),
    "musical": ("musical", "musicals"),
    "mystery": ("mystery", "mysteries", "whodunit", "whodunnit", "detective", "detectives"),
    "romance": ("romance", "romances", "romantic", "love story", "love stories"),
    "sci fi": ("sci fi", "scifi", "science fiction", "sf", "sci fis", "scifis", "science fictions"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful", "thrilling"),
    "war": ("war", "war movie", "war movies", "war films", "war film", "wartime", "military"),
    "western": ("western", "westerns", "cowboy", "cowboys"),
}
_MULTI: dict[str, tuple[str, ...]] = {
    "romcom": ("romance", "comedy"),
    "rom com": ("romance", "comedy"),
    "romcoms": ("romance", "comedy"),
    "rom coms": ("romance", "comedy"),
}


def _plurals(phrase: str) -> list[str]:
    if phrase.endswith("y") and not phrase.endswith(("ay", "ey", "oy", "uy")):
        return [phrase, phrase[:-1] + "ies"]
    if phrase.endswith(("s", "x", "ch", "sh")):
        return [phrase, phrase + "es"]
    return [phrase, phrase + "s"]


@dataclass
class TitleMatch:
    """A catalog item matched by (part of) a message."""

    idx: int
    score: float
    length: int  # tokens consumed from the start of the span


@dataclass
class CatalogVocab:
    """Categories, titles and ranges of one catalog, indexed for fast matching. Build once per catalog.

    Attributes:
        embed: Optional embedding function (e.g. the retrieval TextEncoder's ``encode``) used as a
            fallback for titles that spelling cannot match and for soft category hints.
    """

    items: list[Item]
    categories: list[str]
    phrases: dict[tuple[str, ...], tuple[str, ...]]
    max_phrase: int
    variants: list[list[str]]
    index: dict[str, list[int]]
    idf: dict[str, float]
    by_initial: dict[str, list[str]]
    popularity: np.ndarray
    years: np.ndarray  # float, NaN when unknown
    prices: np.ndarray  # float, NaN when unknown
    item_pos: dict[str, int]
    embed: Embedder | None = None
    length_slack: float = 0.03
    max_candidates: int = 25
    _close: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _title_emb: np.ndarray | None = field(default=None, repr=False)
    _cat_emb: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_dataset(cls, ds: Dataset, embed: Embedder | None = None) -> CatalogVocab:
        """Build from a :class:`catalog.Dataset` (its items' titles, years, categories, prices)."""
        return cls.from_items(ds.items, embed=embed)

    @classmethod
    def from_items(cls, items: Sequence[Item], embed: Embedder | None = None) -> CatalogVocab:
        """Build from items directly (any catalog, not only ml-100k)."""
        items = list(items)
        categories = sorted({c for it in items for c in it.categories})
        phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for cat in categories:
            key = " ".join(tokens(cat))
            if not key or key in ("unknown", "other", "none"):
                continue
            for form in (*_plurals(key), *_SYNONYMS.get(key, ())):
                phrases.setdefault(tuple(form.split()), (cat,))
            if key.replace(" ", "") != key:
                phrases.setdefault((key.replace(" ", ""),), (cat,))
        by_key = {" ".join(tokens(c)): c for c in categories}
        for form, keys in _MULTI.items():
            if all(k in by_key for k in keys):
                phrases[tuple(form.split())] = tuple(by_key[k] for k in keys)
        variants = [title_variants(it.title) for it in items]
        index: dict[str, list[int]] = defaultdict(list)
        for i, vs in enumerate(variants):
            for t in {t for v in vs for t in v.split()}:
                if t not in STOP:
                    index[t].append(i)
        n = max(1, len(items))
        idf = {t: math.log(1 + n / len(ix)) for t, ix in index.items()}
        by_initial: dict[str, list[str]] = defaultdict(list)
        for t in index:
            by_initial[t[0]].append(t)
        counts = np.array([it.rating.count for it in items], dtype=np.float64)
        pop = np.log1p(counts) / max(1e-9, float(np.log1p(counts.max()))) if len(items) else counts
        return cls(
            items=items,
            categories=categories,
            phrases=phrases,
            max_phrase=max((len(p) for p in phrases), default=1),
            variants=variants,
            index=dict(index),
            idf=idf,
            by_initial=dict(by_initial),
            popularity=pop,
            years=np.array([np.nan if it.year is None else it.year for it in items], dtype=np.float64),
            prices=np.array([np.nan if it.price is None else it.price for it in items], dtype=np.float64),
            item_pos={it.item_id: i for i, it in enumerate(items)},
            embed=embed,
        )

    # --- ranges ---------------------------------------------------------------------------
    @property
    def has_prices(self) -> bool:
        return bool(np.isfinite(self.prices).any())

    @property
    def year_range(self) -> tuple[int, int] | None:
        ok = self.years[np.isfinite(self.years)]
        return (int(ok.min()), int(ok.max())) if ok.size else None

    def year_of(self, item_id: str) -> int | None:
        i = self.item_pos.get(item_id)
        if i is None or not np.isfinite(self.years[i]):
            return None
        return int(self.years[i])

    def label(self, item_id: str) -> str:
        """ "Title (year)" for messages."""
        i = self.item_pos.get(item_id)
        if i is None:
            return item_id
        it = self.items[i]
        return f"{it.title} ({it.year})" if it.year else it.title

    # --- titles ---------------------------------------------------------------------------
    def _keys(self, tok: str) -> list[str]:
        if tok in self.index:
            return [tok]
        if len(tok) < 4 or len(tok) > 30 or tok.isdigit():
            return []
        hit = self._close.get(tok)
        if hit is None:
            pool = [t for t in self.by_initial.get(tok[0], []) if abs(len(t) - len(tok)) <= 2]
            hit = get_close_matches(tok, pool, n=2, cutoff=0.8)
            if len(self._close) < 50_000:  # typo corrections repeat; keep them
                self._close[tok] = hit
        return hit

    def match_title(
        self, span: Sequence[str], *, max_len: int = 8, restrict: Iterable[int] | None = None
    ) -> TitleMatch | None:
        """Best catalog title starting at the beginning of ``span`` (normalised tokens).

        Tries every prefix of up to ``max_len`` tokens against the titles sharing a word with it
        (typos corrected against the title vocabulary); the score is difflib's ratio between the
        prefix and a title variant, plus a bonus when a year in the prefix matches the item's
        year and a small popularity tie-break. Longer prefixes win ties. Returns None when no
        title shares a word.
        """
        span = [_ROMAN.get(t, t) for t in list(span)[:max_len]]
        if not span:
            return None
        allowed = None if restrict is None else set(restrict)
        cand: dict[int, float] = defaultdict(float)
        first_hit: dict[int, int] = {}
        for j, t in enumerate(span):
            if t in STOP:
                continue
            for k in self._keys(t):
                w = self.idf[k] / (1 + 0.3 * j)
                for i in self.index[k]:
                    if allowed is None or i in allowed:
                        cand[i] += w
                        first_hit.setdefault(i, j)
        if not cand:
            return None
        top = heapq.nlargest(self.max_candidates, cand, key=cand.__getitem__)
        best: TitleMatch | None = None
        per_length: dict[int, TitleMatch] = {}
        for length in range(len(span), 0, -1):
            if length > 1 and span[length - 1] in STOP:
                continue
            prefix = span[:length]
            years = [int(t) for t in prefix if len(t) == 4 and t.isdigit() and 1850 <= int(t) <= 2100]
            plain = " ".join(t for t in prefix if not (len(t) == 4 and t.isdigit() and int(t) in years))
            full = " ".join(prefix)
            for i in top:
                if first_hit[i] >= length:  # the prefix shares no word with this title
                    continue
                y = self.years[i]
                bonus = 0.03 * float(self.popularity[i])
                if years:
                    bonus += 0.1 if (np.isfinite(y) and int(y) in years) else -0.1
                for v in self.variants[i]:
                    for s in {full, plain} if plain else {full}:
                        sm = SequenceMatcher(None, s, v, autojunk=False)
                        floor = (best.score if best else 0.0) - bonus
                        if sm.real_quick_ratio() <= floor or sm.quick_ratio() <= floor:
                            continue
                        score = sm.ratio() + bonus
                        if best is None or score > best.score:
                            best = TitleMatch(i, score, length)
                        if length not in per_length or score > per_length[length].score:
                            per_length[length] = TitleMatch(i, score, length)
        if best is None:
            return None
        # a longer span that matches almost as well wins ("the godfather part 2" over "the godfather")
        for length in sorted(per_length, reverse=True):
            if per_length[length].score >= best.score - self.length_slack:
                return per_length[length]
        return best

    def _ensure_title_embeddings(self) -> np.ndarray | None:
        if self.embed is None:
            return None
        if self._title_emb is None:
            texts = [f"{it.title} ({it.year})" if it.year else it.title for it in self.items]
            self._title_emb = _unit(np.asarray(self.embed(texts), dtype=np.float32))
        return self._title_emb

    def embed_title(self, text: str) -> tuple[int, float] | None:
        """Nearest title by embedding cosine, or None without an embedder."""
        emb = self._ensure_title_embeddings()
        if emb is None or not text.strip() or self.embed is None:
            return None
        q = _unit(np.asarray(self.embed([text]), dtype=np.float32))[0]
        sims = emb @ q
        i = int(np.argmax(sims))
        return i, float(sims[i])

    def category_hints(self, text: str, threshold: float) -> list[tuple[str, float]]:
        """Categories whose embedding is close to ``text`` (soft hints, best first); [] without an embedder."""
        if self.embed is None or not text.strip() or not self.categories:
            return []
        if self._cat_emb is None:
            self._cat_emb = _unit(np.asarray(self.embed([f"{c} movies" for c in self.categories]), dtype=np.float32))
        q = _unit(np.asarray(self.embed([text]), dtype=np.float32))[0]
        sims = self._cat_emb @ q
        order = np.argsort(-sims)
        return [(self.categories[i], float(sims[i])) for i in order if sims[i] >= threshold][:3]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(x)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------------------------
# results


RefSource = Literal["position", "shown_title", "title", "focus", "embedding", "all_shown"]


class ItemRef(BaseModel):
    """An item the message refers to."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    position: int | None = Field(None, description="1-based position in the last shown list, when shown.")
    source: RefSource = Field(description="How it was resolved.")
    score: float = Field(1.0, description="Match confidence (1.0 for positions).")
    text: str = Field("", description="The words that referred to it.")


class SuggestedFeedback(BaseModel):
    """Feedback the message seems to express. Not applied: the API may confirm it as a user event."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    kind: FeedbackKind
    value: float | None = None
    reason: str = Field("", description="The words it came from.")

    def to_event(self, event_id: str, session_id: str, user_id: str | None = None) -> FeedbackEvent:
        """The user event to apply once the user (or the API on their behalf) confirms it."""
        return FeedbackEvent(
            event_id=event_id,
            session_id=session_id,
            user_id=user_id,
            item_id=self.item_id,
            kind=self.kind,
            value=self.value,
        )


class Understanding(BaseModel):
    """Everything the guided agent needs from one message."""

    intent: Intent
    slots: ConstraintUpdate = Field(default_factory=ConstraintUpdate, description="Constraint changes.")
    items: list[ItemRef] = Field(default_factory=list, description="Items the turn is about (explain, compare, ...).")
    positions: list[int] = Field(default_factory=list, description="1-based positions the message named.")
    references: list[ItemRef] = Field(default_factory=list, description='"Like X" items (also in slots).')
    feedback: list[SuggestedFeedback] = Field(default_factory=list, description="Suggested feedback events.")
    wants_new_items: bool = Field(False, description='"Show me more / others": exclude what was shown.')
    memory_action: Literal["view", "clear"] | None = Field(None, description="For intent memory.")
    memory_part: str | None = Field(None, description="Which memory part to clear (likes, dislikes, ...).")
    avoid_terms: list[str] = Field(default_factory=list, description="Negated words that are not categories.")
    category_hints: list[str] = Field(default_factory=list, description="Soft category guesses (embeddings).")
    clarify: str | None = Field(None, description="A question to ask instead of guessing.")
    notes: list[str] = Field(default_factory=list, description="What was ignored or adjusted, and why.")
    injection: list[str] = Field(default_factory=list, description="Prompt-injection-like rules matched (log only).")
    text: str = Field("", description="The cleaned message.")


# --------------------------------------------------------------------------------------------
# the message under analysis


class _Msg:
    def __init__(self, norm: str) -> None:
        self.norm = norm
        ms = list(_TOKEN.finditer(norm))
        self.toks = [m.group(0) for m in ms]
        self.starts = [m.start() for m in ms]
        self.ends = [m.end() for m in ms]
        self.used = [False] * len(ms)
        self.tokset = set(self.toks)

    def span_tokens(self, start: int, end: int) -> list[int]:
        return [i for i, (s, e) in enumerate(zip(self.starts, self.ends, strict=True)) if s < end and e > start]

    def free(self, start: int, end: int) -> bool:
        return not any(self.used[i] for i in self.span_tokens(start, end))

    def take(self, start: int, end: int) -> None:
        for i in self.span_tokens(start, end):
            self.used[i] = True

    def take_tokens(self, i: int, n: int) -> None:
        for k in range(i, min(i + n, len(self.toks))):
            self.used[k] = True

    def matches(self, rx: re.Pattern[str]) -> list[re.Match[str]]:
        """Non-overlapping matches over free text, consumed as they are returned."""
        out = []
        for m in rx.finditer(self.norm):
            if m.end() > m.start() and self.free(m.start(), m.end()):
                out.append(m)
                self.take(m.start(), m.end())
        return out

    def consume(self, rx: re.Pattern[str]) -> None:
        """Mark every token any match of ``rx`` touches as used (cue words)."""
        for m in rx.finditer(self.norm):
            self.take(m.start(), m.end())

    def has(self, rx: re.Pattern[str]) -> bool:
        return rx.search(self.norm) is not None

    def token_at(self, char: int) -> int:
        for i, s in enumerate(self.starts):
            if s >= char:
                return i
        return len(self.toks)

    def prev_word(self, char: int) -> str:
        i = self.token_at(char) - 1
        return self.toks[i] if i >= 0 else ""

    def free_run(self, i: int, limit: int = 8) -> list[str]:
        out: list[str] = []
        while i < len(self.toks) and not self.used[i] and len(out) < limit:
            out.append(self.toks[i])
            i += 1
        return out


# --------------------------------------------------------------------------------------------
# patterns

_ORD_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "last": -1, "final": -1, "bottom": -1, "penultimate": -2,
}  # fmt: skip
_NUM_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "a couple": 2,
    "a couple of": 2, "couple": 2, "a few": 3, "few": 3, "several": 5, "a handful of": 5, "a dozen": 12, "dozen": 12,
    "a single": 1, "single": 1,
}  # fmt: skip
_NUM = r"(\d{1,3}|" + "|".join(sorted((re.escape(k) for k in _NUM_WORDS), key=len, reverse=True)) + r")"
_NOUN = r"(?:one|ones|movie|movies|film|films|item|items|title|titles|pick|picks|option|options|choice|choices|recommendation|recommendations|suggestion|suggestions|entry|result|results)"
_ORD = r"(second\s+(?:to\s+)?last|penultimate|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|bottom|\d{1,2}(?:st|nd|rd|th))"
_RX_ORD = re.compile(r"\b(?:(the|your|that|this)\s+)?(?:very\s+)?" + _ORD + r"(?:\s+(" + _NOUN + r"))?\b")
_RX_TOP_ONE = re.compile(r"\bthe\s+top\s+(?:one|movie|film|pick|item)\b")
_RX_HASH = re.compile(
    r"(?:#\s*|\b(?:number|num|no|nr|item|option|pick|choice|recommendation|suggestion)\s*#?\s*)(\d{1,2})\b"
)
_RX_PAIR = re.compile(r"\b(\d{1,2})\s*(?:and|vs|versus|with|or|to|,)\s*#?\s*(\d{1,2})\b(?!\s*(?:movies|films|stars|/))")
_RX_BARE = re.compile(
    r"\b(?:why|explain|about|like|liked|loved|compare|on)\s+(\d{1,2})\b(?!\s*(?:movies|films|more|stars?|/|items|picks|\d))"
)
_RX_FIRST_K = re.compile(
    r"\b(?:the\s+)?(?:first|top)\s+(two|three|four|five|2|3|4|5)\b(?!\s*(?:movies|films|picks|items|recommendations))"
)

_COMPARE = re.compile(
    r"\b(compare|comparing|comparison|vs|versus|difference|differences|differ|which (?:one |of (?:them|these|those) )?(?:is|should|would|do)|better than|or the)\b"
)
_EXPLAIN = re.compile(
    r"\b(why|how come|what makes|explain|explanation|reason|reasons|justify|what made you|because of what)\b"
)
_DESCRIBE = re.compile(
    r"\b(tell me (?:more )?about|what(?: i)?s (?:it|that|this|that one|this one|the \w+ one|#\d+|number \d+) about|describe|more (?:info|information|details) (?:on|about)|details (?:on|about|of)|plot|synopsis|summary|who (?:is in|stars|directed|plays)|cast of|info (?:on|about))\b"
)
_LIKE_FB = re.compile(
    r"\b(i (?:really |totally |absolutely )?(?:like|love|enjoy|adore|dig)|(?:really |totally |absolutely )?(?:liked|loved|enjoyed|adored)|(?:was|is|looks|sounds|seems) (?:great|good|awesome|amazing|perfect|interesting|fantastic|excellent)|great (?:pick|choice|one|suggestion)|good (?:pick|choice|one|suggestion)|love (?:it|that|this)|thumbs up|nice one|favou?rite)\b"
)
_DISLIKE_FB = re.compile(
    r"\b(i (?:really )?(?:didnt|did not|dont|do not|wouldnt) (?:like|enjoy|care for|love)|i (?:really )?(?:hate|hated|dislike|disliked|cant stand|can not stand)|(?:was|is|looks|sounds|seems) (?:bad|terrible|awful|boring|lame|dull|meh)|thumbs down|not a fan of|not my (?:thing|taste|cup of tea)|bad (?:pick|choice|suggestion))\b"
)
_NOTINT_FB = re.compile(
    r"\b(not interested|(?:ive|i have|i already|already) (?:seen|watched)|seen (?:it|that|this|them|those) already|(?:remove|drop|hide|skip|ditch|lose) |no thanks|not for me|not that one|not this one)"
)
_MORE_LIKE = re.compile(r"\bmore (?:like|of) (?:this|that|it|these|those)\b|\bmore like (?=#|\bnumber\b|\bthe\b|\d)")
_RATING = re.compile(r"\b(\d(?:\.\d)?)\s*(?:/\s*(5|10)\b|stars?\b|out of (5|10)\b)")
_DEICTIC = re.compile(r"\b(that one|this one|that|this|it|those|these|them|they)\b")
_ALL = re.compile(r"\b(all of them|them all|all of these|all of those|all three|all two|both|each of them|all)\b")

_GREET = re.compile(r"^\W*(hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))\b")
_THANKS = re.compile(r"\b(thanks|thank you|thx|cheers|bye|goodbye|see you|good night|great thanks)\b")
_HELP = re.compile(
    r"^\W*(help|\?+)\W*$|\b(what can you do|how does this work|how do(?:es)? (?:i|you) use|what do you do|who are you|what are you|how can you help)\b"
)
_MEMORY_VIEW = re.compile(
    r"\b(what do you (?:know|remember) about me|(?:show|list|view|see) (?:me )?my (?:preferences|likes|dislikes|profile|history|memory|settings|filters)|what (?:have i|did i) (?:like|liked|dislike|disliked|say|said|rate|rated)|my preferences)\b"
)
_MEMORY_CLEAR = re.compile(
    r"\b(?:forget|clear|delete|erase|remove|reset|wipe) (?:all )?(?:of )?(?:my|what i) (likes|liked|dislikes|disliked|preferences|ratings|history|feedback|memory|profile|filters|constraints|said)\b"
)
_RESET = re.compile(
    r"\b(start over|start again|start from scratch|from scratch|reset|new search|clear (?:all|everything|the filters|filters)|forget (?:all|everything|it all|about it)|never ?mind)\b"
)
_CLEAR_YEARS = re.compile(
    r"\b(any (?:year|decade|era|time|period)|(?:year|decade|era|when) (?:doesnt|does not) matter|all years|no (?:year|date) (?:limit|restriction))\b"
)
_CLEAR_PRICE = re.compile(r"\b(any price|price (?:doesnt|does not) matter|no (?:price|budget) (?:limit|restriction))\b")
_CLEAR_CATS = re.compile(
    r"\b(any (?:genre|category|kind|type)|(?:genre|category) (?:doesnt|does not) matter|all genres)\b"
)
_CLEAR_REFS = re.compile(r"\b(forget (?:about )?(?:the )?(?:reference|that movie)|not like (?:that|those))\b")
_FRESH = re.compile(
    r"\b(recommend|suggest|i want|i wanna|id like|i would like|looking for|show me|find me|give me|in the mood for|what should i watch|can you find|any good|i need|what else|what other|anything else)\b"
)
_REPLACE = re.compile(
    r"\b(instead|rather|what about|how about|switch to|change to|now (?:show|give|find|i want)|actually i want)\b"
)
_REFINE_MARK = re.compile(r"\b(also|too|as well|add|plus|but|more|less|older|newer|only|without|no|not|except)\b")
_MORE_ITEMS = re.compile(
    r"\b(more (?:options|results|suggestions|recommendations|movies|films|please)|show (?:me )?more|some more|other ones|others|another (?:one|batch|list|set)|next (?:ones|page|batch)|something else|anything else|different ones|new ones)\b|^\W*(more|next|others|another)\W*$"
)
_DIV_UP = re.compile(
    r"\b(something different|mix it up|mix things up|more variety|more varied|variety|more diverse|diversity|diversify|different genres|broaden|surprise me|branch out|switch it up|less similar|not so similar|wider range)\b"
)
_DIV_DOWN = re.compile(
    r"\b(more of the same|similar ones|same kind|same type|stick (?:to|with)|less variety|less diverse|more similar|more focused|keep it focused|similar stuff)\b"
)

_REF_TRIGGER = re.compile(
    r"\b(?:(?:more |something |movies |films |stuff |anything |ones |one )?like|similar to|such as|along the lines of|"
    r"in the (?:style|vein|spirit) of|reminds? me of|same as|comparable to|as good as|fans? of|"
    r"if i (?:liked|loved|enjoyed)|i (?:really )?(?:liked|loved|enjoyed|adored|love|enjoy)|my favou?rite (?:movie |film )?is|"
    r"tell me (?:more )?about|describe|what is|whats|info (?:on|about)|details (?:on|about|of)|plot of|compare|"
    r"why (?:did you (?:recommend|suggest|pick|choose|show) )?|vs|versus|between)\s+"
)
_LIKE_TRIGGER = re.compile(
    r"like|similar|such as|style|vein|spirit|reminds|same as|comparable|as good as|fans? of|liked|loved|enjoy|adored|favou?rite"
)
_NO_REF_BEFORE = frozenset(
    {
        "would",
        "id",
        "d",
        "feel",
        "looks",
        "seems",
        "sounds",
        "didnt",
        "dont",
        "not",
        "never",
        "doesnt",
        "wouldnt",
        "also",
    }
)
_DISLIKE_TITLE = re.compile(
    r"\b(?:i (?:really )?(?:hated|disliked|hate|dislike|didnt like|did not like|dont like|do not like|couldnt stand|cant stand)|not a fan of)\s+"
)

_NEG_CUES = frozenset(
    {
        "no",
        "not",
        "without",
        "except",
        "excluding",
        "exclude",
        "avoid",
        "skip",
        "nothing",
        "none",
        "neither",
        "nor",
        "never",
        "less",
        "hate",
        "hates",
        "dislike",
        "minus",
        "noo",
        "nope",
    }
)
_NEG_SCOPE_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "any",
        "more",
        "too",
        "much",
        "so",
        "of",
        "or",
        "and",
        "nor",
        "movies",
        "movie",
        "films",
        "film",
        "ones",
        "one",
        "stuff",
        "really",
        "at",
        "all",
        "thing",
        "things",
        "please",
        "kind",
        "sort",
        "type",
        "types",
        "genre",
        "genres",
        "i",
        "want",
        "like",
        "dont",
        "do",
        "wanna",
        "to",
        "see",
        "watch",
        "in",
        "into",
        "fan",
        "big",
        "with",
        "mood",
        "for",
        "particularly",
        "especially",
        "overly",
        "very",
        "thanks",
    ]
)
_ALLOW_AFTER = re.compile(
    r"^\s*(?:movies |films |stuff )?(?:is|are|would be|will be)?\s*(?:ok|okay|fine|alright|allowed|acceptable|back in|good again|ok again|fine again|back)\b"
)
_ALLOW_BEFORE = re.compile(
    r"\b(dont mind|do not mind|allow|include|open to|ok with|okay with|fine with|bring back)\s+(?:some\s+|a\s+little\s+)?$"
)
_NEG_AFTER = re.compile(
    r"^\s*(?:movies |films |stuff )?(?:is|are)\s+(?:not (?:ok|okay|fine|for me|allowed)|out|off the table|a no)\b|^\s*(?:movies |films )?(?:isnt|arent) (?:ok|okay|fine|for me|my thing)\b|^\s*[?!.,]*\s*no thanks\b"
)
_NEG_BEFORE_RX = re.compile(
    r"\b(dont want|do not want|dont like|do not like|not into|not a fan of|anything but|all but|everything but|cant stand|no more)\s+(?:\w+\s+){0,2}$"
)

_DECADE_WORDS = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
}
_DEC = r"(?:(early|mid|late)[\s-]*)?(?:(1[89]\d0|20\d0)s|(\d)0s|(twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties))"
_YEAR = r"(1[89]\d\d|20\d\d)(?!s\b)"  # "1980s" is a decade, not the year 1980
_YEAR_OR_DEC = rf"(?:the\s+)?(?:{_YEAR}|{_DEC})"
_RX_RANGE = re.compile(
    rf"\b(?:between|from)\s+{_YEAR_OR_DEC}\s*(?:and|to|through|until|till|-)\s*{_YEAR_OR_DEC}|\b{_YEAR_OR_DEC}\s*(?:-|to|through|until|till)\s*{_YEAR_OR_DEC}"
)
_RX_CMP = re.compile(
    rf"\b(before|prior to|earlier than|older than|pre|until|till|up to|up until|no later than|after|since|later than|newer than|more recent than|post|from|in|no earlier than|starting|starting in|circa)\s*-?\s*{_YEAR_OR_DEC}(\s+(?:on|onwards|onward|and later|and after|or later|and earlier|or earlier|and before))?"
)
_RX_DECADE = re.compile(rf"\b{_DEC}")
_RX_YEAR = re.compile(rf"\b{_YEAR}\b")
_RX_RECENT = re.compile(
    r"\b(recent|latest|newest|modern|contemporary|new releases|new movies|new films|newer releases)\b"
)
_RX_CLASSIC = re.compile(
    r"\b(classics?|golden age|vintage|black and white|oldies|old school|old fashioned|old (?:movie|movies|film|films|ones|one|stuff|classics))\b|\bsomething old\b"
)
_RX_OLDER = re.compile(r"\b(older|earlier|less recent|from before|not as new|not so new|older ones)\b")
_RX_NEWER = re.compile(r"\b(newer|more recent|more modern|later ones|not as old|not so old|less old|fresher)\b")

_MONEY = r"(?:[$€£]\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:[$€£]|dollars?|bucks|usd|eur|euros?|pounds?|gbp))"
_RX_PRICE_RANGE = re.compile(rf"\b(?:between|from)?\s*{_MONEY}\s*(?:and|to|-)\s*{_MONEY}")
_RX_PRICE_CMP = re.compile(
    rf"\b(under|below|less than|cheaper than|at most|max|maximum|up to|no more than|within|over|above|more than|at least|min|minimum|from|around|about|roughly|approximately|for)\s*{_MONEY}"
)
_RX_CHEAP = re.compile(r"\b(cheap|cheaper|inexpensive|budget|affordable|low cost|bargain)\b")
_RX_PRICE_ANY = re.compile(_MONEY)

_RX_TOP_N = re.compile(rf"\b(?:top|best)[\s-]*{_NUM}\b")
_RX_N = re.compile(
    rf"\b{_NUM}\s+(?:(?:more|good|great|other|new|different|old|older|recent|similar|fun|[a-z]+)\s+){{0,3}}(?:movies|films|items|titles|picks|options|recommendations|suggestions|results|ones|things|choices|shows)\b"
)
_RX_ONE = re.compile(
    r"\b(?:just|only)\s+(?:one|1)\b|\b(?:one|1|a single)\s+(?:good\s+)?(?:movie|film|title|item|pick|recommendation|suggestion)\b(?!s)"
)
_RX_N_MORE = re.compile(rf"\b(?:show|give|find|recommend|suggest)?\s*(?:me\s+)?{_NUM}\s+more\b")

_CUE_TRIGGER_WORDS = re.compile(
    r"\b(similar to|such as|along the lines of|in the (?:style|vein|spirit) of|reminds? me of|same as|comparable to|"
    r"as good as|my favou?rite|if i (?:liked|loved|enjoyed)|what else|anything else|but|without|except|anything|nothing|"
    r"i (?:really )?(?:like|love|liked|loved|enjoyed)|please)\b"
)
_QUERY_STOP = STOP | frozenset(
    [
        "recommend",
        "recommendation",
        "recommendations",
        "suggest",
        "suggestion",
        "suggestions",
        "show",
        "give",
        "find",
        "want",
        "wanna",
        "like",
        "love",
        "watch",
        "see",
        "movie",
        "movies",
        "film",
        "films",
        "flick",
        "flicks",
        "something",
        "anything",
        "stuff",
        "thing",
        "things",
        "please",
        "good",
        "great",
        "best",
        "nice",
        "cool",
        "new",
        "id",
        "im",
        "ive",
        "would",
        "could",
        "should",
        "can",
        "will",
        "may",
        "might",
        "lets",
        "let",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "okay",
        "ok",
        "yes",
        "yeah",
        "no",
        "not",
        "sure",
        "looking",
        "look",
        "mood",
        "feel",
        "feeling",
        "tonight",
        "today",
        "now",
        "maybe",
        "perhaps",
        "kind",
        "sort",
        "type",
        "genre",
        "genres",
        "more",
        "less",
        "one",
        "ones",
        "other",
        "others",
        "another",
        "else",
        "different",
        "same",
        "similar",
        "also",
        "too",
        "instead",
        "rather",
        "actually",
        "well",
        "hmm",
        "um",
        "uh",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "about",
        "there",
        "here",
        "am",
        "has",
        "have",
        "had",
        "get",
        "got",
        "go",
        "going",
        "watching",
        "need",
        "tell",
        "know",
        "think",
        "interested",
        "into",
        "fan",
        "whats",
        "thats",
        "lot",
        "lots",
        "bit",
        "little",
        "kinda",
        "sorta",
        "prefer",
        "preferably",
        "ideally",
        "but",
        "without",
        "except",
        "anything",
        "nothing",
        "all",
        "both",
        "old",
        "older",
        "newer",
        "recent",
        "classic",
        "era",
        "decade",
        "year",
        "years",
    ]
)
_CUES = (
    _COMPARE, _EXPLAIN, _DESCRIBE, _LIKE_FB, _DISLIKE_FB, _NOTINT_FB, _MORE_LIKE, _RATING, _GREET, _THANKS, _HELP,
    _RESET, _DIV_UP, _DIV_DOWN, _MORE_ITEMS, _FRESH, _REPLACE, _CLEAR_REFS, _MEMORY_VIEW, _MEMORY_CLEAR,
    _CUE_TRIGGER_WORDS,
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# understanding


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


class _Builder:
    """Collects one message's findings."""

    def __init__(self, msg: _Msg, state: DialogState, vocab: CatalogVocab, cfg: UnderstandConfig) -> None:
        self.msg, self.state, self.vocab, self.cfg = msg, state, vocab, cfg
        self.slots: dict[str, Any] = {}
        self.include: list[str] = []
        self.exclude: list[str] = []
        self.allow: list[str] = []
        self.targets: list[ItemRef] = []
        self.refs: list[ItemRef] = []
        self.title_items: list[ItemRef] = []
        self.disliked_titles: list[ItemRef] = []
        self.positions: list[int] = []
        self.neg_positions: set[int] = set()
        self.notes: list[str] = []
        self.clarify: str | None = None
        self.avoid: list[str] = []
        self.price_wish = False

    # --- items -------------------------------------------------------------------------------
    def add_position(self, pos: int, text: str, start: int) -> None:
        self.positions.append(pos)
        negated = self.msg.prev_word(start) in ("not", "no", "skip", "remove", "drop", "except", "without", "hide")
        item = self.state.shown_at(pos)
        if item is None:
            n = len(self.state.shown)
            self.clarify = (
                "I haven't shown you any items yet."
                if n == 0
                else f"I only showed {n} item{'s' if n != 1 else ''}; which one do you mean?"
            )
            return
        p = pos if pos > 0 else len(self.state.shown) + pos + 1
        ref = ItemRef(item_id=item, position=p, source="position", text=text)
        if ref.item_id not in {t.item_id for t in self.targets}:
            self.targets.append(ref)
        if negated:
            self.neg_positions.add(p)

    def positions_pass(self, compare_cue: bool) -> None:
        m = self.msg
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
            self.add_position(int(mt.group(1)), mt.group(0), mt.start())
        for mt in m.matches(_RX_TOP_ONE):
            self.add_position(1, mt.group(0), mt.start())
        for mt in _RX_ORD.finditer(m.norm):
            if not m.free(mt.start(), mt.end()):
                continue
            det, word, noun = mt.group(1), mt.group(2), mt.group(3)
            prev = m.prev_word(mt.start())
            after = m.norm[mt.end() : mt.end() + 12]
            if word in ("first", "last") and re.match(
                r"\s+(time|times|night|week|year|month|day|minute|thing|of all|place)\b", after
            ):
                continue
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
                )
                or re.fullmatch(r"\d+(?:st|nd|rd|th)", word)
            ):
                m.take(mt.start(), mt.end())
                self.add_position(_ord(word), mt.group(0), mt.start())
        if self.state.shown:
            for mt in _RX_BARE.finditer(m.norm):
                s, e = mt.start(1), mt.end(1)
                if m.free(s, e) and 1 <= int(mt.group(1)) <= len(self.state.shown):
                    m.take(s, e)
                    self.add_position(int(mt.group(1)), mt.group(0), mt.start())

    def shown_titles_pass(self) -> None:
        """Titles of shown items named anywhere ("why Fargo?")."""
        m = self.msg
        for pos, item_id in enumerate(self.state.shown, start=1):
            i = self.vocab.item_pos.get(item_id)
            if i is None:
                continue
            for v in sorted(self.vocab.variants[i], key=len, reverse=True):
                vt = v.split()
                content = [t for t in vt if t not in STOP]
                if not content:
                    continue
                hit = self._find_seq(vt)
                if hit is None:
                    continue
                start, length = hit
                m.take_tokens(start, length)
                self.targets.append(
                    ItemRef(
                        item_id=item_id,
                        position=pos,
                        source="shown_title",
                        text=" ".join(m.toks[start : start + length]),
                    )
                )
                self.positions.append(pos)
                break

    def _find_seq(self, vt: list[str]) -> tuple[int, int] | None:
        """A free window of the message matching title tokens ``vt`` (articles optional, small typos ok)."""
        m, n = self.msg, len(vt)
        core = [t for t in vt if t not in _ARTICLES] or vt
        for want in (vt, core) if core != vt else (vt,):
            k = len(want)
            for i in range(0, len(m.toks) - k + 1):
                window = m.toks[i : i + k]
                if any(m.used[i : i + k]):
                    continue
                if window == want:
                    return i, k
                if sum(len(t) for t in want) >= 6:
                    r = SequenceMatcher(None, " ".join(window), " ".join(want), autojunk=False).ratio()
                    if r >= self.cfg.shown_title_threshold:
                        return i, k
        del n
        return None

    def _title_at(self, i: int, threshold: float, *, chain: bool = True) -> list[tuple[int, int, TitleMatch]]:
        """Catalog titles starting at token ``i`` (and chained by and/or/commas)."""
        m, out = self.msg, []
        while i < len(m.toks):
            run = m.free_run(i)
            if not run or run[0] in ("this", "that", "it", "them", "those", "these", "one"):
                break
            tm = self.vocab.match_title(run)
            cat = self._category_at(i)
            # a genre, not a title ("like horror movies"), unless a title clearly spans beyond the genre words
            if cat is not None and (tm is None or tm.score < self.cfg.title_threshold_bare or tm.length <= cat[1]):
                break
            if tm is None or tm.score < threshold:
                break
            out.append((i, tm.length, tm))
            m.take_tokens(i, tm.length)
            i += tm.length
            if not chain or i >= len(m.toks) or m.toks[i] not in ("and", "or", "vs", "versus", "with"):
                if not (
                    chain
                    and i < len(m.toks)
                    and m.starts[i] > m.ends[i - 1]
                    and m.norm[m.ends[i - 1] : m.starts[i]].strip() == ","
                ):
                    break
            else:
                i += 1
            threshold = max(threshold, self.cfg.title_threshold_bare - 0.05)
        return out

    def titles_pass(self) -> None:
        m = self.msg
        for mt in re.finditer(r'"([^"]{2,80})"', m.norm):
            i = m.token_at(mt.start(1))
            for _s, _l, tm in self._title_at(i, self.cfg.title_threshold - 0.1, chain=False):
                self.refs.append(self._ref(tm, mt.group(1), "title"))
        for mt in _DISLIKE_TITLE.finditer(m.norm):
            i = m.token_at(mt.end())
            for s, ln, tm in self._title_at(i, self.cfg.title_threshold):
                self.disliked_titles.append(self._ref(tm, " ".join(m.toks[s : s + ln]), "title"))
        for mt in _REF_TRIGGER.finditer(m.norm):
            trig = mt.group(0).strip()
            if trig.endswith("like") and trig == "like" and m.prev_word(mt.start()) in _NO_REF_BEFORE:
                continue
            i = m.token_at(mt.end())
            found = self._title_at(i, self.cfg.title_threshold)
            like_trigger = _LIKE_TRIGGER.search(trig) is not None
            for s, ln, tm in found:
                ref = self._ref(tm, " ".join(m.toks[s : s + ln]), "title")
                (self.refs if like_trigger else self.title_items).append(ref)
            if not found and self.vocab.embed is not None and like_trigger:
                run = m.free_run(i)
                if run and self._category_at(i) is None and run[0] not in ("this", "that", "it", "them", "one"):
                    hit = self.vocab.embed_title(" ".join(run))
                    if hit is not None and hit[1] >= self.cfg.embedding_threshold:
                        item = self.vocab.items[hit[0]]
                        self.refs.append(
                            ItemRef(item_id=item.item_id, source="embedding", score=hit[1], text=" ".join(run))
                        )
                        m.take_tokens(i, len(run))
        # the whole message is just a title ("Fargo") -> a reference
        free = [t for t, u in zip(m.toks, m.used, strict=True) if not u]
        if not self.refs and not self.targets and free and len(free) == len(m.toks) and len(free) <= 6:
            whole = self.vocab.match_title(free)
            if (
                whole is not None
                and whole.score >= self.cfg.title_threshold_bare
                and whole.length == len(free)
                and self._category_at(0) is None
            ):
                self.refs.append(self._ref(whole, " ".join(free), "title"))
                m.take_tokens(0, len(free))

    def _ref(self, tm: TitleMatch, text: str, source: RefSource) -> ItemRef:
        item_id = self.vocab.items[tm.idx].item_id
        pos = self.state.shown.index(item_id) + 1 if item_id in self.state.shown else None
        return ItemRef(item_id=item_id, position=pos, source=source, score=round(min(1.0, tm.score), 4), text=text)

    # --- categories --------------------------------------------------------------------------
    def _category_at(self, i: int) -> tuple[tuple[str, ...], int] | None:
        m = self.msg
        for n in range(min(self.vocab.max_phrase, len(m.toks) - i), 0, -1):
            key = tuple(m.toks[i : i + n])
            if key in self.vocab.phrases and not any(m.used[i : i + n]):
                return self.vocab.phrases[key], n
        return None

    def categories_pass(self) -> None:
        m = self.msg
        i = 0
        while i < len(m.toks):
            if m.used[i]:
                i += 1
                continue
            hit = self._category_at(i)
            if hit is None:
                i += 1
                continue
            cats, n = hit
            start, end = m.starts[i], m.ends[i + n - 1]
            before, after = m.norm[max(0, start - 60) : start], m.norm[end : end + 40]
            if _ALLOW_AFTER.match(after) or _ALLOW_BEFORE.search(before):
                self.allow.extend(cats)
                am = _ALLOW_AFTER.match(after)
                if am:
                    m.take(end, end + am.end())
            elif _NEG_AFTER.match(after) or self._negated(i) or _NEG_BEFORE_RX.search(before):
                self.exclude.extend(cats)
            else:
                self.include.extend(cats)
            m.take_tokens(i, n)
            i += n

    def _negated(self, i: int) -> bool:
        """A negation cue before token ``i`` in the same clause, separated only by fillers/categories."""
        m = self.msg
        k, steps = i - 1, 0
        while k >= 0 and steps < 8:
            gap = m.norm[m.ends[k] : m.starts[k + 1]] if k + 1 < len(m.toks) else ""
            if re.search(r"[.;!?]", gap):
                return False
            t = m.toks[k]
            if t in _NEG_CUES:
                return True
            if t == "but":
                return k > 0 and m.toks[k - 1] in ("anything", "all", "everything", "nothing")
            if t in ("however", "though", "although", "yet", "instead", "rather", "while", "whereas", "is", "are"):
                return False
            cat = None
            for n in range(min(self.vocab.max_phrase, k + 1), 0, -1):
                if tuple(m.toks[k - n + 1 : k + 1]) in self.vocab.phrases:
                    cat = n
                    break
            if cat:
                k -= cat
            elif t in _NEG_SCOPE_FILLER or t in ("dont", "didnt", "doesnt", "cant", "wont"):
                if t in ("dont", "didnt", "doesnt", "cant", "wont") and k + 1 < len(m.toks) and m.toks[k + 1] == "mind":
                    return False
                if t in ("dont", "didnt", "doesnt", "cant", "wont"):
                    return True
                k -= 1
            else:
                return False
            steps += 1
        return False

    # --- years, prices, n -------------------------------------------------------------------
    def _is_negated_span(self, start: int) -> bool:
        before = self.msg.norm[max(0, start - 25) : start]
        return re.search(r"\b(no|not|nothing|none|avoid|without|never)\b(?:\s+\w+){0,2}\s*$", before) is not None

    def years_pass(self) -> None:
        m, cfg, vocab = self.msg, self.cfg, self.vocab
        lo = hi = None
        if m.has(_CLEAR_YEARS):
            m.matches(_CLEAR_YEARS)
            self.slots["clear_years"] = True
        for mt in m.matches(_RX_RANGE):
            a = _year_or_decade(mt, 1, vocab) or _year_or_decade(mt, 11, vocab)
            b = _year_or_decade(mt, 6, vocab) or _year_or_decade(mt, 16, vocab)
            if a and b:
                lo, hi = min(a[0], b[0]), max(a[1], b[1])
        for mt in m.matches(_RX_CMP):
            word = re.sub(r"\s+", " ", mt.group(1))
            b = _year_or_decade(mt, 2, vocab)
            if b is None:
                continue
            tail = (mt.group(7) or "").strip()
            neg = self._is_negated_span(mt.start())
            if word in ("before", "prior to", "earlier than", "older than", "pre"):
                if neg:
                    lo = b[0]
                else:
                    hi = b[0] - 1
            elif word in ("until", "till", "up to", "up until", "no later than"):
                hi = b[1]
            elif word in ("after", "later than", "newer than", "more recent than", "post"):
                if neg:
                    hi = b[1]
                else:
                    lo = b[1] + 1
            elif word in ("since", "no earlier than", "starting", "starting in") or tail in (
                "on",
                "onwards",
                "onward",
                "and later",
                "and after",
                "or later",
            ):
                lo = b[0]
            elif tail in ("and earlier", "or earlier", "and before"):
                hi = b[1]
            else:  # from / in / circa
                if neg:
                    self.notes.append(f"cannot exclude a period ({mt.group(0).strip()}); ignored")
                else:
                    lo, hi = b
        for mt in m.matches(_RX_DECADE):
            if self._is_negated_span(mt.start()):
                self.notes.append(f"cannot exclude a period ({mt.group(0).strip()}); ignored")
                continue
            lo, hi = _decade_bounds(mt, 1, vocab)
        for mt in m.matches(_RX_YEAR):
            y = int(mt.group(1))
            lo, hi = y, y
        yr = vocab.year_range
        if yr is not None:
            shown_years = sorted(y for y in (vocab.year_of(i) for i in self.state.shown) if y is not None)
            ref_year = shown_years[len(shown_years) // 2] if shown_years else None
            median = int(np.nanmedian(vocab.years))
            # relative wishes move the window: the opposite bound is dropped
            if m.matches(_RX_OLDER):
                base = ref_year if ref_year is not None else (self.state.constraints.year_max or median)
                hi, lo = base - 1, None
                self.slots["clear_years"] = True
            if m.matches(_RX_NEWER):
                base = ref_year if ref_year is not None else (self.state.constraints.year_min or median)
                lo, hi = base + 1, None
                self.slots["clear_years"] = True
            if m.matches(_RX_RECENT):
                lo = yr[1] - cfg.recent_years + 1
            if m.matches(_RX_CLASSIC):
                hi = yr[1] - cfg.classic_age
            if lo is not None and hi is not None and lo > hi:
                lo = None
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
        for rx in (_RX_TOP_N, _RX_N_MORE, _RX_N):
            for mt in m.matches(rx):
                n = _num(mt.group(1))
        if m.matches(_RX_ONE):
            n = 1
        if n is not None:
            if n < 1:
                self.notes.append("a list needs at least one item; list length unchanged")
                return
            if n > self.cfg.max_n:
                self.notes.append(f"at most {self.cfg.max_n} items per list; showing {self.cfg.max_n}")
                n = self.cfg.max_n
            self.slots["n"] = n


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
    cfg = config or UnderstandConfig()
    state = state or DialogState()
    raw = message if isinstance(message, str) else str(message)
    notes: list[str] = []
    if len(raw) > cfg.safety.max_message_chars:
        notes.append(f"message cut to {cfg.safety.max_message_chars} characters")
    text = clean_text(raw, cfg.safety.max_message_chars)
    flags: list[InjectionFlag] = detect_injection(text)
    msg = _Msg(normalize(text))
    b = _Builder(msg, state, vocab, cfg)
    b.notes.extend(notes)
    norm = msg.norm

    compare_cue = bool(_COMPARE.search(norm))
    explain_cue = bool(_EXPLAIN.search(norm))
    describe_cue = bool(_DESCRIBE.search(norm))
    like_cue = bool(_LIKE_FB.search(norm))
    dislike_cue = bool(_DISLIKE_FB.search(norm))
    notint_cue = bool(_NOTINT_FB.search(norm))
    more_like = bool(_MORE_LIKE.search(norm))
    item_cue = compare_cue or explain_cue or describe_cue or like_cue or dislike_cue or notint_cue or more_like

    # 1. items named by position or by a shown title; then catalog titles
    b.positions_pass(compare_cue)
    if item_cue and state.shown:
        b.shown_titles_pass()
    b.titles_pass()
    if b.title_items and re.search(r"\bwhat(?: i)?s\b.*\babout\b", norm):
        describe_cue = True
    # 2. ranges and counts
    b.years_pass()
    b.prices_pass()
    b.n_pass()
    # 3. categories
    if msg.has(_CLEAR_CATS):
        msg.matches(_CLEAR_CATS)
        b.slots["replace_include"] = True
    b.categories_pass()

    # cue phrases are not query words
    for rx in _CUES:
        msg.consume(rx)

    u = Understanding(intent=Intent.CHITCHAT, text=text, injection=sorted({f.rule for f in flags}))
    u.positions = list(dict.fromkeys(b.positions))
    u.notes = b.notes
    u.clarify = b.clarify

    # deictic targets ("that one", "them")
    def deictic() -> list[ItemRef]:
        if _ALL.search(norm) and state.shown:
            return [ItemRef(item_id=x, position=k, source="all_shown") for k, x in enumerate(state.shown, start=1)]
        if state.focus:
            return [
                ItemRef(item_id=x, position=(state.shown.index(x) + 1) if x in state.shown else None, source="focus")
                for x in state.focus
            ]
        if len(state.shown) == 1:
            return [ItemRef(item_id=state.shown[0], position=1, source="focus")]
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
    reset = bool(_RESET.search(norm))
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

    # 5. the free-text query: content words nobody used, minus negated ones
    query_words: list[str] = []
    for k, t in enumerate(msg.toks):
        if msg.used[k] or t in _QUERY_STOP or t in ("$", "#", "€", "£") or len(t) < 2 or t in _ORD_WORDS:
            continue
        if b._negated(k) or b._is_negated_span(msg.starts[k]):
            b.avoid.append(t)
            continue
        query_words.append(t)
    query = " ".join(query_words)[: cfg.max_query_chars].strip()
    u.avoid_terms = b.avoid

    # 6. intent
    fb: list[SuggestedFeedback] = []
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
    if compare_cue and (len(target_refs) >= 2 or (has_deictic and len(state.shown) >= 2) or _ALL.search(norm)):
        intent = Intent.COMPARE
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
            u.clarify = u.clarify or ("Which one do you mean?" if state.shown else "Which movie do you mean?")
    if intent is None and (
        like_cue or dislike_cue or notint_cue or more_like or rating or b.neg_positions or b.disliked_titles
    ):
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
        if kind is not None and items:
            for r in items:
                fb.append(SuggestedFeedback(item_id=r.item_id, kind=kind, value=value, reason=text[:120]))
            if kind in (FeedbackKind.MORE_LIKE_THIS,) or (
                kind == FeedbackKind.LIKE and (_FRESH.search(norm) or u.wants_new_items or query)
            ):
                slots["reference_item_ids"] = [r.item_id for r in items]
            list_intent = Intent.REFINE if state.shown else Intent.RECOMMEND
            intent = (
                list_intent
                if (
                    kind == FeedbackKind.MORE_LIKE_THIS
                    or b.include
                    or b.exclude
                    or "year_min" in slots
                    or "year_max" in slots
                    or _FRESH.search(norm)
                )
                else Intent.FEEDBACK
            )
        elif kind is not None:
            intent = Intent.FEEDBACK
            u.clarify = u.clarify or ("Which one do you mean?" if state.shown else "Which movie do you mean?")
        if kind in (FeedbackKind.DISLIKE, FeedbackKind.NOT_INTERESTED) and intent == Intent.FEEDBACK:
            query = ""

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
    if b.exclude:
        slots["exclude"] = b.exclude
    if b.allow:
        slots["allow"] = b.allow

    constraint_words = bool(
        b.price_wish
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
            )
        )
    )
    fresh = bool(_FRESH.search(norm))
    if intent is None:
        if constraint_words or query or fresh or u.wants_new_items or slots.get("replace_include"):
            if state.shown or (state.turn > 0 and not state.constraints.is_empty()):
                intent = Intent.REFINE
            else:
                intent = Intent.RECOMMEND
            new_topic = bool(b.include or b.refs or query)
            if fresh and new_topic and not _REFINE_MARK.search(norm):
                intent = Intent.RECOMMEND
                slots["replace_include"] = True
                slots.setdefault("clear_references", True)
                if "year_min" not in slots and "year_max" not in slots:
                    slots["clear_years"] = True
                slots["query"] = query
            elif _REPLACE.search(norm) and b.include:
                slots["replace_include"] = True
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

    u.intent = intent
    u.items = items
    u.feedback = fb
    if u.references == [] and b.refs and intent in (Intent.RECOMMEND, Intent.REFINE):
        u.references = b.refs
    if intent in (Intent.EXPLAIN, Intent.DESCRIBE, Intent.COMPARE):
        # an explain/compare turn does not change the constraints
        slots = {k: v for k, v in slots.items() if k in ("n",)}
    try:
        u.slots = ConstraintUpdate(**slots)
    except ValueError as e:  # defensive: a slot out of range never breaks a turn
        u.notes.append(f"ignored an invalid slot: {e}")
        u.slots = ConstraintUpdate()
    return u


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


__all__ = [
    "CatalogVocab",
    "Embedder",
    "Intent",
    "ItemRef",
    "SuggestedFeedback",
    "TitleMatch",
    "UnderstandConfig",
    "Understanding",
    "apply_understanding",
    "normalize",
    "title_variants",
    "tokens",
    "understand",
]
