"""Build the configured chat model; call it with a hard timeout and typed errors."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from agent.config import LLMConfig
from agent.llm.errors import LLMError, LLMTimeout, LLMUnavailable, classify
from catalog.config import Workspace

GPU_EXTRA_HINT = "pip install 'trustrec[gpu]'"


def prompt_style(cfg: LLMConfig) -> str:
    """``fewshot`` for the embedded base model, ``chat`` for instruct models behind a server."""
    return "fewshot" if cfg.backend == "embedded" else "chat"


def make_chat_model(cfg: LLMConfig, workspace: Workspace | None = None) -> BaseChatModel:
    """The LangChain chat model named by ``cfg.backend``.

    Args:
        cfg: LLM settings (backend, model, limits).
        workspace: Where the embedded model caches its weights (default workspace when None).

    Raises:
        LLMUnavailable: The backend's optional dependency is missing (the message names the fix).
    """
    if cfg.backend == "openai":
        from langchain_openai import ChatOpenAI

        kwargs: dict[str, Any] = {
            "base_url": cfg.base_url,
            "api_key": cfg.api_key,
            "model": cfg.model,
            "timeout": cfg.timeout_s,
            "max_retries": cfg.max_retries,
            "max_tokens": cfg.max_new_tokens,
            "temperature": cfg.temperature,
        }
        return ChatOpenAI(**kwargs)
    if cfg.backend == "vllm-inprocess":
        from agent.llm.vllm_inprocess import VLLMChatModel

        return VLLMChatModel(
            model=cfg.model, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, timeout_s=cfg.timeout_s
        )
    from agent.llm.embedded import EmbeddedChatModel

    ws = workspace or Workspace()
    return EmbeddedChatModel(
        models_dir=ws.models,
        cache_dir=ws.cache,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        timeout_s=cfg.timeout_s,
        threads=cfg.threads,
        cache_weights=cfg.cache_weights,
        embedded_backend=cfg.embedded_backend,
        llamacpp_batch=cfg.llamacpp_batch,
        queue_size=cfg.queue_size,
        max_batch=cfg.max_batch,
    )


def model_label(model: BaseChatModel) -> str:
    """A short model name for provenance."""
    for attr in ("model_name", "model"):
        v = getattr(model, attr, None)
        if isinstance(v, str) and v:
            return v
    return type(model).__name__


def complete(
    model: BaseChatModel, messages: list[BaseMessage], *, timeout_s: float, stop: list[str] | None = None
) -> str:
    """Invoke ``model`` and return its text, within ``timeout_s`` seconds.

    The call runs in a daemon thread so a hung backend cannot block the caller past the limit.

    Raises:
        LLMTimeout: No answer within ``timeout_s``.
        LLMUnavailable: The backend failed (connection, status, malformed reply, missing extra).
    """
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            msg = model.invoke(messages, stop=stop or None)
            box.put((True, msg))
        except BaseException as e:  # delivered to the caller's thread
            box.put((False, e))

    threading.Thread(target=run, daemon=True, name="trustrec-llm").start()
    try:
        ok, val = box.get(timeout=timeout_s)
    except queue.Empty:
        raise LLMTimeout(f"no answer from {model_label(model)} within {timeout_s:.0f} s") from None
    if not ok:
        raise classify(val) from val
    content = val.content
    if not isinstance(content, str):
        content = "".join(c if isinstance(c, str) else str(c.get("text", "")) for c in content)
    return str(content)


def complete_many(
    model: BaseChatModel, conversations: list[list[BaseMessage]], *, timeout_s: float, stop: list[str] | None = None
) -> list[str]:
    """One text per conversation, in order, within ``timeout_s`` seconds for all of them.

    A model that can batch (the embedded one: ``generate_many``) gets them in one request to its
    queue; any other model is called once per conversation through :func:`complete`.

    Raises:
        LLMBusy: The embedded model's queue has no room (an ``LLMUnavailable``).
        LLMTimeout: Not all texts were finished in time.
        LLMUnavailable: The backend failed.
    """
    many = getattr(model, "generate_many", None)
    if many is None:
        end = time.monotonic() + timeout_s
        return [
            complete(model, msgs, timeout_s=max(end - time.monotonic(), 0.001), stop=stop) for msgs in conversations
        ]
    try:
        out = many(conversations, stop=stop or None, timeout_s=timeout_s)
    except Exception as e:
        raise classify(e) from e
    return [str(x) for x in out]


def stream(
    model: BaseChatModel, messages: list[BaseMessage], *, timeout_s: float, stop: list[str] | None = None
) -> Iterator[str]:
    """Stream text pieces from ``model``; the whole stream must finish within ``timeout_s``.

    Raises:
        LLMTimeout: The stream did not finish in time.
        LLMUnavailable: The backend failed.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run() -> None:
        try:
            for chunk in model.stream(messages, stop=stop or None):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    box.put(("piece", text))
            box.put(("done", None))
        except BaseException as e:
            box.put(("error", e))

    threading.Thread(target=run, daemon=True, name="trustrec-llm-stream").start()
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            kind, val = box.get(timeout=max(left, 0.001))
        except queue.Empty:
            raise LLMTimeout(f"stream from {model_label(model)} passed {timeout_s:.0f} s") from None
        if kind == "piece":
            yield val
        elif kind == "done":
            return
        else:
            raise classify(val) from val


__all__ = [
    "GPU_EXTRA_HINT",
    "LLMError",
    "LLMTimeout",
    "LLMUnavailable",
    "complete",
    "complete_many",
    "make_chat_model",
    "model_label",
    "prompt_style",
    "stream",
]
