"""The catalog vocabulary: categories (the catalog's own names, their singular/plural forms and the
domain's synonyms per language), titles with typo-tolerant lookup (rapidfuzz), years and prices."""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from agent.understanding.cues import cue_words
from agent.understanding.lexicon import Lexicon, english_words, lexicon
from agent.understanding.normalise import _ROMAN, STOP, title_variants, tokens
from agent.understanding.types import Embedder
from catalog.titles import display_title
from catalog.types import Dataset, Item


def _plurals(phrase: str) -> list[str]:
    """The phrase, its plural and (for a plural category name such as "Coffee Makers") its singular."""
    out = [phrase]
    if phrase.endswith("ies") and len(phrase) > 4:
        out.append(phrase[:-3] + "y")
    elif phrase.endswith(("ches", "shes", "xes", "sses")):
        out.append(phrase[:-2])
    elif phrase.endswith("s") and not phrase.endswith(("ss", "us", "is")) and len(phrase) > 3:
        out.append(phrase[:-1])
    if phrase.endswith("y") and not phrase.endswith(("ay", "ey", "oy", "uy")):
        out.append(phrase[:-1] + "ies")
    elif phrase.endswith(("s", "x", "ch", "sh")):
        out.append(phrase + "es")
    else:
        out.append(phrase + "s")
    return out


@dataclass
class TitleMatch:
    """A catalog item matched by (part of) a message."""

    idx: int
    score: float
    length: int  # tokens consumed from the start of the span


_AGE_ASKED = re.compile(
    r"\bhow (old|new|recent) (?:(?:is|are|was|were) )?(?:(?:the|these|those|this|that|they|it|my|your|our) )?"
    r"(?:[a-z]+ )?(?:(?:is|are|was|were) )?(?=(?:doesnt|does not|dont|do not|no longer|isnt|is not|not) )"
)
"""The age of the items asked in any word order before it is said not to matter ("how old is the film doesnt
matter", "how old the ones are dont matter"): written "how old it is", as the removal's slot words have it."""


