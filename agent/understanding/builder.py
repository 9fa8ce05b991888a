"""Shared state of one message's analysis (the passes of the other modules add to it)."""

from __future__ import annotations

import functools
import re
from typing import Any

from agent.state import DialogState
from agent.understanding.lexicon import all_item_nouns
from agent.understanding.normalise import _Msg
from agent.understanding.types import ItemRef, UnderstandConfig
from agent.understanding.vocab import CatalogVocab

_AUDIENCE_AS_KIND = re.compile(
    rf"^[\s-]*(?:s\s+)?(?:(?:{'|'.join(re.escape(w) for w in all_item_nouns())}|stuff|fare|content|friendly|shows?)\b)"
)
"""After a people word: it names a kind of item ("kids movies", "family stuff", "kid-friendly")."""


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
        self.genres_lifted = False  # "forget the genres": every category rule goes, the left-out ones too
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
                if n == 1 and key[0] in self._audience and not self._wished_for(i):
                    continue  # "the kids are asleep": who is there, not what they ask for
                return self.vocab.phrases[key], n
        return None

    @functools.cached_property
    def _audience(self) -> frozenset[str]:
        return frozenset(self.vocab.lexicon.domain.audience.get("en", ()))

    def _wished_for(self, i: int) -> bool:
        """Whether the people word at token ``i`` names what is asked for: before an item noun or a category
        ("kids movies", "a family cartoon"), after "for" ("something for the kids"), as the ones who can watch
        ("a film the kids can watch"), or as the whole message."""
        m = self.msg
        after = m.norm[m.ends[i] :]
        before = m.norm[: m.starts[i]]
        return bool(
            len(m.toks) <= 2
            or _AUDIENCE_AS_KIND.match(after)
            or (i + 1 < len(m.toks) and m.toks[i + 1] not in self._audience and self._category_at(i + 1) is not None)
            or re.search(
                r"\b(?:for|suitable for|safe for|appropriate for|aimed at|made for)\s+(?:the\s+|my\s+|our\s+|young\s+|little\s+|small\s+)*$",
                before,
            )
            or re.match(r"\s+(?:can|could|will|would|may)\s+(?:all\s+)?(?:watch|see|enjoy|handle|sit through)\b", after)
        )

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
