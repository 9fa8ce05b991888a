"""One bounded queue for the embedded model's generations, shared by every concurrent turn.

One process holds one copy of the embedded model, and a CPU runs one generation well at a time:
two turns decoding at once on two threads only fight over the same cores. So every call goes
through a :class:`GenerationQueue`: one worker thread takes the waiting requests, up to
``max_batch`` of them with the same generation settings, and runs them as one batch where the
backend can (``TextEngine.batched``), else one after another with the shared prefix reused.

Bounds: at most ``max_pending`` requests wait; one more is refused at once with
:class:`LLMBusy` (an :class:`~agent.llm.errors.LLMUnavailable`, so writers fall back to their
template instead of waiting). A request whose deadline passed while it waited is dropped with
:class:`~agent.llm.errors.LLMTimeout` without being run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from agent.llm.errors import LLMTimeout, LLMUnavailable

__all__ = ["GenParams", "GenerationQueue", "LLMBusy", "TextEngine", "common_prefix"]

PieceCallback = Callable[[str], None]


class LLMBusy(LLMUnavailable):
    """The generation queue is full; the caller should use its fallback (e.g. the template) now."""


@dataclass(frozen=True)
class GenParams:
    """The settings one batch shares: requests with equal params may run together."""

    max_new_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int = 0


class TextEngine(Protocol):
    """A loaded embedded model that continues prompts (see :mod:`agent.llm.embedded`)."""

    backend: str
    load_s: float
    batched: bool  # True: one forward pass serves many rows; False: rows run one after another

    def count_tokens(self, text: str) -> int: ...

    def stream_batch(
        self, prompts: Sequence[str], params: GenParams, *, deadline: float | None = None
    ) -> Iterator[tuple[int, str | None]]:
        """Continue every prompt; yield ``(row, text piece)`` as pieces are final, ``(row, None)`` when
        a row is finished.

        Raises:
            LLMTimeout: ``time.monotonic()`` passed ``deadline`` before every row was finished.
        """
        ...


@dataclass
class _Request:
    prompt: str
    params: GenParams
    deadline: float
    future: Future[str] = field(default_factory=Future)
    on_piece: PieceCallback | None = None
    text: str = ""


class GenerationQueue:
    """A bounded FIFO of generation requests served by one worker thread (see module docs).

    Args:
        engine: The loaded model.
        max_pending: Requests that may wait (not counting the batch running now); more are refused.
        max_batch: Requests run together at most (1 disables batching).
    """

    def __init__(self, engine: TextEngine, *, max_pending: int = 32, max_batch: int = 8) -> None:
        if max_pending < 1 or max_batch < 1:
            raise ValueError("max_pending and max_batch must be >= 1")
        self.engine = engine
        self.max_pending = max_pending
        self.max_batch = max_batch
        self._waiting: deque[_Request] = deque()
        self._cv = threading.Condition()
        self._worker: threading.Thread | None = None
        self.batches_run = 0
        self.largest_batch = 0

    # ---------------------------------------------------------------- callers
    def submit(
        self, prompts: Sequence[str], params: GenParams, *, timeout_s: float, on_piece: PieceCallback | None = None
    ) -> list[Future[str]]:
        """Queue ``prompts`` together (all or none); one future per prompt, in order.

        ``on_piece`` (single prompt only) is called from the worker thread with each text piece.

        Raises:
            LLMBusy: Fewer than ``len(prompts)`` places are free.
            ValueError: ``on_piece`` with more than one prompt.
        """
        if on_piece is not None and len(prompts) != 1:
            raise ValueError("on_piece streams one prompt; submit the others separately")
        deadline = time.monotonic() + timeout_s
        reqs = [_Request(p, params, deadline, on_piece=on_piece) for p in prompts]
        with self._cv:
            if len(self._waiting) + len(reqs) > self.max_pending:
                raise LLMBusy(
                    f"the embedded model's queue is full ({len(self._waiting)} of {self.max_pending} waiting); "
                    "answering without it"
                )
            self._waiting.extend(reqs)
            self._ensure_worker()
            self._cv.notify()
        return [r.future for r in reqs]

    def generate(self, prompts: Sequence[str], params: GenParams, *, timeout_s: float) -> list[str]:
        """Queue ``prompts`` and wait for their texts (in order) at most ``timeout_s`` seconds.

        Raises:
            LLMBusy: The queue is full.
            LLMTimeout: Not all texts were done in time.
            LLMError: The backend failed.
        """
        futures = self.submit(prompts, params, timeout_s=timeout_s)
        end = time.monotonic() + timeout_s
        out = []
        for f in futures:
            try:
                out.append(f.result(timeout=max(end - time.monotonic(), 0.001)))
            except TimeoutError:
                raise LLMTimeout(f"the embedded model did not finish within {timeout_s:.0f} s") from None
        return out

    def pending(self) -> int:
        """Requests waiting now (not counting the batch being generated)."""
        with self._cv:
            return len(self._waiting)

    # ---------------------------------------------------------------- worker
    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._loop, daemon=True, name="trustrec-llm-queue")
            self._worker.start()

    def _take(self) -> list[_Request]:
        """The next batch: the oldest request and up to ``max_batch - 1`` waiting ones with its params.

        A streamed request runs alone. On an engine without real batching the rows run one after
        another, but together they still reuse the shared prompt prefix while it is warm.
        """
        with self._cv:
            while not self._waiting:
                self._cv.wait()
            first = self._waiting.popleft()
            batch = [first]
            if first.on_piece is None:
                keep: deque[_Request] = deque()
                while self._waiting and len(batch) < self.max_batch:
                    r = self._waiting.popleft()
                    (batch if r.params == first.params and r.on_piece is None else keep).append(r)
                keep.extend(self._waiting)
                self._waiting = keep
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            now = time.monotonic()
            live = []
            for r in batch:
                if r.future.set_running_or_notify_cancel() is False:
                    continue
                if r.deadline <= now:
                    r.future.set_exception(LLMTimeout("the request waited past its deadline in the LLM queue"))
                else:
                    live.append(r)
            if live:
                self._run(live)

    def _run(self, batch: list[_Request]) -> None:
        self.batches_run += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        deadline = max(r.deadline for r in batch)
        try:
            for row, piece in self.engine.stream_batch([r.prompt for r in batch], batch[0].params, deadline=deadline):
                r = batch[row]
                if piece is None:  # the row is finished: its caller need not wait for the others
                    r.future.set_result(r.text)
                    continue
                r.text += piece
                if r.on_piece is not None:
                    r.on_piece(piece)
        except BaseException as e:  # delivered to every caller still waiting
            for r in batch:
                if not r.future.done():
                    r.future.set_exception(e)
            return
        for r in batch:
            if not r.future.done():
                r.future.set_result(r.text)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token id sequences (what a kept KV cache can reuse)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
