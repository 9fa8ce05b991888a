"""Text normalisation: one spelling for matching, word tokens, title variants, the message under
analysis, and the rewriting of languages without spaces into the canonical cue words."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from agent.understanding.lexicon import lexicon

_APOS = re.compile(r"(?<=[a-z0-9])'(?=[a-z])|'(?=\d0s\b)|(?<=\d)'s\b|(?<=[a-z])'(?=\s|$)")
_ELIDED = re.compile(
    r"(?<![a-z0-9'])'(?=(?:" + "|".join(map(re.escape, lexicon().en.raw.get("elided") or ())) + r")\b(?!'))"
)
"""An apostrophe standing for cut-off letters at the start of a word ("'bout", "'em"), not an opening quote."""
_TOKEN = re.compile(r"[a-z0-9]+|[#$€£]")
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8"}


def normalize(text: str) -> str:
    """Lower-case, accent-free, apostrophes dropped inside words ("children's" -> "childrens",
    "'80s" -> "80s"), ``&`` -> ``and``, "1975ish" -> "1975 ish", whitespace collapsed. Punctuation is kept."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("’", "'").replace("‘", "'").replace("`", "'").replace("“", '"').replace("”", '"')
    text = _ELIDED.sub("", text)
    text = _APOS.sub(lambda m: "s" if m.group(0) == "'s" else "", text)
    text = text.replace("&", " and ")
    text = re.sub(r"\b(\d{4}s?)-?ish\b", r"\1 ish", text)  # "1975ish", "80s-ish": the number and its hedge
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """Word tokens of normalised text."""
    return _TOKEN.findall(normalize(text))


STOP = lexicon().en.stopwords
_ARTICLES = lexicon().en.articles


def title_variants(title: str) -> list[str]:
    """Normalised spellings a user might type: "Godfather, The" -> "the godfather", "godfather";
    "Seven (Se7en)" also gives "se7en"; roman numerals become digits."""
    parts = [title]
    m = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", title)
    if m:
        parts = [m.group(1), m.group(2)]
    out: list[str] = []
    for p in parts:
        p = p.strip()
        am = re.match(r"^(.*),\s*(" + "|".join(_ARTICLES) + r")'?\s*(:.*)?$", p, re.IGNORECASE)
        if am:
            core = am.group(1) + (am.group(3) or "")
            full = f"{am.group(2)} {core}"
        else:
            core = full = p
        for v in (full, core):
            toks = [_ROMAN.get(t, t) for t in tokens(v)]
            if toks:
                s = " ".join(toks)
                if s not in out:
                    out.append(s)
        if am is None:
            toks = [_ROMAN.get(t, t) for t in tokens(p)]
            # a leading English article is dropped ("The Matrix" -> "matrix"); a word that is an article
            # only in another language is part of the title ("Die Hard" is not "hard")
            if len(toks) > 1 and toks[0] in ("the", "a", "an"):
                s = " ".join(toks[1:])
                if s not in out:
                    out.append(s)
    return out


class _Msg:
    def __init__(self, norm: str) -> None:
        self.norm = norm
        ms = list(_TOKEN.finditer(norm))
        self.toks = [m.group(0) for m in ms]
        self.starts = [m.start() for m in ms]
        self.ends = [m.end() for m in ms]
        self.used = [False] * len(ms)
        self.tokset = set(self.toks)

    def span_tokens(self, start: int, end: int) -> list[int]:
        return [i for i, (s, e) in enumerate(zip(self.starts, self.ends, strict=True)) if s < end and e > start]

    def free(self, start: int, end: int) -> bool:
        return not any(self.used[i] for i in self.span_tokens(start, end))

    def take(self, start: int, end: int) -> None:
        for i in self.span_tokens(start, end):
            self.used[i] = True

    def take_tokens(self, i: int, n: int) -> None:
        for k in range(i, min(i + n, len(self.toks))):
            self.used[k] = True

    def matches(self, rx: re.Pattern[str]) -> list[re.Match[str]]:
        """Non-overlapping matches over free text, consumed as they are returned."""
        out = []
        for m in rx.finditer(self.norm):
            if m.end() > m.start() and self.free(m.start(), m.end()):
                out.append(m)
                self.take(m.start(), m.end())
        return out

    def consume(self, rx: re.Pattern[str]) -> None:
        """Mark every token any match of ``rx`` touches as used (cue words)."""
        for m in rx.finditer(self.norm):
            self.take(m.start(), m.end())

    def has(self, rx: re.Pattern[str]) -> bool:
        return rx.search(self.norm) is not None

    def token_at(self, char: int) -> int:
        for i, s in enumerate(self.starts):
            if s >= char:
                return i
        return len(self.toks)

    def prev_word(self, char: int) -> str:
        i = self.token_at(char) - 1
        return self.toks[i] if i >= 0 else ""

    def free_run(self, i: int, limit: int = 8) -> list[str]:
        out: list[str] = []
        while i < len(self.toks) and not self.used[i] and len(out) < limit:
            out.append(self.toks[i])
            i += 1
        return out


# --------------------------------------------------------------------------------------------
# languages without spaces: rewrite to the canonical cue words

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_QUOTED = re.compile(r"《([^《》]{1,80})》|「([^「」]{1,80})」|“([^“”]{1,80})”")


_ZH_DECADE_NUM = r"(?:[一二三四五六七八九]十|\d0|1[89]\d0|20\d0)"
"""The number of a Chinese decade ("九十", "90", "1990") before 年代."""


def _alts(words: Any) -> str:
    """A regex alternation of the words, longest first; one that never matches when there are none."""
    return "|".join(sorted(map(re.escape, words or []), key=len, reverse=True)) or "(?!)"


def detect_language(text: str) -> str:
    """``"zh"`` when the message has Chinese characters, else ``"en"``."""
    return "zh" if _CJK.search(text) else "en"


def _zh_number(s: str, numerals: dict[str, int]) -> int | None:
    """Chinese or Arabic numerals up to 99 ("三" 3, "十二" 12, "二十" 20, "12" 12)."""
    s = s.strip()
    if s.isdigit():
        return int(s)
    if not s or any(ch not in numerals for ch in s):
        return None
    if "十" not in s:
        return numerals[s] if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    t = numerals.get(tens, 0) if tens else 1
    o = numerals.get(ones, 0) if ones else 0
    return t * 10 + o


class CanonicalText:
    """A message rewritten to the canonical cue words, with what the rewrite could not place:
    titles written in a language the catalog may not spell them in, and words the tables do not
    know, inside a negation's scope (``unplaced_negated``: "不要太血腥" -> 血腥) or not
    (``unplaced``: "温馨"), in the person's own language."""

    def __init__(
        self,
        text: str,
        lang: str,
        unknown_titles: list[str],
        unplaced: list[str] | None = None,
        unplaced_negated: list[str] | None = None,
    ) -> None:
        self.text, self.lang, self.unknown_titles = text, lang, unknown_titles
        self.unplaced = unplaced or []
        self.unplaced_negated = unplaced_negated or []


def _zh_frames(s: str, raw: dict[str, Any], categories: list[str]) -> str:
    """Chinese frames whose parts are apart, rewritten before the longest match reads the words.

    - A reaction after a category in the same clause refuses it ("惊悚我看了会做噩梦", "我一看惊悚就犯困",
      "喜剧、恐怖这两类我都不感冒"): the words between go and the category reads "<category>就别来了" (is out).
    - "X就算了" (never mind X) reads "forget X": taken back when asked for, left out otherwise.
      Not after 不 ("看不腻").
    - A refusal taken back ("不要惊悚的那个取消吧") reads "remove the no <category> rule".
    - "和 X 差不多的" reads 'similar to "X"' (X not a category: a title, quoted).
    - "把 X 换成 Y" reads "switch X to Y"; "把 X 去掉" reads "remove X".
    - "又 X 又 Y" and "同时是 X 和 Y" read "既 X 又 Y" (both at once).
    """
    cats = sorted(set(categories), key=len, reverse=True)
    clause = r"[^，,。.；;！!？?]"
    cat_rx = "|".join(map(re.escape, cats)) or "(?!)"
    reactions = sorted((str(w) for w in raw.get("refusing_reactions") or []), key=len, reverse=True)
    if reactions and cats:
        react_rx = "|".join(map(re.escape, reactions))
        s = re.sub(rf"({cat_rx})(?:(?!{cat_rx}){clause}){{0,10}}?(?<!不)(?:{react_rx})", r"\1就别来了", s)
    # "歌舞就算了" (never mind X): X is taken back when it was asked for, left out otherwise (read "forget X")
    never_mind = _alts(raw.get("never_mind_after"))
    s = re.sub(rf"({cat_rx})\s*(?:类)?(?:的)?(?:片子|片|电影)?\s*(?:{never_mind})", r" forget \1 ", s)
    markers = "|".join(map(re.escape, raw.get("object_markers") or [])) or "(?!)"
    refusals = "|".join(map(re.escape, raw.get("refusal_words") or [])) or "(?!)"
    taking_back = "|".join(map(re.escape, raw.get("taking_back_verbs") or [])) or "(?!)"
    that = r"(?:的)?(?:那个|这个|那条|这条|那一条)?(?:限制|条件|要求)?(?:就|也|给我|都)?"
    s = re.sub(rf"(?:{refusals})\s*({cat_rx}){that}(?:{taking_back})", r" remove the no \1 rule ", s)
    s = re.sub(rf"(?:{markers})\s*({cat_rx}){that}(?:{taking_back})", r" remove \1 ", s)
    # "和 titanic 差不多的": like that title (the words between are the title, read as quoted)
    withs = "|".join(map(re.escape, raw.get("similar_frame", {}).get("before") or [])) or "(?!)"
    alike = "|".join(map(re.escape, raw.get("similar_frame", {}).get("after") or [])) or "(?!)"
    s = re.sub(
        rf"(?:{withs})\s*((?:(?!{cat_rx})[^，,。.；;！!？?\x00]){{1,40}}?)\s*(?:{alike})", r' similar to "\1" ', s
    )
    verbs = "|".join(map(re.escape, raw.get("replacing_verbs") or [])) or "(?!)"
    s = re.sub(rf"(?:{markers})({clause}{{1,12}}?)(?:{verbs})", r" switch \1 to ", s)
    # "又喜剧又战争的" / "又是X又是Y": both at once, as "既X又Y" reads
    pair = raw.get("both_frame") or {}
    first, second = (str(pair.get(k) or "") for k in ("repeated", "reads"))
    if first and second:
        s = re.sub(
            rf"{re.escape(first)}(\s*(?:是)?\s*(?:{cat_rx})\s*(?:的)?\s*[，,、]?\s*{re.escape(first)})",
            second + r"\1",
            s,
        )
        # "同时是科幻和恐怖的": both, as "既科幻又恐怖" reads
        lead, joins = _alts(pair.get("before_pair")), _alts(pair.get("pair_joins"))
        s = re.sub(rf"(?:{lead})\s*({cat_rx})\s*(?:{joins})\s*({cat_rx})", rf"{second}\1{first}\2", s)
    return s


def canonicalise(text: str, dataset: str | None = None) -> CanonicalText:
    """Rewrite a message to the canonical (English) cue words the rules read.

    English is returned as it is. Chinese is read by longest match against the language file's
    ``canonical`` table plus the domain's Chinese category words and item nouns; numbers, years,
    decades, counts and positions by the patterns here; a quoted title (《...》) is kept in double
    quotes, and one written in Chinese is reported in ``unknown_titles`` (catalog titles may only
    exist in their original spelling). Characters the tables do not know are dropped.
    """
    lang = detect_language(text)
    if lang != "zh":
        return CanonicalText(text, "en", [])
    lex = lexicon(dataset)
    zh = lex.languages["zh"]
    raw = zh.raw
    numerals: dict[str, int] = {str(k): int(v) for k, v in (raw.get("numerals") or {}).items()}
    num = "[" + "".join(numerals) + "]+|\\d+"
    parts: dict[str, str] = {str(k): str(v) for k, v in (raw.get("decade_parts") or {}).items()}
    counters = "".join(raw.get("counters") or ["部", "个"])
    unknown: list[str] = []
    quoted: list[str] = []

    def keep_quote(m: re.Match[str]) -> str:
        title = next(g for g in m.groups() if g is not None).strip()
        if _CJK.search(title):
            unknown.append(title)
        quoted.append(title)
        return f" \x00{len(quoted) - 1}\x00 "

    s = _QUOTED.sub(keep_quote, text)
    # "动画的movie来12部": the domain's English item nouns in a Chinese message are its items (not "movie 12")
    en_nouns = sorted({str(w) for w in lex.domain.nouns.get("en", ())}, key=len, reverse=True)
    if en_nouns:
        s = re.sub(rf"(?i)(?<![a-z])(?:{'|'.join(map(re.escape, en_nouns))})(?![a-z])", " items ", s)
    # phrases with a number character that is no number ("近几年" is recent, not a count of years)
    early = {str(k): str(v) for k, v in (raw.get("before_numbers") or {}).items()}
    for k in sorted(early, key=len, reverse=True):
        s = s.replace(k, f" {early[k]} ")
    before = "|".join(map(re.escape, raw.get("year_before") or ["以前"]))
    after = "|".join(map(re.escape, raw.get("year_after") or ["以后"]))
    between = "|".join(map(re.escape, raw.get("year_range") or ["到"]))
    part_rx = "|".join(sorted(map(re.escape, parts), key=len, reverse=True)) or "初"

    def decade(m: re.Match[str]) -> str:
        n = _zh_number(m.group(1), numerals)
        if n is None:
            return m.group(0)
        start = n if n >= 1000 else (1900 + n if n >= 20 else 2000 + n)
        part = parts.get(m.group(2) or "", "")
        return f" the {part + ' ' if part else ''}{start}s "

    s = re.sub(rf"(\d{{4}})\s*年?\s*(?:{between})\s*(\d{{4}})\s*年?", r" between \1 and \2 ", s)
    # "1978年（含）之前": the year included; "（不含）" is the default (the year not included)
    incl = r"[（(]\s*(?:含|包含|包括)\s*(?:\d{4}\s*年?)?\s*[）)]"
    s = re.sub(rf"(\d{{4}})\s*年?\s*{incl}\s*(?:{before})", r" \1 or earlier ", s)
    s = re.sub(rf"(\d{{4}})\s*年?\s*{incl}\s*(?:{after})", r" \1 or later ", s)
    s = re.sub(r"[（(]\s*不含\s*[）)]", " ", s)
    # "1990年及以后" / "1990年起": that year included, before the bare "以后" (after it) is read
    for key, repl in (("year_on_or_after", " \\1 or later "), ("year_on_or_before", " \\1 or earlier ")):
        s = re.sub(rf"(\d{{4}})\s*年?\s*(?:{_alts(raw.get(key))})", repl, s)
    comp = raw.get("year_comparative") or {}
    marker, earlier, later = _alts(comp.get("marker")), _alts(comp.get("earlier")), _alts(comp.get("later"))
    year_or_decade = rf"(\d{{4}}\s*年?|{_ZH_DECADE_NUM}\s*年代)"
    for cmp_words, prefix, repl in (
        (earlier, "earlier_prefix", " before \\1 "),
        (later, "later_prefix", " after \\1 "),
    ):
        # "比1979年更早的" / "早于1979年": before 1979 (the decade is read below: "比八十年代更早" is before it)
        s = re.sub(rf"(?:{marker})\s*{year_or_decade}\s*(?:的)?\s*(?:{cmp_words})", repl, s)
        s = re.sub(rf"(?<!不)(?:{_alts(comp.get(prefix))})\s*{year_or_decade}", repl, s)  # "不晚于1967年" is read below
    s = re.sub(rf"(\d{{4}})\s*年?\s*(?:{before})", r" before \1 ", s)
    s = re.sub(rf"(\d{{4}})\s*年?\s*(?:{after})", r" after \1 ", s)
    s = re.sub(rf"({_ZH_DECADE_NUM})\s*年代\s*({part_rx})?", decade, s)
    # "九十年代以后": from that decade on; "九十年代以前": before it
    s = re.sub(rf"( the (?:\w+ )?\d{{4}}s )\s*(?:的)?\s*(?:{after})", r"\1 onwards ", s)
    # "八十年代及以后", "九十年代起": from that decade on
    s = re.sub(rf"( the (?:\w+ )?\d{{4}}s )\s*(?:的)?\s*(?:{_alts(raw.get('year_on_or_after'))})", r"\1 onwards ", s)
    s = re.sub(rf"( the (?:\w+ )?\d{{4}}s )\s*(?:的)?\s*(?:{before})", r" before \1 ", s)
    s = re.sub(r"(\d{4})\s*年(?!代)", r" \1 ", s)
    s = re.sub(r"最后一[部个]?", " the last one ", s)

    def position(m: re.Match[str]) -> str:
        n = _zh_number(m.group(1), numerals)
        return f" #{n} " if n else m.group(0)

    # "第一次用": the first time, not the first item
    s = re.sub(
        rf"第\s*({num})\s*(?:次|回|遍)",
        lambda m: f" {'first' if _zh_number(m.group(1), numerals) == 1 else 'another'} time ",
        s,
    )
    s = re.sub(rf"第\s*({num})\s*[{counters}名位]?", position, s)

    def count(m: re.Match[str]) -> str:
        n = _zh_number(m.group(1), numerals)
        if n is None:
            return m.group(0)
        return " a " if n == 1 else f" {n} items "

    # "1985年本身" is the year itself, "两个都要" is both, "其中一个就行" / "满足一个就行" is either, "哪一部" asks which:
    # none is a count
    s = re.sub(rf"(?<!其中)(?<!满足)(?<!任意)(?<!任何)(?<!哪)({num})\s*[{counters}](?![身都])", count, s)
    for vague in sorted(raw.get("vague_counts") or [], key=len, reverse=True):
        s = s.replace(vague, " ")

    table: dict[str, str] = dict(zh.canonical)
    for noun in lex.domain.nouns.get("zh", ()):
        table.setdefault(noun, "items")
    for cat, per in lex.domain.categories.items():
        for w in per.get("zh", ()):
            table[w] = " ".join(tokens(cat))
    for cats, words in lex.domain.combinations:
        for w in words.get("zh", ()):
            table[w] = " ".join(" ".join(tokens(c)) for c in cats)
    for verb in raw.get("taking_back_verbs") or ():
        for this in raw.get("demonstratives") or ():
            for noun, en in (raw.get("rule_nouns") or {}).items():
                table[f"{verb}{this}{noun}"] = f"remove that {en}"  # "去掉这个限制": the rule just named
    s = _zh_frames(s, raw, [w for per in lex.domain.categories.values() for w in per.get("zh", ())])
    longest = max((len(k) for k in table), default=1)
    neg_values = {str(v) for v in (raw.get("negation_values") or [])}
    fillers = sorted((str(w) for w in (raw.get("fillers") or [])), key=len, reverse=True)
    scope_ends = {str(v) for v in (raw.get("scope_ends") or [";", ",", ".", "?", "!", "but"])}
    out: list[str] = []
    run: list[str] = []  # characters the tables do not know, in a row
    negated = False  # inside a negation's scope (from a cue to the end of the phrase)
    unplaced: list[str] = []
    unplaced_negated: list[str] = []
    # the open negation cue: where it stands in ``out``, whether a word the tables know followed it, and
    # whether only unknown words did ("爱情片，别太长": the cue refuses length, never the category before it)
    scope = {"cue": -1, "placed": False, "unplaced": False}

    def flush() -> None:
        word = "".join(run)
        run.clear()
        for f in fillers:  # hedges and particles around the word ("太", "的", "一点")
            word = word.replace(f, " ")
        for w in word.split():
            if len(w) >= 2 or negated:  # "不要太长": one character is a word when it is what is refused
                (unplaced_negated if negated else unplaced).append(w)
                scope["unplaced"] = scope["unplaced"] or negated

    def end_scope() -> None:
        if scope["cue"] >= 0 and scope["unplaced"] and not scope["placed"]:
            out[int(scope["cue"])] = " "  # the refusal is reported in ``unplaced_negated``, not left as a cue
        scope.update(cue=-1, placed=False, unplaced=False)

    i = 0
    while i < len(s):
        ch = s[i]
        if not _CJK.search(ch) and ch not in table:
            if ch.strip():
                flush()
                if ch in scope_ends:
                    negated = False
                    end_scope()
            out.append(ch)
            i += 1
            continue
        for n in range(min(longest, len(s) - i), 0, -1):
            w = s[i : i + n]
            if w in table:
                flush()
                value = table[w]
                if value in neg_values:
                    end_scope()
                    negated = True
                    scope["cue"] = len(out)
                elif value.strip() in scope_ends:
                    negated = False
                    end_scope()
                else:
                    scope["placed"] = True
                out.append(f" {value} ")
                i += n
                break
        else:
            out.append(" ")  # a word the tables do not know (reported in ``unplaced``)
            run.append(ch)
            i += 1
    flush()
    end_scope()
    canon = re.sub(r"\x00(\d+)\x00", lambda m: f'"{quoted[int(m.group(1))]}"', "".join(out))
    # "犯罪的不排除了": a 的 right before what is said of the phrase names the phrase (no scope end)
    canon = re.sub(r"\s;\s+(?=(?:items\s+)?(?:is (?:ok|okay|fine|out)|doesnt matter|whatever)\b)", " ", canon)
    return CanonicalText(
        re.sub(r"\s+", " ", canon).strip(), "zh", unknown, list(dict.fromkeys(unplaced)),
        list(dict.fromkeys(unplaced_negated)),
    )  # fmt: skip
