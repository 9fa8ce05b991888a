"""Faithfulness of the shown explanations: does any sentence a user sees make a false claim?

Chat sessions run through the real :class:`agent.recommender.Recommender` (guided mode, the
configured LLM, default config): warm users (catalog user ids), cold-start sessions
(``user_id=None``: "show me n", then "I liked <a shown title>") and constrained chats ("a <category>
from the <decade>s", "something like <title>", "I liked <a shown title>"). Every explanation on
every card is re-verified with a fresh, strict :class:`agent.claims.ClaimChecker` (and the
grounding guard) against the evidence the turn computed, independently of the writer's own
verdict. The figures:

* ``false_claims``: shown texts with at least one failing claim (required: 0);
* ``llm_first_try``: the LLM's first text per attempted explanation, re-checked strictly;
* ``writers``: the share of shown texts written by the LLM and by the template;
* ``samples``: example shown texts with who wrote them;
* ``wrong_language``: shown texts not written in the sessions' language (``language``: ``en`` or
  ``zh``; a Chinese text is read back into English, :meth:`agent.wording.Wording.canonical`, and
  checked like an English one).

Side effects are kept out of the workspace: the sessions and the feedback the chats state
("I liked X") go to a temporary folder.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ranker.evidence import Evidence

if TYPE_CHECKING:
    from evals.suite import SuiteContext

__all__ = ["FaithfulnessConfig", "evaluate_faithfulness", "run_faithfulness_check"]

SessionKind = Literal["warm", "cold", "constrained"]
Progress = Callable[[int, int, dict[str, Any]], None]


class FaithfulnessConfig(BaseModel):
    """Size of the faithfulness run."""

    sessions: int = Field(
        30, ge=1, description="Chat sessions, split evenly over warm, cold-start and constrained (30: >= 300 texts)."
    )
    n: int = Field(10, ge=1, le=50, description="Items asked for per turn.")
    seed: int = Field(0, description="Seed of the user, category, decade and title draws.")
    samples: int = Field(20, ge=0, description="Shown texts kept in the report.")
    language: Literal["en", "zh"] = Field(
        "en", description="Language the sessions are written in (the replies, and so the explanations, follow it)."
    )


class _RecordingWriter:
    """The engine's writer, recording every explanation with the evidence it was written from."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.records: list[tuple[Evidence, Any]] = []

    def write(self, ev: Evidence, *args: Any, **kw: Any) -> Any:
        x = self.inner.write(ev, *args, **kw)
        self.records.append((ev, x))
        return x

    def write_many(self, evidence: Any, *args: Any, **kw: Any) -> list[Any]:
        evs = list(evidence)
        out = self.inner.write_many(evs, *args, **kw)
        self.records.extend(zip(evs, out, strict=True))
        return list(out)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# The sessions' messages per language ({n}: items asked for, {ask}: a category and a decade, {title}).
_MESSAGES: dict[str, dict[str, str]] = {
    "en": {"show": "Show me {n} picks.", "ask": "a {cat} from the {dec:02d}s", "ask_any": "a {cat}",
           "show_ask": "{ask}, show me {n} picks", "want": "I'd like {ask}. Show me {n} picks.",
           "like_ref": "something like {title}", "liked": "I liked {title}"},
    "zh": {"show": "推荐{n}个", "ask": "{dec:02d}年代的{cat}", "ask_any": "{cat}", "show_ask": "{ask}，推荐{n}个",
           "want": "我想要{ask}，推荐{n}个", "like_ref": "类似《{title}》的", "liked": "我喜欢《{title}》"},
}  # fmt: skip


