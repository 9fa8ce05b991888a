"""The embedded model's engines (transformers, transformers-cached, llamacpp), their selection and
fallback, the one bounded generation queue, and batches: all on the real gemma-3-270m."""

from __future__ import annotations

import logging
import sys
import threading
import time

import pytest
from langchain_core.messages import BaseMessage

from agent.config import LLMConfig
from agent.llm import embedded
from agent.llm.backends import complete, complete_many, make_chat_model
from agent.llm.embedded import EmbeddedChatModel, TransformersLM, default_threads, gguf_path, load_embedded
from agent.llm.errors import LLMTimeout, LLMUnavailable
from agent.llm.llamacpp import LlamaCppLM, has_llamacpp
from agent.llm.queue import GenerationQueue, GenParams, LLMBusy
from agent.prompts import load_prompt
from agent.writer import ExplanationWriter
from catalog import Workspace
from tests.llm_helpers import real_evidence, titles

EXPLAIN = load_prompt("explain", "fewshot")
EVIDENCE = [
    'recommended "Fargo" (1996; Crime, Drama, Thriller); because you liked "Heat"',
    'recommended "Emma" (1996; Comedy, Drama, Romance); popular',
    'recommended "Babe" (1995; Children\'s, Comedy, Drama); matches Comedy',
]


def convs() -> list[list[BaseMessage]]:
    return [EXPLAIN.messages(evidence=e) for e in EVIDENCE]


def model_for(backend: str, **kw: object) -> EmbeddedChatModel:
    m = make_chat_model(LLMConfig(embedded_backend=backend, max_new_tokens=8, timeout_s=300, **kw), Workspace())  # type: ignore[arg-type]
    assert isinstance(m, EmbeddedChatModel)
    return m


@pytest.fixture(scope="module")
def solo() -> list[str]:
    """Each conversation alone on today's path (greedy): the reference texts."""
    m = model_for("transformers")
    return [complete(m, c, timeout_s=300, stop=["\n"]) for c in convs()]


def test_backend_selection_names_the_engine_that_runs() -> None:
    assert model_for("transformers").loaded().backend == "transformers"
    assert model_for("transformers-cached").loaded().backend == "transformers-cached"
    ws = Workspace()
    # the two transformers engines share one copy of the weights
    t = model_for("transformers").loaded()
    c = model_for("transformers-cached").loaded()
    assert isinstance(t, TransformersLM) and isinstance(c, TransformersLM) and t.lm is c.lm
    assert t.lm is load_embedded(ws.models, ws.cache)
    if has_llamacpp():
        assert model_for("llamacpp").loaded().backend == "llamacpp"