_TAKEN_OFF = re.compile(
    r"\b(take|cross|knock|strike|scratch) ((?:(?:the|that|those|these|all|any|my) )?[a-z-]+(?: [a-z-]+)?) "
    r"(?:off|out)\b(?: (?:of )?(?:the|my|this|your) (?:list|lists|mix|search|request|picks|results))?"
)
"""A category taken off with the particle after it ("take horror off", "cross the westerns off the list"):
written as the removal it is ("remove horror")."""
_LET_GO = re.compile(
    r"\blet ((?:the|that|this|those|these|my|your|our) (?:[a-z0-9-]+ ){1,2}?)"
    r"(?:go|slide)\b(?! (?:to|and|with|for|see|check)\b)"
)
"""A rule let go ("let the decade go", "let that slide"): written as the removal it is ("drop the decade")."""


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
    brands: dict[tuple[str, ...], str] = field(default_factory=dict)
    features: dict[tuple[str, ...], str] = field(default_factory=dict)
    ratings: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean rating per item, NaN when unrated
    embed: Embedder | None = None
    lexicon: Lexicon = field(default_factory=lexicon)
    length_slack: float = 0.03
    max_candidates: int = 25
    _close: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _noise: dict[str, bool] = field(default_factory=dict, repr=False)
    _respelt: dict[str, str] = field(default_factory=dict, repr=False)
    _title_emb: np.ndarray | None = field(default=None, repr=False)
    _cat_emb: np.ndarray | None = field(default=None, repr=False)
    _item_emb: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_dataset(cls, ds: Dataset, embed: Embedder | None = None) -> CatalogVocab:
        """Build from a :class:`catalog.Dataset` (its items, plus its domain file's synonyms by ``ds.name``)."""
        return cls.from_items(ds.items, embed=embed, dataset=ds.name)

    @classmethod
    def from_items(
        cls, items: Sequence[Item], embed: Embedder | None = None, dataset: str | None = None
    ) -> CatalogVocab:
        """Build from items directly (any catalog). ``dataset`` names the domain file to add, if any."""
        items = list(items)
        lex = lexicon(dataset)
        categories = sorted({c for it in items for c in it.categories})
        phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for cat in categories:
            key = " ".join(tokens(cat))
            if not key or key in ("unknown", "other", "none"):
                continue
            for form in (*_plurals(key), *(" ".join(tokens(w)) for w in lex.synonyms(cat, "en"))):
                if form:
                    phrases.setdefault(tuple(form.split()), (cat,))
            if key.replace(" ", "") != key:
                phrases.setdefault((key.replace(" ", ""),), (cat,))
        by_key = {" ".join(tokens(c)): c for c in categories}
        for cats, words in lex.domain.combinations:
            keys = [" ".join(tokens(c)) for c in cats]
            if all(k in by_key for k in keys):
                for w in words.get("en", ()):
                    phrases[tuple(tokens(w))] = tuple(by_key[k] for k in keys)
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
        brands, features = _brand_phrases(items, phrases), _feature_phrases(items, phrases)
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
            brands=brands,
            features=features,
            ratings=np.array([np.nan if it.rating.mean is None else it.rating.mean for it in items], dtype=np.float64),
            embed=embed,
            lexicon=lex,
        )

    # --- ranges ---------------------------------------------------------------------------
    @property
    def has_prices(self) -> bool:
        return bool(np.isfinite(self.prices).any())

    @property
    def has_ratings(self) -> bool:
        return bool(np.isfinite(self.ratings).any())

    @property
    def max_brand(self) -> int:
        return max((len(p) for p in self.brands), default=0)

    @property
    def max_feature(self) -> int:
        return max((len(p) for p in self.features), default=0)

    def price_of(self, item_id: str) -> float | None:
        i = self.item_pos.get(item_id)
        if i is None or not np.isfinite(self.prices[i]):
            return None
        return float(self.prices[i])

    def infer_categories(self, need: str, min_share: float = 0.3, k: int = 20) -> list[str]:
        """The catalog categories a stated need points to ("running" -> Running Shoes), best first.

        The ``k`` items nearest the need (by embedding when an embedder is set, else by the need's words in
        their titles and features) vote with their categories; a category with at least ``min_share`` of the
        votes is kept, and a broad category that holds a kept narrower one ("Electronics" over
        "Headphones") is dropped. At most two; [] when the need points nowhere in particular.
        """
        if not self.items or not need.strip():
            return []
        hits: list[int]
        emb = self._ensure_item_embeddings()
        if emb is not None and self.embed is not None:
            q = _unit(np.asarray(self.embed([need]), dtype=np.float32))[0]
            hits = np.argsort(-(emb @ q))[:k].tolist()
        else:
            words = [t for t in tokens(need) if t not in STOP]
            score: dict[int, float] = defaultdict(float)
            for t in words:
                for i in self.index.get(t, []):
                    score[i] += self.idf.get(t, 1.0)
            hits = heapq.nlargest(k, score, key=score.__getitem__)
        if not hits:
            return []
        votes: dict[str, int] = defaultdict(int)
        for i in hits:
            for c in self.items[i].categories:
                votes[c] += 1
        kept = [c for c, v in sorted(votes.items(), key=lambda x: (-x[1], x[0])) if v / len(hits) >= min_share]
        members = {c: {i for i, it in enumerate(self.items) if c in it.categories} for c in kept}
        narrow = [c for c in kept if not any(d != c and members[d] < members[c] for d in kept)]
        return narrow[:2]

    def _ensure_item_embeddings(self) -> np.ndarray | None:
        """Embeddings of each item's title, categories and feature bullets (for needs), computed once."""
        if self.embed is None:
            return None
        if self._item_emb is None:
            texts = []
            for it in self.items:
                feats = it.attributes.get("features") if isinstance(it.attributes, dict) else None
                extra = ", ".join(str(f) for f in feats) if isinstance(feats, list | tuple) else ""
                texts.append(". ".join(x for x in (it.title, ", ".join(it.categories), extra, it.description) if x))
            self._item_emb = _unit(np.asarray(self.embed(texts), dtype=np.float32))
        return self._item_emb

    def category_prices(self, categories: Sequence[str]) -> np.ndarray:
        """Known prices of the items in any of ``categories`` (all items when none is given)."""
        if categories:
            wanted = set(categories)
            mask = np.array([bool(wanted & set(it.categories)) for it in self.items], dtype=bool)
            prices = self.prices[mask]
        else:
            prices = self.prices
        return prices[np.isfinite(prices)]

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
        """ "Title (year)" for messages, the title as people write it ("The Usual Suspects (1995)")."""
        i = self.item_pos.get(item_id)
        if i is None:
            return item_id
        it = self.items[i]
        return f"{display_title(it.title)} ({it.year})" if it.year else display_title(it.title)

    # --- titles ---------------------------------------------------------------------------
    def _keys(self, tok: str) -> list[str]:
        if tok in self.index:
            return [tok]
        if len(tok) < 4 or len(tok) > 30 or tok.isdigit():
            return []
        hit = self._close.get(tok)
        if hit is None:
            pool = [t for t in self.by_initial.get(tok[0], []) if abs(len(t) - len(tok)) <= 2]
            hit = [m[0] for m in process.extract(tok, pool, scorer=fuzz.ratio, limit=2, score_cutoff=80)]
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
                        floor = (best.score if best else 0.0) - bonus
                        r = fuzz.ratio(s, v, score_cutoff=max(0.0, floor * 100))
                        if r <= 0 or r / 100 <= floor:
                            continue
                        score = r / 100 + bonus
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

    @functools.cached_property
    def _spellings(self) -> tuple[frozenset[str], dict[str, list[str]]]:
        """(every word known to the rules or the catalog, the words a slip is respelt to by first letter)."""
        targets = set(self.lexicon.en_words) | {w for p in self.phrases for w in p} | cue_words()
        known = targets | set(self.index) | {w for p in (*self.brands, *self.features) for w in p}
        by_initial: dict[str, list[str]] = defaultdict(list)
        for w in sorted(targets):
            if len(w) >= 2 and w.isalpha():
                by_initial[w[0]].append(w)
        return frozenset(known), dict(by_initial)

    @functools.cached_property
    def _shorthands(self) -> dict[str, str]:
        raw = self.lexicon.en.raw.get("shorthand") or {}
        return {str(k).lower(): str(v) for k, v in raw.items()}

    @functools.cached_property
    def _shorthand(self) -> re.Pattern[str]:
        alts = "|".join(re.escape(k) for k in sorted(self._shorthands, key=len, reverse=True)) or "(?!)"
        return re.compile(rf"(?<![\w/'-])(?:{alts})(?![\w/'-])")

    def respell(self, norm: str) -> str:
        """A normalised English message with chat shorthand written out (``shorthand`` in the language file:
        "w/o" -> "without", "nvm" -> "never mind") and slips in the rules' own words put right ("frm" -> "from",
        "aftr" -> "after", "nothign" -> "nothing", "teh" -> "the"), so cues, years and negations are read.

        Only a word neither the rules nor the catalog know is respelt, to the one nearest word of the rules
        or a category: one edit (two from 8 letters, or from 5 when only letters moved: "whitout"; a
        transposition is one), the first letter kept; in a word of at most 5 letters no letter substituted
        ("hero" stays) and none read as a shorter word. A tie between words of the same length is no
        respelling.
        """
        known, by_initial = self._spellings
        norm = self._shorthand.sub(lambda m: self._shorthands[m.group(0)], norm)
        norm = _AGE_ASKED.sub(r"how \1 it is ", norm)
        norm = _LET_GO.sub(r"drop \1", norm)

        def fix(m: re.Match[str]) -> str:
            tok = m.group(0)
            if len(tok) < 3 or len(tok) > 30 or tok in known:
                return tok
            hit = self._respelt.get(tok)
            if hit is None:
                limit = 2 if len(tok) >= 8 else 1
                best: list[tuple[int, int, str]] = []
                for w in by_initial.get(tok[0], ()):
                    if abs(len(w) - len(tok)) > limit:
                        continue
                    moved = len(tok) >= 5 and sorted(w) == sorted(tok)  # "whitout": a letter moved two places
                    cutoff = max(limit, 2) if moved else limit
                    d = DamerauLevenshtein.distance(tok, w, score_cutoff=cutoff)
                    if d > cutoff or (len(tok) <= 5 and len(w) == len(tok) and sorted(w) != sorted(tok)):
                        continue
                    if len(w) < 3 or (len(tok) <= 5 and len(w) < len(tok)):
                        continue  # a short word is not read as a shorter one ("fit" is not "fi")
                    if w in (tok + "s", tok + "es"):
                        continue  # a word is not its own plural or verb form misspelt ("weird" is not "weirds")
                    # a tie goes to swapped letters, then a dropped letter, then a wrong letter, then an extra one
                    same = len(w) == len(tok)
                    rank = (0 if sorted(w) == sorted(tok) else 2) if same else 1 if len(w) > len(tok) else 3
                    best.append((d, rank, w))
                best.sort()
                hit = best[0][2] if best and (len(best) == 1 or best[1][:2] != best[0][:2]) else tok
                if len(self._respelt) < 50_000:
                    self._respelt[tok] = hit
            return hit

        norm = re.sub(r"(?<![\w'-])[a-z]+(?![\w'-])", fix, norm)

        def taken_off(m: re.Match[str]) -> str:
            skip = ("the", "that", "those", "these", "all", "any", "my")
            words = [w for w in re.findall(r"[a-z0-9]+", m.group(2)) if w not in skip]
            return f"remove {m.group(2)}" if tuple(words) in self.phrases else m.group(0)

        return _TAKEN_OFF.sub(taken_off, norm)

    def is_noise(self, tok: str) -> bool:
        """A word that is never a free-text query: a function word, filler or chat shorthand of the
        language files, or one of those misspelt ("recomend", "anythign", "lookin", "teh").

        A misspelling is at most one edit (two from 8 letters; three-letter words only swapped letters,
        four and five letters no substituted letter, so "hero" is not "here"), the first letter kept, and
        never a word of the catalog's titles or categories.
        """
        stop = self.lexicon.query_stop
        if tok in stop:
            return True
        if len(tok) < 3 or len(tok) > 30 or not tok.isalpha() or tok in self.index or (tok,) in self.phrases:
            return False
        hit = self._noise.get(tok)
        if hit is None:
            limit = 2 if len(tok) >= 8 else 1
            pool = [w for w in stop if w[:1] == tok[:1] and len(w) >= 3 and abs(len(w) - len(tok)) <= limit]
            hit = False
            for word in pool:
                if DamerauLevenshtein.distance(tok, word, score_cutoff=limit) > limit:
                    continue
                if len(tok) == 3 and sorted(word) != sorted(tok):
                    continue
                if len(tok) <= 5 and len(word) == len(tok) and sorted(word) != sorted(tok):
                    continue  # a substituted letter in a short word makes another word, not a slip
                hit = True
                break
            if len(self._noise) < 50_000:
                self._noise[tok] = hit
        return hit

    def fuzzy_category(self, tok: str, max_distance: int = 2) -> tuple[str, ...] | None:
        """The category a misspelt single word names ("documentry", "westren"), or None.

        Damerau-Levenshtein distance (a transposition is one edit) to the one-word category phrases,
        first letter kept: at most 1 edit for words of 5-8 letters, ``max_distance`` from 9 letters.
        A tie between two categories is no match.
        """
        if len(tok) < 5 or not tok.isalpha() or tok in STOP or tok in self.lexicon.query_stop:
            return None
        word_of_the_language = tok in english_words()  # "chill" is not "child", "kinds" not "kids"; but see below
        limit = 1 if len(tok) < 9 else max_distance
        pool = [
            p[0] for p in self.phrases if len(p) == 1 and p[0][:1] == tok[:1] and abs(len(p[0]) - len(tok)) <= limit
        ]
        best: list[tuple[int, str]] = []
        for word in pool:
            d = DamerauLevenshtein.distance(tok, word, score_cutoff=limit)
            if word_of_the_language and not (len(word) == len(tok) + 1 and d == 1):
                continue  # a real word is read as a category only when it is the category less one letter ("acton")
            if d <= limit:
                best.append((d, word))
        if not best:
            return None
        best.sort()
        top = [w for d, w in best if d == best[0][0]]
        cats = {self.phrases[(w,)] for w in top}
        return cats.pop() if len(cats) == 1 else None

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

    @property
    def _noun(self) -> str:
        return self.lexicon.domain.reply_nouns.get("en", {}).get("many", "items")

    def category_hints(self, text: str, threshold: float) -> list[tuple[str, float]]:
        """Categories whose embedding is close to ``text`` (soft hints, best first); [] without an embedder."""
        if self.embed is None or not text.strip() or not self.categories:
            return []
        if self._cat_emb is None:
            self._cat_emb = _unit(
                np.asarray(self.embed([f"{c} {self._noun}" for c in self.categories]), dtype=np.float32)
            )
        q = _unit(np.asarray(self.embed([text]), dtype=np.float32))[0]
        sims = self._cat_emb @ q
        order = np.argsort(-sims)
        return [(self.categories[i], float(sims[i])) for i in order if sims[i] >= threshold][:3]