def _scripts(dataset: Any, cfg: FaithfulnessConfig) -> list[tuple[SessionKind, str | None, list[str]]]:
    """The sessions: kind, user id and the opening messages ("I liked <shown>" is added live)."""
    from agent.understanding.lexicon import lexicon

    say = _MESSAGES[cfg.language]
    lex = lexicon(dataset.name)
    rng = random.Random(cfg.seed)
    cats = sorted({c for it in dataset.items for c in it.categories})
    years = sorted({it.year for it in dataset.items if it.year is not None})
    popular = sorted(dataset.items, key=lambda it: -it.rating.count)[:200]
    users = [u.user_id for u in dataset.users]
    out: list[tuple[SessionKind, str | None, list[str]]] = []
    kinds: list[SessionKind] = ["warm", "cold", "constrained"]
    for k in range(cfg.sessions):
        kind = kinds[k % 3]
        cat = rng.choice(cats) if cats else ""
        dec = (rng.choice(years) // 10 * 10) % 100 if years else None
        word = cat.lower() if cfg.language == "en" else lex.label(cat, cfg.language)
        ask = say["ask"].format(cat=word, dec=dec) if dec is not None else say["ask_any"].format(cat=word)
        show = say["show"].format(n=cfg.n)
        if kind == "warm":
            user = rng.choice(users) if users else None
            out.append((kind, user, [show, say["show_ask"].format(ask=ask, n=cfg.n)]))
        elif kind == "cold":
            out.append((kind, None, [show, "LIKE_SHOWN"]))
        else:
            ref = rng.choice(popular).title if popular else ""
            ref = ref if cfg.language == "en" else _display(ref)  # in 《》 as the catalog displays it
            want = say["want"].format(ask=ask, n=cfg.n)
            out.append((kind, None, [want, say["like_ref"].format(title=ref), "LIKE_SHOWN"]))
    return out


def _display(title: str) -> str:
    from agent.grounding import display_title

    return display_title(title)


def evaluate_faithfulness(
    recommender: Any, cfg: FaithfulnessConfig | None = None, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the sessions and verify every shown explanation (see the module docs).

    Args:
        recommender: A built :class:`agent.recommender.Recommender`, or anything with its
            ``engine`` (the engine is reused; sessions, stored feedback and the writer are swapped
            for private ones during the run).
        cfg: Sizes and seed.
        progress: Called after each session with ``(done, total, running figures)``.

    Returns:
        The report: ``shown``, ``false_claims`` (required 0), ``false_claim_examples``,
        ``guard_failures``, ``writers`` (counts and shares), ``llm_first_try`` (attempted, passed,
        rate under the strict checker), ``by_session_kind``, ``samples``, ``llm_shown`` (every shown
        LLM text, for auditing), ``seconds``.
    """
    from agent.claims import ClaimChecker
    from agent.grounding import GroundingGuard, evidence_facts
    from agent.recommender import Recommender
    from agent.wording import in_language, text_language, wording
    from catalog import Store

    cfg = cfg or FaithfulnessConfig()
    e = recommender.engine
    ds = e.dataset
    strict = ClaimChecker(ds.items)  # a fresh checker: independent of the writer's own verdict
    guard = GroundingGuard([it.title for it in ds.items])
    t0 = time.perf_counter()
    shown: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    guard_failures = 0
    wrong_language = 0
    from_cards = 0
    by_kind: Counter[str] = Counter()
    false_by_kind: Counter[str] = Counter()
    turns = 0
    errors: list[dict[str, Any]] = []
    scripts = _scripts(ds, cfg)
    with tempfile.TemporaryDirectory(prefix="trustrec-faithfulness-") as tmp:
        rec_writer = _RecordingWriter(e.writer)
        store = Store(Path(tmp) / "store.sqlite3")
        e2 = dataclasses.replace(e, writer=rec_writer, store=store)
        if hasattr(e, "semantic"):
            e2.semantic = e.semantic
        rec = Recommender(e2, sessions_path=Path(tmp) / "sessions.sqlite3")
        try:
            for k, (kind, user, messages) in enumerate(scripts):
                sid = f"faith-{cfg.seed}-{k}"
                last_titles: list[str] = []
                for msg in messages:
                    if msg == "LIKE_SHOWN":
                        if not last_titles:
                            continue
                        msg = _MESSAGES[cfg.language]["liked"].format(title=last_titles[0])
                    turns += 1
                    try:
                        reply = rec.chat(sid, msg, user)
                    except Exception as exc:  # a turn that crashes shows nothing: count it, go on
                        errors.append({"session": sid, "kind": kind, "user_id": user, "message": msg,
                                       "error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
                        continue
                    evidence = _turn_evidence(rec, sid)
                    if reply.cards:
                        last_titles = [_display(c.title) for c in reply.cards]
                    for card in reply.cards:
                        ev = evidence.get(card.item_id)
                        if ev is None:
                            ev, from_cards = _card_evidence(card), from_cards + 1
                        # a Chinese text is read back into English and checked like an English one
                        canon = wording(text_language(card.explanation)).canonical(card.explanation)
                        v = strict.check(canon, ev)
                        g = guard.check(canon, _guard_facts(ev, strict, evidence_facts))
                        guard_failures += not g.ok
                        titles = [card.title, *(h.title for h in ev.history)]
                        titles += [_display(t) for t in titles]
                        wrong_language += not in_language(card.explanation, cfg.language, titles)
                        by_kind[kind] += 1
                        row = {"session": sid, "kind": kind, "user_id": user, "message": msg,
                               "item_id": card.item_id, "title": card.title, "text": card.explanation,
                               "writer": card.writer, "history": len(ev.history),
                               "positive_history": sum(h.value > 0 for h in ev.history)}  # fmt: skip
                        shown.append(row)
                        if not v.ok:
                            false_by_kind[kind] += 1
                            failures.append({**row, "reasons": v.reasons})
                if progress is not None:
                    progress(k + 1, len(scripts), {"shown": len(shown), "false_claims": len(failures)})
        finally:
            rec.close()
            store.close()
    # the LLM's first try, re-checked strictly
    attempted = passed = passed_guard = 0
    first_fail: Counter[str] = Counter()
    for ev, x in rec_writer.records:
        first = x.rejected[0] if x.rejected else (x.text if x.writer == "llm" else None)
        if first is None:
            continue
        attempted += 1
        first = wording(text_language(first)).canonical(first)
        v = strict.check(first, ev)
        passed += v.ok
        passed_guard += guard.check(first, _guard_facts(ev, strict, evidence_facts)).ok
        first_fail.update(r.split(":")[0] for r in v.reasons)
    n_shown = len(shown)
    writers = Counter(r["writer"] for r in shown)
    rng = random.Random(cfg.seed)
    llm_rows = [r for r in shown if r["writer"] == "llm"]
    tpl_rows = [r for r in shown if r["writer"] != "llm"]
    k_llm = min(len(llm_rows), cfg.samples // 2 if tpl_rows else cfg.samples)
    samples = rng.sample(llm_rows, k_llm) + rng.sample(tpl_rows, min(len(tpl_rows), cfg.samples - k_llm))
    return {
        "sessions": len(scripts),
        "turns": turns,
        "n": cfg.n,
        "seed": cfg.seed,
        "shown": n_shown,
        "false_claims": len(failures),
        "false_claim_rate": len(failures) / n_shown if n_shown else 0.0,
        "false_claim_examples": failures[:20],
        "guard_failures": guard_failures,
        "language": cfg.language,
        "wrong_language": wrong_language,
        "turn_errors": len(errors),
        "turn_error_examples": errors[:10],
        "evidence_from_cards": from_cards,
        "writers": {
            "llm": writers.get("llm", 0),
            "template": n_shown - writers.get("llm", 0),
            "llm_share": writers.get("llm", 0) / n_shown if n_shown else 0.0,
            "template_share": (n_shown - writers.get("llm", 0)) / n_shown if n_shown else 0.0,
        },
        "llm_first_try": {
            "attempted": attempted,
            "passed_claims": passed,
            "pass_rate": passed / attempted if attempted else None,
            "passed_guard": passed_guard,
            "guard_pass_rate": passed_guard / attempted if attempted else None,
            "top_failed_claim_kinds": dict(first_fail.most_common(8)),
        },
        "by_session_kind": {k: {"shown": by_kind[k], "false_claims": false_by_kind[k]} for k in sorted(by_kind)},
        "backend": e.config.llm.backend if e.llm is not None else "none",
        "prompt_version": getattr(getattr(e.writer, "prompt", None), "version", None) if e.llm is not None else None,
        "samples": [{k: r[k] for k in ("kind", "title", "writer", "text")} for r in samples],
        "llm_shown": [{k: r[k] for k in ("kind", "title", "text")} for r in llm_rows],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _turn_evidence(rec: Any, session_id: str) -> dict[str, Evidence]:
    """The evidence the last turn's write step used, from the session's checkpoint."""
    try:
        snap = rec.sessions.graph.get_state(rec.sessions.graph_config(session_id))
        rows = (snap.values or {}).get("evidence") or []
    except Exception:  # a checkpoint that cannot be read: fall back to the cards
        return {}
    out = {}
    for r in rows:
        ev = Evidence.model_validate(r)
        out[ev.item_id] = ev
    return out


def _card_evidence(card: Any) -> Evidence:
    return Evidence(item_id=card.item_id, title=card.title, year=card.year, categories=list(card.categories),
                    score=card.score, base_value=card.base_value, history=list(card.history),
                    features=dict(card.features), trust=card.trust)  # fmt: skip


def _guard_facts(ev: Evidence, checker: Any, evidence_facts: Callable[[Evidence], Any]) -> Any:
    facts = evidence_facts(ev)
    for h in ev.history:
        it = checker.items.get(h.item_id)
        if h.value > 0 and it is not None:
            if it.year is not None:
                facts.numbers.update({str(it.year), str(it.year // 10 * 10)})
            facts.categories.extend(c for c in it.categories if c not in facts.categories)
    return facts


def run_faithfulness_check(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """The ``faithfulness`` suite check.

    Params: the fields of :class:`FaithfulnessConfig`, plus ``llm`` (default true: the configured
    LLM writes; false: templates only, fast). Metrics: ``shown``, ``false_claims``,
    ``false_claim_rate``, ``llm_share``, ``llm_first_try_pass_rate``, ``guard_failures``.
    """
    params = dict(params)
    use_llm = bool(params.pop("llm", True))
    cfg = FaithfulnessConfig.model_validate(params)
    rec: Any = ctx.recommender()
    if not use_llm:
        from types import SimpleNamespace

        from agent.writer import ExplanationWriter

        e = rec.engine
        e2 = dataclasses.replace(e, llm=None, writer=ExplanationWriter(None, e.config.llm, catalog=e.dataset.items))
        if hasattr(e, "semantic"):
            e2.semantic = e.semantic
        rec = SimpleNamespace(engine=e2)
    res = evaluate_faithfulness(rec, cfg, progress=lambda d, t, f: ctx.say(f"  session {d}/{t}: {f}"))
    metrics = {
        "shown": res["shown"],
        "false_claims": res["false_claims"],
        "false_claim_rate": res["false_claim_rate"],
        "guard_failures": res["guard_failures"],
        "turn_errors": res["turn_errors"],
        "llm_share": res["writers"]["llm_share"],
        "llm_first_try_pass_rate": res["llm_first_try"]["pass_rate"]
        if res["llm_first_try"]["pass_rate"] is not None
        else float("nan"),
        "llm": use_llm,
    }
    artifacts = {
        "faithfulness_writers": {
            "type": "bars",
            "title": f"Shown explanations by writer ({res['shown']} texts, {res['false_claims']} with a false claim)",
            "labels": ["llm", "template"],
            "series": {"texts": [res["writers"]["llm"], res["writers"]["template"]]},
        }
    }
    notes = [f"{s['writer']}: {s['text']}" for s in res["samples"]]
    notes += [f"FALSE: {f['text']} -- {f['reasons']}" for f in res["false_claim_examples"]]
    notes += [f"turn error: {x['message']!r} ({x['kind']}): {x['error']}" for x in res["turn_error_examples"]]
    return {"metrics": metrics, "artifacts": artifacts, "notes": notes}
