"""The disk cache of shap's jitted kernels must never end an explanation (and with it a chat turn)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

KERNELS = """
from numba import njit

@njit
def identity(x):
    return x

@njit
def apply(x, link):
    return link(x).sum()

@njit
def twice(x):
    return 2 * x.sum()
"""


@pytest.fixture()
def kern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Real jitted kernels in a fresh module, with numba's disk cache in ``tmp_path``."""
    import numba.core.config

    (tmp_path / "kern_jit_cache_test.py").write_text(KERNELS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    numba.core.config.reload_config()
    import kern_jit_cache_test

    yield kern_jit_cache_test
    sys.modules.pop("kern_jit_cache_test", None)
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    numba.core.config.reload_config()


def _recording_saves(dispatcher: Any, fail_first: bool) -> tuple[list[Any], list[int]]:
    """Wrap the real cache's save (failing once, as numba did on an index naming a vanished function) and flush."""
    dispatcher.enable_caching()
    cache = dispatcher._cache
    real_save, real_flush = cache.save_overload, cache.flush
    saves: list[Any] = []
    flushes: list[int] = []

    def save_overload(sig: Any, data: Any) -> None:
        saves.append(sig)
        if fail_first and len(saves) == 1:
            raise ReferenceError("underlying object has vanished")
        real_save(sig, data)

    def flush() -> None:
        flushes.append(1)
        real_flush()

    cache.save_overload, cache.flush = save_overload, flush
    return saves, flushes


def test_an_index_that_cannot_be_written_is_cleared_and_the_kernel_still_runs(kern: Any) -> None:
    from ranker.jit_cache import _tolerate_bad_entries

    saves, flushes = _recording_saves(kern.twice, fail_first=True)
    _tolerate_bad_entries(kern.twice)
    assert kern.twice(np.ones(3)) == 6.0
    assert len(saves) == 2 and flushes == [1]  # cleared, then saved


def test_a_kernel_compiled_for_a_function_argument_is_not_saved(kern: Any) -> None:
    from ranker.jit_cache import _tolerate_bad_entries

    saves, _ = _recording_saves(kern.apply, fail_first=False)
    _tolerate_bad_entries(kern.apply)
    assert kern.apply(np.ones(4), kern.identity) == 4.0
    assert saves == []  # keyed by the function object, another process could not save the index again
