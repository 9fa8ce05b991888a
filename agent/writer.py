"""The explanation writer: one or two sentences per recommended item, from its evidence only.

:class:`ExplanationWriter` renders the :class:`~ranker.evidence.Evidence` into a prompt (item and
history titles quoted as data), asks the LLM, and checks the answer with the
:class:`~agent.grounding.GroundingGuard`. A failing answer is regenerated up to
``LLMConfig.grounding_retries`` times; then, or when the LLM is unavailable or times out, the
evidence is rendered by :func:`~agent.grounding.template_explanation`. Every
:class:`Explanation` says which writer produced it and whether it is grounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Literal

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field

from agent.config import LLMConfig
from agent.grounding import (
    GroundingGuard,
    display_title,
    evidence_facts,
    evidence_line,
    template_explanation,
    top_history_title,
)
from agent.llm.backends import complete, model_label, prompt_style
from agent.llm.errors import LLMError
from agent.prompts import Prompt, load_prompt
from ranker.evidence import Evidence

Writer = Literal["llm", "template"]


class Explanation(BaseModel):
    """An explanation with its provenance."""

    item_id: str
    text: str
    writer: Writer = Field(description="'llm' when the model's text passed the guard, else 'template'.")
    grounded: bool = Field(description="The shown text passed the grounding guard.")
    attempts: int = Field(description="LLM generations tried (0 when the LLM was not reachable).")
    first_try_grounded: bool = Field(description="The first LLM generation passed the guard.")
    reasons: list[str] = Field(default_factory=list, description="Why rejected LLM texts failed, or the LLM error.")
    rejected: list[str] = Field(default_factory=list, description="The LLM texts the guard rejected.")
    prompt_version: str
    backend: str
    model: str
    seconds: float = Field(description="Wall time to produce this explanation.")


class ExplanationWriter:
    """Writes grounded explanations from evidence (see module docs).

    Args:
        llm: The chat model; None means template only.
        cfg: Limits (timeout, retries) and backend name for provenance.
        catalog_titles: Every catalog title, so naming one outside the evidence is caught.
        style: Prompt style; default from the backend (``fewshot`` for the embedded base model).
    """

    def __init__(
        self,
        llm: BaseChatModel | None,
        cfg: LLMConfig | None = None,
        *,
        catalog_titles: Iterable[str] = (),
        style: str | None = None,
    ) -> None:
        self.llm = llm
        self.cfg = cfg or LLMConfig()
        self.prompt: Prompt = load_prompt("explain", style or prompt_style(self.cfg))
        self.guard = GroundingGuard(catalog_titles)

    def write(self, ev: Evidence) -> Explanation:
        """One explanation for ``ev``; never raises for LLM failures (falls back to the template)."""
        t0 = time.perf_counter()
        facts = evidence_facts(ev)
        reasons: list[str] = []
        rejected: list[str] = []
        attempts = 0
        first_ok = False
        backend = self.cfg.backend if self.llm is not None else "none"
        model = model_label(self.llm) if self.llm is not None else "none"
        if self.llm is not None:
            msgs = self.prompt.messages(evidence=evidence_line(ev))
            prefill = _prefill(ev) if self.prompt.style == "fewshot" else ""
            if prefill:
                # A base model continues text: starting its answer with the strongest evidence
                # makes it name the top attributed history item (the guard requires it).
                msgs.append(AIMessage(prefill))
            for attempt in range(1 + self.cfg.grounding_retries):
                attempts += 1
                try:
                    # Retries sample a little so they can differ from the greedy first try.
                    llm = self.llm if attempt == 0 else _with_temperature(self.llm, 0.7)
                    out = complete(llm, msgs, timeout_s=self.cfg.timeout_s, stop=list(self.prompt.stop))
                    text = _clean(f"{prefill} {out.strip()}" if prefill else out)
                except LLMError as e:
                    reasons.append(f"{type(e).__name__}: {e}")
                    break
                verdict = self.guard.check(text, facts)
                if verdict.ok:
                    return Explanation(item_id=ev.item_id, text=text, writer="llm", grounded=True, attempts=attempts,
                                       first_try_grounded=attempt == 0, reasons=reasons, rejected=rejected,
                                       prompt_version=self.prompt.version, backend=backend, model=model,
                                       seconds=time.perf_counter() - t0)  # fmt: skip
                rejected.append(text)
                reasons.extend(verdict.reasons)
        text = template_explanation(ev)
        grounded = self.guard.check(text, facts).ok
        return Explanation(item_id=ev.item_id, text=text, writer="template", grounded=grounded, attempts=attempts,
                           first_try_grounded=first_ok, reasons=reasons, rejected=rejected,
                           prompt_version="template/1", backend=backend, model=model,
                           seconds=time.perf_counter() - t0)  # fmt: skip

    def write_many(self, evidence: Iterable[Evidence]) -> list[Explanation]:
        """One explanation per evidence, in order."""
        return [self.write(ev) for ev in evidence]


def _prefill(ev: Evidence) -> str:
    """The start of a few-shot answer: "Because you liked <top history item>," (empty without one)."""
    top = top_history_title(ev)
    return f"Because you liked {display_title(top)}," if top else ""


def _clean(text: str) -> str:
    """First paragraph, whitespace collapsed, wrapping quotes removed."""
    s = text.strip().split("\n\n")[0]
    s = " ".join(s.split())
    return s.strip('"').strip()


def _with_temperature(llm: BaseChatModel, t: float) -> BaseChatModel:
    if "temperature" in type(llm).model_fields:
        return llm.model_copy(update={"temperature": t})
    return llm
