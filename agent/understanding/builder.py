"""Shared state of one message's analysis (the passes of the other modules add to it)."""

from __future__ import annotations

import re
from typing import Any

from agent.state import DialogState
from agent.understanding.normalise import _Msg
from agent.understanding.types import ItemRef, UnderstandConfig
from agent.understanding.vocab import CatalogVocab


class BuilderBase:
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
        self.removed_refs: list[str] = []  # references taken back by title ("forget <title>")
        self.disliked_titles: list[ItemRef] = []
        self.positions: list[int] = []
        self.neg_positions: set[int] = set()
        self.notes: list[str] = []
        self.clarify: str | None = None
        self.avoid: list[str] = []
        self.price_wish = False
        self.lang = "en"
        self.text = ""  # the cleaned message as typed (before lower-casing), for quoting it back
        self.include_all = False
        self.all_with_earlier = False  # "and i want X, so it has to be both": X together with the earlier ones
        self.only_these = False  # "just comedy": the categories named replace the earlier ones
        self.remove: list[str] = []
        self.removed_slots: set[str] = set()
        self.years_removed_at: int | None = None  # where a removal of the period starts in the message
        self.cue_spans: list[tuple[int, int]] = []
        self.cat_tokens: set[int] = set()

    def cue_blanked_norm(self) -> str:
        """The message with the cue spans other passes read blanked out ("no more than 5" is no negation)."""
        norm = self.msg.norm
        for s0, e0 in self.cue_spans:
            norm = norm[:s0] + " " * (e0 - s0) + norm[e0:]
        return norm

    def _category_at(self, i: int) -> tuple[tuple[str, ...], int] | None:
        m = self.msg
        for n in range(min(self.vocab.max_phrase, len(m.toks) - i), 0, -1):
            key = tuple(m.toks[i : i + n])
            if key in self.vocab.phrases and not any(m.used[i : i + n]):
                return self.vocab.phrases[key], n
        return None

    def _names_category_before(self, char: int) -> bool:
        """Whether the message names a category phrase before character ``char``."""
        return any(self._category_at(i) is not None for i in range(self.msg.token_at(char)))

    def _is_negated_span(self, start: int) -> bool:
        before = self.msg.norm[max(0, start - 25) : start]
        return (
            re.search(
                r"\b(no|not|nothing|none|avoid|without|never|isnt|arent|wasnt|werent|exclude|excluding|skip|except)\b"
                r"(?:\s+\w+){0,2}\s*$",
                before,
            )
            is not None
        )
