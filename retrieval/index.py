"""The FAISS vector index over item vectors, with exact filters and a checked on-disk form.

Layout: ``faiss.IndexIDMap2`` over ``IndexFlatIP`` (exact) up to ``flat_max_items`` items, over
``config.large_kind`` above: ``IndexIVFFlat`` (default), ``IndexIVFPQ`` (compressed) or
``IndexHNSWFlat``, all inner product. Vectors are expected L2-normalised, so scores are cosine
similarities. Each item has an int64 *label* (its ``Dataset.item_idx`` when built from a dataset)
and an external ``item_id``.

Building adds vectors in chunks of ``config.build_chunk`` (IVF kinds train k-means on a seeded
sample first). Given a checkpoint folder, each finished chunk is written there, so a killed
build resumes after the last finished chunk; a resumed index equals an uninterrupted one
(HNSW: same items, but its multi-threaded insertion order makes the graph differ slightly).

On disk a folder holds ``index.faiss``, ``attributes.json`` (ids and filterable attributes) and
``manifest.json`` (encoder id, dimension, count, index type and parameters, sha256 checksums,
catalog hash); :meth:`FaissIndex.load` refuses any mismatch with :class:`IndexMismatchError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from pydantic import BaseModel, Field

from catalog.types import Item
from retrieval.candidates import Candidates
from retrieval.config import IndexConfig
from retrieval.filters import AttributeTable, Filters

_faiss_any: Any = faiss  # the bundled stubs lack some SWIG classes (SearchParametersHNSW)
ProgressFn = Callable[[int, int], None]
Kind = Literal["flat", "hnsw", "ivf", "ivfpq"]
TRAINED_KINDS = ("ivf", "ivfpq")
FORMAT_VERSION = 1
REBUILD_HINT = "run `trustrec index build` to rebuild it"


def _detect_gpu() -> bool:
    try:
        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:
        return False


HAS_GPU: bool = _detect_gpu()
"""True when this faiss build has GPU support and sees at least one CUDA device."""


class IndexMismatchError(ValueError):
    """A stored index does not match what is asked of it (encoder, dimension, catalog, checksum)."""


class IndexManifest(BaseModel):
    """What a stored index is, checked before it is used."""

    format: int = Field(FORMAT_VERSION, description="On-disk format version.")
    encoder_id: str = Field(description="Encoder that produced the vectors.")
    dim: int = Field(description="Vector dimension.")
    count: int = Field(description="Number of items.")
    index_type: Kind = Field(description="FAISS structure under the id map.")
    checksum: str = Field(description="sha256 of index.faiss.")
    attributes_checksum: str = Field(description="sha256 of attributes.json.")
    catalog_hash: str = Field(description="Hash of the catalog the index was built from ('' if none).")
    faiss_version: str = Field(description="faiss version that wrote it.")
    created_at: str = Field(description="UTC time of writing (ISO 8601).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Index parameters (HNSW M/efConstruction; IVF nlist/nprobe; PQ m/nbits)."
    )


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """Temporarily set FAISS's OpenMP thread count (process-wide; restored afterwards)."""
    if n <= 0:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _as_matrix(x: np.ndarray, dim: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {x.shape}")
    return np.ascontiguousarray(x)


class FaissIndex:
    """Item vectors in FAISS plus the attributes exact filters need.

    Build with :meth:`build`, persist with :meth:`save`/:meth:`load`, change with :meth:`add`,
    :meth:`update`, :meth:`remove`, query with :meth:`search`.

    Args:
        dim: Vector dimension.
        config: Index settings.
        kind: "flat", "hnsw", "ivf" or "ivfpq"; None decides from ``config`` and ``expected_count``.
        encoder_id: The encoder whose vectors this index holds (written to the manifest).
        catalog_hash: Hash of the catalog it reflects (written to the manifest).
        expected_count: Size hint for choosing the kind.
    """

    def __init__(
        self,
        dim: int,
        config: IndexConfig | None = None,
        *,
        kind: Kind | None = None,
        encoder_id: str = "",
        catalog_hash: str = "",
        expected_count: int = 0,
    ) -> None:
        self.dim = int(dim)
        self.config = config or IndexConfig()
        self.kind: Kind = kind or self._choose_kind(expected_count)
        self.encoder_id = encoder_id
        self.catalog_hash = catalog_hash
        self.attributes = AttributeTable()
        self._index = self._new_faiss_index(self.kind)  # trained kinds: untrained until the first add
        self._gpu_index: Any = None
        self._gpu_failed = False
        if self.config.use_gpu == "always" and not HAS_GPU:
            warnings.warn(
                "index.use_gpu = 'always' but no faiss GPU support or CUDA device was found; searching on CPU "
                "(pip install faiss-gpu on a CUDA machine to enable it)",
                RuntimeWarning,
                stacklevel=2,
            )

    # ----- construction -------------------------------------------------------------------
    def _choose_kind(self, count: int) -> Kind:
        """The kind for ``count`` items: the configured one, except that IVF-PQ needs ``2**pq_nbits``
        vectors to train its codebooks, so fewer are served by the exact flat index."""
        cfg = self.config
        want: Kind = cfg.kind if cfg.kind != "auto" else ("flat" if count <= cfg.flat_max_items else cfg.large_kind)
        if want == "ivfpq" and count < 2**cfg.pq_nbits:
            return "flat"
        return want

    def _check_params(self, kind: str) -> None:
        if kind == "ivfpq" and self.dim % self.config.pq_m:
            divisors = [m for m in (8, 16, 24, 32, 48, 64, 96) if self.dim % m == 0]
            raise ValueError(
                f"index.pq_m = {self.config.pq_m} does not divide the vector dimension {self.dim}; "
                f"set index.pq_m to a divisor of {self.dim} (e.g. {divisors or [1]})"
            )

    def _nlist(self, count: int) -> int:
        """Inverted lists for ``count`` training vectors: the configured number, capped so each list
        has about 39 training points (FAISS's minimum for a sound k-means)."""
        return max(1, min(self.config.ivf_nlist, count // 39))

    def _new_faiss_index(self, kind: str, inner: Any = None) -> Any:
        """An empty ``IndexIDMap2`` over a new structure of ``kind`` (or over ``inner``, already made)."""
        self._check_params(kind)
        if inner is None:
            if kind == "flat":
                inner = faiss.IndexFlatIP(self.dim)
            elif kind == "hnsw":
                inner = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                inner.hnsw.efConstruction = self.config.hnsw_ef_construction
                inner.hnsw.efSearch = self.config.hnsw_ef_search
            else:  # trained kinds: a placeholder until train() knows the count (nlist depends on it)
                inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    def _inner(self) -> Any:
        return faiss.downcast_index(self._index.index)

    @property
    def is_trained(self) -> bool:
        """Whether the structure is ready for vectors (IVF kinds need k-means training first)."""
        return self.kind not in TRAINED_KINDS or isinstance(self._inner(), faiss.IndexIVF)

    def _train_inner(self, vectors: np.ndarray) -> Any:
        """A trained, empty IVF structure for ``self.kind`` from a seeded sample of ``vectors``."""
        cfg = self.config
        nlist = self._nlist(len(vectors))
        desc = f"IVF{nlist},Flat" if self.kind == "ivf" else f"IVF{nlist},PQ{cfg.pq_m}x{cfg.pq_nbits}"
        inner: Any = faiss.index_factory(self.dim, desc, faiss.METRIC_INNER_PRODUCT)
        inner.cp.niter = cfg.ivf_niter
        if self.kind == "ivfpq":
            inner.do_polysemous_training = False  # the factory turns it on; it costs minutes and serves no search here
        n_train = min(len(vectors), max(nlist * cfg.ivf_train_per_list, 2**cfg.pq_nbits * 39))
        pick = np.sort(np.random.default_rng(0).choice(len(vectors), n_train, replace=False))
        # small trainings on one thread: on a busy machine OpenMP barriers cost more than the arithmetic
        with _omp_threads(1 if n_train * nlist < 50_000_000 else 0):
            inner.train(np.ascontiguousarray(vectors[pick]))
        return inner

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        item_ids: Sequence[str],
        config: IndexConfig | None = None,
        *,
        items: Sequence[Item] | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        encoder_id: str = "",
        catalog_hash: str = "",
        progress: ProgressFn | None = None,
        train_progress: ProgressFn | None = None,
        checkpoint: Path | str | None = None,
    ) -> FaissIndex:
        """A new index over ``vectors`` (row i is ``item_ids[i]``).

        Args:
            vectors: float32 ``(count, dim)``, L2-normalised.
            item_ids: Distinct external ids, one per row.
            config: Index settings (the kind follows ``config.kind`` and the count).
            items: Catalog items matching ``item_ids`` (for filters); None means no attributes,
                so only ``exclude_ids`` filters can match.
            labels: Integer labels per row (default ``0..count-1``).
            encoder_id: Recorded in the manifest and checked on load.
            catalog_hash: Recorded in the manifest and checked on load.
            progress: Called with ``(added, count)`` after each chunk of ``config.build_chunk`` vectors
                (first with the count already there when a build resumes).
            train_progress: Called with ``(0, 1)`` and ``(1, 1)`` around k-means training (IVF kinds).
            checkpoint: A folder for the trained structure and each finished chunk. A build given the
                folder of an interrupted build of the same vectors, labels and settings resumes after
                its last finished chunk; anything else there from another build is replaced. Remove
                the folder once the index is saved (:func:`clear_checkpoint`).
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-d, got shape {vectors.shape}")
        index = cls(
            vectors.shape[1], config, encoder_id=encoder_id, catalog_hash=catalog_hash, expected_count=len(vectors)
        )
        index.add(
            item_ids,
            vectors,
            items=items,
            labels=labels,
            progress=progress,
            train_progress=train_progress,
            checkpoint=None if checkpoint is None else Path(checkpoint),
        )
        return index

    # ----- size and lookup ----------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.attributes.label_of

    @property
    def item_ids(self) -> list[str]:
        """Ids of all items, in label order."""
        used = np.flatnonzero(self.attributes.used())
        return [self.attributes.item_ids[i] for i in used]

    def label(self, item_id: str) -> int:
        """The integer label of an item. Raises KeyError naming the id."""
        try:
            return self.attributes.label_of[item_id]
        except KeyError:
            raise KeyError(f"item {item_id!r} is not in the index") from None

    def vectors(self, item_ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of these items, ``(len(item_ids), dim)``. Raises KeyError for unknown ids."""
        labels = np.array([self.label(i) for i in item_ids], dtype=np.int64)
        return self._reconstruct(labels)

    def _reconstruct(self, labels: np.ndarray) -> np.ndarray:
        if labels.size == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(np.ascontiguousarray(labels, dtype=np.int64)), dtype=np.float32)

    # ----- changes ------------------------------------------------------------------------
    def add(
        self,
        item_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        items: Sequence[Item] | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        progress: ProgressFn | None = None,
        train_progress: ProgressFn | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        """Add new items (``checkpoint``: see :meth:`build`; only for an empty index).

        Raises:
            ValueError: An id is already present or repeated, a label is taken, or shapes disagree.
        """
        ids = list(item_ids)
        vecs = _as_matrix(vectors, self.dim) if len(ids) else np.zeros((0, self.dim), dtype=np.float32)
        if len(ids) != vecs.shape[0]:
            raise ValueError(f"{len(ids)} item ids for {vecs.shape[0]} vectors")
        if items is not None and [it.item_id for it in items] != ids:
            raise ValueError("items must match item_ids one to one, in order")
        if len(set(ids)) != len(ids):
            raise ValueError("item ids repeat within one add")
        present = [i for i in ids if i in self]
        if present:
            raise ValueError(f"{len(present)} items already in the index (first {present[0]!r}); use update()")
        if labels is None:
            used = np.flatnonzero(self.attributes.used())
            start = int(used.max()) + 1 if used.size else 0
            lab = np.arange(start, start + len(ids), dtype=np.int64)
        else:
            lab = np.asarray(labels, dtype=np.int64).reshape(-1)
            if lab.size != len(ids) or np.unique(lab).size != lab.size or (lab < 0).any():
                raise ValueError("labels must be distinct non-negative integers, one per item")
            taken = lab[lab < self.attributes.capacity]
            if taken.size and self.attributes.used()[taken].any():
                raise ValueError("a label is already in use")
        if not ids:
            return
        if checkpoint is not None and len(self):
            raise ValueError("a checkpoint folder is only for building a new index (this one already has items)")
        target = self._choose_kind(len(self) + len(ids))
        grow = self.kind == "flat" and target != "flat"  # outgrew the exact index (or now has enough to train)
        if grow and not len(self):
            self.kind, self._index = target, self._new_faiss_index(target)
            grow = False
        if items is not None:
            self.attributes.set_items(lab, items)
        else:
            self.attributes.set(lab, ids)
        self._add_vectors(vecs, lab, progress=progress, train_progress=train_progress, checkpoint=checkpoint)
        if grow:
            self._rebuild(target)
        self._gpu_index = None

    def _add_vectors(
        self,
        vecs: np.ndarray,
        lab: np.ndarray,
        *,
        progress: ProgressFn | None = None,
        train_progress: ProgressFn | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        """Train when needed, then add ``vecs`` under ``lab`` chunk by chunk (through ``checkpoint`` when given)."""
        ck = None if checkpoint is None else _Checkpoint(checkpoint, self, vecs, lab)
        if not self.is_trained:
            inner = None if ck is None else ck.trained()
            if train_progress is not None:
                train_progress(0 if inner is None else 1, 1)
            if inner is None:
                inner = self._train_inner(vecs)
                if ck is not None:
                    ck.save_trained(inner)
            self._index = self._new_faiss_index(self.kind, inner)
            if train_progress is not None:
                train_progress(1, 1)
        n, chunk = len(lab), self.config.build_chunk
        starts = list(range(0, n, chunk))

        def report(i: int) -> None:
            if progress is not None:
                progress(min(i * chunk, n), n)

        if ck is None:
            inner = self._inner()
            if isinstance(inner, faiss.IndexIVF) and inner.direct_map.no():
                inner.make_direct_map(True)  # kept up to date by later adds; reconstruct() needs it
            for i, start in enumerate(starts):
                self._index.add_with_ids(vecs[start : start + chunk], lab[start : start + chunk])
                report(i + 1)
        elif self.kind == "hnsw":  # a graph cannot be merged: snapshot the whole index after each chunk
            done, snap = ck.latest_snapshot()
            if snap is not None:
                self._index = snap
            report(done)
            for i in range(done, len(starts)):
                start = starts[i]
                self._index.add_with_ids(vecs[start : start + chunk], lab[start : start + chunk])
                ck.save_snapshot(i + 1, self._index)
                report(i + 1)
        else:  # flat and IVF: each chunk goes into its own shard file; the shards are merged in order at the end
            template = faiss.serialize_index(self._inner())
            report(sum(ck.has_shard(i) for i in range(len(starts))))
            done = 0
            for i, start in enumerate(starts):
                if ck.has_shard(i):
                    done += 1
                    continue
                shard = faiss.deserialize_index(template)
                shard.add(vecs[start : start + chunk])
                ck.save_shard(i, shard)
                done += 1
                report(done)
            inner = self._inner()
            ivf = isinstance(inner, faiss.IndexIVF)
            for i in range(len(starts)):
                inner.merge_from(ck.shard(i), inner.ntotal if ivf else 0)
            faiss.copy_array_to_vector(np.ascontiguousarray(lab, dtype=np.int64), self._index.id_map)
            self._index.ntotal = inner.ntotal
            self._index.construct_rev_map()
            if ivf:
                inner.make_direct_map(True)

    def remove(self, item_ids: Sequence[str]) -> None:
        """Remove items (HNSW cannot delete in place, so it is rebuilt without them).

        Raises:
            KeyError: An id is not in the index.
        """
        labels = np.array([self.label(i) for i in item_ids], dtype=np.int64)
        if labels.size == 0:
            return
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(labels))
            self.attributes.clear(labels)
        else:
            self.attributes.clear(labels)
            self._rebuild(self.kind)
        self._gpu_index = None

    def update(self, item_ids: Sequence[str], vectors: np.ndarray, *, items: Sequence[Item] | None = None) -> None:
        """Replace the vectors (and attributes, when ``items`` is given) of existing items, keeping labels."""
        ids = list(item_ids)
        vecs = _as_matrix(vectors, self.dim)
        labels = np.array([self.label(i) for i in ids], dtype=np.int64)
        if items is None:
            old = self.attributes
            cats = [[old.display[k] for k, col in old.categories.items() if col[label]] for label in labels.tolist()]
            years = [None if np.isnan(old.year[label]) else float(old.year[label]) for label in labels.tolist()]
            prices = [None if np.isnan(old.price[label]) else float(old.price[label]) for label in labels.tolist()]
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(labels))
            self._index.add_with_ids(vecs, labels)
        else:
            keep = np.setdiff1d(np.flatnonzero(self.attributes.used()), labels)
            all_labels = np.concatenate([keep, labels])
            all_vecs = np.concatenate([self._reconstruct(keep), vecs])
            self._reset(self.kind)
            self._add_vectors(all_vecs, all_labels)
        if items is not None:
            self.attributes.set_items(labels, items)
        else:
            self.attributes.set(labels, ids, categories=cats, years=years, prices=prices)
        self._gpu_index = None

    def _rebuild(self, kind: Kind) -> None:
        """Re-create the FAISS structure from the stored vectors of every used label (IVF kinds keep
        their trained centroids when they stay the same kind; IVF-PQ vectors are the decoded codes)."""
        keep = np.flatnonzero(self.attributes.used()).astype(np.int64)
        vecs = self._reconstruct(keep)
        self._reset(kind)
        if keep.size:
            self._add_vectors(vecs, keep)
        self._gpu_index = None

    def _reset(self, kind: Kind) -> None:
        """Empty the FAISS structure, as ``kind`` (trained IVF structures are kept, emptied, for the same kind)."""
        inner = self._inner() if kind == self.kind and kind in TRAINED_KINDS and self.is_trained else None
        if inner is not None:
            inner = _faiss_any.clone_index(inner)
            inner.reset()
            inner.direct_map.clear()
        self.kind = kind
        self._index = self._new_faiss_index(kind, inner)

    def _present_labels(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    # ----- search -------------------------------------------------------------------------
    def allowed_labels(self, filters: Filters | None) -> np.ndarray | None:
        """Labels passing ``filters`` (None when every item passes)."""
        if filters is None or filters.is_empty():
            return None
        return np.flatnonzero(self.attributes.mask(filters)).astype(np.int64)

    def search(
        self, queries: np.ndarray, n: int, filters: Filters | None = None, *, source: str = "index"
    ) -> list[Candidates]:
        """The ``n`` items most similar to each query that pass ``filters``.

        Contract: each result holds exactly ``min(n, number of items passing filters)``
        distinct items, best first; never fewer. Flat indexes are exact; HNSW is approximate
        in ranking but still never returns fewer (it falls back to an exact search over the
        allowed items when the graph search comes up short).

        Args:
            queries: ``(dim,)`` or ``(m, dim)`` float32.
            n: Wanted list length.
            filters: Exact constraints; None for none.
            source: Label written into ``Candidates.sources``.

        Returns:
            One :class:`Candidates` per query row.
        """
        q = _as_matrix(queries, self.dim)
        labels, scores = self.search_labels(q, n, filters)
        out = []
        for row_l, row_s in zip(labels, scores, strict=True):
            valid = row_l >= 0
            lab = row_l[valid]
            ids = tuple(self.attributes.item_ids[lab].tolist())
            out.append(Candidates(ids, row_s[valid], (source,) * len(ids), lab))
        return out

    def search_labels(
        self, queries: np.ndarray, n: int, filters: Filters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`search` but returns raw ``(labels, scores)`` arrays ``(m, k)``, ``k = min(n, allowed)``."""
        q = _as_matrix(queries, self.dim)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        allowed = self.allowed_labels(filters)
        n_allowed = len(self) if allowed is None else int(allowed.size)
        k = min(n, n_allowed)
        if k == 0:
            return np.zeros((q.shape[0], 0), dtype=np.int64), np.zeros((q.shape[0], 0), dtype=np.float32)
        if allowed is not None and n_allowed <= self.config.exact_subset_max:
            return self.exact_search(q, k, allowed)
        params: Any = None
        sel = None if allowed is None else faiss.IDSelectorBatch(allowed)
        if self.kind == "hnsw":
            params = _faiss_any.SearchParametersHNSW(efSearch=max(self.config.hnsw_ef_search, k))
            if sel is not None:
                params.sel = sel
        elif self.kind in TRAINED_KINDS and self.is_trained:
            params = _faiss_any.SearchParametersIVF(nprobe=min(self.config.ivf_nprobe, self._inner().nlist))
            if sel is not None:
                params.sel = sel
        elif sel is not None:
            params = faiss.SearchParameters()
            params.sel = sel
        target = self._gpu() if params is None else None
        if target is not None:
            scores, labels = target.search(q, k)
        else:
            with _omp_threads(self.config.small_batch_threads if q.shape[0] < 16 else 0):
                scores, labels = self._index.search(q, k, params=params)
        labels = np.asarray(labels, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float32)
        short = np.flatnonzero((labels < 0).any(axis=1))
        if short.size:  # the graph search came up short of k: exact over the allowed set for those rows
            subset = self._present_labels() if allowed is None else allowed
            el, es = self.exact_search(q[short], k, subset)
            labels[short], scores[short] = el, es
        return labels, scores

    def exact_search(self, queries: np.ndarray, k: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` inner product over the given labels only (chunked to bound memory)."""
        q = _as_matrix(queries, self.dim)
        labels = np.asarray(labels, dtype=np.int64)
        k = min(k, labels.size)
        best_s = np.full((q.shape[0], 0), -np.inf, dtype=np.float32)
        best_l = np.zeros((q.shape[0], 0), dtype=np.int64)
        chunk = 65_536
        for start in range(0, labels.size, chunk):
            lab = labels[start : start + chunk]
            s = q @ self._reconstruct(lab).T
            cand_s = np.concatenate([best_s, s], axis=1)
            cand_l = np.concatenate([best_l, np.broadcast_to(lab, s.shape)], axis=1)
            if cand_s.shape[1] > k:
                part = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
                cand_s = np.take_along_axis(cand_s, part, axis=1)
                cand_l = np.take_along_axis(cand_l, part, axis=1)
            best_s, best_l = cand_s, cand_l
        order = np.lexsort((best_l, -best_s), axis=1) if best_s.size else np.zeros_like(best_l)
        return np.take_along_axis(best_l, order, axis=1), np.take_along_axis(best_s, order, axis=1).astype(np.float32)

    def _gpu(self) -> Any:
        """A GPU copy of a flat index when wanted and possible; None otherwise (warns once on failure)."""
        if self.kind != "flat" or self.config.use_gpu == "never" or not HAS_GPU or self._gpu_failed:
            return None
        if self._gpu_index is None:
            try:
                res = faiss.StandardGpuResources()
                self._gpu_index = faiss.index_cpu_to_gpu(res, 0, self._index)
                self._gpu_res = res
            except Exception as e:
                self._gpu_failed = True
                warnings.warn(f"GPU index unavailable ({e}); searching on CPU", RuntimeWarning, stacklevel=3)
                return None
        return self._gpu_index

    @property
    def faiss_index(self) -> Any:
        """The underlying ``faiss.IndexIDMap2`` (read-only use)."""
        return self._index

    def set_ef_search(self, ef_search: int) -> None:
        """Change HNSW efSearch for later searches (no effect on other kinds)."""
        self.config = self.config.model_copy(update={"hnsw_ef_search": int(ef_search)})

    def set_nprobe(self, nprobe: int) -> None:
        """Change the IVF lists visited per query for later searches (no effect on other kinds)."""
        if nprobe < 1:
            raise ValueError(f"nprobe must be >= 1, got {nprobe}")
        self.config = self.config.model_copy(update={"ivf_nprobe": int(nprobe)})

    @property
    def params(self) -> dict[str, Any]:
        """The structure's parameters, as the manifest records them."""
        if self.kind == "hnsw":
            return {"M": self.config.hnsw_m, "efConstruction": self.config.hnsw_ef_construction}
        if self.kind in TRAINED_KINDS and self.is_trained:
            inner = self._inner()
            out: dict[str, Any] = {"nlist": int(inner.nlist), "nprobe": min(self.config.ivf_nprobe, int(inner.nlist))}
            if self.kind == "ivfpq":
                out |= {"pq_m": int(inner.pq.M), "pq_nbits": int(inner.pq.nbits)}
            return out
        return {}

    # ----- persistence --------------------------------------------------------------------
    def save(self, folder: Path | str) -> IndexManifest:
        """Write the index, its attributes and the manifest atomically (manifest last)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tag = f".tmp{os.getpid()}"
        idx_tmp, attr_tmp, man_tmp = (
            folder / f"{name}{tag}" for name in ("index.faiss", "attributes.json", "manifest.json")
        )
        faiss.write_index(self._index, str(idx_tmp))
        attr_tmp.write_text(json.dumps(self.attributes.to_json()))
        manifest = IndexManifest(
            encoder_id=self.encoder_id,
            dim=self.dim,
            count=len(self),
            index_type=self.kind,
            checksum=sha256_file(idx_tmp),
            attributes_checksum=sha256_file(attr_tmp),
            catalog_hash=self.catalog_hash,
            faiss_version=faiss.__version__,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            params=self.params,
        )
        man_tmp.write_text(manifest.model_dump_json(indent=2))
        os.replace(idx_tmp, folder / "index.faiss")
        os.replace(attr_tmp, folder / "attributes.json")
        os.replace(man_tmp, folder / "manifest.json")
        return manifest

    @staticmethod
    def read_manifest(folder: Path | str) -> IndexManifest:
        """The manifest of a stored index.

        Raises:
            FileNotFoundError: No index is stored there.
            IndexMismatchError: The manifest is unreadable.
        """
        path = Path(folder) / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"no index at {Path(folder)}; {REBUILD_HINT}")
        try:
            return IndexManifest.model_validate_json(path.read_text())
        except Exception as e:
            raise IndexMismatchError(f"index manifest {path} is unreadable ({e}); {REBUILD_HINT}") from None

    @classmethod
    def load(
        cls,
        folder: Path | str,
        config: IndexConfig | None = None,
        *,
        encoder_id: str | None = None,
        dim: int | None = None,
        catalog_hash: str | None = None,
    ) -> FaissIndex:
        """Load a stored index, refusing it unless it is intact and matches every expectation given.

        Args:
            folder: The index folder.
            config: Search-time settings (efSearch, GPU, exact_subset_max).
            encoder_id: Required encoder id (None: not checked).
            dim: Required dimension (None: not checked).
            catalog_hash: Required catalog hash (None: not checked).

        Raises:
            FileNotFoundError: No index there.
            IndexMismatchError: Different encoder, dimension or catalog, a checksum failure,
                or a format this version cannot read. The message says to rebuild.
        """
        folder = Path(folder)
        man = cls.read_manifest(folder)
        problems = []
        if man.format != FORMAT_VERSION:
            problems.append(f"format {man.format} (this version reads {FORMAT_VERSION})")
        if encoder_id is not None and man.encoder_id != encoder_id:
            problems.append(f"built with encoder {man.encoder_id!r}, configured encoder is {encoder_id!r}")
        if dim is not None and man.dim != dim:
            problems.append(f"dimension {man.dim}, encoder gives {dim}")
        if catalog_hash is not None and man.catalog_hash != catalog_hash:
            problems.append("built from a different catalog (items were added, removed or changed since)")
        if not problems:
            for name, want in (("index.faiss", man.checksum), ("attributes.json", man.attributes_checksum)):
                path = folder / name
                if not path.is_file():
                    problems.append(f"{name} is missing")
                elif sha256_file(path) != want:
                    problems.append(f"{name} fails its sha256 checksum (damaged or overwritten)")
        if problems:
            raise IndexMismatchError(f"stale or mismatched index at {folder}: {'; '.join(problems)}; {REBUILD_HINT}")
        raw = faiss.read_index(str(folder / "index.faiss"))
        if raw.d != man.dim or raw.ntotal != man.count:
            raise IndexMismatchError(
                f"index at {folder} holds {raw.ntotal} vectors of dimension {raw.d}, manifest says "
                f"{man.count} of {man.dim}; {REBUILD_HINT}"
            )
        index = cls(man.dim, config, kind=man.index_type, encoder_id=man.encoder_id, catalog_hash=man.catalog_hash)
        index._index = faiss.downcast_index(raw) if not isinstance(raw, faiss.IndexIDMap2) else raw
        index.attributes = AttributeTable.from_json(json.loads((folder / "attributes.json").read_text()))
        if int(index.attributes.used().sum()) != man.count:
            raise IndexMismatchError(f"attributes at {folder} do not match the index; {REBUILD_HINT}")
        return index


def clear_checkpoint(folder: Path | str) -> None:
    """Remove a build checkpoint folder (only the files a build writes there, then the folder if empty)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name in ("state.json", "trained.faiss") or path.name.startswith(("shard-", "snapshot-")):
            path.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


class _Checkpoint:
    """A build's checkpoint folder: ``state.json`` (fingerprint of the input), ``trained.faiss`` (the
    trained empty IVF structure), ``shard-NNNNN.faiss`` (chunk N's vectors, flat and IVF kinds) or
    ``snapshot-NNNNN.faiss`` (the whole index after N chunks, HNSW). Every file is written to a
    temporary name and renamed, so a killed process leaves only complete files."""

    def __init__(self, folder: Path, index: FaissIndex, vecs: np.ndarray, lab: np.ndarray) -> None:
        self.folder = folder
        h = hashlib.sha256()
        settings = index.config.model_dump(
            include={"hnsw_m", "hnsw_ef_construction", "ivf_nlist", "ivf_train_per_list", "ivf_niter", "pq_m",
                     "pq_nbits", "build_chunk"}
        )  # fmt: skip
        h.update(json.dumps({"kind": index.kind, "dim": index.dim, "n": len(lab), **settings}, sort_keys=True).encode())
        h.update(np.ascontiguousarray(lab, dtype=np.int64).data)
        h.update(np.ascontiguousarray(vecs, dtype=np.float32).data)
        fingerprint = h.hexdigest()
        state = folder / "state.json"
        try:
            same = json.loads(state.read_text()).get("fingerprint") == fingerprint
        except (OSError, ValueError):
            same = False
        if not same:  # another build's (or no) checkpoint: start over
            clear_checkpoint(folder)
            folder.mkdir(parents=True, exist_ok=True)
            self._write(state, json.dumps({"fingerprint": fingerprint, "kind": index.kind, "count": len(lab)}).encode())

    def _write(self, path: Path, data: bytes | Any) -> None:
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            faiss.write_index(data, str(tmp))
        os.replace(tmp, path)

    def trained(self) -> Any:
        path = self.folder / "trained.faiss"
        return faiss.read_index(str(path)) if path.is_file() else None

    def save_trained(self, inner: Any) -> None:
        self._write(self.folder / "trained.faiss", inner)

    def _shard_path(self, i: int) -> Path:
        return self.folder / f"shard-{i:05d}.faiss"

    def has_shard(self, i: int) -> bool:
        return self._shard_path(i).is_file()

    def save_shard(self, i: int, shard: Any) -> None:
        self._write(self._shard_path(i), shard)

    def shard(self, i: int) -> Any:
        return faiss.read_index(str(self._shard_path(i)))

    def latest_snapshot(self) -> tuple[int, Any]:
        done = sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("snapshot-*.faiss"))
        if not done:
            return 0, None
        return done[-1], faiss.read_index(str(self.folder / f"snapshot-{done[-1]:05d}.faiss"))

    def save_snapshot(self, done: int, index: Any) -> None:
        self._write(self.folder / f"snapshot-{done:05d}.faiss", index)
        for old in self.folder.glob("snapshot-*.faiss"):
            if int(old.stem.split("-")[1]) < done:
                old.unlink()
