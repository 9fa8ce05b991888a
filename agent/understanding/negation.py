"""Categories with scope-aware negation: a cue governs the phrase after it and the phrases
coordinated with that one ("no horror or romance"), not a later phrase ("a heist movie that isn't a
comedy" includes Crime and excludes Comedy)."""

from __future__ import annotations

import itertools
import re

from agent.understanding.builder import BuilderBase
from agent.understanding.cues import (
    _ALL_BETWEEN,
    _ALL_EITHER,
    _ALL_FOLLOW_UP,
    _ALL_FOLLOW_UP_MODAL,
    _ALL_FOLLOW_UP_TOO,
    _ALLOW_AFTER,
    _ALLOW_BEFORE,
    _ANAPHORIC,
    _BOTH_PLEASE,
    _CARRY_AFTER,
    _CARRY_BEFORE,
    _COND_REFUSAL,
    _IF_CATEGORY,
    _MENTIONED_BEFORE,
    _NEG_AFTER,
    _NEG_BEFORE_RX,
    _NEG_CUES,
    _NEG_SCOPE_FILLER,
    _NEUTRAL_BEFORE,
    _PEOPLE,
    _PEOPLE_OWNING,
    _POSSESSIVES,
    _RX_RELATIVE_REFUSAL,
    asks_all_anywhere,
)
from agent.understanding.lexicon import _words, all_item_nouns, lexicon

_EN = lexicon().en
_NEG_VERBS = _EN.neg_verbs
_COORD = _EN.neg_coordinators
_COORD_PHRASES = tuple(sorted((tuple(c.split()) for c in _COORD if " " in c), key=len, reverse=True))
_BREAKS = _EN.neg_breaks | {"is", "are"}
_SUBJECT_VERBS = _words(_EN.raw, "subject_verbs", "agent/data/lang/en.yaml")
_PERSON_OBJECT_VERBS = _words(_EN.raw, "person_object_verbs", "agent/data/lang/en.yaml")
_POSITIVE_AFTER = frozenset(
    {"instead", "please", "pls", "plz", "then"}
)  # "..., westerns instead": a category followed by it is asked for
_ONLY = frozenset({"just", "only", "simply", "purely", "strictly", "solely"})
_ONLY_AFTER = re.compile(
    rf"^\s*(?:(?:{'|'.join(re.escape(w) for w in all_item_nouns())})\s+)?(?:only|alone|exclusively|and nothing else)"
    r"(?=\s*(?:[,.;!?]|$|please\b|pls\b|this time\b|now\b|thanks\b|thank you\b))"
)
"""Right after a category phrase: those alone ("westerns only please")."""
_LIGHT = frozenset({"a", "an", "the", "any", "some", "more"}) | frozenset(all_item_nouns())
"""Words that may stand between a coordinator and the phrase it joins ("or the romance movies")."""


_SUBJECTS = frozenset({"i", "he", "she", "they", "we", "you", "who", "it", "everyone", "everybody", "nobody"})
"""Subject pronouns: the word after one is its verb ("she cries at ..."), never a misspelt category."""
_NO_RIGHT_BEFORE = re.compile(
    r"(?:^|[,.;!?]\s*|\b(?:and|but|so|just|please|maybe|ideally|honestly)\s+)(?:no|zero|without|nothing)\s+"
    r"(?:(?:more|any|of the|of that)\s+)?$"
)
"""A clause's "no" right before a category: with an allowance after it, the refusal is what would be nice
("no horror would be nice")."""
_NOT_JUST = re.compile(r"\bnot (?:just|only|merely|simply|solely)\s+(?:the\s+)?(?:one\s+)?$")
"""Before a category already asked for: named again beside another, not a new option ("not just horror")."""


_NOT_ONE_OR_OTHER = re.compile(
    r"\bnot (?:just |only )?(?:one or the other|either or|either one|one or another|one of (?:them|the two))\b"
)
"""Asking for both in other words ("ones that are both, not one or the other"): no "or" between options."""


_SINGULAR_VERBS = frozenset({"is", "was", "isnt", "wasnt", "has", "hasnt", "does", "doesnt"})
_KIND_WORDS = frozenset({"of", "kind", "kinds", "sort", "sorts", "type", "types"})
_BARE_OK = frozenset({"ok", "okay", "alright", "all right", "fine"})
"""Allowance words that, right after a refused category, only ask whether the refusal was heard."""
_ADDITIVE = frozenset({"as well", "too", "also", "as well please", "too please"})
"""Allowance words that only add ("X as well"): after a refusal they add one more left out."""


