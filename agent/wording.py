"""Explanation wording per language, and the reading of a non-English explanation back into English.

The deterministic explanations (:func:`agent.grounding.template_explanation`) and the other text of a
turn that is no reply template are written from ``agent/data/lang/explain-<code>.yaml``: English and
simplified Chinese. Nothing here names a catalog: category names come from the domain files' words
per language (``agent/data/domains/<dataset>.yaml``), titles as the catalog spells them.

The claim checker (:mod:`agent.claims`) and the grounding guard read English. A text in another
language is first read back into canonical English (:meth:`Wording.canonical`: the language file's
phrase table, longest phrase first, plus every domain file's category words of that language), then
checked like an English text; so a Chinese "因为你喜欢《Heat》" is held to "because you liked Heat".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from agent.understanding.lexicon import LANGUAGES, domain
from catalog.titles import display_title
from ranker.evidence import HistoryAttribution

__all__ = ["Wording", "cjk_share", "in_language", "text_language", "wording"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_REQUIRED = (
    "title", "year", "listed", "unlisted", "list_sep", "last_sep", "verbs", "verb_group", "verb_sep",
    "verb_last_sep", "because", "because_session", "first_like", "session_like", "also", "reasons", "similar",
    "popular", "plain", "matches", "matches_sep", "bare_liked", "bare", "offer", "llm_loading", "only_match",
    "none_match",
)  # fmt: skip


@dataclass(frozen=True)
class Wording:
    """One language's explanation wording (``agent/data/lang/explain-<code>.yaml``). Build with :func:`wording`."""

    code: str
    raw: dict[str, Any]

    def say(self, key: str, **values: Any) -> str:
        """The template ``key`` filled in."""
        return str(self.raw[key]).format(**values)

    def title(self, display: str) -> str:
        """A display title as this language writes one ("Heat", "《Heat》")."""
        return self.say("title", title=display)

    def join(self, words: list[str], sep: str = "list_sep", last: str = "last_sep") -> str:
        """'A', 'A and B', 'A, B and C' (this language's separators)."""
        if len(words) <= 1:
            return "".join(words)
        return self.raw[sep].join(words[:-1]) + self.raw[last] + words[-1]

    def group(self, behaviour: str | None, titles: list[str]) -> str:
        """'bought A and B' / '购买了《A》和《B》' for the strongest logged ``behaviour`` (None: liked)."""
        verbs = self.raw["verbs"]
        verb = str(verbs.get(behaviour or "", verbs["like"]))
        joined = self.join(titles)
        return verb.format(titles=joined) if "{titles}" in verb else self.say("verb_group", verb=verb, titles=joined)

    def match(self, text: str) -> str:
        """A satisfied constraint in words ("1990 or later") in this language ("1990年及以后")."""
        for en, here in (self.raw.get("match_words") or {}).items():
            text = text.replace(str(en), str(here))
        return text

    def basis(
        self, history: list[HistoryAttribution], features: dict[str, float], profile_size: int
    ) -> list[str] | None:
        """What one recommendation rests on, strongest first, in this language (the rules of
        :func:`ranker.explain.basis_words`); None when this language has no ``basis`` wording (English: the
        ranker's own words are kept)."""
        b = self.raw.get("basis")
        if not b:
            return None
        out: list[str] = []
        if profile_size == 0:
            out.append(str(b["nothing_known"]))
        top = max((h for h in history if h.value > 0), key=lambda h: h.value, default=None)
        if top is not None:
            name = self.title(display_title(top.title))
            if top.reference:
                out.append(str(b["wish"]).format(title=name))
            else:
                first = str(b["first"]) if top.session and profile_size == 1 else ""
                out.append(str(b["like_of" if top.session else "interest_in"]).format(title=name, first=first))
        groups = b.get("groups") or {}
        for g, v in sorted(features.items(), key=lambda kv: -kv[1]):
            if v > 0 and g in groups and len(out) < 3:
                out.append(str(groups[g]))
        return out

    @functools.cached_property
    def _canon(self) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        table = {str(k): str(v) for k, v in (self.raw.get("canonical") or {}).items()}
        for word, english in _category_words(self.code).items():
            table.setdefault(word, english)
        if not table:
            return None, table
        keys = sorted(table, key=len, reverse=True)
        return re.compile("|".join(re.escape(k) for k in keys)), table

    def canonical(self, text: str) -> str:
        """``text`` read into the canonical English the checkers read (English text is returned as is).

        Phrases of the ``canonical`` table and category words become their English, then ``patterns``
        and ``punctuation`` apply; titles (written in Latin letters) pass through unchanged.
        """
        if self.code == "en" or not _CJK.search(text):
            return text
        rx, table = self._canon
        s = rx.sub(lambda m: f" {table[m.group(0)]} ", text) if rx is not None else text
        for pat, rep in self.raw.get("patterns") or []:
            s = re.sub(str(pat), str(rep), s)
        for ch, rep in (self.raw.get("punctuation") or {}).items():
            s = s.replace(str(ch), str(rep))
        s = re.sub(r"\s+", " ", s)
        s = re.sub(r"\s+([,.;:!?)%])", r"\1", s)
        s = re.sub(r"\(\s+", "(", s)
        return s.strip()


