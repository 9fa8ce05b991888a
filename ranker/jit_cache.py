"""Persist shap's numba-compiled kernels across processes.

shap's permutation explainer compiles a few ``@njit`` kernels (``shap.utils._masked_model``, ``shap.maskers._tabular``, ...) on
first use, which costs 20-60 s on a 2-core CPU - on every process start, since shap does not
ask numba to cache them. Enabling numba's on-disk cache for those dispatchers turns the second
and later starts into a file load.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

_done = False
_lock = threading.Lock()


def enable_shap_jit_cache(cache_dir: Path | None = None) -> bool:
    """Enable numba's disk cache for shap's kernels (idempotent).

    Args:
        cache_dir: Where compiled kernels go (sets ``NUMBA_CACHE_DIR`` if unset); default numba's
            choice (``__pycache__`` beside shap).

    Returns:
        True when caching is on; False when shap's internals changed (nothing breaks, it just compiles).
    """
    global _done
    with _lock:
        if _done:
            return True
        if cache_dir is not None and "NUMBA_CACHE_DIR" not in os.environ:
            cache_dir.mkdir(parents=True, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = str(cache_dir)
            import numba.core.config

            numba.core.config.reload_config()
        try:
            import sys

            import shap.explainers
            import shap.maskers  # noqa: F401
            from numba.core.registry import CPUDispatcher
        except ImportError:
            return False
        found = False
        for name, module in list(sys.modules.items()):
            if not name.startswith("shap") or module is None:
                continue
            for obj in vars(module).values():
                if isinstance(obj, CPUDispatcher):
                    obj.enable_caching()
                    _tolerate_bad_entries(obj)
                    found = True
        _done = found
        return found


def _tolerate_bad_entries(dispatcher: object) -> None:
    """Make the disk cache of one kernel unable to end a turn: an entry that cannot be read is a miss (the
    kernel is compiled again), and a kernel compiled for a function argument is not saved.

    shap's output builders take ``link`` (a jitted function) as an argument; numba keys such an entry by a
    type naming that function object, which another process cannot pickle again ("underlying object has
    vanished"), so once one is in the index every later save of that kernel failed, and with it the
    explainer's warm-up and the chat turn. A save that fails anyway clears the kernel's index and is
    tried once more; then it is skipped.
    """
    from numba.core import types

    cache = getattr(dispatcher, "_cache", None)
    load, save = getattr(cache, "load_overload", None), getattr(cache, "save_overload", None)
    if cache is None or load is None or save is None or getattr(load, "_tolerant", False):
        return

    def load_overload(sig: Any, target_context: Any) -> Any:
        try:
            return load(sig, target_context)
        except Exception:  # any unreadable entry: compile afresh
            return None

    def save_overload(sig: Any, data: Any) -> None:
        args = sig if isinstance(sig, tuple) else getattr(sig, "args", ())
        if any(isinstance(t, types.Dispatcher) for t in args):
            return  # keyed by a function object: not loadable in another process
        try:
            save(sig, data)
        except Exception:  # an index polluted by such an entry: start it afresh, once
            try:
                cache.flush()
                save(sig, data)
            except Exception:  # still failing: run uncached
                return

    load_overload._tolerant = True  # type: ignore[attr-defined]
    cache.load_overload = load_overload
    cache.save_overload = save_overload
