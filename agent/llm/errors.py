"""Typed LLM failures that callers degrade on (e.g. fall back to a deterministic template)."""

from __future__ import annotations


class LLMError(RuntimeError):
    """Any failure of an LLM backend. Callers catch this one type and degrade."""


class LLMUnavailable(LLMError):
    """The backend cannot answer: not installed, not reachable, bad status, or a malformed reply."""


class LLMTimeout(LLMError):
    """The backend did not finish within its time limit."""


def classify(exc: BaseException) -> LLMError:
    """Map a backend or transport exception to :class:`LLMTimeout` or :class:`LLMUnavailable`.

    Args:
        exc: Any exception raised while calling a chat model.

    Returns:
        The typed error (with ``exc`` as its cause left to the caller's ``raise ... from``).
    """
    if isinstance(exc, LLMError):
        return exc
    name = type(exc).__name__.lower()
    if "timeout" in name or isinstance(exc, TimeoutError):
        return LLMTimeout(f"LLM call timed out: {exc}")
    return LLMUnavailable(f"LLM backend failed ({type(exc).__name__}): {exc}")
