"""The embedded model through llama.cpp (llama-cpp-python) on the packaged GGUF file itself.

No de-quantisation: llama.cpp runs the Q4_K_M weights as they are (the file is memory-mapped, so
loading takes about a second). Two ways to run a batch of prompts (``LLMConfig.llamacpp_batch``):

* batched (the default): the rows decode together on a context of their own with one sequence per
  row over a unified KV cache. The prompts' longest common token prefix (the few-shot examples) is
  evaluated once into sequence 0 and kept for the next call; each row's sequence gets its KV cells
  by ``llama_memory_seq_cp`` (shared cells, no copy), its own suffix is evaluated, and then one
  ``llama_decode`` per step advances every live row by one token until it hits a stop string, an
  end-of-generation token or the token cap. Rows that do not fit the context together run in
  consecutive groups.
* sequential: ``Llama.create_completion`` per row, one after another; llama-cpp-python keeps the
  previous prompt's KV cache and evaluates only the tokens after the prefix a new prompt shares
  with it.

Both tokenise a prompt the same way (BOS, special tokens parsed) and sample with the same llama.cpp
sampler chain, so greedy output is the same token for token. Generation settings map one to one
onto :class:`~agent.llm.queue.GenParams`: ``max_new_tokens`` is the token cap, ``stop`` the stop
strings (not included in the text), ``temperature`` 0 is greedy, and sampling above 0 draws from
the whole softmax (``top_k=0``, ``top_p=1``, ``min_p=0``, no repeat penalty) with ``seed``, as the
transformers path does.

It is an optional extra (``pip install 'trustrec[llamacpp]'``, built from source; ``make setup``
builds it with portable CPU flags); without it :func:`agent.llm.embedded.load_engine` falls back to
the transformers path and logs why.
"""

from __future__ import annotations

import codecs
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.llm.errors import LLMTimeout, LLMUnavailable
from agent.llm.queue import GenParams, common_prefix

INSTALL_HINT = (
    "pip install 'trustrec[llamacpp]' (builds llama.cpp; on CPUs where the native build crashes set "
    'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF", as the Makefile does)'
)
N_CTX = 4096
N_BATCH = 512  # tokens per llama_decode call (prompt chunks; a decode step holds one token per live row)
MAX_SEQS = 16  # rows decoded together at most; more rows run in further groups
# Both paths use flash attention: it skips masked KV cells instead of adding their zeros, so a row's
# attention sums the same terms in the same order whether its cells sit alone or among other rows'.
FLASH_ATTN = True


def has_llamacpp() -> bool:
    """Whether ``llama_cpp`` imports."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


class _TextOut:
    """One row's generated text: complete UTF-8 characters only, stop strings cut, a possible stop held back."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        self.text = ""
        self.sent = 0

    def add(self, piece: bytes) -> tuple[str, bool]:
        """Add a token's bytes; returns ``(text now final, whether a stop string ended the row)``."""
        self.text += self.decoder.decode(piece)
        return self._release(final=False)

    def finish(self) -> str:
        """The rest of the text when the row ends without a stop string (token cap, end of generation)."""
        self.text += self.decoder.decode(b"", final=True)
        return self._release(final=True)[0]

    def _release(self, *, final: bool) -> tuple[str, bool]:
        hits = [i for i in (self.text.find(s) for s in self.stops) if i >= 0]
        if hits:
            end, stopped = min(hits), True
        else:
            hold = 0  # the longest tail that may still grow into a stop string
            if not final:
                for s in self.stops:
                    for k in range(min(len(s) - 1, len(self.text)), hold, -1):
                        if self.text.endswith(s[:k]):
                            hold = k
                            break
            end, stopped = len(self.text) - hold, False
        out = self.text[self.sent : max(end, self.sent)]
        self.sent = max(end, self.sent)
        return out, stopped