@functools.cache
def wording(code: str) -> Wording:
    """Load and check ``agent/data/lang/explain-<code>.yaml`` (once); English for an unknown language.

    Raises:
        ValueError: A key is missing or malformed (the message names the file and the key).
    """
    if code not in LANGUAGES:
        code = "en"
    src = f"agent/data/lang/explain-{code}.yaml"
    res = resources.files("agent").joinpath("data", "lang", f"explain-{code}.yaml")
    if not res.is_file():
        raise ValueError(f"{src}: no such wording file; add one next to agent/data/lang/{code}.yaml")
    raw = yaml.safe_load(res.read_text(encoding="utf-8")) or {}
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ValueError(f"{src}: missing keys {missing} (see agent/data/lang/explain-en.yaml)")
    if "like" not in raw["verbs"] or not all(isinstance(v, str) for v in raw["verbs"].values()):
        raise ValueError(f"{src}: verbs must map behaviours (and 'like') to strings")
    for k, v in (raw.get("canonical") or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"{src}: canonical has a non-string entry (quote it): {k!r}: {v!r}")
    return Wording(code=code, raw=raw)


@functools.cache
def _category_words(code: str) -> dict[str, str]:
    """Every domain file's category words in language ``code``, mapped to the category as the catalog spells it
    (a combination's words to its categories joined by "and")."""
    out: dict[str, str] = {}
    folder = resources.files("agent").joinpath("data", "domains")
    for res in sorted(folder.iterdir(), key=lambda r: r.name):
        if not res.name.endswith(".yaml"):
            continue
        d = domain(res.name[: -len(".yaml")])
        for cat, per_lang in d.categories.items():
            for w in per_lang.get(code, ()):
                out.setdefault(w, cat)
        for cats, words in d.combinations:
            for w in words.get(code, ()):
                out.setdefault(w, " and ".join(cats))
    return out


def cjk_share(text: str, titles: tuple[str, ...] | list[str] = ()) -> float:
    """Share of CJK characters among the letters of ``text`` (CJK plus Latin), the ``titles`` (and other
    names kept as the catalog spells them: categories, brands) left out."""
    for t in sorted(titles, key=len, reverse=True):
        text = text.replace(t, " ")
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def in_language(text: str, language: str, titles: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``text`` is written in ``language`` (a cheap script check; ``titles`` and other catalog
    names do not count).

    Chinese: at least half of the letters are CJK characters. English: no CJK character at all.
    """
    share = cjk_share(text, titles)
    return share >= 0.5 if language == "zh" else share == 0.0


def text_language(text: str) -> str:
    """'zh' when ``text`` holds a CJK character, else 'en' (which wording reads it back)."""
    return "zh" if _CJK.search(text) else "en"