class NegationScope(BuilderBase):
    """Categories of one message, each included, excluded or allowed again; adjacent included
    categories ("a romantic comedy") ask for all of them."""

    def categories_pass(self) -> None:
        m = self.msg
        i = 0
        groups: list[list[str]] = []  # included phrases; adjacent ones share a group
        spans: list[tuple[int, int]] = []  # first and last token of each group
        optional = False  # a category added as one more option ("drama would work too"): any of them
        last_end = -2
        group_start = 0
        last_cat: tuple[int, bool] | None = None  # end of the category phrase before, and whether it is left out
        blanked = self.cue_blanked_norm()  # cue words other passes read are no negation before a category
        while i < len(m.toks):
            if m.used[i]:
                i += 1
                continue
            hit = self._category_at(i)
            if hit is not None and self._names_a_person(i, hit[1]):
                m.take_tokens(i, hit[1])  # "my kids hate sci-fi": the kids are people here, not the category
                i += hit[1]
                continue
            if hit is None:
                after_subject = i > 0 and (m.toks[i - 1] in _PEOPLE or m.toks[i - 1] in _SUBJECTS)
                cats_fuzzy = (
                    None  # "my girlfriend cries at ...": a word after its subject is a verb, not a misspelt category
                    if after_subject
                    else self.vocab.fuzzy_category(m.toks[i], self.cfg.fuzzy_category_distance)
                )
                if cats_fuzzy is None:
                    i += 1
                    continue
                self.notes.append(f"read {m.toks[i]!r} as {' and '.join(cats_fuzzy)}")
                hit = (cats_fuzzy, 1)
            cats, n = hit
            start, end = m.starts[i], m.ends[i + n - 1]
            before, after = blanked[max(0, start - 60) : start], m.norm[end : end + 40]
            am = _ALLOW_AFTER.match(after)
            allowed = bool(am or _ALLOW_BEFORE.search(before))
            negated = bool(
                self._neg_after(after)
                or self._negated(i)
                or _NEG_BEFORE_RX.search(before)
                or self._joined_to_excluded(i)  # "steer clear of film-noir and drama"
                or self._carried_refusal(last_cat, start, end)  # "horror is a no, and so is drama"
            )
            if allowed and negated and am and not _ALLOW_BEFORE.search(before) and am.group(0).strip() in _ADDITIVE:
                allowed = False  # "leave out anything thats crime as well": one more left out, not allowed
            elif allowed and negated and am and am.group(0).strip() in _BARE_OK:
                allowed = False  # "definitely not X ok?": a check that the refusal was heard, not an allowance
            elif (
                allowed
                and am
                and not _ALLOW_BEFORE.search(before)
                and (_NEG_BEFORE_RX.search(before) or _NO_RIGHT_BEFORE.search(before))
            ):
                allowed = False  # "anything but crime would be great", "no horror would be nice": the refusal is nice
            if am and allowed:
                m.take(end, end + am.end())
            excluded_before = set(self.state.constraints.exclude_categories) | set(self.exclude)
            neutral = _NEUTRAL_BEFORE.search(before)
            cond = _IF_CATEGORY.search(before)
            if cond and not allowed:
                # "she walks out of the room if its X": a condition whose outcome is a refusal leaves X out;
                # any other condition neither asks for it nor leaves it out
                a = max((mm.end() for mm in re.finditer(r"[.;!?]", m.norm[:start])), default=0)
                z = next((mm.start() + end for mm in re.finditer(r"[.;!?]", m.norm[end:])), len(m.norm))
                refusals = [
                    *(mm.span() for mm in _COND_REFUSAL.finditer(m.norm, a, start)),
                    *(mm.span() for mm in _COND_REFUSAL.finditer(m.norm, end, z)),
                ]
                if refusals:
                    negated, neutral = True, None
                    m.take(cond.start() + max(0, start - 60), start)
                    for r0, r1 in refusals:  # the outcome's words are the refusal, not a query
                        m.take(r0, r1)
                elif cond.group("some"):
                    neutral = neutral or cond  # "westerns; if one of them is war, whatever": no wish either way
            if (allowed and set(cats) & excluded_before) or (neutral and set(cats) <= excluded_before):
                self.allow.extend(cats)  # "horror is fine now": an excluded category is allowed again
            elif not allowed and (mention := _MENTIONED_BEFORE.search(before)):
                # "what i said about X still stands": a rule talked about, no new wish either way
                m.take(mention.start() + max(0, start - 60), end)
                self.cat_tokens.update(range(i, i + n))
                i += n
                continue
            elif neutral:  # "im not against war or anything, but ...": neither asked for nor left out
                m.take(neutral.start() + max(0, start - 60), end)
                self.cat_tokens.update(range(i, i + n))
                i += n
                continue
            elif _NOT_JUST.search(before) and set(cats) <= set(self.state.constraints.include_categories):
                # "they should all be comedy too, not just horror": an asked category named again, not a new option
                self.cat_tokens.update(range(i, i + n))
                m.take_tokens(i, n)
                i += n
                continue
            elif not allowed and negated:
                self.exclude.extend(cats)
                nm = self._neg_after(after)
                if nm:
                    m.take(end, end + nm.end())  # "out of it", "is off the table": cue words, not a query
                    # "horror and comedy are out": the phrases joined before it are out as well
                    first = i
                    while groups and self._joined(spans[-1][1], first, commas=first != i):
                        moved = groups.pop()
                        first = spans.pop()[0]
                        self.include = [c for c in self.include if c not in moved]
                        self.exclude.extend(c for c in moved if c not in self.exclude)
                    last_end = spans[-1][1] if spans else -2
            else:  # asked for, or one more option ("drama would work too", "either X or Y is fine")
                self.include.extend(cats)
                optional = optional or allowed
                k = i - 1
                while k >= 0 and m.toks[k] in ("a", "an", "the", "some"):
                    k -= 1
                if k >= 0 and m.toks[k] in _ONLY:
                    self.only_these = True  # "just comedy": these categories replace the earlier ones
                elif _ONLY_AFTER.match(m.norm[end:]):
                    self.only_these = True  # "westerns only please": as "only westerns"
                adjacent = last_end == i - 1 and groups and not re.search(r"[,.;!?/]", m.norm[m.ends[i - 1] : start])
                # "both X and Y": two phrases that ask for all of them
                between = m.toks[last_end + 1 : i] if groups else []
                both = (
                    bool(groups)
                    and [t for t in between if t not in ("a", "an")] == ["and"]
                    and group_start > 0
                    and m.toks[group_start - 1] == "both"
                )
                if adjacent or both:
                    groups[-1].extend(cats)
                    spans[-1] = (spans[-1][0], i + n - 1)
                else:
                    groups.append(list(cats))
                    spans.append((i, i + n - 1))
                    group_start = i
                last_end = i + n - 1
            self.cat_tokens.update(range(i, i + n))
            m.take_tokens(i, n)
            last_cat = (end, set(cats) <= set(self.exclude))
            i += n
        if groups and not (self.positions or self.title_items or self.targets):
            self._anaphoric_refusals(groups, spans)
        # "a romantic comedy", "an action thriller", "a rom-com": one phrase naming several categories
        # asks for all of them; "action or comedy" (separate phrases) for any of them.
        if (len(groups) == 1 and len(set(groups[0])) >= 2) or (
            len(groups) >= 2
            and self._asks_for_all(spans)
            # "X as well? both at once", "X that are Y as well"
            and (not optional or asks_all_anywhere(m.norm) or self._all_between(spans))
        ):
            self.include_all = True
        elif (
            len(groups) == 1
            and set(self.state.constraints.include_categories) - set(groups[0])
            and (
                asks_all_anywhere(m.norm)
                or _ALL_FOLLOW_UP.search(m.norm[: m.starts[spans[0][0]]]) is not None
                or self._wished_too(spans[0])
            )
            and not re.search(r"\b(?:or|either)\b", _NOT_ONE_OR_OTHER.sub(" ", m.norm))
        ):
            # "they should be romance too, both at once" / "they also have to be romance" after "drama": the new
            # one and the asked ones at once
            self.include_all = self.all_with_earlier = True

    def _carried_refusal(self, last_cat: tuple[int, bool] | None, start: int, end: int) -> bool:
        """Whether the category phrase at ``start``-``end`` is said the same of as the one before it, which was
        left out: "romance is a no for me, and so is drama", "westerns are out, musicals too". The cue words
        are taken."""
        if last_cat is None or not last_cat[1]:
            return False
        m = self.msg
        gap = m.norm[last_cat[0] : start]
        if (cue := _CARRY_BEFORE.search(gap)) is not None and m.free(last_cat[0] + cue.start(), start):
            m.take(last_cat[0] + cue.start(), start)
            return True
        if re.search(r"(?:[,.;!]|\b(?:and|plus)\b)\s*(?:(?:and|plus|oh)\s+)?(?:(?:the|any|all)\s+)?$", gap) and (
            cue := _CARRY_AFTER.match(m.norm, end)
        ):
            m.take(end, cue.end())
            return True
        return False

    def _wished_too(self, span: tuple[int, int]) -> bool:
        """A wish that the list be the category at ``span`` as well ("they have to be X too", "make sure
        they're also X")."""
        m = self.msg
        modal = _ALL_FOLLOW_UP_MODAL.search(m.norm[: m.starts[span[0]]])
        return modal is not None and (
            re.search(r"\balso\b", modal.group(0)) is not None
            or _ALL_FOLLOW_UP_TOO.match(m.norm[m.ends[span[1]] :]) is not None
        )

    def _all_between(self, spans: list[tuple[int, int]]) -> bool:
        """A relative clause between two asked-for categories asks for both, even with "as well" after the
        second ("X movies that are Y as well"); "open to X as well as Y" / "happy with X, happy with Y" do not."""
        m = self.msg
        gaps = [m.norm[m.ends[a_end] : m.starts[b_start]] for (_, a_end), (b_start, _) in itertools.pairwise(spans)]
        return any(
            re.search(r"\b(?:(?:that|which)\s+(?:are|is|r|has|have|got)|thats)\b", g)
            and not re.search(r"\b(?:or|either|nor)\b", g)
            for g in gaps
        )

    def _asks_for_all(self, spans: list[tuple[int, int]]) -> bool:
        """Separately named categories asked for at once: a cue anywhere ("mixes X with Y", "X and Y at
        the same time") or between two of them ("X that's also Y"); never with "or"/"either" between them."""
        m = self.msg
        first = spans[0][0]
        gaps = [m.norm[m.ends[a_end] : m.starts[b_start]] for (_, a_end), (b_start, _) in itertools.pairwise(spans)]
        if _BOTH_PLEASE.search(m.norm):
            return True  # "crime or film-noir... why not both?"
        if any(re.search(r"\b(?:or|either|nor)\b", g) for g in gaps) or m.prev_word(m.starts[first]) == "either":
            return False
        if _ALL_EITHER.search(m.norm):
            return False  # "i like X and i also like Y, so something from either would work"
        if any(_ALL_BETWEEN.search(g) for g in gaps):
            return True
        if all(re.fullmatch(r"\s*and\s*", g) for g in gaps) and re.search(
            r"\b(?:that|which)\s+(?:are|is|r)\s+(?:both\s+)?$", m.norm[: m.starts[first]]
        ):
            return True  # "movies that are children's and drama": one relative clause naming both
        if all(re.fullmatch(r"\s*and\s*", g) for g in gaps) and _ALL_FOLLOW_UP_MODAL.search(m.norm[: m.starts[first]]):
            return True  # "it has to be X and Y", "they must be X and Y": what each item must be
        return asks_all_anywhere(m.norm)

    def _neg_after(self, after: str) -> re.Match[str] | None:
        """A refusal right after a category phrase (``after``: the text after it), unless its last words
        govern a category that follows at once ("war please no comedy": "please no" refuses comedy)."""
        nm = _NEG_AFTER.match(after)
        if nm is None:
            return None
        rest = re.split(r"[.,;!?]", after[nm.end() :], maxsplit=1)[0].split()  # within the clause
        k = 0
        while k < len(rest) and (rest[k] in _LIGHT or rest[k] in _KIND_WORDS):
            k += 1
        words = tuple(rest[k : k + self.vocab.max_phrase])
        if any(words[:n] in self.vocab.phrases for n in range(1, len(words) + 1)):
            return None
        return nm

    def _anaphoric_refusals(self, groups: list[list[str]], spans: list[tuple[int, int]]) -> None:
        """A refusal of "it"/"those" takes back the category phrase right before it (no other category
        between) and the phrases joined to that one: "i usually love drama but im not in the mood for it,
        leave those out", "sci-fi just stresses me out so keep it off the list. film-noir is good", "crime and
        mystery are the two things i can never get into. anything but those". Not when a category follows
        the refusal at once ("none of that horror stuff": the refusal is of that category)."""
        m = self.msg
        for ana in list(_ANAPHORIC.finditer(m.norm)):
            if not m.free(ana.start(), ana.end()):
                continue
            before = [j for j, (_s, e) in enumerate(spans) if m.ends[e] <= ana.start()]
            if not before:
                continue
            j = before[-1]
            a_end = m.ends[spans[j][1]]
            if any(m.starts[k] >= a_end and m.ends[k] <= ana.start() for k in self.cat_tokens):
                continue  # another category (an asked one left out, say) stands between
            k = m.token_at(ana.end())
            while k < len(m.toks) and (m.toks[k] in _LIGHT or m.toks[k] in _KIND_WORDS):
                k += 1
            if k in self.cat_tokens and not re.search(r"[.,;!?]", m.norm[ana.end() : m.starts[k]]):
                continue
            self._refuse_groups(groups, spans, j)
            m.take(ana.start(), ana.end())
            self.cue_spans.append((ana.start(), ana.end()))  # "take those out": the category's, not the items'
        j = len(spans) - 1
        while j >= 0:
            # "crime and mystery are the two things i never liked": what the phrases are is a refusal
            rel = _RX_RELATIVE_REFUSAL.match(m.norm, m.ends[spans[j][1]])
            if rel and m.free(rel.start(), rel.end()):
                m.take(rel.start(), rel.end())
                self._refuse_groups(groups, spans, j)
            j = min(j, len(spans)) - 1

    def _refuse_groups(self, groups: list[list[str]], spans: list[tuple[int, int]], j: int) -> None:
        """Leave out the asked phrase ``j`` and the phrases joined before it ("war, horror and westerns"),
        unless a verb in the singular right after ``j`` says it alone is meant ("comedy, and horror is ...")."""
        m = self.msg
        first = j
        nxt = spans[j][1] + 1
        singular = nxt < len(m.toks) and m.toks[nxt] in _SINGULAR_VERBS
        while not singular and first > 0 and self._joined(spans[first - 1][1], spans[first][0], commas=True):
            first -= 1
        for g in range(j, first - 1, -1):
            moved = groups.pop(g)
            spans.pop(g)
            self.include = [c for c in self.include if c not in moved]
            self.exclude.extend(c for c in moved if c not in self.exclude)

    def _joined(self, a_end: int, b_start: int, *, commas: bool = False) -> bool:
        """Whether the phrases ending at ``a_end`` and starting at ``b_start`` are joined by and/or/nor alone
        (an article allowed; with ``commas`` a comma as well: the earlier items of "horror, comedy and war are
        out"; "mystery, fantasy is out" joins nothing)."""
        m = self.msg
        if a_end < 0 or b_start <= a_end:
            return False
        between = [t for t in m.toks[a_end + 1 : b_start] if t not in ("a", "an", "the", "any")]
        gap = m.norm[m.ends[a_end] : m.starts[b_start]]
        # "i dont do action. or documentary.": a sentence that only goes on with "or"/"nor" is the same list
        trailing = re.fullmatch(r"\s*[.;]\s*", m.norm[m.ends[a_end] : m.starts[a_end + 1]]) is not None
        if (re.search(r"[.;!?]", gap) and not (trailing and between in (["or"], ["nor"]))) or (
            not commas and "," in gap
        ):
            return False
        return (
            between in (["and"], ["or"], ["nor"])
            or tuple(between) in _COORD_PHRASES  # "leave out war along with westerns"
            or (commas and not between and "," in gap)
        )

    def _joined_to_excluded(self, i: int) -> bool:
        """Whether the phrase at ``i`` is joined (:meth:`_joined`) to a category phrase this message left
        out right before it: a phrase joined to a left-out one is left out too."""
        m = self.msg
        k = i - 1
        while k >= 0 and (m.toks[k] in ("a", "an", "the", "any", "and", "or", "nor") or self._coordinator_ending_at(k)):
            k -= self._coordinator_ending_at(k) or 1
        n = self._category_ending_at(k) if k >= 0 else 0
        cats = self.vocab.phrases.get(tuple(m.toks[k - n + 1 : k + 1])) if n else None
        return cats is not None and set(cats) <= set(self.exclude) and self._joined(k, i)

    def _names_a_person(self, i: int, n: int) -> bool:
        """Whether the category phrase at ``i`` (``n`` tokens) is a person who does something: a possessive
        before it, a verb after it ("my kids hate ...", "our children love ...")."""
        m = self.msg
        return (
            i > 0
            and (
                m.toks[i - 1] in _POSSESSIVES
                or (i > 1 and m.toks[i - 2] in _POSSESSIVES and m.toks[i - 1] in _PEOPLE_OWNING)
            )
            and all(t in _PEOPLE for t in m.toks[i : i + n])
            and (
                (i + n < len(m.toks) and m.toks[i + n] in _SUBJECT_VERBS)
                or (i > 1 and m.toks[i - 2] in _PERSON_OBJECT_VERBS)  # "horror gives my kid bad dreams"
            )
        )

    def _category_ending_at(self, k: int) -> int:
        """Length of a category phrase ending at token ``k`` (0 when none)."""
        m = self.msg
        for n in range(min(self.vocab.max_phrase, k + 1), 0, -1):
            if tuple(m.toks[k - n + 1 : k + 1]) in self.vocab.phrases:
                return n
        return 0

    def _coordinator_ending_at(self, k: int) -> int:
        """The length of a coordinator of several words ending at token ``k`` ("as well as"), else 0."""
        toks = self.msg.toks
        for phrase in _COORD_PHRASES:
            if k + 1 >= len(phrase) and tuple(toks[k - len(phrase) + 1 : k + 1]) == phrase:
                return len(phrase)
        return 0

    def _negated(self, i: int) -> bool:
        """Whether a negation cue governs token ``i``.

        Walks back through the clause: a cue governs the first phrase after it (fillers skipped) and
        the phrases coordinated with that one ("no horror or romance", "no horror, romance"); a
        category phrase that is neither adjacent nor coordinated ends the walk, so in "a heist
        movie that isn't a comedy" the cue governs "comedy" only, and in "not a comedy, a crime
        movie" it does not reach "crime".
        """
        m = self.msg
        hit = self._category_at(i)
        end = i + (hit[1] if hit else 1)
        # "not in the mood for musicals, westerns instead" / "..., westerns please": a coordinated phrase
        # followed by one of these is asked for, outside the cue's scope ("no horror please" stays a refusal)
        positive = end < len(m.toks) and m.toks[end] in _POSITIVE_AFTER
        k, steps = i - 1, 0
        phrase_start = i
        coord = heavy = by_word = False
        while k >= 0 and steps < 10:
            gap = m.norm[m.ends[k] : m.starts[k + 1]] if k + 1 < len(m.toks) else ""
            if re.search(r"[.;!?]", gap):
                return False
            if "," in gap and k == phrase_start - 1:
                coord = True
            if m.used[k] and any(s <= m.starts[k] < e for s, e in self.cue_spans):
                return False  # "they dont have to be X, Y instead": a removal before ours is not our cue
            t = m.toks[k]
            if t in ("no", "nope", "nah", "noo") and k + 1 < len(m.toks) and "," in m.norm[m.ends[k] : m.starts[k + 1]]:
                return False  # "hmm no, musical instead": an answer to the list, not a cue over what follows
            if t in _NEG_CUES:
                return not (positive and phrase_start != i and not by_word)  # "no X or Y please": both out
            if t == "but":
                return k > 0 and m.toks[k - 1] in ("anything", "all", "everything")  # "nothing but X" is only X
            if t in ("so", "therefore") and k > 0 and self._category_ending_at(k - 1):
                return False  # "hates musicals so westerns": what follows is the consequence, asked for
            if (
                t in ("is", "are", "r")
                and k > 1
                and m.toks[k - 1] in ("that", "which", "whatever", "whichever", "what")
            ):
                # "i do not want any which are also crime", "nothing that is adventure": the refused
                # relative clause goes on to its category
                k -= 2
                steps += 1
                continue
            if t in _BREAKS:
                return False
            cat = self._category_ending_at(k)
            if cat:
                if not (coord or k == phrase_start - 1):
                    return False  # an earlier phrase: the cue before it governs that one, not ours
                k -= cat
                phrase_start = k + 1
                coord = heavy = False
            elif t in _COORD or self._coordinator_ending_at(k):
                by_word = True
                if not heavy:
                    coord = True
                k -= self._coordinator_ending_at(k) or 1
            elif t in _NEG_VERBS:
                return not (k + 1 < len(m.toks) and m.toks[k + 1] == "mind")
            elif t in _NEG_SCOPE_FILLER:
                if t not in _LIGHT:
                    heavy = True
                k -= 1
            else:
                return False
            steps += 1
        return False
