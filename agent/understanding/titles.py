"""Titles: of shown items, after cues ("like X", "tell me about X"), and a bare title."""

from __future__ import annotations

import re
from collections.abc import Iterator
from difflib import SequenceMatcher

from agent.understanding.builder import BuilderBase
from agent.understanding.cues import (
    _DISLIKE_TITLE,
    _GREET,
    _LIKE_TRIGGER,
    _NO_REF_BEFORE,
    _PEOPLE,
    _POSSESSIVES,
    _REF_TRIGGER,
    _alt,
)
from agent.understanding.lexicon import _words, lexicon
from agent.understanding.normalise import _ARTICLES, STOP
from agent.understanding.types import ItemRef, RefSource
from agent.understanding.vocab import TitleMatch

_EN = lexicon().en
_TITLE_CONTEXT_WORDS = _words(_EN.raw, "title_context", "agent/data/lang/en.yaml")
_TITLE_CONTEXT = re.compile(rf"\b(?:{_alt(_TITLE_CONTEXT_WORDS)})\b")
"""Words that make a title named anywhere a reference (``title_context`` in the language file)."""
_QUERY_FILLERS = _EN.fillers
_NOT_A_TITLE = _words(_EN.raw, "people", "agent/data/lang/en.yaml") | _words(
    _EN.raw, "occasion_words", "agent/data/lang/en.yaml"
)
_PLACE_BEFORE = re.compile(rf"\b(?:{_alt(_words(_EN.raw, 'place_before', 'agent/data/lang/en.yaml'))})\s+$")
"""Words before a place ("i am from Brazil"): the one word after them is no title (``place_before``)."""
_PERIOD_WORDS = frozenset(
    {"after", "before", "since", "from", "until", "till", "than", "pre", "post", "past", "in", "circa", "by", "between"}
)
"""Words that make the year after them a period ("after 1993"), not part of a title."""
_RX_REMOVED_BEFORE = re.compile(
    rf"\b(?:{_alt(w for w in _EN.removal_verbs if w not in _EN.neg_cues)})\s+(?:about\s+)?"
    r"(?:(?:the\s+)?(?:comparison|comparisons|link|links|connection|reference|references|similarity)\s+(?:with|to)\s+)?"
    r"(?:(?:similar to|anything like|like|based on)\s+)?(?:the\s+)?[\"'“‘«]?$"
)
"""A removal verb right before a title ("forget the english patient", "drop fargo")."""


class TitlePasses(BuilderBase):
    """Titles a message names, resolved against the catalog (typos tolerated)."""

    def _title_windows(self, item_id: str) -> Iterator[tuple[int, int]]:
        """Free windows ``(start, length)`` of the message naming ``item_id``'s title, one per spelling of it
        (longest spelling first; spellings of only function words skipped)."""
        i = self.vocab.item_pos.get(item_id)
        if i is None:
            return
        for v in sorted(self.vocab.variants[i], key=len, reverse=True):
            vt = v.split()
            if [t for t in vt if t not in STOP] and (hit := self._find_seq(vt)) is not None:
                yield hit

    def shown_titles_pass(self) -> None:
        """Titles of shown items named anywhere ("why Fargo?")."""
        m = self.msg
        for pos, item_id in enumerate(self.state.shown, start=1):
            for start, length in self._title_windows(item_id):
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

    def removed_references_pass(self) -> None:
        """A title the session asked "something like" named after a removal verb is taken back ("forget the
        english patient, just mystery", "scratch the fargo part"): its words and the verb are used and its id
        goes to ``removed_refs``."""
        m = self.msg
        for item_id in self.state.constraints.reference_item_ids:
            for start, length in self._title_windows(item_id):
                verb = _RX_REMOVED_BEFORE.search(m.norm[: m.starts[start]])
                if verb is None:
                    continue
                end = m.ends[start + length - 1]
                part = re.match(r"\s+(?:part|bit|thing|one|reference|idea)\b", m.norm[end:])
                m.take_tokens(start, length)
                m.take(verb.start(), verb.end())  # the verb is a cue, not a query word
                self.cue_spans.append((verb.start(), verb.end()))  # "drop the comparison with X": no compare
                if part:
                    m.take(end, end + part.end())
                self.removed_refs.append(item_id)
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
        m, out = self.msg, list[tuple[int, int, TitleMatch]]()
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
            if tm.score < 1.0 and any(self._category_at(k) for k in range(i, i + tm.length)):
                break  # "then war movies": a category, not a near miss of the title "The War"
            if out and tm.length == 1 and run[0] in _QUERY_FILLERS:
                break  # "i love fargo, show me 4 like it": a request verb after the comma, not the title "Show"
            if re.fullmatch(r"1[89]\d\d|20\d\d", run[0]) and run[0] not in self.vocab.items[tm.idx].title:
                break  # "after 1954 - war": a year, then a category, not a title the year is no part of
            if i > 0 and m.toks[i - 1] in _POSSESSIVES and all(t in _PEOPLE for t in m.toks[i : i + tm.length]):
                break  # "my wife is into musicals": a person, not the title "Wife, The"
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
        greet = _GREET.match(m.norm)
        if greet and re.match(r"\s*(?:[^\w\s]|$)", m.norm[greet.end() :]):
            # "Good morning! I enjoy crime", "good morning": a greeting, not the title "Good Morning", unless a
            # longer title starts there
            n = len(m.span_tokens(0, greet.end()))
            whole = self.vocab.match_title(m.toks[:8])
            if whole is None or whole.length <= n or whole.score < self.cfg.title_threshold_bare:
                m.take(0, greet.end())
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
        if not self.refs and not self.title_items and _TITLE_CONTEXT.search(m.norm):
            self._titles_anywhere()
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

    def _titles_anywhere(self) -> None:
        """Titles named anywhere, in any word order, in a message about liking or resembling something
        ("just finished Fargo and loved it", "Fargo was amazing"): a close match of at least two words,
        or one uncommon word matched exactly."""
        m, i = self.msg, 0
        while i < len(m.toks):
            t = m.toks[i]
            if m.used[i] or t in STOP:
                i += 1
                continue
            found = self._title_at(i, self.cfg.title_threshold_bare, chain=False)
            if not found:
                i += 1
                continue
            s, ln, tm = found[0]
            if any(
                k > 0 and m.toks[k - 1] in _PERIOD_WORDS and re.fullmatch(r"\d{4}s?", m.toks[k])
                for k in range(s, s + ln)
            ):
                for k in range(s, s + ln):  # "after 1993 romance": a period, not the year of "True Romance (1993)"
                    m.used[k] = False
                i += 1
                continue
            if ln == 1 and (
                tm.score < 1.0
                or len(t) < 4
                or t in _QUERY_FILLERS
                or t in _TITLE_CONTEXT_WORDS
                or t in _NOT_A_TITLE
                or _PLACE_BEFORE.search(m.norm[: m.starts[s]])
            ):  # "with the kids on friday": people and days, not the titles "Kids" and "Friday"
                m.used[s] = False  # a single common-looking word is not taken for a title
                i += 1
                continue
            self.refs.append(self._ref(tm, " ".join(m.toks[s : s + ln]), "title"))
            i = s + ln

    def _ref(self, tm: TitleMatch, text: str, source: RefSource) -> ItemRef:
        item_id = self.vocab.items[tm.idx].item_id
        pos = self.state.shown.index(item_id) + 1 if item_id in self.state.shown else None
        return ItemRef(item_id=item_id, position=pos, source=source, score=round(min(1.0, tm.score), 4), text=text)
