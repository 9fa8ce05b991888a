"""The explanation writer: one or two sentences per recommended item, from its evidence only.

:class:`ExplanationWriter` renders the :class:`~ranker.evidence.Evidence` into a prompt (item and
history titles quoted as data), asks the LLM, and checks the answer with the
:class:`~agent.grounding.GroundingGuard`. A failing answer is regenerated up to
``LLMConfig.grounding_retries`` times; then, or when the LLM is unavailable or times out, the
evidence is rendered by :func:`~agent.grounding.template_explanation`. Every text, the LLM's and
the template's, must also pass the :class:`~agent.claims.ClaimChecker` (each claim true of the
evidence and the catalog: who liked what, which title is recommended, years, categories,
audiences, popularity). Every :class:`Explanation` says which writer produced it, whether it is
grounded and whether its claims were verified.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Literal

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.claims import ClaimChecker, ClaimVerdict
from agent.config import LLMConfig
from agent.grounding import (
    Facts,
    GroundingGuard,
    display_title,
    evidence_facts,
    evidence_line,
    template_explanation,
    top_history_title,
)
from agent.llm.backends import complete, complete_many, model_label, prompt_style
from agent.llm.errors import LLMError
from agent.prompts import Prompt, load_prompt
from agent.understanding.lexicon import Lexicon
from agent.wording import in_language, text_language, wording
from catalog.types import Item
from ranker.evidence import Evidence

Writer = Literal["llm", "template"]
TEMPLATE_VERSION = "template/1"
"""The prompt version of template explanations (stored batch results are keyed by it)."""


class Explanation(BaseModel):
    """An explanation with its provenance."""

    item_id: str
    text: str
    writer: Writer = Field(
        description="'llm' when the model's text passed the guard and the claim checker, else 'template'."
    )
    grounded: bool = Field(description="The shown text passed the grounding guard.")
    attempts: int = Field(description="LLM generations tried (0 when the LLM was not reachable).")
    first_try_grounded: bool = Field(description="The first LLM generation passed the guard and the claim checker.")
    reasons: list[str] = Field(default_factory=list, description="Why rejected LLM texts failed, or the LLM error.")
    rejected: list[str] = Field(default_factory=list, description="The LLM texts the guard or the checker rejected.")
    verified: bool | None = Field(
        None, description="The shown text passed the claim checker (None: not checked, e.g. built elsewhere)."
    )
    claim_failures: list[str] = Field(
        default_factory=list, description="Claims of the shown text that failed (empty when verified)."
    )
    llm_failed: bool = Field(
        False, description="The LLM could not be reached or timed out (not a text the checks rejected)."
    )
    prompt_version: str
    backend: str
    model: str
    seconds: float = Field(description="Wall time to produce this explanation.")


class ExplanationWriter:
    """Writes grounded explanations whose claims are verified (see module docs).

    Args:
        llm: The chat model; None means template only.
        cfg: Limits (timeout, retries) and backend name for provenance.
        catalog: The catalog items: titles for the guard, years and categories for the claim checker.
        catalog_titles: Every catalog title, when the items are not at hand (the claim checker then
            knows only the titles and the years written in them).
        style: Prompt style; default from the backend (``fewshot`` for the embedded base model).
        lexicon: The catalog's lexicon: names categories in the person's language (default: the
            catalog's own spelling in every language).
    """

    def __init__(
        self,
        llm: BaseChatModel | None,
        cfg: LLMConfig | None = None,
        *,
        catalog: Iterable[Item] | None = None,
        catalog_titles: Iterable[str] = (),
        style: str | None = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.llm = llm
        self.lexicon = lexicon
        self.cfg = cfg or LLMConfig()
        self.prompt: Prompt = load_prompt("explain", style or prompt_style(self.cfg))
        items = list(catalog) if catalog is not None else _title_items(catalog_titles)
        self.guard = GroundingGuard([it.title for it in items])
        self.checker = ClaimChecker(items)

    def facts(self, ev: Evidence) -> Facts:
        """The guard's facts: the evidence plus the catalog years and categories of the liked items."""
        facts = evidence_facts(ev)
        for h in ev.history:
            it = self.checker.items.get(h.item_id)
            if h.value > 0 and it is not None:
                if it.year is not None:
                    facts.numbers.update({str(it.year), str(it.year // 10 * 10)})
                facts.categories.extend(c for c in it.categories if c not in facts.categories)
        return facts

    def verify(self, text: str, ev: Evidence, language: str | None = None) -> tuple[bool, ClaimVerdict, list[str]]:
        """``(ok, claim verdict, reasons)``: the text passes the guard and every claim holds.

        A text in another language than English (Chinese) is read back into canonical English first
        (:meth:`agent.wording.Wording.canonical`) and checked like an English one. With ``language``
        (the turn's), the text must also be written in it (:func:`agent.wording.in_language`).
        """
        canon = wording(text_language(text)).canonical(text)
        g = self.guard.check(canon, self.facts(ev))
        v = self.checker.check(canon, ev)
        reasons = [*g.reasons, *v.reasons]
        spoken = language is None or in_language(text, language, self._titles(ev))
        if not spoken:
            reasons.append(f"not written in the person's language ({language})")
        return g.ok and v.ok and spoken, v, reasons

    @staticmethod
    def _titles(ev: Evidence) -> list[str]:
        """Names a text keeps as the catalog spells them (titles, categories, matches), whatever its language."""
        out = [ev.title, *(h.title for h in ev.history)]
        return [*out, *(display_title(t) for t in out), *ev.categories, *ev.matches]

    @property
    def version(self) -> str:
        """What this writer's texts are stored under: the template's version without an LLM, else the
        prompt's version and the model's name (``explain-chat/1@<model>``)."""
        return stored_version(self.prompt.version, self.llm)

    def stored(self, ev: Evidence, language: str = "en") -> Explanation | None:
        """The batch run's text stored with ``ev`` when it is this writer's (same version), in ``language``,
        and passes the guard and the claim checker again now; else None (the caller writes live).

        Where the batch's LLM failed the checks on every try (the template's text was stored), the template is
        returned: the LLM is not asked again for the same evidence. Batch texts are English.
        """
        st = ev.stored_text
        if st is None or st.prompt_version != self.version or self.llm is None:
            return None
        if st.writer == "template":
            return self.template(ev, language) if language == "en" else None
        ok, _verdict, _why = self.verify(st.text, ev, language)
        if not ok:
            return None
        model = st.prompt_version.split("@", 1)[-1]
        return Explanation(item_id=ev.item_id, text=st.text, writer="llm", grounded=True, attempts=0,
                           first_try_grounded=True, prompt_version=self.prompt.version, backend=self.cfg.backend,
                           model=model, seconds=0.0, verified=True)  # fmt: skip

    def writes(self, language: str) -> bool:
        """Whether the LLM is asked to write in ``language`` (the prompt's ``languages``; empty: any)."""
        return not self.prompt.languages or language in self.prompt.languages

    def label(self, category: str, language: str = "en") -> str:
        """How ``category`` is named in ``language`` (the domain file's word; else the catalog's spelling)."""
        return self.lexicon.label(category, language) if self.lexicon is not None else category

    def _messages(self, ev: Evidence, language: str = "en") -> tuple[list[BaseMessage], str]:
        """The prompt messages for ``ev`` and the answer's prefill ("" when none).

        ``language`` is the person's language (:func:`agent.understanding.detect_language`): the
        prompt asks the LLM to write in it (the language file's ``prompt_language``).
        """
        msgs = self.prompt.messages(evidence=evidence_line(ev))
        if language != "en":
            from agent.understanding.lexicon import language as language_data

            ask = language_data(language).raw.get("prompt_language")
            if ask:
                msgs[0] = SystemMessage(f"{msgs[0].content} {ask}")
        prefill = _prefill(ev) if self.prompt.style == "fewshot" else ""
        if prefill:
            # A base model continues text: starting its answer with the strongest evidence
            # makes it name the top attributed history item (the guard requires it).
            msgs.append(AIMessage(prefill))
        return msgs, prefill

    def write(self, ev: Evidence, language: str = "en", *, first: str | LLMError | None = None) -> Explanation:
        """One explanation for ``ev``; never raises for LLM failures (falls back to the template).

        Args:
            ev: The evidence to explain.
            language: The person's language; the text must pass the same guard and claim checks in
                it, and the deterministic fallback is the template.
            first: The first generation when it was already made (by :meth:`write_many`'s batch),
                or the error that batch raised; None generates it here.
        """
        t0 = time.perf_counter()
        reasons: list[str] = []
        rejected: list[str] = []
        attempts = 0
        llm_failed = False
        backend = self.cfg.backend if self.llm is not None else "none"
        model = model_label(self.llm) if self.llm is not None else "none"
        if self.llm is not None and not self.writes(language):
            reasons.append(f"prompt {self.prompt.version} is not written for {language!r}: the template is shown")
        elif self.llm is not None:
            msgs, prefill = self._messages(ev, language)
            for attempt in range(1 + self.cfg.grounding_retries):
                attempts += 1
                try:
                    if attempt == 0 and isinstance(first, LLMError):
                        raise first
                    # Retries sample a little so they can differ from the greedy first try.
                    llm = self.llm if attempt == 0 else _with_temperature(self.llm, 0.7)
                    if attempt == 0 and isinstance(first, str):
                        out = first
                    else:
                        out = complete(llm, msgs, timeout_s=self.cfg.timeout_s, stop=list(self.prompt.stop))
                    text = _clean(f"{prefill} {out.strip()}" if prefill else out)
                except LLMError as e:
                    reasons.append(f"{type(e).__name__}: {e}")
                    llm_failed = True
                    break
                ok, _verdict, why = self.verify(text, ev, language)
                if ok:
                    return Explanation(item_id=ev.item_id, text=text, writer="llm", grounded=True, attempts=attempts,
                                       first_try_grounded=attempt == 0, reasons=reasons, rejected=rejected,
                                       prompt_version=self.prompt.version, backend=backend, model=model,
                                       seconds=time.perf_counter() - t0, verified=True)  # fmt: skip
                rejected.append(text)
                reasons.extend(why)
        x = self.template(ev, language)
        return x.model_copy(update={
            "attempts": attempts, "reasons": reasons, "rejected": rejected, "backend": backend, "model": model,
            "seconds": time.perf_counter() - t0, "llm_failed": llm_failed,
        })  # fmt: skip

    def template(self, ev: Evidence, language: str = "en") -> Explanation:
        """The deterministic explanation in ``language``, checked like any other text.

        The template says only true things; should a claim of it still fail (a bug), the bare
        rendering "T (year)." (with the top liked title, which the guard requires) is shown instead.
        A Chinese text is checked through its canonical English reading (:meth:`verify`).
        """
        t0 = time.perf_counter()
        w = wording(language)
        text = template_explanation(ev, w.code, lambda c: self.label(c, w.code))
        verdict = self.checker.check(w.canonical(text), ev)
        if not verdict.ok:
            text = _bare(ev, w.code)
            verdict = self.checker.check(w.canonical(text), ev)
        grounded = self.guard.check(w.canonical(text), self.facts(ev)).ok
        return Explanation(item_id=ev.item_id, text=text, writer="template", grounded=grounded, attempts=0,
                           first_try_grounded=False, prompt_version=TEMPLATE_VERSION, backend="none", model="none",
                           seconds=time.perf_counter() - t0, verified=verdict.ok,
                           claim_failures=verdict.reasons)  # fmt: skip

    def write_many(self, evidence: Iterable[Evidence], language: str = "en") -> list[Explanation]:
        """One explanation per evidence, in order (in the person's ``language``).

        The first generations of all items are asked for in one call (:func:`complete_many`: one
        batch on the embedded model, one call each elsewhere); retries and checks are per item.
        """
        evs = list(evidence)
        if self.llm is None or len(evs) < 2 or not self.writes(language):
            return [self.write(ev, language) for ev in evs]
        firsts: list[str | LLMError | None]
        try:
            texts = complete_many(
                self.llm, [self._messages(ev, language)[0] for ev in evs], timeout_s=self.cfg.timeout_s,
                stop=list(self.prompt.stop),
            )  # fmt: skip
            firsts = list(texts)
        except LLMError as e:
            firsts = [e] * len(evs)
        return [self.write(ev, language, first=f) for ev, f in zip(evs, firsts, strict=True)]


def stored_version(prompt_version: str, llm: BaseChatModel | None) -> str:
    """The prompt version stored texts are keyed by: the template's without an LLM, else
    ``<prompt version>@<model name>`` (another prompt or another model is another key)."""
    return TEMPLATE_VERSION if llm is None else f"{prompt_version}@{model_label(llm)}"


def _prefill(ev: Evidence) -> str:
    """The start of a few-shot answer: "Because you liked <top history item>,".

    Empty unless a history item has a positive attribution: a new user's answer never starts with
    a liked title (the cold-start few-shot examples show what to say instead).
    """
    top = top_history_title(ev)
    if top is None or not any(h.value > 0 and h.title == top for h in ev.history):
        return ""
    return f"Because you liked {display_title(top)},"


def _bare(ev: Evidence, language: str = "en") -> str:
    """The last-resort text: the item and year, after the top liked title when there is one."""
    w = wording(language)
    name = w.title(display_title(ev.title)) + (w.say("year", year=ev.year) if ev.year is not None else "")
    top = top_history_title(ev)
    return w.say("bare_liked", top=w.title(display_title(top)), name=name) if top else w.say("bare", name=name)


def _title_items(titles: Iterable[str]) -> list[Item]:
    """Catalog stand-ins from titles alone (the year parsed from a trailing "(1995)")."""
    out = []
    for k, t in enumerate(titles):
        m = re.search(r"\((\d{4})\)\s*$", t)
        year = int(m.group(1)) if m and 1800 <= int(m.group(1)) <= 2100 else None
        out.append(Item(item_id=f"title:{k}", title=t, year=year))
    return out


def _clean(text: str) -> str:
    """First paragraph, whitespace collapsed, wrapping quotes removed."""
    s = text.strip().split("\n\n")[0]
    s = " ".join(s.split())
    return s.strip('"').strip()


def _with_temperature(llm: BaseChatModel, t: float) -> BaseChatModel:
    if "temperature" in type(llm).model_fields:
        return llm.model_copy(update={"temperature": t})
    return llm
