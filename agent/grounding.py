"""The grounding guard and deterministic templates.

Generated text may name only facts present in its source: an item's attributes (descriptions) or
an :class:`~ranker.evidence.Evidence` (explanations). The guard rejects text that

- names a catalog title, a capitalised name, a number or a category word that the facts lack,
- omits a required title (the top attributed history item of an explanation),
- carries unsupported content: links, e-mail addresses, markup, instructions, or is too long.

When the guard keeps failing, callers fall back to the templates here, which render the facts
deterministically and always pass the guard and the claim checker (:mod:`agent.claims`): they say
"because you liked" only for positively attributed history items, "popular" only when the
evidence's popularity rank supports it, and "Matches: ..." exactly the satisfied constraints. Item and user text is *data*: :func:`quote_data`
strips instruction-like content and quotes it before it enters a prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from agent.understanding.lexicon import all_claim_words, all_item_nouns
from agent.wording import Wording, wording
from catalog.titles import display_title, without_year
from catalog.types import Item
from ranker.evidence import Evidence

__all__ = [
    "GENRE_WORDS",
    "Facts",
    "GroundingGuard",
    "GroundingResult",
    "description_facts",
    "display_title",
    "evidence_facts",
    "evidence_line",
    "facts_line",
    "normalize_title",
    "quote_data",
    "template_description",
    "template_explanation",
    "top_history_title",
]

# Surface words that name a category, mapped to the normalised category (lower case, letters only): the
# ``claim_words`` of every domain file (agent/data/domains/*.yaml), so no catalog's words live in code.
GENRE_WORDS: dict[str, str] = all_claim_words()

# Capitalised words that need no support (sentence starters and connectives).
_COMMON_CAPS = {
    "a", "also", "an", "and", "as", "based", "because", "both", "fans", "for", "given", "here", "i", "if",
    "in", "it", "its", "it's", "like", "many", "of", "on", "people", "recommended", "since", "so", "the",
    "then", "this", "those", "to", "try", "viewers", "we", "with", "you", "your", "you'll", "you've",
    "similar", "another", "next", "our", "watch", "enjoy", "liked", "categories", "category",
    "year", "genre", "genres", "by", "price", "brand", "confidence", "from", "title", *all_item_nouns(),
}  # fmt: skip

_UNSUPPORTED = [
    (re.compile(r"https?://|www\.|\b[\w-]+\.(com|org|net|io|ly|gov|edu)\b", re.I), "a link"),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.\w+", re.I), "an e-mail address"),
    (re.compile(r"[<>{}\[\]`#|\\]|<\|"), "markup"),
    (
        re.compile(
            r"\b(ignore|disregard|instructions?|prompt|system|assistant|click|visit|subscribe|download|"
            r"password|api[ _-]?key|as an ai|language model|evidence|facts?)\b",
            re.I,
        ),
        "instruction-like or meta text",
    ),
]

# Instruction-like content removed from data before it enters a prompt.
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\b[^.?!\n]{0,60}\b(instructions?|prompts?|rules|above|previous)\b[^.?!\n]*"
    r"|\b(system|assistant|user)\s*:"
    r"|<\|[^|]*\|>|<start_of_turn>|<end_of_turn>|</?[a-z_]+>"
    r"|https?://\S+|www\.\S+",
    re.I,
)


def quote_data(text: str, max_chars: int = 200) -> str:
    """Neutralise untrusted text (item or user text) for a prompt and wrap it in double quotes.

    Removes instruction-like phrases, role markers, tags, links and control characters, replaces
    double quotes and newlines, and truncates to ``max_chars``.
    """
    s = _INJECTION.sub(" ", str(text))
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    s = s.replace('"', "'").replace("{", "(").replace("}", ")")
    s = re.sub(r"\s+", " ", s).strip()[:max_chars]
    return f'"{s}"'


def normalize_title(title: str) -> str:
    """Lower-case words of the display title, punctuation dropped: 'the usual suspects'."""
    return _norm(display_title(title))


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("'", "")))


def _title_variants(title: str) -> set[str]:
    d = display_title(title)
    out = {_norm(d), _norm(without_year(title))}
    m = re.match(r"^(the|a|an) (.+)$", _norm(d))
    if m:
        out.add(m.group(2))
    return {v for v in out if v}


def _cat_key(category: str) -> str:
    return re.sub(r"[^a-z]", "", category.lower().replace("'s", ""))


@dataclass
class Facts:
    """What a text may name."""

    titles: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    required_titles: list[str] = field(default_factory=list)


@dataclass
class GroundingResult:
    """The guard's verdict: ``ok`` and the reasons it failed (empty when ok)."""

    ok: bool
    reasons: list[str] = field(default_factory=list)


