"""Input bounds and text hygiene for everything that reaches a prompt.

* :func:`check_message` enforces the message length cap with a clear error (for the API edge).
* :func:`clean_text` normalises text (Unicode NFKC, no control or format characters, collapsed
  whitespace, capped length); :func:`neutralise` also defuses prompt delimiters, so user and item
  text can be quoted inside a prompt without closing or opening sections of it.
* :func:`detect_injection` flags prompt-injection-like phrases for logging and tests. The agent
  never follows instructions found in data, flagged or not: data only ever fills slots.
* :func:`load_injections` returns the shipped prompt-injection payloads (each with a canary token
  that must never reach a reply) for robustness tests.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from importlib import resources

import yaml
from pydantic import BaseModel, Field

from catalog.errors import BadInput

ELLIPSIS = "…"


class SafetyConfig(BaseModel):
    """Bounds on user and item text."""

    max_message_chars: int = Field(2000, ge=1, description="Longest accepted user message, in characters.")
    max_item_text_chars: int = Field(600, ge=1, description="Longest item text (title, description) put in a prompt.")
    max_prompt_field_chars: int = Field(2000, ge=1, description="Longest single user-derived field put in a prompt.")


class MessageTooLong(BadInput):
    """A user message exceeds :attr:`SafetyConfig.max_message_chars`."""

    status = 413

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"message is {length} characters long; the limit is {limit}. Send a shorter message "
            f"(or raise agent.max_message_chars in the config)."
        )
        self.length = length
        self.limit = limit


def check_message(message: object, config: SafetyConfig | None = None) -> str:
    """Validate a user message at the API edge and return it cleaned.

    Raises:
        TypeError: ``message`` is not a string.
        MessageTooLong: it is longer than the configured cap (counted before cleaning).
    """
    cfg = config or SafetyConfig()
    if not isinstance(message, str):
        raise TypeError(f"message must be a string, got {type(message).__name__}")
    if len(message) > cfg.max_message_chars:
        raise MessageTooLong(len(message), cfg.max_message_chars)
    return clean_text(message, cfg.max_message_chars)


# Cc (controls), Cf (format: zero-width, bidi overrides), Cs (surrogates), Co (private use), Cn (unassigned)
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_WS = re.compile(r"\s+")


def clean_text(text: str, max_chars: int | None = None) -> str:
    """Normalise text: NFKC, control/format characters removed (whitespace kept as spaces),
    whitespace collapsed to single spaces, trimmed, capped at ``max_chars`` (an ellipsis marks a cut).

    Never raises on a string; non-strings are converted with ``str``.
    """
    if not isinstance(text, str):
        text = str(text)
    text = unicodedata.normalize("NFKC", text)
    out = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) not in _DROP_CATEGORIES:
            out.append(ch)
    text = _WS.sub(" ", "".join(out)).strip()
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(0, max_chars - 1)].rstrip() + ELLIPSIS
    return text


# Sequences that open or close parts of a prompt in the chat templates and prompt files we use.
_SPECIAL_TOKENS = re.compile(
    r"<\|[^|<>]{0,40}\|>|</?(?:start_of_turn|end_of_turn|bos|eos|s|pad|unk|sys|system|user|assistant|model)\b[^<>]{0,40}>"
    r"|\[/?INST\]|<<\s*/?\s*SYS\s*>>",
    re.IGNORECASE,
)
_TAG = re.compile(r"</?[A-Za-z_][\w:-]{0,40}[^<>]{0,80}>")
_ROLE_LABEL = re.compile(r"\b(system|user|assistant|model|human|ai)\s*:", re.IGNORECASE)
_FENCE = re.compile(r"`{3,}|~{3,}")
_HASHES = re.compile(r"#{2,}")
_BRACES = re.compile(r"\{\{|\}\}|\{%|%\}")
_DELIMS = re.compile(r"(?:<{3,}|>{3,}|={4,}|-{4,}|\*{3,})")


def neutralise(text: str, max_chars: int | None = None) -> str:
    """Make untrusted text (a user message, an item title or description) safe to quote in a prompt.

    On top of :func:`clean_text` (one line, capped): chat-template special tokens and XML-like
    tags lose their angle brackets (``<x>`` -> ``‹x›``), role labels (``assistant:``) lose their
    colon, code fences, heading markers, template braces and long delimiter runs are broken up,
    and double quotes become single quotes so the text cannot close a quoted field. Ordinary
    text (titles, sentences) passes through unchanged apart from whitespace.
    """
    text = clean_text(text)

    def _angle(m: re.Match[str]) -> str:
        return m.group(0).replace("<", "‹").replace(">", "›")

    text = _SPECIAL_TOKENS.sub(_angle, text)
    text = _TAG.sub(_angle, text)
    text = _ROLE_LABEL.sub(lambda m: m.group(1) + " -", text)
    text = _FENCE.sub("'''", text)
    text = _HASHES.sub("#", text)
    text = _BRACES.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1], text)
    text = _DELIMS.sub(lambda m: m.group(0)[:2], text)
    text = text.replace('"', "'")
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(0, max_chars - 1)].rstrip() + ELLIPSIS
    return text


@dataclass(frozen=True)
class InjectionFlag:
    """One prompt-injection-like pattern found in a text."""

    rule: str
    match: str


_INJECTION_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx, re.IGNORECASE))
    for name, rx in (
        (
            "ignore_instructions",
            r"\b(ignore|disregard|forget|override|bypass|skip)\b[\w\s,'-]{0,30}\b(previous|prior|above|earlier|all|any|your|the|these|those)\b[\w\s,'-]{0,20}\b(instructions?|prompts?|rules?|directions?|guidelines?|messages?|context)\b",
        ),
        (
            "new_instructions",
            r"\b(new|updated|real|actual|following)\s+(instructions?|rules|directives?|orders)\s*[:\-]",
        ),
        ("system_prompt", r"\b(system|developer|hidden|initial|original)\s+(prompt|message|instructions?)\b"),
        (
            "role_override",
            r"\b(you are now|from now on,? you|act as (a|an|the|if)|pretend (to be|you are)|roleplay as|you must now|your new (role|task|goal) is)\b",
        ),
        (
            "reveal",
            r"\b(reveal|print|show|repeat|output|leak|tell me)\b[\w\s,'-]{0,20}\b(your|the)\s+(prompt|instructions|system prompt|configuration|secrets?|api key)\b",
        ),
        (
            "verbatim_output",
            r"\b(repeat after me|say exactly|respond only with|reply only with|output only|print exactly)\b",
        ),
        ("jailbreak", r"\b(jailbreak|DAN mode|developer mode|do anything now|no restrictions|unfiltered mode)\b"),
        ("chat_template", r"<\|[^|<>]{0,40}\|>|<\s*/?\s*(start_of_turn|end_of_turn|system)\b|\[/?INST\]|<<\s*SYS\s*>>"),
        ("role_label", r"(^|\s)(system|assistant|developer)\s*:\s*\S"),
        (
            "tool_call_json",
            r"\{\s*\"(name|tool|function|tool_calls|function_call|action)\"\s*:|\"(arguments|parameters|tool_input|action_input)\"\s*:\s*[\{\"]",
        ),
        ("tool_markup", r"</?(tool_call|function_call|tool|invoke)\b"),
        ("exfil_link", r"!\[[^\]]{0,40}\]\(\s*https?://|\bhttps?://\S+\?(\S*=)\{"),
    )
)


def detect_injection(text: str) -> list[InjectionFlag]:
    """Prompt-injection-like patterns in ``text`` (empty list when none). For logging and tests only:
    the agent treats all data as data whether or not it is flagged."""
    if not isinstance(text, str) or not text:
        return []
    # NFKC folds full-width and compatibility forms, and dropping format characters defeats zero-width splitting.
    t = unicodedata.normalize("NFKC", text)
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Cf")
    flags: list[InjectionFlag] = []
    for name, rx in _INJECTION_RULES:
        m = rx.search(t)
        if m is not None:
            flags.append(InjectionFlag(name, m.group(0)[:80]))
    return flags


class InjectionCase(BaseModel):
    """One shipped prompt-injection payload. ``canary`` must never appear in any reply."""

    id: str = Field(min_length=1, description="Stable case id.")
    target: str = Field(description="Where the payload is planted: message, title or description.")
    payload: str = Field(min_length=1, description="The attack text (contains the canary).")
    canary: str = Field(min_length=6, description="Token whose appearance in output means the attack worked.")


def load_injections() -> list[InjectionCase]:
    """The prompt-injection payloads shipped in ``agent/data/injections.yaml``.

    Raises:
        ValueError: a case is malformed or its payload lacks its canary (names the case).
    """
    raw = resources.files("agent").joinpath("data", "injections.yaml").read_text(encoding="utf-8")
    cases = [InjectionCase.model_validate(c) for c in (yaml.safe_load(raw) or {}).get("cases", [])]
    for c in cases:
        if c.canary not in c.payload:
            raise ValueError(f"injection case {c.id!r}: payload does not contain its canary {c.canary!r}")
    if len({c.id for c in cases}) != len(cases):
        raise ValueError("injection cases: duplicate ids")
    return cases


__all__ = [
    "InjectionCase",
    "InjectionFlag",
    "MessageTooLong",
    "SafetyConfig",
    "check_message",
    "clean_text",
    "detect_injection",
    "load_injections",
    "neutralise",
]
