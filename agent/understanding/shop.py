"""Shoppers' constraints: brands (include and exclude), least average rating, feature words, relative
price wishes ("cheaper", "premium") and a stated need ("for running", "a gift for a coffee lover").

Every word list the passes match against comes from the catalog (:class:`CatalogVocab`: its brands,
its short feature bullets, its ratings and prices) or from the domain file (the need cues); a catalog
without brands, features or ratings leaves the matching pass idle, so a MovieLens message reads as
before.
"""

from __future__ import annotations

import re

import numpy as np

from agent.understanding.builder import BuilderBase
from agent.understanding.normalise import STOP

_RX_RATING_MIN = re.compile(
    r"\b(?:rated|rating|ratings|reviews?)\s+(?:of\s+)?(?:at least|above|over|of at least|no less than)\s+"
    r"(\d(?:\.\d)?)(?:\s*stars?)?"
    r"|\b(?:at least|minimum(?: of)?|min|no less than)\s+(\d(?:\.\d)?)\s*stars?"
    r"|\b(\d(?:\.\d)?)\s*(?:\+\s*stars?|stars?\s*(?:\+|and up|or more|or higher|and above|or above|plus|rated))"
    r"|\b(\d(?:\.\d)?)\s*\+?\s*(?:star\s+)?rated\b"
)
_RX_RATING_WORDS = re.compile(
    r"\b(highly rated|high rated|well rated|top rated|best rated|well reviewed|good reviews|great reviews|"
    r"high ratings|good ratings|great ratings)\b"
)
_RX_PREMIUM = re.compile(r"\b(premium|high end|highend|luxury|top of the line|top shelf|upscale|splurge)\b")
_RX_PRICIER = re.compile(r"\b(more expensive|pricier|higher end|fancier|more premium)\b")
_RX_CHEAPER = re.compile(r"\b(cheaper|less expensive|lower priced|more affordable|cheaper ones)\b")
_RX_CHEAP = re.compile(r"\b(cheap|inexpensive|budget|affordable|low cost|bargain)\b")
_NEG_BEFORE = re.compile(
    r"\b(?:no|not|nothing|none|avoid|without|never|except|but not|other than|anything but|apart from|besides|"
    r"no more|not from|not by|nothing from|nothing by|dont want|do not want|exclude|excluding|skip)"
    r"(?:\s+(?:from|by|made by|the|any|brand|brands))*\s*$"
)
_NEG_AFTER = re.compile(r"^\s*(?:is|are)?\s*(?:out|excluded|not ok|not okay|please not)\b")
_NEED_END = frozenset({"and", "but", "under", "below", "over", "above", "between", "with", "without", "from", "by",
                       "no", "not", "please", "that", "which", "in", "at", "rated", "cheaper", "cheap"})  # fmt: skip
_MAX_NEED_WORDS = 6


