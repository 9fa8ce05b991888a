"""The understanding evaluation: a paraphrase set built from templates x the catalog's vocabulary.

Templates (``evals/suites/understanding/{heldout,dev}.yaml``) are phrasings with placeholders for
categories, titles, decades, years, counts and positions; each is filled several times from the
catalog's own vocabulary (its category names, the domain file's Chinese category words, its most
rated titles, its years). The held-out templates are written blind (by someone who has not read
the parser) and frozen; the parser may only be tuned on the dev templates. A held-out split is
measured clean once; its templates then move to ``dev.yaml`` (kept ids, with a comment saying
when) and the next held-out version replaces them. Between versions the held-out split may be
empty (or its file missing): the report then lists it under ``empty_splits`` and has no figures
for it, rather than failing.

Two figures per category and split:

* **exact match**: the constraints after the last turn equal the expected ones (included
  categories and whether all are required, excluded categories, year bounds, list length,
  reference items, an empty free-text query; a focused item for position references; a question
  back for titles the catalog cannot spell);
* **honoured** (``--full``, the real recommender): every item shown in the last turn (after a closing
  chit-chat turn such as "thanks!", the last list shown) honours what was asked (the expected categories and years; the referenced item itself is not shown; a
  position reference shows that item; a question back shows none). An empty list where items
  were asked for is not honoured.

The parser-only mode (the default for tests) keeps a stand-in list (the most rated items that
satisfy the constraints) so positions can be resolved without the ranker.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from agent.state import Constraints, DialogState
from agent.understanding import CatalogVocab, Intent, UnderstandConfig, apply_understanding, title_variants, understand
from catalog.types import Item

Split = Literal["heldout", "dev"]
SPLITS: tuple[Split, ...] = ("heldout", "dev")
CATEGORIES = (
    "negation",
    "combination",
    "typo",
    "removal",
    "relative_years",
    "title_reference",
    "position_reference",
    "multi_turn",
    "chinese",
)
_ORDINALS = ["first", "second", "third", "fourth", "fifth"]
_ZH_TENS = {3: "三十", 4: "四十", 5: "五十", 6: "六十", 7: "七十", 8: "八十", 9: "九十"}


@dataclass(frozen=True)
class Template:
    id: str
    category: str
    lang: str
    turns: tuple[str, ...]
    expect: dict[str, Any]
    split: Split
    pair: bool = False


@dataclass
class Case:
    """One filled template: the messages and the expected outcome."""

    template: str
    category: str
    split: Split
    lang: str
    turns: list[str]
    expect: dict[str, Any]
    pos: int | None = None


@dataclass
class Outcome:
    case: Case
    exact: bool
    honoured: bool | None = None
    got: dict[str, Any] = field(default_factory=dict)
    why: str = ""


def load_templates(split: Split, suite_dir: Path | None = None) -> tuple[list[Template], dict[str, Any]]:
    """The templates of one split (and the file's other data, e.g. Chinese titles); none when the
    split's file is missing or lists no templates. ``suite_dir`` defaults to the packaged suite."""
    path: Any = (
        suite_dir / f"{split}.yaml"
        if suite_dir is not None
        else resources.files("evals").joinpath("suites", "understanding", f"{split}.yaml")
    )
    if not path.is_file():
        return [], {}  # a split not written yet (held-out v3): measured as empty, reported as such
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(
            f"evals/suites/understanding/{split}.yaml: expected a mapping with 'templates', got {raw!r:.80}"
        )
    out = []
    for k, t in enumerate(raw.get("templates") or []):
        missing = [x for x in ("id", "category", "lang", "turns", "expect") if x not in t]
        if missing:
            raise ValueError(f"evals/suites/understanding/{split}.yaml: template {k} lacks {missing}")
        if t["category"] not in CATEGORIES:
            raise ValueError(f"{split}.yaml: template {t['id']}: unknown category {t['category']!r}")
        out.append(
            Template(
                id=t["id"], category=t["category"], lang=t["lang"], turns=tuple(t["turns"]), expect=dict(t["expect"]),
                split=split, pair=bool(t.get("pair", False)),
            )
        )  # fmt: skip
    return out, raw


class _Fill:
    """The catalog vocabulary the templates are filled from."""

    def __init__(self, vocab: CatalogVocab, min_items: int = 20) -> None:
        self.vocab = vocab
        items = vocab.items
        counts: dict[str, int] = {}
        for it in items:
            for c in it.categories:
                counts[c] = counts.get(c, 0) + 1
        self.cats = sorted(c for c, k in counts.items() if k >= min_items and c.lower() != "unknown")
        self.sets = {c: {i for i, it in enumerate(items) if c in it.categories} for c in self.cats}
        lex = vocab.lexicon
        self.zh = {c: lex.synonyms(c, "zh")[0] for c in self.cats if lex.synonyms(c, "zh")}
        self.nouns = lex.domain.reply_nouns.get("en", {"one": "item", "many": "items"})
        self.zh_noun = (lex.domain.nouns.get("zh") or ["项目"])[0]
        order = np.argsort(-np.asarray([it.rating.count for it in items]))
        self.titles: list[tuple[str, str]] = []
        for i in order[:120]:
            typed = title_variants(items[int(i)].title)[0]
            if typed.replace(" ", "").isalpha() and len(typed.split()) <= 5 and len(typed) >= 4:
                self.titles.append((typed, items[int(i)].item_id))
            if len(self.titles) >= 60:
                break
        yr = vocab.year_range or (1950, 2000)
        self.newest = yr[1]

    def surface(self, cat: str) -> str:
        return cat.lower()

    def typo(self, word: str, rng: np.random.Generator) -> str:
        """One transposition or one dropped letter inside the word (the first letter kept)."""
        if len(word) < 4:
            return word
        if rng.random() < 0.5:
            i = int(rng.integers(1, len(word) - 2))
            w = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            if w != word:
                return w
        i = int(rng.integers(1, len(word) - 1))
        return word[:i] + word[i + 1 :]


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def build_cases(
    vocab: CatalogVocab,
    *,
    per_template: int = 7,
    seed: int = 0,
    splits: Sequence[Split] = SPLITS,
    suite_dir: Path | None = None,
) -> list[Case]:
    """Fill every template ``per_template`` times from the catalog's vocabulary (deterministic by seed)."""
    f = _Fill(vocab)
    cases: list[Case] = []
    for split in splits:
        templates, raw = load_templates(split, suite_dir)
        zh_titles = list(raw.get("zh_titles", []))
        for t in templates:
            rng = np.random.default_rng([seed, zlib.crc32(t.id.encode())])
            seen: set[tuple[str, ...]] = set()
            for _ in range(per_template * 6):
                if len(seen) >= per_template:
                    break
                case = _fill(t, f, rng, zh_titles)
                if case is None or tuple(case.turns) in seen:
                    continue
                seen.add(tuple(case.turns))
                cases.append(case)
    return cases


def _fill(t: Template, f: _Fill, rng: np.random.Generator, zh_titles: list[str]) -> Case | None:
    cats = list(f.zh) if t.lang == "zh" else f.cats
    text = " ".join(t.turns)
    if "{typo1}" in text:
        cats = [c for c in cats if f.surface(c).isalpha() and len(f.surface(c)) >= 6]
    g1 = cats[int(rng.integers(len(cats)))]
    others = [c for c in cats if c != g1]
    if t.pair:  # two categories that items share often enough to show a list of both
        others = [c for c in others if len(f.sets[g1] & f.sets[c]) >= 8]
    elif "g2" in str(t.expect.get("exclude", [])):
        others = [c for c in others if len(f.sets[g1] - f.sets[c]) >= 20]
    if not others:
        return None
    g2 = others[int(rng.integers(len(others)))]
    decade = int(rng.integers(3, 10)) * 10
    dec_forms = [f"{decade}s", f"19{decade}s", f"'{decade}s"]
    y = int(rng.integers(1950, 1996))
    n = int(rng.integers(2, 16))
    pos = int(rng.integers(1, 6))
    if "focus" in t.expect and any("{n}" in turn for turn in t.turns):
        pos = min(pos, n)  # "3 westerns" then "why the fifth?" asks back: a position within the list asked for
    t1, t1_id = f.titles[int(rng.integers(len(f.titles)))]
    values = {
        "g1": f.surface(g1), "g2": f.surface(g2), "a_g1": _article(f.surface(g1)), "a_g2": _article(f.surface(g2)),
        "z1": f.zh.get(g1, ""), "z2": f.zh.get(g2, ""), "typo1": f.typo(f.surface(g1), rng), "t1": t1,
        "dec": dec_forms[int(rng.integers(len(dec_forms)))], "zdec": _ZH_TENS[decade // 10] + "年代", "y": str(y),
        "n": str(n), "pos": str(pos), "ord": _ORDINALS[pos - 1], "item": f.nouns["one"], "items": f.nouns["many"],
        "zitem": f.zh_noun, "zt": zh_titles[int(rng.integers(len(zh_titles)))] if zh_titles else "",
    }  # fmt: skip
    if t.lang == "zh" and (not values["z1"] or not values["z2"]):
        return None
    turns = [s.format(**values) for s in t.turns]
    lo = 1900 + decade
    symbols: dict[str, Any] = {
        "g1": g1, "g2": g2, "dec.lo": lo, "dec.hi": lo + 9, "y": y, "y+1": y + 1, "y-1": y - 1, "n": n, "t1": t1_id,
        "not_old": f.newest - UnderstandConfig().not_old_age,
        "recent": f.newest - UnderstandConfig().recent_years + 1,
        "classic": f.newest - UnderstandConfig().classic_age, "pos": pos,
    }  # fmt: skip
    exp: dict[str, Any] = {}
    for key, val in t.expect.items():
        if isinstance(val, list):
            exp[key] = [symbols[v] for v in val]
        elif isinstance(val, str):
            exp[key] = symbols[val]
        else:
            exp[key] = val
    case = Case(
        template=t.id, category=t.category, split=t.split, lang=t.lang, turns=turns, expect=exp,
        pos=pos if "focus" in t.expect else None,
    )  # fmt: skip
    if not exp.get("clarify") and sum(honours(it, case) for it in f.vocab.items) < 10:
        return None  # too few items could honour it: the case would test the catalog, not the understanding
    return case


def expected_constraints(case: Case) -> dict[str, Any]:
    e = case.expect
    return {
        "include": sorted(e.get("include", [])),
        "include_all": bool(e.get("include_all", False)),
        "exclude": sorted(e.get("exclude", [])),
        "year_min": e.get("year_min"),
        "year_max": e.get("year_max"),
        "n": e.get("n"),
        "refs": sorted(e.get("refs", [])),
        "query": "",
    }


def got_constraints(c: Constraints) -> dict[str, Any]:
    return {
        "include": sorted(c.include_categories),
        "include_all": bool(c.include_all and len(c.include_categories) > 1),
        "exclude": sorted(c.exclude_categories),
        "year_min": c.year_min,
        "year_max": c.year_max,
        "n": c.n,
        "refs": sorted(c.reference_item_ids),
        "query": c.query,
    }


def honours(item: Item, case: Case) -> bool:
    """Whether one shown item honours what the case asked for."""
    e = case.expect
    cats = set(item.categories)
    inc = set(e.get("include", []))
    if inc and not (inc <= cats if e.get("include_all") else cats & inc):
        return False
    if cats & set(e.get("exclude", [])):
        return False
    if item.item_id in set(e.get("refs", [])):
        return False
    y = item.year
    if e.get("year_min") is not None and (y is None or y < e["year_min"]):
        return False
    return not (e.get("year_max") is not None and (y is None or y > e["year_max"]))


def _stand_in(vocab: CatalogVocab, c: Constraints, n: int) -> list[str]:
    """The most rated items that satisfy ``c`` (the parser-only mode's list)."""
    flt = c.filters()
    ok = [it for it in vocab.items if flt.matches(it)]
    ok.sort(key=lambda it: -it.rating.count)
    return [it.item_id for it in ok[:n]]


_LIST = (Intent.RECOMMEND, Intent.REFINE, Intent.FEEDBACK)


def run_parser(case: Case, vocab: CatalogVocab, config: UnderstandConfig | None = None) -> Outcome:
    """The case through the real parser only (no ranker): exact match of the constraints."""
    state = DialogState(session_id="eval")
    expected_item: str | None = None
    last = None
    for k, msg in enumerate(case.turns):
        if k == len(case.turns) - 1 and case.pos is not None:
            expected_item = state.shown[case.pos - 1] if len(state.shown) >= case.pos else None
        last = understand(msg, state, vocab, config)
        state = apply_understanding(state, last)
        if last.intent in _LIST and not last.clarify:
            state.record_shown(_stand_in(vocab, state.constraints, state.constraints.n or 10))
    assert last is not None
    return _judge(case, state.constraints, last.clarify, [r.item_id for r in last.items], expected_item)


def _judge(case: Case, c: Constraints, clarify: str | None, focus: list[str], expected_item: str | None) -> Outcome:
    got = got_constraints(c)
    if case.expect.get("clarify"):
        ok = bool(clarify)
        return Outcome(case, ok, got=got, why="" if ok else "did not ask")
    want = expected_constraints(case)
    diff = [k for k in want if want[k] != got[k]]
    if case.pos is not None and (expected_item is None or focus[:1] != [expected_item]):
        diff.append("focus")
    if clarify:
        diff.append("asked")
    return Outcome(case, not diff, got=got, why=", ".join(diff))


@contextmanager
def _list_only(engine: Any) -> Iterator[None]:
    """Install the conversation evaluation's list-only explainer (same lists, no SHAP) for speed."""
    from evals.conversation import _Probe

    with engine.lock:
        old = engine.explainer
        engine.explainer = _Probe(old, explain=False)
    try:
        yield
    finally:
        with engine.lock:
            engine.explainer = old


def run_full(case: Case, rec: Any, session_id: str) -> Outcome:
    """The case through the real recommender (guided mode): exact match and honoured."""
    e = rec.engine
    prev: list[str] = []
    reply = listed = None
    for msg in case.turns:
        before = prev
        reply = rec.chat(session_id, msg)
        if reply.cards and reply.intent in ("recommend", "refine", "feedback"):
            prev, listed = [c.item_id for c in reply.cards], reply
    assert reply is not None
    dialog = rec._dialog(session_id)
    expected_item = before[case.pos - 1] if case.pos is not None and len(before) >= case.pos else None
    is_question = not reply.cards and reply.intent not in ("help", "chitchat")
    focus = [c.item_id for c in reply.cards[:1]] if reply.intent in ("explain", "describe") else []
    out = _judge(case, dialog.constraints, reply.text if is_question and case.expect.get("clarify") else None,
                 focus, expected_item)  # fmt: skip
    if case.expect.get("clarify"):
        out.honoured = is_question
    elif case.pos is not None:
        out.honoured = bool(focus) and focus == [expected_item]
    else:
        # after a closing "thanks!" (chit-chat, no cards) the list the person is looking at is the last one shown
        closing = not reply.cards and reply.intent in ("help", "chitchat") and listed is not None
        shown = listed if closing and listed is not None else reply
        items = [e.dataset.items[e.dataset.item_index[c.item_id]] for c in shown.cards]
        out.honoured = bool(items) and all(honours(it, case) for it in items)
    return out


def summarize(outcomes: Sequence[Outcome], full: bool) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for split in SPLITS:
        rows: dict[str, Any] = {}
        for cat in CATEGORIES:
            sub = [o for o in outcomes if o.case.split == split and o.case.category == cat]
            if not sub:
                continue
            row: dict[str, Any] = {"requests": len(sub), "exact_match": sum(o.exact for o in sub) / len(sub)}
            if full:
                row["honoured"] = sum(bool(o.honoured) for o in sub) / len(sub)
            rows[cat] = row
        if rows:
            allsub = [o for o in outcomes if o.case.split == split]
            total: dict[str, Any] = {"requests": len(allsub), "exact_match": sum(o.exact for o in allsub) / len(allsub)}
            if full:
                total["honoured"] = sum(bool(o.honoured) for o in allsub) / len(allsub)
            res[split] = {"categories": rows, "all": total}
    return res


def evaluate_understanding(
    vocab: CatalogVocab,
    *,
    rec: Any | None = None,
    per_template: int = 7,
    seed: int = 0,
    splits: Sequence[Split] = SPLITS,
    progress: Callable[[int, int], None] | None = None,
    limit: int | None = None,
    suite_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the paraphrase set; with ``rec`` (a :class:`agent.Recommender`) also the honoured figure.

    Returns:
        ``{"requests", "turns", "seconds", "full", "<split>": {"categories": {cat: {...}}, "all": {...}},
        "failures": [...], "empty_splits": [...]}`` (failures name the template, the messages, and what
        differed; a split without templates is listed in ``empty_splits`` and has no figures).
    """
    cases = build_cases(vocab, per_template=per_template, seed=seed, splits=splits, suite_dir=suite_dir)
    if limit is not None:
        cases = cases[:limit]
    t0 = time.perf_counter()
    outcomes: list[Outcome] = []
    ctx = _list_only(rec.engine) if rec is not None else contextmanager(lambda: iter([None]))()
    with ctx:
        for k, case in enumerate(cases):
            if rec is None:
                outcomes.append(run_parser(case, vocab))
            else:
                outcomes.append(run_full(case, rec, f"eval-understanding-{seed}-{k}-{int(t0)}"))
            if progress is not None:
                progress(k + 1, len(cases))
    out: dict[str, Any] = {
        "requests": len(cases),
        "turns": sum(len(c.turns) for c in cases),
        "languages": sorted({c.lang for c in cases}),
        "templates": {s: len({c.template for c in cases if c.split == s}) for s in splits},
        "empty_splits": [s for s in splits if not any(c.split == s for c in cases)],
        "seconds": round(time.perf_counter() - t0, 1),
        "full": rec is not None,
        **summarize(outcomes, rec is not None),
        "failures": [
            {
                "split": o.case.split, "category": o.case.category, "template": o.case.template,
                "turns": o.case.turns, "why": o.why, "honoured": o.honoured, "got": o.got,
                "expected": expected_constraints(o.case),
            }
            for o in outcomes
            if not o.exact or o.honoured is False
        ],
    }  # fmt: skip
    return out


__all__ = ["CATEGORIES", "SPLITS", "Case", "build_cases", "evaluate_understanding", "run_parser"]