@dataclass
class _Row:
    index: int  # the caller's row
    seq: int  # llama.cpp sequence id (1..); 0 holds the shared prefix
    tokens: list[int]
    out: _TextOut
    sampler: Any = None
    pos: int = 0  # position of the next token to decode
    last: int = -1  # the token to decode next
    n_new: int = 0
    done: bool = False


def _free(lc: Any, ctx: Any, batch: Any) -> None:
    lc.llama_batch_free(batch)
    lc.llama_free(ctx)


class _BatchDecoder:
    """A llama.cpp context with ``n_seqs + 1`` sequences over one unified KV cache (see module docs).

    Not thread-safe: :class:`LlamaCppLM` holds its lock around :meth:`run`.
    """

    def __init__(self, llm: Any, *, threads: int, n_ctx: int, n_seqs: int) -> None:
        import llama_cpp as lc

        self.lc = lc
        self.llm = llm  # keeps the model alive while this context uses it
        p = lc.llama_context_default_params()
        p.n_ctx = n_ctx
        p.n_batch = N_BATCH
        p.n_ubatch = N_BATCH
        p.n_seq_max = n_seqs + 1
        p.n_threads = threads
        p.n_threads_batch = threads
        p.swa_full = True  # every position kept, so a prefix can be shared and cut back
        p.kv_unified = True  # one cell pool: a copied prefix is shared, not duplicated
        p.no_perf = True
        p.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if FLASH_ATTN else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = lc.llama_init_from_model(llm.model, p)
        if not self.ctx:
            raise LLMUnavailable(f"llama.cpp could not make a context for {n_seqs} sequences of {n_ctx} tokens")
        self.batch = lc.llama_batch_init(N_BATCH, 0, 1)
        weakref.finalize(self, _free, lc, self.ctx, self.batch)
        self.mem = lc.llama_get_memory(self.ctx)
        self.vocab = lc.llama_model_get_vocab(llm.model)
        self.n_ctx = lc.llama_n_ctx(self.ctx)
        self.n_seqs = n_seqs
        self.cached: list[int] = []  # tokens sequence 0 holds: the last shared prefix
        self.prefix_hits = 0  # calls that found part of their shared prefix already evaluated
        self.decodes = 0  # llama_decode calls (prompt chunks and steps)
        self.groups = 0  # groups of rows decoded together

    # ------------------------------------------------------------------ llama.cpp calls
    def _decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(token, position, sequence, wants logits)`` entries."""
        b = self.batch
        for i, (tok, pos, seq, out) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = out
        b.n_tokens = len(entries)
        rc = self.lc.llama_decode(self.ctx, b)
        self.decodes += 1
        if rc != 0:
            raise LLMUnavailable(
                f"llama_decode failed ({rc}: 1 means no room in the KV cache) on {len(entries)} tokens "
                f"with a context of {self.n_ctx}"
            )

    def _sampler(self, params: GenParams) -> Any:
        """The chain ``Llama.create_completion`` builds for these settings (repeat penalty 1 is a no-op and left out)."""
        lc = self.lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if params.temperature == 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        else:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(0))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_typical(1.0, 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(1.0, 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_min_p(0.0, 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(params.temperature))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(params.seed))
        return chain

    def _forget(self) -> None:
        """Drop every sequence (after a failure the cache state is unknown)."""
        self.lc.llama_memory_seq_rm(self.mem, -1, -1, -1)
        self.cached = []

    # ------------------------------------------------------------------ the batch
    def run(
        self, prompts: Sequence[list[int]], params: GenParams, deadline: float | None
    ) -> Iterator[tuple[int, str | None]]:
        """Generate every prompt (token lists, each fitting the context with its ``max_new_tokens``)."""
        shortest = min(len(t) for t in prompts)
        common = prompts[0][: shortest - 1]  # every row keeps at least one token of its own (its logits)
        for t in prompts[1:]:
            common = common[: common_prefix(common, t)]
        groups: list[list[int]] = [[]]
        used = len(common)
        for i, t in enumerate(prompts):
            need = len(t) - len(common) + params.max_new_tokens
            if groups[-1] and (used + need > self.n_ctx or len(groups[-1]) >= self.n_seqs):
                groups.append([])
                used = len(common)
            groups[-1].append(i)
            used += need
        try:
            self._prefix(common, deadline)
            for g in groups:
                yield from self._group([(i, prompts[i]) for i in g], len(common), params, deadline)
        except BaseException:
            self._forget()
            raise

    def _check(self, deadline: float | None, what: str) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise LLMTimeout(f"llama.cpp passed its deadline {what}")

    def _prefix(self, common: list[int], deadline: float | None) -> None:
        """Make sequence 0 hold exactly ``common``, evaluating only what it does not hold yet."""
        keep = common_prefix(self.cached, common)
        if keep < len(self.cached) and not self.lc.llama_memory_seq_rm(self.mem, 0, keep, -1):
            self._forget()
            keep = 0
        if keep:
            self.prefix_hits += 1
        self.cached = common[:keep]
        for start in range(keep, len(common), N_BATCH):
            self._check(deadline, "while reading the shared prompt prefix")
            chunk = common[start : start + N_BATCH]
            self._decode([(tok, start + j, 0, False) for j, tok in enumerate(chunk)])
            self.cached = common[: start + len(chunk)]

    def _group(
        self, members: list[tuple[int, list[int]]], n_common: int, params: GenParams, deadline: float | None
    ) -> Iterator[tuple[int, str | None]]:
        lc = self.lc
        self.groups += 1
        rows = [_Row(index=i, seq=k + 1, tokens=t, out=_TextOut(params.stop)) for k, (i, t) in enumerate(members)]
        try:
            for r in rows:
                lc.llama_memory_seq_rm(self.mem, r.seq, -1, -1)
                if n_common:
                    lc.llama_memory_seq_cp(self.mem, 0, r.seq, -1, -1)
                r.sampler = self._sampler(params)
            # each row's own suffix, all rows in the same decode calls; logits only for each row's last token
            entries = [
                (tok, p, r.seq, p == len(r.tokens) - 1, r)
                for r in rows
                for p, tok in enumerate(r.tokens[n_common:], start=n_common)
            ]
            for start in range(0, len(entries), N_BATCH):
                self._check(deadline, "while reading the prompts")
                chunk = entries[start : start + N_BATCH]
                self._decode([e[:4] for e in chunk])
                for j, (*_, wants, r) in enumerate(chunk):
                    if wants:
                        r.pos = len(r.tokens)
                        yield from self._take(r, lc.llama_sampler_sample(r.sampler, self.ctx, j), params)
            live = [r for r in rows if not r.done]
            while live:
                self._check(deadline, f"after {sum(r.n_new for r in rows)} new tokens")
                self._decode([(r.last, r.pos, r.seq, True) for r in live])
                for j, r in enumerate(live):
                    r.pos += 1
                    yield from self._take(r, lc.llama_sampler_sample(r.sampler, self.ctx, j), params)
                live = [r for r in live if not r.done]
        finally:
            for r in rows:
                lc.llama_memory_seq_rm(self.mem, r.seq, -1, -1)
                if r.sampler is not None:
                    lc.llama_sampler_free(r.sampler)

    def _take(self, r: _Row, token: int, params: GenParams) -> Iterator[tuple[int, str | None]]:
        """Handle one sampled token of row ``r`` in ``create_completion``'s order: end of generation, stop, cap."""
        if self.lc.llama_vocab_is_eog(self.vocab, token):
            text, r.done = r.out.finish(), True
        else:
            r.n_new += 1
            r.last = token
            text, r.done = r.out.add(self.llm.detokenize([token]))
            if not r.done and r.n_new >= params.max_new_tokens:
                text, r.done = text + r.out.finish(), True
        if text:
            yield r.index, text
        if r.done:
            yield r.index, None