_MAX_FEATURE_TOKENS = 3
_MAX_FEATURE_SHARE = 0.5


def _brand_phrases(
    items: Sequence[Item], categories: dict[tuple[str, ...], tuple[str, ...]]
) -> dict[tuple[str, ...], str]:
    """Folded brand (store, maker) names -> the brand as the catalog spells it; names that are also a
    category phrase or a common word are left out (they would read every mention as a brand)."""
    out: dict[tuple[str, ...], str] = {}
    for it in items:
        if not it.brand:
            continue
        key = tuple(tokens(it.brand))
        if not key or key in categories or (len(key) == 1 and key[0] in STOP):
            continue
        out.setdefault(key, it.brand)
    return out


def _feature_phrases(
    items: Sequence[Item], categories: dict[tuple[str, ...], tuple[str, ...]]
) -> dict[tuple[str, ...], str]:
    """Short feature bullets of the catalog ("Wireless", "Noise Cancelling") that some but not most items have."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    spelled: dict[tuple[str, ...], str] = {}
    for it in items:
        feats = it.attributes.get("features") if isinstance(it.attributes, dict) else None
        if not isinstance(feats, list | tuple):
            continue
        seen = set()
        for f in feats:
            key = tuple(tokens(str(f)))
            if not key or len(key) > _MAX_FEATURE_TOKENS or key in categories or all(t in STOP for t in key):
                continue
            seen.add(key)
            spelled.setdefault(key, str(f).strip())
        for key in seen:
            counts[key] += 1
    limit = max(1, int(_MAX_FEATURE_SHARE * len(items)))
    out: dict[tuple[str, ...], str] = {}
    for key, k in counts.items():
        if k <= limit:
            out[key] = spelled[key]
            if len(key) > 1:  # "noise cancelling" is also written "noisecancelling" after folding hyphens
                out.setdefault(("".join(key),), spelled[key])
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(x)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
