"""Retrieval benchmark: build time, size, single-query latency and recall@k of each index kind vs exact search.

Sizes equal to the catalog's item count use the catalog's real encoder vectors (queries: the
encoded titles of sampled items, a different text from the indexed one). Other sizes use
synthetic vectors from :func:`synthetic_vectors`, with queries drawn independently from the
same distribution (never copies of indexed vectors).
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.config import IndexConfig
from retrieval.index import FaissIndex

StageProgress = Callable[[str, int, int], None]
RowCallback = Callable[[dict[str, Any]], None]


def synthetic_vectors(
    n: int,
    dim: int = 384,
    *,
    seed: int = 0,
    n_clusters: int = 1024,
    latent_dim: int = 64,
    spread: float = 1.0,
    noise: float = 0.15,
    shared: float = 0.4,
    chunk: int = 100_000,
) -> np.ndarray:
    """Normalised float32 vectors shaped like sentence embeddings: clustered, anisotropic, low intrinsic dimension.

    A Gaussian mixture (``n_clusters`` unit-variance centres, within-cluster std ``spread``) in a
    ``latent_dim``-d space, projected to ``dim`` dimensions, plus isotropic ``noise`` and a
    direction common to all vectors sized so that a typical pair has cosine about ``shared``
    (MiniLM vectors of ml-100k items have a median pairwise cosine of about 0.41), then
    L2-normalised. The mixture depends only on the shape parameters (fixed seed), so another
    ``seed`` samples fresh points (e.g. queries) from the same distribution.
    """
    base = np.random.default_rng(12345)
    centers = base.standard_normal((n_clusters, latent_dim)).astype(np.float32)
    proj = (base.standard_normal((latent_dim, dim)) / np.sqrt(latent_dim)).astype(np.float32)
    common = base.standard_normal(dim).astype(np.float32)
    row_norm = np.sqrt(dim * (1.0 + spread**2) + dim * noise**2)
    common *= np.sqrt(shared / (1.0 - shared)) * row_norm / np.linalg.norm(common)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        z = centers[rng.integers(0, n_clusters, m)] + spread * rng.standard_normal((m, latent_dim), dtype=np.float32)
        x = z @ proj + noise * rng.standard_normal((m, dim), dtype=np.float32) + common
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start : start + m] = x
    return out


def recall_at_k(approx: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Mean over queries of ``|approx[:k] ∩ exact[:k]| / k``."""
    hits = [len(set(a[:k].tolist()) & set(e[:k].tolist())) for a, e in zip(approx, exact, strict=True)]
    return float(np.mean(hits) / k) if hits else float("nan")


