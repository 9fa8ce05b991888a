"""A bounded thread pool for chat turns, so the server's CPU work never blocks its event loop.

A turn ranks, explains and may call the LLM: seconds of CPU work. The HTTP API's ``async`` routes
hand each turn to one :class:`TurnPool`: at most ``workers`` turns run at once, at most
``max_pending`` more wait, and a turn past that is refused at once with :class:`PoolBusy` (the API
answers 503 with ``Retry-After``) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["PoolBusy", "TurnPool"]

T = TypeVar("T")


class PoolBusy(RuntimeError):
    """Every worker is busy and the waiting line is full."""

    retry_after_s = 2


class TurnPool:
    """Run blocking turns on ``workers`` threads with at most ``max_pending`` waiting.

    Args:
        workers: Turns that run at once (threads).
        max_pending: Turns that may wait for a worker; one more is refused with :class:`PoolBusy`.
    """

    def __init__(self, workers: int, max_pending: int) -> None:
        if workers < 1 or max_pending < 0:
            raise ValueError("workers must be >= 1 and max_pending >= 0")
        self.workers, self.max_pending = workers, max_pending
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trustrec-turn")
        self._slots = threading.BoundedSemaphore(workers + max_pending)
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Turns running or waiting now."""
        return self._in_flight

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Start ``fn(*args)`` on a worker (or queue it).

        Raises:
            PoolBusy: ``workers + max_pending`` turns are already running or waiting.
        """
        if not self._slots.acquire(blocking=False):
            raise PoolBusy(f"busy: {self.workers} turns running and {self.max_pending} waiting; retry shortly")
        with self._lock:
            self._in_flight += 1
        try:
            fut = self._executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        fut.add_done_callback(lambda _f: self._release())
        return fut

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker, awaited without blocking the event loop.

        Raises:
            PoolBusy: As :meth:`submit`.
        """
        return await asyncio.wrap_future(self.submit(fn, *args))

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()

    def close(self) -> None:
        """Stop taking turns; running ones finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