def test_llamacpp_missing_falls_back_to_transformers_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedded, "_ENGINES", {})
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp raises ImportError
    with caplog.at_level(logging.WARNING, logger="agent.llm.embedded"):
        engine = model_for("llamacpp").loaded()
    assert engine.backend == "transformers-cached"
    assert any("llama_cpp is not installed" in r.getMessage() and "transformers-cached" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    with pytest.raises(Exception, match="unknown embedded backend"):
        embedded.load_engine("onnx", Workspace().models, Workspace().cache)


def test_cached_batch_returns_one_text_per_prompt_in_order(solo: list[str]) -> None:
    m = model_for("transformers-cached")
    q = m.queue()
    before = q.largest_batch
    out = complete_many(m, convs(), timeout_s=300, stop=["\n"])
    assert len(out) == len(EVIDENCE) and all(t.strip() and "\n" not in t for t in out)
    assert q.largest_batch >= max(before, 3)  # the three ran as one batch
    # greedy: the batch continues each prompt as it continues alone (same first words, same order)
    for got, ref in zip(out, solo, strict=True):
        assert got.split()[:2] == ref.split()[:2]
    # the few-shot prefix was kept and reused by the next call
    engine = q.engine
    assert isinstance(engine, TransformersLM)
    hits = engine.prefix_hits
    again = complete(m, convs()[1], timeout_s=300, stop=["\n"])
    assert engine.prefix_hits == hits + 1 and again.split()[:2] == solo[1].split()[:2]


@pytest.mark.skipif(not has_llamacpp(), reason="llama-cpp-python not installed (make setup builds it)")
def test_llamacpp_generates_greedy_text_with_the_same_limits(solo: list[str]) -> None:
    m = model_for("llamacpp")
    out = complete_many(m, convs(), timeout_s=300, stop=["\n"])
    assert len(out) == 3 and all(t.strip() and "\n" not in t for t in out)
    assert out == complete_many(m, convs(), timeout_s=300, stop=["\n"])  # greedy and the prefix reuse is exact
    engine = m.loaded()
    assert all(engine.count_tokens(t) <= 8 + 1 for t in out)  # the token cap (a re-tokenised piece may split)
    # same model, same greedy decoding: the texts start like today's path's
    assert sum(a.split()[:1] == b.split()[:1] for a, b in zip(out, solo, strict=True)) >= 2


def test_queue_is_bounded_and_refuses_at_once_when_full() -> None:
    engine = model_for("transformers-cached").loaded()
    q = GenerationQueue(engine, max_pending=2, max_batch=4)
    hold, started = threading.Event(), threading.Event()

    def block(_piece: str) -> None:
        started.set()
        hold.wait(timeout=300)

    prompt = embedded.render_prompt(convs()[0])
    params = GenParams(max_new_tokens=4, stop=("\n",))
    (busy,) = q.submit([prompt], params, timeout_s=300, on_piece=block)  # holds the worker
    assert started.wait(timeout=300)
    waiting = q.submit([prompt, prompt], params, timeout_s=300)
    assert q.pending() == 2
    with pytest.raises(LLMBusy, match="queue is full"):
        q.submit([prompt], params, timeout_s=300)
    hold.set()
    assert busy.result(timeout=300).strip()
    texts = [f.result(timeout=300) for f in waiting]
    assert texts[0] == texts[1] and texts[0].strip()
    assert q.pending() == 0


def test_writer_falls_back_to_the_template_when_the_queue_is_full() -> None:
    m = model_for("transformers-cached", queue_size=1)
    engine = m.loaded()
    full = GenerationQueue(engine, max_pending=1, max_batch=1)
    hold, started = threading.Event(), threading.Event()
    prompt = embedded.render_prompt(convs()[0])
    params = GenParams(max_new_tokens=2)
    full.submit([prompt], params, timeout_s=300, on_piece=lambda _p: (started.set(), hold.wait(timeout=300)))
    assert started.wait(timeout=300)
    full.submit([prompt], params, timeout_s=300)  # the one waiting place is taken
    try:
        embedded._QUEUES[id(engine)] = full
        ev = [real_evidence("196", "181"), real_evidence("196", "50")]
        xs = ExplanationWriter(m, LLMConfig(grounding_retries=0), catalog_titles=titles()).write_many(ev)
    finally:
        hold.set()
        embedded._QUEUES.pop(id(engine), None)
    assert [x.item_id for x in xs] == ["181", "50"]
    assert all(x.writer == "template" and x.grounded and any("LLMBusy" in r for r in x.reasons) for x in xs)


def test_writer_batch_keeps_order_and_checks_each_text() -> None:
    m = model_for("transformers-cached").model_copy(update={"max_new_tokens": 32})
    ev = [real_evidence("196", "181"), real_evidence("196", "50"), real_evidence("196", "1")]
    xs = ExplanationWriter(m, LLMConfig(grounding_retries=0), catalog_titles=titles()).write_many(ev)
    assert [x.item_id for x in xs] == ["181", "50", "1"]
    for x in xs:
        assert x.grounded and x.attempts <= 1 and x.writer in ("llm", "template")
        assert x.writer == "template" or x.first_try_grounded


# ------------------------------------------------------------------ llama.cpp: rows decoded together
def _llamacpp(batch: bool, n_ctx: int = 4096) -> LlamaCppLM:
    return LlamaCppLM(gguf_path(Workspace().cache), threads=default_threads(), n_ctx=n_ctx, batch=batch)


def _run(engine: LlamaCppLM, prompts: list[str], params: GenParams) -> tuple[list[str], list[int]]:
    """Each row's text from ``stream_batch``, and the order in which rows said they were finished."""
    out, ends = [""] * len(prompts), []
    for row, piece in engine.stream_batch(prompts, params):
        if piece is None:
            ends.append(row)
        else:
            out[row] += piece
    return out, ends


@pytest.fixture(scope="module")
def prompts() -> list[str]:
    """Few-shot explain prompts that share the few-shot prefix and differ in their evidence (and length)."""
    return [embedded.render_prompt(c) for c in convs()]


@pytest.fixture(scope="module")
def sequential() -> LlamaCppLM:
    return _llamacpp(batch=False)


@pytest.fixture(scope="module")
def together() -> LlamaCppLM:
    return _llamacpp(batch=True)


@pytest.mark.skipif(not has_llamacpp(), reason="llama-cpp-python not installed (make setup builds it)")
@pytest.mark.parametrize("params", [GenParams(max_new_tokens=16), GenParams(max_new_tokens=48, stop=("\n",))])
def test_llamacpp_rows_decoded_together_equal_the_sequential_path(
    prompts: list[str], sequential: LlamaCppLM, together: LlamaCppLM, params: GenParams
) -> None:
    assert together.batched and not sequential.batched
    ref, ref_ends = _run(sequential, prompts, params)
    decoder = together._together
    assert decoder is not None
    before = decoder.decodes
    got, ends = _run(together, prompts, params)
    assert got == ref  # greedy: the same tokens, so the same text
    assert sorted(ends) == sorted(ref_ends) == [0, 1, 2]  # every row ends exactly once
    assert all(t.strip() for t in got) and all(t.strip() for t in ref)
    if params.stop:
        assert all("\n" not in t for t in got)
    else:
        assert all(together.count_tokens(t) >= params.max_new_tokens - 2 for t in got)  # ran to the cap
    # one call: the shared prefix (kept from an earlier call or read now), one decode of the three
    # suffixes, then one decode per step for all live rows: at most max_new_tokens - 1 steps
    assert decoder.decodes - before <= 1 + 1 + params.max_new_tokens - 1
    # the shared few-shot prefix stays evaluated for the next call
    hits = decoder.prefix_hits
    assert _run(together, prompts[1:2], params)[0] == [ref[1]]
    assert decoder.prefix_hits == hits + 1


@pytest.mark.skipif(not has_llamacpp(), reason="llama-cpp-python not installed (make setup builds it)")
def test_llamacpp_rows_that_do_not_fit_together_run_in_groups_with_the_same_text(
    prompts: list[str], sequential: LlamaCppLM
) -> None:
    params = GenParams(max_new_tokens=40, stop=("\n",))  # the writer's settings
    n_prompt = max(len(sequential._prompt_tokens(p, params)) for p in prompts)
    small = _llamacpp(batch=True, n_ctx=n_prompt + params.max_new_tokens + 8)  # one row fits, three do not
    decoder = small._together
    assert decoder is not None
    got, ends = _run(small, prompts, params)
    assert decoder.groups >= 2  # llama.cpp rounds the context up, but three rows do not fit together
    assert sorted(ends) == [0, 1, 2] and got == _run(sequential, prompts, params)[0]


@pytest.mark.skipif(not has_llamacpp(), reason="llama-cpp-python not installed (make setup builds it)")
def test_llamacpp_batched_keeps_the_error_contract(prompts: list[str], together: LlamaCppLM) -> None:
    params = GenParams(max_new_tokens=8)
    with pytest.raises(LLMUnavailable, match=r"exceeds the llama\.cpp context"):
        list(together.stream_batch([prompts[0], prompts[0] * 20], params))
    with pytest.raises(LLMTimeout, match="deadline"):
        list(together.stream_batch(prompts, params, deadline=time.monotonic() - 1))
    # a failed call leaves nothing behind: the next one generates normally
    out, ends = _run(together, prompts[:2], params)
    assert sorted(ends) == [0, 1] and all(t.strip() for t in out)


@pytest.mark.skipif(not has_llamacpp(), reason="llama-cpp-python not installed (make setup builds it)")
def test_llamacpp_batched_sampling_follows_the_seed(prompts: list[str], together: LlamaCppLM) -> None:
    hot = GenParams(max_new_tokens=12, temperature=1.5, seed=11)
    a, _ = _run(together, prompts, hot)
    assert a == _run(together, prompts, hot)[0]  # same seed, same draws
    assert a != _run(together, prompts, GenParams(max_new_tokens=12, temperature=1.5, seed=12))[0]
    assert a != _run(together, prompts, GenParams(max_new_tokens=12))[0]  # not the greedy text


@pytest.mark.skipif(not has_llamacpp(), reason="llama-cpp-python not installed (make setup builds it)")
def test_queue_batches_concurrent_requests_on_the_batched_engine(prompts: list[str], together: LlamaCppLM) -> None:
    q = GenerationQueue(together, max_pending=8, max_batch=4)
    params = GenParams(max_new_tokens=8, stop=("\n",))
    futures = q.submit(prompts, params, timeout_s=300)
    texts = [f.result(timeout=300) for f in futures]
    assert q.largest_batch == 3 and q.batches_run == 1
    assert texts == _run(together, prompts, params)[0]
