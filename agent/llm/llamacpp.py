"""The embedded model through llama.cpp (llama-cpp-python) on the packaged GGUF file itself.

No de-quantisation: llama.cpp runs the Q4_K_M weights as they are (the file is memory-mapped, so
loading takes about a second), and it keeps the previous prompt's KV cache, evaluating only the
tokens after the longest prefix a new prompt shares with it (the few-shot examples). It is an
optional extra (``pip install 'trustrec[llamacpp]'``, built from source; ``make setup`` builds it
with portable CPU flags); without it :func:`agent.llm.embedded.load_engine` falls back to the
transformers path and logs why.

Generation settings map one to one onto :class:`~agent.llm.queue.GenParams`: ``max_tokens`` is the
token cap, ``stop`` the stop strings (not included in the text), ``temperature`` 0 is greedy, and
sampling above 0 draws from the whole softmax (``top_k=0``, ``top_p=1``, ``min_p=0``, no repeat
penalty) with ``seed``, as the transformers path does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agent.llm.errors import LLMTimeout, LLMUnavailable
from agent.llm.queue import GenParams

INSTALL_HINT = (
    "pip install 'trustrec[llamacpp]' (builds llama.cpp; on CPUs where the native build crashes set "
    'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF", as the Makefile does)'
)
N_CTX = 4096


def has_llamacpp() -> bool:
    """Whether ``llama_cpp`` imports."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


class LlamaCppLM:
    """The packaged GGUF through ``llama_cpp.Llama``; rows of a batch run one after another.

    Args:
        path: The GGUF file.
        threads: CPU threads for decoding and for prompt evaluation.
        n_ctx: Context length (prompt plus generated tokens).

    Raises:
        LLMUnavailable: ``llama_cpp`` is missing or the file does not load.
    """

    backend = "llamacpp"
    batched = False

    def __init__(self, path: Path, *, threads: int, n_ctx: int = N_CTX) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LLMUnavailable(f"llama_cpp is not installed: {INSTALL_HINT}") from e
        t0 = time.perf_counter()
        try:
            self.llm: Any = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                swa_full=True,  # the sliding-window layers keep every position, so a shared prefix can be reused
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise LLMUnavailable(f"llama.cpp cannot load {path}: {e}") from e
        self.load_s = time.perf_counter() - t0
        self.source = "gguf"
        self.path = path
        self.threads = threads
        self.n_ctx = n_ctx
        self._lock = threading.Lock()  # one Llama context serves one generation at a time

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream_batch(
        self, prompts: Sequence[str], params: GenParams, *, deadline: float | None = None
    ) -> Iterator[tuple[int, str | None]]:
        """Continue each prompt in turn (see :class:`~agent.llm.queue.TextEngine`).

        Raises:
            LLMTimeout: ``deadline`` passed before every row was finished.
            LLMUnavailable: The prompt does not fit the context.
        """
        with self._lock:
            for row, prompt in enumerate(prompts):
                n_prompt = len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False))
                if n_prompt + params.max_new_tokens > self.n_ctx:
                    raise LLMUnavailable(
                        f"prompt of {n_prompt} tokens plus {params.max_new_tokens} new ones exceeds the "
                        f"llama.cpp context of {self.n_ctx}"
                    )
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