class ShopPasses(BuilderBase):
    """Brands, ratings, features, relative prices and needs of one message."""

    price_word: str | None = None

    def _negated_at(self, i: int) -> bool:
        m = self.msg
        start = m.starts[i]
        return bool(_NEG_BEFORE.search(m.norm[max(0, start - 40) : start])) or bool(
            _NEG_AFTER.match(m.norm[m.ends[i] : m.ends[i] + 20])
        )

    def _phrase_at(self, i: int, table: dict[tuple[str, ...], str], longest: int) -> tuple[str, int] | None:
        m = self.msg
        for n in range(min(longest, len(m.toks) - i), 0, -1):
            key = tuple(m.toks[i : i + n])
            if key in table and not any(m.used[i : i + n]):
                return table[key], n
        return None

    def brands_pass(self) -> None:
        """Brand names of the catalog: "backpacks from Trekka" includes, "not Sony" excludes."""
        if not self.vocab.brands:
            return
        m, i = self.msg, 0
        inc: list[str] = []
        exc: list[str] = []
        while i < len(m.toks):
            hit = None if m.used[i] else self._phrase_at(i, self.vocab.brands, self.vocab.max_brand)
            if hit is None:
                i += 1
                continue
            brand, n = hit
            (exc if self._negated_at(i) else inc).append(brand)
            m.take_tokens(i, n)
            i += n
        if inc:
            self.slots["brands"] = list(dict.fromkeys(inc))
        if exc:
            self.slots["exclude_brands"] = list(dict.fromkeys(exc))

    def features_pass(self) -> None:
        """Short feature words of the catalog ("wireless", "noise cancelling"); a negated one is avoided."""
        if not self.vocab.features:
            return
        m, i = self.msg, 0
        found: list[str] = []
        while i < len(m.toks):
            hit = None if m.used[i] else self._phrase_at(i, self.vocab.features, self.vocab.max_feature)
            if hit is None:
                i += 1
                continue
            feature, n = hit
            if self._negated_at(i):
                i += n  # left for the query step, which keeps negated words as avoided terms
                continue
            found.append(feature)
            m.take_tokens(i, n)
            i += n
        if found:
            self.slots["features"] = list(dict.fromkeys(found))

    def rating_pass(self) -> None:
        """ "rated 4+", "at least 4 stars", "highly rated": a least average rating (catalogs with ratings).

        Runs before feedback is read: its words are cue spans, so "4 stars" here is not a rating of an item.
        """
        if not self.vocab.has_ratings:
            return
        m = self.msg
        value: float | None = None
        for mt in m.matches(_RX_RATING_MIN):
            v = float(next(g for g in mt.groups() if g is not None))
            if 0 < v <= 5:
                value = v
            self.cue_spans.append((mt.start(), mt.end()))
        for mt in m.matches(_RX_RATING_WORDS):
            value = value if value is not None else self.cfg.high_rating
            self.cue_spans.append((mt.start(), mt.end()))
        if value is not None:
            self.slots["rating_min"] = value

    def relative_price_pass(self) -> None:
        """Find "cheaper" / "premium" / "more expensive" (resolved by :meth:`resolve_relative_price` once
        the message's categories are known)."""
        if not self.vocab.has_prices:
            return
        m = self.msg
        for rx, word in ((_RX_CHEAPER, "cheaper"), (_RX_PRICIER, "pricier"), (_RX_PREMIUM, "premium")):
            if m.matches(rx):
                self.price_word = word
        if self.price_word is None and m.has(_RX_CHEAP):
            m.matches(_RX_CHEAP)
            self.price_word = "cheap"

    def resolve_relative_price(self) -> None:
        """Turn the price word into a bound: relative to the prices just shown ("cheaper": below their
        median), else to the prices of the asked-for categories (cheap: lowest quarter, premium: top quarter)."""
        word = self.price_word
        if word is None or "price_max" in self.slots or "price_min" in self.slots:
            return
        shown = np.array([p for p in (self.vocab.price_of(x) for x in self.state.shown) if p is not None])
        cats = self.include or self.state.constraints.include_categories or self.state.constraints.need_categories
        prices = self.vocab.category_prices(cats)
        if not prices.size:
            return
        cfg = self.cfg
        if word == "cheaper" and shown.size:
            self.slots["price_max"] = round(float(np.median(shown)) - 0.01, 2)
            self.slots["clear_prices"] = True
        elif word == "pricier" and shown.size:
            self.slots["price_min"] = round(float(np.median(shown)) + 0.01, 2)
            self.slots["clear_prices"] = True
        elif word in ("cheap", "cheaper"):
            self.slots["price_max"] = round(float(np.quantile(prices, cfg.cheap_quantile)), 2)
        else:
            self.slots["price_min"] = round(float(np.quantile(prices, 1 - cfg.cheap_quantile)), 2)
            self.slots["clear_prices"] = True

    def need_pass(self) -> None:
        """A stated need after one of the domain's need cues ("for running", "a gift for a coffee lover").

        The words after the cue (up to a clause break or a constraint word, at most six) are the need; the
        categories it points to are inferred by :meth:`CatalogVocab.infer_categories`.
        """
        cues = self.vocab.lexicon.need_cues
        if not cues:
            return
        m = self.msg
        for mt in cues.finditer(m.norm):
            if not m.free(mt.start(), mt.end()):
                continue
            i = m.token_at(mt.end())
            words: list[str] = []
            j = i
            while j < len(m.toks) and len(words) < _MAX_NEED_WORDS:
                t = m.toks[j]
                if (
                    m.used[j]
                    or t in _NEED_END
                    or (j > i and re.search(r"[.,;!?]", m.norm[m.ends[j - 1] : m.starts[j]]))
                ):
                    break
                words.append(t)
                j += 1
            content = [w for w in words if w not in STOP and not w.isdigit()]
            if not content:
                continue
            need = " ".join(words)
            m.take(mt.start(), m.ends[j - 1])
            self.slots["need"] = need
            self.slots["need_categories"] = self.vocab.infer_categories(need, self.cfg.need_min_share)
            return


__all__ = ["ShopPasses"]
