"""Slot parsers: positions in the shown list, years, decades, ranges, prices, list length, removals."""

from __future__ import annotations

import re

import numpy as np

from agent.understanding.builder import BuilderBase
from agent.understanding.cues import (
    _CLEAR_PRICE,
    _CLEAR_YEARS,
    _DECADE_WORDS,
    _NUM_WORDS,
    _ORD_WORDS,
    _RX_BARE,
    _RX_CHEAP,
    _RX_CLASSIC,
    _RX_CMP,
    _RX_DECADE,
    _RX_FIRST_K,
    _RX_HASH,
    _RX_N,
    _RX_N_MORE,
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
    _RX_TOP_N,
    _RX_TOP_ONE,
    _RX_YEAR,
)
from agent.understanding.types import ItemRef
from agent.understanding.vocab import CatalogVocab


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


class SlotPasses(BuilderBase):
    """Positions, years, prices, counts and removals of one message."""

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
