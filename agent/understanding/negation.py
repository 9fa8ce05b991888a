"""Categories with scope-aware negation: a cue governs the phrase after it and the phrases
coordinated with that one ("no horror or romance"), not a later phrase ("a heist movie that isn't a
comedy" includes Crime and excludes Comedy)."""

from __future__ import annotations

import re

from agent.understanding.builder import BuilderBase
from agent.understanding.cues import (
    _ALLOW_AFTER,
    _ALLOW_BEFORE,
    _NEG_AFTER,
    _NEG_BEFORE_RX,
    _NEG_CUES,
    _NEG_SCOPE_FILLER,
)


class NegationScope(BuilderBase):
    """Categories of one message, each included, excluded or allowed again."""

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