class LlamaCppLM:
    """The packaged GGUF through llama.cpp; a batch's rows decode together (``batch``) or one after another.

    Args:
        path: The GGUF file.
        threads: CPU threads for decoding and for prompt evaluation.
        n_ctx: Context length: prompt plus generated tokens of one row; in batched mode also the cells
            the rows decoded together share (their common prefix counted once).
        batch: Decode the rows of a batch together (see module docs); False runs them one after another.

    Raises:
        LLMUnavailable: ``llama_cpp`` is missing or the file does not load.
    """

    backend = "llamacpp"

    def __init__(self, path: Path, *, threads: int, n_ctx: int = N_CTX, batch: bool = True) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LLMUnavailable(f"llama_cpp is not installed: {INSTALL_HINT}") from e
        t0 = time.perf_counter()
        try:
            self.llm: Any = Llama(
                model_path=str(path),
                # batched mode decodes on its own context and uses this one only to tokenise
                n_ctx=n_ctx if not batch else 256,
                n_threads=threads,
                n_threads_batch=threads,
                swa_full=True,  # the sliding-window layers keep every position, so a shared prefix can be reused
                flash_attn=FLASH_ATTN,
                verbose=False,
            )
            self._together = _BatchDecoder(self.llm, threads=threads, n_ctx=n_ctx, n_seqs=MAX_SEQS) if batch else None
        except (ValueError, RuntimeError, OSError) as e:
            raise LLMUnavailable(f"llama.cpp cannot load {path}: {e}") from e
        self.load_s = time.perf_counter() - t0
        self.batched = batch
        self.source = "gguf"
        self.path = path
        self.threads = threads
        self.n_ctx = n_ctx
        self._lock = threading.Lock()  # one context serves one generation at a time

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt_tokens(self, prompt: str, params: GenParams) -> list[int]:
        """``prompt`` tokenised as ``create_completion`` does (BOS, special tokens parsed), checked against the context.

        Raises:
            LLMUnavailable: The prompt plus ``max_new_tokens`` does not fit the context.
        """
        tokens: list[int] = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) + params.max_new_tokens > self.n_ctx:
            raise LLMUnavailable(
                f"prompt of {len(tokens)} tokens plus {params.max_new_tokens} new ones exceeds the "
                f"llama.cpp context of {self.n_ctx}"
            )
        return tokens

    def stream_batch(
        self, prompts: Sequence[str], params: GenParams, *, deadline: float | None = None
    ) -> Iterator[tuple[int, str | None]]:
        """Continue every prompt (see :class:`~agent.llm.queue.TextEngine`): together or one after another.

        Raises:
            LLMTimeout: ``deadline`` passed before every row was finished.
            LLMUnavailable: A prompt does not fit the context.
        """
        if not prompts:
            return
        with self._lock:
            if self._together is not None:
                tokens = [self._prompt_tokens(p, params) for p in prompts]
                yield from self._together.run(tokens, params, deadline)
            else:
                yield from self._one_by_one(prompts, params, deadline)

    def _one_by_one(
        self, prompts: Sequence[str], params: GenParams, deadline: float | None
    ) -> Iterator[tuple[int, str | None]]:
        for row, prompt in enumerate(prompts):
            self._prompt_tokens(prompt, params)
            n = 0
            chunks = self.llm.create_completion(
                prompt,
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_k=0,
                top_p=1.0,
                min_p=0.0,
                repeat_penalty=1.0,
                stop=list(params.stop) or None,
                seed=params.seed,
                stream=True,
            )
            try:
                for chunk in chunks:
                    if deadline is not None and time.monotonic() > deadline:
                        raise LLMTimeout(f"llama.cpp passed its deadline after {n} pieces")
                    piece = chunk["choices"][0]["text"]
                    n += 1
                    if piece:
                        yield row, piece
            finally:
                chunks.close()
            yield row, None