class GroundingGuard:
    """Checks generated text against :class:`Facts`.

    Args:
        catalog_titles: Every title in the catalog; naming one that is not in the facts fails.
        max_chars: Longest accepted text.
        max_sentences: Most sentences accepted.
    """

    def __init__(self, catalog_titles: Iterable[str] = (), *, max_chars: int = 400, max_sentences: int = 2) -> None:
        self.max_chars = max_chars
        self.max_sentences = max_sentences
        # Multi-word titles only: one-word titles ("Heat", "Big") are ordinary words in lower case and
        # are caught by the capitalised-name rule when written as names.
        titles = {v for t in catalog_titles for v in _title_variants(t) if " " in v and len(v) >= 8}
        self._titles = sorted(titles, key=len, reverse=True)
        self._title_re = (
            re.compile(r"\b(" + "|".join(re.escape(t) for t in self._titles) + r")\b") if self._titles else None
        )

    def check(self, text: str, facts: Facts) -> GroundingResult:
        """Check ``text`` against ``facts``; see the module docs for the rules."""
        reasons: list[str] = []
        s = text.strip()
        if not s:
            return GroundingResult(False, ["empty text"])
        if len(s) > self.max_chars:
            reasons.append(f"longer than {self.max_chars} characters")
        flat = s  # titles may hold punctuation ("Kill! Kill!"): count sentences without them
        for t in sorted({display_title(t) for t in facts.titles} | set(facts.titles), key=len, reverse=True):
            flat = re.sub(r"(?<!\w)" + re.escape(t) + r"(?!\w)", "T", flat, flags=re.I)
        n_sent = len([x for x in re.split(r"(?<=[.!?])\s+", flat) if x.strip()])
        if n_sent > self.max_sentences:
            reasons.append(f"{n_sent} sentences, more than {self.max_sentences}")
        for rx, what in _UNSUPPORTED:
            m = rx.search(s)
            if m:
                reasons.append(f"unsupported content ({what}): {m.group(0)!r}")
        norm = f" {_norm(s)} "
        for t in facts.required_titles:
            if not any(f" {v} " in norm for v in _title_variants(t)):
                reasons.append(f"does not mention {display_title(t)!r}")
        # Remove the allowed titles, then check what is left.
        rest = norm
        for v in sorted({v for t in facts.titles for v in _title_variants(t)}, key=len, reverse=True):
            rest = rest.replace(f" {v} ", " ")
        if self._title_re is not None:
            for m in self._title_re.finditer(rest):
                reasons.append(f"names a title not in the facts: {m.group(0)!r}")
        allowed_numbers = set(facts.numbers)
        for num in re.findall(r"\d+", rest):
            if num not in allowed_numbers:
                reasons.append(f"number {num} not in the facts")
        allowed_cats = {_cat_key(c) for c in facts.categories}
        lowered = s.lower()
        for v in {v for t in facts.titles for v in _title_variants(t)}:
            lowered = re.sub(r"\b" + r"\W+".join(re.escape(w) for w in v.split()) + r"\b", " ", lowered)
        for w in re.findall(r"[a-z][a-z'-]*[a-z]", lowered):
            key = GENRE_WORDS.get(w) or GENRE_WORDS.get(w.rstrip("s"))
            if key is not None and key not in allowed_cats and not (key == "scifi" and "scifi" in allowed_cats):
                reasons.append(f"category word {w!r} not in the facts")
        allowed_words = set(_COMMON_CAPS) | {w.lower() for w in facts.words}
        for t in facts.titles:
            allowed_words.update(re.findall(r"[\w']+", display_title(t).lower()))
        for c in facts.categories:
            allowed_words.update(re.findall(r"[\w']+", c.lower()))
        allowed_words.add("t")  # the placeholder left where an allowed title was
        for w in re.findall(r"\b[A-Z][\w'-]*", flat):
            parts = [p for p in re.split(r"[-']", w.lower()) if p]
            if w.lower() not in allowed_words and not all(p in allowed_words or p == "s" for p in parts):
                reasons.append(f"unsupported name {w!r}")
        return GroundingResult(not reasons, list(dict.fromkeys(reasons)))


