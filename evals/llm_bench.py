"""`trustrec bench llm`: the embedded model's backends side by side, in one process, on one prompt set.

For each backend (:data:`BENCH_BACKENDS`: the embedded engines, with llama.cpp twice: ``llamacpp``
decodes a batch's rows together, ``llamacpp-sequential`` one after another; the first named is the
baseline, by default today's ``transformers`` path):

* ``load_s``: loading the engine (transformers: the workspace's de-quantised safetensors, shared
  by both transformers engines; llamacpp: the GGUF file itself);
* ``ttft_s`` and ``tokens_per_s``: one explanation prompt (the real few-shot explain prompt with
  catalog items as evidence), after two warm-up calls on *other* items, so only what real calls
  share (the few-shot prefix) can be reused; ``tokens`` new tokens without a stop string;
  tokens/s counts the decode after the first token, as before;
* ``turn_s``: a turn's ``turn`` explanations with the writer's settings (stop at the newline,
  ``llm.max_new_tokens``), asked for together as the guided turn does (one batch where the backend
  batches); ``turn_tokens_per_s`` is that turn's new tokens over its time (rows decoded together
  count together).

Ratios are to the baseline: ``tokens_per_s_ratio`` (higher is faster), ``ttft_ratio`` (baseline's
time over this one's: above 1 is faster), ``turn_speedup`` (same). Each row carries the load average
when it was measured: the machine may be shared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, field_validator

from agent.config import TrustrecConfig

__all__ = ["BENCH_BACKENDS", "BenchConfig", "explain_prompts", "run_llm_bench"]

# the embedded engines (agent.llm.embedded.EMBEDDED_BACKENDS) plus llama.cpp's sequential mode
BENCH_BACKENDS: tuple[str, ...] = ("transformers", "transformers-cached", "llamacpp-sequential", "llamacpp")


class BenchConfig(BaseModel):
    """What `bench llm` runs."""

    backends: list[str] = Field(
        default_factory=lambda: list(BENCH_BACKENDS),
        description="Embedded backends, the first being the baseline of the ratios.",
    )
    tokens: int = Field(32, ge=2, le=512, description="New tokens of the speed run (no stop string).")
    turn: int = Field(2, ge=1, le=16, description="Explanations in the simulated turn (agent.llm_explanations: 2).")
    cold: bool = Field(False, description="Also time the cold GGUF load of the transformers path (minutes).")

    @field_validator("backends")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [b for b in v if b not in BENCH_BACKENDS]
        if bad or not v:
            raise ValueError(f"unknown backends {bad or v}; choose from {', '.join(BENCH_BACKENDS)}")
        return v


def _loadavg() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def explain_prompts(items: list[Any], k: int) -> list[str]:
    """``k`` few-shot explain prompts, as the writer renders them, over catalog items.

    Item i is recommended because the person liked items i+1 and i+2 (the most rated items first), and
    the answer is prefilled with the first liked title, as the writer does for the embedded model.
    """
    from langchain_core.messages import AIMessage

    from agent.grounding import display_title, quote_data
    from agent.llm.embedded import render_prompt
    from agent.prompts import load_prompt

    prompt = load_prompt("explain", "fewshot")
    ranked = sorted(items, key=lambda it: -it.rating.count)
    out = []
    for i in range(k):
        it, a, b = ranked[3 * i], ranked[3 * i + 1], ranked[3 * i + 2]
        meta = [str(it.year)] if it.year is not None else []
        if it.categories:
            meta.append(", ".join(it.categories))
        line = f"recommended {quote_data(display_title(it.title))}" + (f" ({'; '.join(meta)})" if meta else "")
        line += f"; because you liked {quote_data(display_title(a.title))} and {quote_data(display_title(b.title))}"
        msgs = [*prompt.messages(evidence=line), AIMessage(f"Because you liked {display_title(a.title)},")]
        out.append(render_prompt(msgs))
    return out


def _timed(engine: Any, prompts: list[str], params: Any) -> tuple[list[str], float, float]:
    """``(texts, seconds to the first piece of any row, total seconds)``."""
    texts = [""] * len(prompts)
    t0 = time.perf_counter()
    first: float | None = None
    for row, piece in engine.stream_batch(prompts, params):
        if piece is None:
            continue
        if first is None:
            first = time.perf_counter() - t0
        texts[row] += piece
    total = time.perf_counter() - t0
    return texts, first if first is not None else total, total


def run_llm_bench(
    cfg: TrustrecConfig, bcfg: BenchConfig, *, say: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Measure every backend of ``bcfg`` (see the module docs); returns the figures.

    A backend that cannot load (llamacpp without ``llama_cpp``) gets a row with ``error``.
    """
    from agent.llm.embedded import (
        CACHE_SUBDIR,
        TransformersLM,
        cache_ready,
        default_threads,
        gguf_path,
        load_embedded,
        load_from_gguf,
        save_cache,
        set_threads,
    )
    from agent.llm.errors import LLMError
    from agent.llm.queue import GenParams
    from catalog import load_dataset

    tell = say or (lambda _m: None)
    ws = cfg.workspace()
    threads = default_threads(cfg.llm.threads)
    ds = load_dataset(cfg.data, ws)
    prompts = explain_prompts(list(ds.items), 3 + bcfg.turn)
    res: dict[str, Any] = {"model": "gemma-3-270m-q4_k_m (base)", "threads": threads, "backends": []}
    if bcfg.cold or not cache_ready(ws.models):
        tell("cold load from the packaged GGUF (de-quantising; transformers path only)...")
        t0 = time.perf_counter()
        lm0 = load_from_gguf(ws.cache)
        res["transformers_cold_load_s"] = round(time.perf_counter() - t0, 2)
        if not cache_ready(ws.models):
            save_cache(lm0, ws.models / CACHE_SUBDIR)
        del lm0
    speed = GenParams(max_new_tokens=bcfg.tokens)
    writer = GenParams(max_new_tokens=cfg.llm.max_new_tokens, stop=("\n",))
    base: dict[str, Any] | None = None
    for name in bcfg.backends:
        tell(f"[bold]{name}[/]: loading (load average {_loadavg()})")
        row: dict[str, Any] = {"backend": name}
        try:
            engine: Any
            if name.startswith("llamacpp"):
                from agent.llm.llamacpp import LlamaCppLM

                engine = LlamaCppLM(gguf_path(ws.cache), threads=threads, batch=name == "llamacpp")
                row["load_s"] = round(engine.load_s, 3)
            else:
                set_threads(cfg.llm.threads)
                lm = load_embedded(ws.models, ws.cache, threads=cfg.llm.threads, cache_weights=cfg.llm.cache_weights)
                row["load_s"] = round(lm.load_s, 3)  # both transformers engines share this one load
                engine = TransformersLM(lm, reuse_prefix=name == "transformers-cached")
            if not res.get("prompt_tokens"):
                res["prompt_tokens"] = engine.count_tokens(prompts[0])
            tell(f"  warm-up and {bcfg.tokens}-token run (load average {_loadavg()})")
            # warm-up: two calls on other items (a prefix is known once two prompts shared it), so what the
            # measured call can reuse is only what real calls share: the few-shot prefix
            for w in (0, 1):
                _timed(engine, [prompts[w]], speed)
            (text,), ttft, total = _timed(engine, [prompts[2]], speed)
            n_out = engine.count_tokens(text)
            row.update(
                ttft_s=round(ttft, 4),
                generated_tokens=n_out,
                tokens_per_s=round((n_out - 1) / max(total - ttft, 1e-9), 2) if n_out > 1 else 0.0,
                sample=text.strip()[:160],
            )
            tell(f"  a turn of {bcfg.turn} explanations (load average {_loadavg()})")
            texts, _first, turn_s = _timed(engine, prompts[3 : 3 + bcfg.turn], writer)
            turn_tokens = sum(engine.count_tokens(t) for t in texts)
            row.update(
                turn_s=round(turn_s, 3),
                turn_tokens=turn_tokens,
                turn_tokens_per_s=round(turn_tokens / max(turn_s, 1e-9), 2),
                turn_texts=[t.strip()[:120] for t in texts],
                loadavg=_loadavg(),
            )
        except LLMError as e:
            row["error"] = str(e)
            res["backends"].append(row)
            continue
        if base is None:
            base = row
        row["tokens_per_s_ratio"] = round(row["tokens_per_s"] / base["tokens_per_s"], 2) if base["tokens_per_s"] else 0
        row["ttft_ratio"] = round(base["ttft_s"] / row["ttft_s"], 2) if row["ttft_s"] else 0
        row["turn_speedup"] = round(base["turn_s"] / row["turn_s"], 2) if row["turn_s"] else 0
        res["backends"].append(row)
    res["loadavg_end"] = _loadavg()
    return res