def _latencies(index: FaissIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query wall times (ms) for one query at a time, and the labels found."""
    times = np.empty(len(queries))
    labels = np.full((len(queries), k), -1, dtype=np.int64)
    index.search(queries[0], k)  # warm-up
    for i, q in enumerate(queries):
        t = time.perf_counter()
        c = index.search(q, k)[0]
        times[i] = (time.perf_counter() - t) * 1000
        labels[i, : len(c)] = c.item_idx
    return times, labels


def _rss_mb() -> float | None:
    """Resident memory of this process in MiB (Linux /proc; None elsewhere)."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])  # noqa: SIM115 (a one-line read)
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


KINDS = ("flat", "ivf", "ivfpq", "hnsw")


def bench_vectors(
    vectors: np.ndarray,
    queries: np.ndarray,
    config: IndexConfig | None = None,
    *,
    dataset: str,
    k: int = 10,
    kinds: Sequence[str] = KINDS,
    ef_search: Sequence[int] = (),
    nprobe: Sequence[int] = (),
    progress: StageProgress | None = None,
    on_row: RowCallback | None = None,
) -> list[dict[str, Any]]:
    """Rows for the exact flat index and each approximate kind (one row per efSearch / nprobe) over ``vectors``.

    Exact neighbours come from a flat index (batch search); recall is measured against them. Each
    row also has the index's size on disk (``index.faiss``), the process's resident-memory growth
    while building (``ram_mb``, Linux), the FAISS threads used per single query and the load average.
    """
    cfg = config or IndexConfig()
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown index kinds {sorted(unknown)}; choose from {list(KINDS)}")
    n = len(vectors)
    ids = [str(i) for i in range(n)]
    rows: list[dict[str, Any]] = []
    threads = cfg.small_batch_threads or faiss_threads()

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    def note(stage: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda d, t: progress(f"{stage} n={n}", d, t))

    exact: np.ndarray | None = None
    for kind in ["flat", *[x for x in kinds if x != "flat"]]:
        gc.collect()
        rss0 = _rss_mb()
        t = time.perf_counter()
        index = FaissIndex.build(
            vectors,
            ids,
            cfg.model_copy(update={"kind": kind}),
            progress=note(f"{kind} build"),
            train_progress=note(f"{kind} train"),
        )
        build_s = time.perf_counter() - t
        rss1 = _rss_mb()
        with tempfile.TemporaryDirectory() as tmp:
            index.save(tmp)
            disk_mb = (Path(tmp) / "index.faiss").stat().st_size / 2**20
        sizes = {
            "disk_mb": round(disk_mb, 1),
            "ram_mb": None if rss0 is None or rss1 is None else round(rss1 - rss0, 1),
        }
        if exact is None:
            exact, _ = index.search_labels(queries, k)
        if kind == "flat":
            settings: list[int | None] = [None] if "flat" in kinds else []
        else:
            settings = list(ef_search or (cfg.hnsw_ef_search,)) if kind == "hnsw" else list(nprobe or (cfg.ivf_nprobe,))
        for value in settings:
            extra: dict[str, Any] = {}
            if kind == "hnsw" and value is not None:
                index.set_ef_search(value)
                extra = {"efSearch": value}
            elif kind != "flat" and value is not None:
                index.set_nprobe(value)
            times, found = _latencies(index, queries, k)
            recall = 1.0 if kind == "flat" else recall_at_k(found, exact, k)
            params = {**index.params, **extra}
            emit(_row(dataset, n, kind, build_s, times, recall, len(queries), params, sizes, threads))
        del index
        gc.collect()
    return rows


def faiss_threads() -> int:
    """FAISS's OpenMP thread count (what a search uses when not told otherwise)."""
    import faiss

    return int(faiss.omp_get_max_threads())


def _row(
    dataset: str,
    n: int,
    kind: str,
    build_s: float,
    times: np.ndarray,
    recall: float,
    nq: int,
    params: dict[str, Any],
    sizes: dict[str, Any],
    threads: int,
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "items": n,
        "index": kind,
        "params": params,
        "build_s": round(build_s, 3),
        **sizes,
        "p50_ms": round(float(np.percentile(times, 50)), 4),
        "p95_ms": round(float(np.percentile(times, 95)), 4),
        "recall_at_10": round(recall, 4),
        "queries": nq,
        "search_threads": threads,
        "load_average": _load(),
    }


def bench_retrieval(
    sizes: Sequence[int],
    config: IndexConfig | None = None,
    *,
    real_vectors: np.ndarray | None = None,
    real_queries: np.ndarray | None = None,
    n_queries: int = 200,
    kinds: Sequence[str] = KINDS,
    ef_search: Sequence[int] = (),
    nprobe: Sequence[int] = (),
    seed: int = 0,
    dim: int = 384,
    progress: StageProgress | None = None,
    on_row: RowCallback | None = None,
) -> list[dict[str, Any]]:
    """Benchmark each size; a size equal to ``len(real_vectors)`` uses the real vectors and queries.

    Args:
        on_row: Called with each row as soon as it is measured (long runs report as they go).

    Returns:
        One dict per (size, index kind, efSearch or nprobe): dataset, items, index, params, build_s,
        disk_mb, ram_mb, p50_ms, p95_ms, recall_at_10 (vs exact search), queries, search_threads,
        load_average.
    """
    rows: list[dict[str, Any]] = []
    for size in sizes:
        if real_vectors is not None and real_queries is not None and size == len(real_vectors):
            vecs, qs, name = real_vectors, real_queries[:n_queries], "ml-100k (MiniLM)"
        else:
            if progress is not None:
                progress(f"generate n={size}", 0, 1)
            vecs = synthetic_vectors(size, real_vectors.shape[1] if real_vectors is not None else dim, seed=seed)
            qs = synthetic_vectors(n_queries, vecs.shape[1], seed=seed + 1_000_003)
            if progress is not None:
                progress(f"generate n={size}", 1, 1)
            name = "synthetic"
        rows += bench_vectors(
            vecs,
            qs,
            config,
            dataset=name,
            kinds=kinds,
            ef_search=ef_search,
            nprobe=nprobe,
            progress=progress,
            on_row=on_row,
        )
        del vecs
        gc.collect()
    return rows
