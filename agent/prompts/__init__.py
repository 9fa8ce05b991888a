"""Prompts as versioned data files (YAML in this package), loaded with ``importlib.resources``.

Two styles per task: ``fewshot`` (completion prompts for a base model such as the embedded
gemma-3-270m) and ``chat`` (system + user prompts for instruct models). Every file carries a
``version`` that is recorded in the provenance of the text it produced. Files are checked at load:
required keys present, and the template's placeholders exactly the declared ``inputs``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

__all__ = ["Prompt", "PromptError", "PromptStyle", "available_prompts", "load_prompt"]

PromptStyle = Literal["fewshot", "chat"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "fewshot": ("name", "style", "version", "inputs", "instruction", "examples", "template", "stop"),
    "chat": ("name", "style", "version", "inputs", "system", "template", "stop"),
}


class PromptError(ValueError):
    """A prompt file is missing, malformed, or called with the wrong values."""


@dataclass(frozen=True)
class Prompt:
    """One loaded prompt file."""

    name: str
    style: PromptStyle
    version: str
    inputs: tuple[str, ...]
    template: str
    stop: tuple[str, ...] = ()
    instruction: str = ""
    system: str = ""
    examples: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    languages: tuple[str, ...] = ()
    """Languages the model is asked to write in with this prompt; empty: any (the person's language goes
    into the system prompt). A turn in another language shows the deterministic text without asking."""

    def render(self, **values: str) -> str:
        """Fill the template; raises :class:`PromptError` on missing or unexpected values."""
        missing = set(self.inputs) - set(values)
        extra = set(values) - set(self.inputs)
        if missing or extra:
            raise PromptError(f"prompt {self.version}: missing values {sorted(missing)}, unexpected {sorted(extra)}")
        return self.template.format(**values)

    def messages(self, **values: str) -> list[BaseMessage]:
        """The chat messages for these values (few-shot examples as human/AI pairs)."""
        user = self.render(**values)
        if self.style == "chat":
            return [SystemMessage(self.system), HumanMessage(user)]
        msgs: list[BaseMessage] = [SystemMessage(self.instruction)]
        for inp, out in self.examples:
            msgs += [HumanMessage(inp), AIMessage(out)]
        msgs.append(HumanMessage(user))
        return msgs


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _parse(doc: Any, source: str) -> Prompt:
    if not isinstance(doc, dict):
        raise PromptError(f"{source}: expected a mapping")
    style = doc.get("style")
    if style not in _REQUIRED:
        raise PromptError(f"{source}: style must be one of {sorted(_REQUIRED)}, got {style!r}")
    missing = [k for k in _REQUIRED[style] if k not in doc]
    if missing:
        raise PromptError(f"{source}: missing keys {missing}")
    inputs = tuple(doc["inputs"])
    if _placeholders(doc["template"]) != set(inputs):
        raise PromptError(
            f"{source}: template placeholders {sorted(_placeholders(doc['template']))} != inputs {list(inputs)}"
        )
    examples: tuple[tuple[str, str], ...] = ()
    if style == "fewshot":
        try:
            examples = tuple((str(e["input"]), str(e["output"])) for e in doc["examples"])
        except (KeyError, TypeError) as e:
            raise PromptError(f"{source}: each example needs `input` and `output`") from e
        if not examples:
            raise PromptError(f"{source}: a few-shot prompt needs at least one example")
    return Prompt(
        name=str(doc["name"]),
        style=style,
        version=str(doc["version"]),
        inputs=inputs,
        template=str(doc["template"]),
        stop=tuple(str(s) for s in doc["stop"] or ()),
        instruction=str(doc.get("instruction", "")),
        system=str(doc.get("system", "")),
        examples=examples,
        languages=tuple(str(x) for x in doc.get("languages") or ()),
    )


@cache
def load_prompt(name: str, style: PromptStyle) -> Prompt:
    """Load ``<name>_<style>.yaml`` from this package.

    Raises:
        PromptError: The file is missing or fails the checks.
    """
    fname = f"{name}_{style}.yaml"
    res = resources.files(__package__).joinpath(fname)
    if not res.is_file():
        raise PromptError(f"no prompt file {fname} in agent/prompts; available: {available_prompts()}")
    return _parse(yaml.safe_load(res.read_text(encoding="utf-8")), fname)


def available_prompts() -> list[str]:
    """Names of the prompt files in this package."""
    return sorted(p.name for p in resources.files(__package__).iterdir() if p.name.endswith(".yaml"))
