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
                    found = True
        _done = found
        return found