# ----------------------------------------------------------------------------- facts and templates
def _num_strings(x: float | int | None) -> set[str]:
    if x is None:
        return set()
    out = {str(int(x))} if float(x).is_integer() else set()
    out.update(re.findall(r"\d+", f"{float(x):.2f}"))
    return out


def description_facts(item: Item) -> Facts:
    """The facts a description of ``item`` may name: title, year, categories, brand, price."""
    nums = _num_strings(item.year) | _num_strings(item.price)
    nums.update(re.findall(r"\d+", item.title))
    words = set(re.findall(r"[A-Za-z0-9']+", item.brand or ""))
    return Facts(titles=[item.title], categories=list(item.categories), numbers=nums, words=words,
                 required_titles=[item.title])  # fmt: skip


def facts_line(item: Item) -> str:
    """The attributes of ``item`` as one prompt line, untrusted text quoted."""
    parts = [f"title {quote_data(display_title(item.title))}"]
    if item.year is not None:
        parts.append(f"year {item.year}")
    if item.categories:
        parts.append("categories " + ", ".join(quote_data(c)[1:-1] for c in item.categories))
    if item.brand:
        parts.append(f"brand {quote_data(item.brand)}")
    if item.price is not None:
        parts.append(f"price {item.price:.2f}")
    return "; ".join(parts)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def template_description(item: Item) -> str:
    """A deterministic, grounded description from the attributes."""
    head = display_title(item.title)
    if item.year is not None:
        head += f" ({item.year})"
    text = head + (f" is listed under {_join(list(item.categories))}." if item.categories else ".")
    if item.brand:
        text += f" Brand: {item.brand}"
        text += f", price {item.price:.2f}." if item.price is not None else "."
    elif item.price is not None:
        text += f" Price {item.price:.2f}."
    return text


def top_history_title(ev: Evidence) -> str | None:
    """Title of the liked history item that raised the score most (largest positive value), if any.

    Items the person only asked "something like" (``reference``) are not likes and never count.
    """
    pos = [h for h in ev.history if h.value > 0 and not h.reference]
    return max(pos, key=lambda h: h.value).title if pos else None


def _references(ev: Evidence, k: int = 2) -> list[str]:
    """Titles the person asked for something like that raised this score, strongest first."""
    return [h.title for h in sorted((h for h in ev.history if h.value > 0 and h.reference), key=lambda h: -h.value)][:k]


def _liked(ev: Evidence, k: int = 2) -> list[str]:
    top = top_history_title(ev)
    pos = sorted((h for h in ev.history if h.value > 0 and not h.reference), key=lambda h: -h.value)
    titles = [h.title for h in pos[:k]]
    if top is not None and top not in titles:
        titles.insert(0, top)
    return titles


