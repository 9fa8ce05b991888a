"""The FAISS vector index over item vectors, with exact filters and a checked on-disk form.

Layout: ``faiss.IndexIDMap2`` over ``IndexFlatIP`` (exact) up to ``flat_max_items`` items, over
``IndexHNSWFlat`` (inner product) above. Vectors are expected L2-normalised, so scores are
cosine similarities. Each item has an int64 *label* (its ``Dataset.item_idx`` when built from a
dataset) and an external ``item_id``.

On disk a folder holds ``index.faiss``, ``attributes.json`` (ids and filterable attributes) and
``manifest.json`` (encoder id, dimension, count, index type, sha256 checksums, catalog hash);
:meth:`FaissIndex.load` refuses any mismatch with :class:`IndexMismatchError`.
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
    index_type: Literal["flat", "hnsw"] = Field(description="FAISS structure under the id map.")
    checksum: str = Field(description="sha256 of index.faiss.")
    attributes_checksum: str = Field(description="sha256 of attributes.json.")
    catalog_hash: str = Field(description="Hash of the catalog the index was built from ('' if none).")
    faiss_version: str = Field(description="faiss version that wrote it.")
    created_at: str = Field(description="UTC time of writing (ISO 8601).")
    params: dict[str, Any] = Field(default_factory=dict, description="Index build parameters.")


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
        kind: "flat" or "hnsw"; None decides from ``config`` and ``expected_count``.
        encoder_id: The encoder whose vectors this index holds (written to the manifest).
        catalog_hash: Hash of the catalog it reflects (written to the manifest).
        expected_count: Size hint for choosing the kind.
    """

    def __init__(
        self,
        dim: int,
        config: IndexConfig | None = None,
        *,
        kind: Literal["flat", "hnsw"] | None = None,
        encoder_id: str = "",
        catalog_hash: str = "",
        expected_count: int = 0,
    ) -> None:
        self.dim = int(dim)
        self.config = config or IndexConfig()
        self.kind: Literal["flat", "hnsw"] = kind or self._choose_kind(expected_count)
        self.encoder_id = encoder_id
        self.catalog_hash = catalog_hash
        self.attributes = AttributeTable()
        self._index = self._new_faiss_index(self.kind)
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
    def _choose_kind(self, count: int) -> Literal["flat", "hnsw"]:
        if self.config.kind != "auto":
            return self.config.kind
        return "flat" if count <= self.config.flat_max_items else "hnsw"

    def _new_faiss_index(self, kind: str) -> Any:
        inner: Any
        if kind == "flat":
            inner = faiss.IndexFlatIP(self.dim)
        else:
            inner = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.config.hnsw_ef_construction
            inner.hnsw.efSearch = self.config.hnsw_ef_search
        return faiss.IndexIDMap2(inner)

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
            progress: Called with ``(added, count)`` while adding.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-d, got shape {vectors.shape}")
        index = cls(
            vectors.shape[1], config, encoder_id=encoder_id, catalog_hash=catalog_hash, expected_count=len(vectors)
        )
        index.add(item_ids, vectors, items=items, labels=labels, progress=progress)
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
    ) -> None:
        """Add new items.

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
        if self.config.kind == "auto" and self.kind == "flat" and len(self) + len(ids) > self.config.flat_max_items:
            self._rebuild("hnsw")
        if items is not None:
            self.attributes.set_items(lab, items)
        else:
            self.attributes.set(lab, ids)
        chunk = 20_000
        for start in range(0, len(ids), chunk):
            self._index.add_with_ids(vecs[start : start + chunk], lab[start : start + chunk])
            if progress is not None:
                progress(min(start + chunk, len(ids)), len(ids))
        self._gpu_index = None

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
            self._index = self._new_faiss_index(self.kind)
            self._index.add_with_ids(all_vecs, all_labels)
        if items is not None:
            self.attributes.set_items(labels, items)
        else:
            self.attributes.set(labels, ids, categories=cats, years=years, prices=prices)
        self._gpu_index = None

    def _rebuild(self, kind: Literal["flat", "hnsw"]) -> None:
        """Re-create the FAISS structure from the stored vectors of every used label."""
        keep = np.flatnonzero(self.attributes.used()).astype(np.int64)
        vecs = self._reconstruct(keep)
        self.kind = kind
        self._index = self._new_faiss_index(kind)
        if keep.size:
            self._index.add_with_ids(vecs, keep)
        self._gpu_index = None

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
        """Change HNSW efSearch for later searches (no effect on flat indexes)."""
        self.config = self.config.model_copy(update={"hnsw_ef_search": int(ef_search)})

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
            params=(
                {"M": self.config.hnsw_m, "efConstruction": self.config.hnsw_ef_construction}
                if self.kind == "hnsw"
                else {}
            ),
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