def evidence_facts(ev: Evidence) -> Facts:
    """The facts an explanation of ``ev`` may name; the top attributed history item is required."""
    titles = [ev.title, *(h.title for h in ev.history)]
    nums = _num_strings(ev.year)
    for t in titles:
        nums.update(re.findall(r"\d+", t))
    if ev.trust is not None:
        nums.add(str(round(ev.trust.confidence * 100)))
    if ev.year is not None:
        nums.add(str(ev.year // 10 * 10))  # "the 1990s"
    # the satisfied constraints may be named ("Matches: Comedy, 1990-1999"; "no Romance")
    cats = list(ev.categories)
    words = {"popular", "matches"}
    for m in ev.matches:
        nums.update(re.findall(r"\d+", m))
        words.update(re.findall(r"[A-Za-z']+", m))
        for w in re.findall(r"[a-z][a-z'-]*[a-z]", m.lower()):
            key = GENRE_WORDS.get(w)
            if key is not None and key not in {_cat_key(c) for c in cats}:
                cats.append(w)
    top = top_history_title(ev)
    return Facts(titles=titles, categories=cats, numbers=nums, words=words,
                 required_titles=[top] if top else [])  # fmt: skip


@cache
def claims_data() -> dict[str, Any]:
    """``agent/data/claims.yaml`` as read (once per process; :func:`agent.claims.claim_vocab` normalises it)."""
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("agent").joinpath("data", "claims.yaml").read_text(encoding="utf-8")
    )
    return raw


def is_popular(rank: float | None) -> bool:
    """Whether a popularity rank licenses the word "popular" (``popularity.min_rank`` of ``claims.yaml``)."""
    return rank is not None and rank >= float(claims_data()["popularity"]["min_rank"])


def evidence_line(ev: Evidence) -> str:
    """The evidence as one prompt line: item, year, categories, liked titles, popularity, matches."""
    head = f"recommended {quote_data(display_title(ev.title))}"
    meta = [str(ev.year)] if ev.year is not None else []
    if ev.categories:
        meta.append(", ".join(quote_data(c)[1:-1] for c in ev.categories))
    if meta:
        head += f" ({'; '.join(meta)})"
    liked = _liked(ev)
    if liked:
        head += "; because you liked " + _join([quote_data(display_title(t)) for t in liked])
    refs = _references(ev)
    if refs:
        head += "; similar to " + _join([quote_data(display_title(t)) for t in refs]) + ", as you asked"
    if is_popular(ev.popularity_rank):
        head += "; popular"
    if ev.matches:
        head += "; matches " + ", ".join(quote_data(m)[1:-1] for m in ev.matches)
    return head


def _session_note(ev: Evidence, title: str, w: Wording | None = None) -> str:
    """'(your first like)' / '(liked in this chat)' after a session like, else ''."""
    w = w or wording("en")
    h = next((h for h in ev.history if h.title == title), None)
    if h is None or not h.session:
        return ""
    others = [x for x in ev.history if x.value > 0 and x is not h]
    only = not others and (ev.trust is None or ev.trust.profile_size <= 1)
    return w.say("first_like") if only else w.say("session_like")


def template_explanation(ev: Evidence, language: str = "en", label: Callable[[str], str] | None = None) -> str:
    """A deterministic explanation rendered from the evidence; every claim in it is true.

    Warm: "Recommended because you liked A and B: T (1995) is listed under X and Y." One session
    like: "Because you liked A (your first like): ...". No positive history attribution (a new
    user): "Popular: T (1995) ..." only when the item is popular overall (popularity is measured over
    everyone, so the text names no audience it was not measured in), and "Matches: X, 1990-1999." for the constraints it satisfies; never "because you
    liked" without a positive attribution.

    ``language`` picks the wording (``agent/data/lang/explain-<language>.yaml``; a Chinese text says the
    same claims in Chinese and is checked the same way); ``label`` names a category in that language
    (:meth:`agent.understanding.lexicon.Lexicon.label`; default: the catalog's spelling).
    """
    w = wording(language)
    lab = label or (lambda c: c)
    name = w.title(display_title(ev.title))
    if ev.year is not None:
        name += w.say("year", year=ev.year)
    cats = [lab(c) for c in ev.categories]
    listed = w.say("listed", categories=w.join(cats)) if cats else w.say("unlisted")
    verbs = w.raw["verbs"]
    liked = _liked(ev)
    if liked:
        notes = [_session_note(ev, t, w) for t in liked]
        done = {h.title: h.behaviour for h in ev.history}
        groups: dict[str, list[str]] = {}  # behaviour -> titles, in attribution order ("bought A and viewed B")
        for t, note in zip(liked, notes, strict=True):
            b = done.get(t) or ""
            groups.setdefault(b if b in verbs and b != "like" else "like", []).append(w.title(display_title(t)) + note)
        said = w.join([w.group(b, titles) for b, titles in groups.items()], "verb_sep", "verb_last_sep")
        text = w.say("because_session" if any(notes) else "because", said=said, name=name, listed=listed)
        pos = {k: v for k, v in ev.features.items() if v > 0}
        if pos:
            key = max(pos, key=lambda k: pos[k])
            reason = w.raw["reasons"].get(key.lower())
            if key.lower() == "popularity" and not is_popular(ev.popularity_rank):
                reason = None
            if reason and key.lower() == "text" and not ev.matches:
                reason = None
            if reason:
                text += w.say("also", reason=reason)
        return text
    matches = ""
    if ev.matches:
        shown = [lab(m) if m in ev.categories else w.match(m) for m in ev.matches]
        matches = w.say("matches", matches=w.raw["matches_sep"].join(shown))
    refs = _references(ev)
    if refs:  # the person asked for something like these: that is the reason, not a like
        titles = w.join([w.title(display_title(t)) for t in refs])
        return w.say("similar", titles=titles, name=name, listed=listed) + matches
    # nothing liked yet: say only what the constraints and the popularity figure support
    return w.say("popular" if is_popular(ev.popularity_rank) else "plain", name=name, listed=listed) + matches
