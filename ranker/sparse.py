"""Item-item models for large catalogs: top-k neighbour matrices in CSR and a low-rank EASE.

Below a catalog size threshold (``RankerConfig.sparse_above``, ``EASEConfig.sparse_above``) the
ranker keeps dense ``(n_items, n_items)`` matrices; at 100k items one such matrix is ~40 GB in
float32, so above it every item-item model is built here, with memory that grows with the
interactions and ``n_items x k``, never with ``n_items**2``:

- :func:`topk_product`: the rows of ``left @ right`` in blocks sized by a bound on their nonzeros,
  each block transformed (cosine, RP3beta's popularity penalty) and cut to its ``k`` largest entries
  per row before the next block is formed (ItemKNN, RP3beta, the co-occurrence neighbours).
- :func:`topk_per_row`: the cut itself, vectorised over a CSR matrix.
- :class:`LowRankEASE`: EASE (Steck 2019) with the Gram matrix replaced by its top ``rank``
  eigenpairs from seeded randomized subspace iteration (Halko et al. 2011). With
  ``G ~ V diag(s) V^T`` the inverse has the closed form ``P = I/lam - V diag(c) V^T``,
  ``c = s / (lam (s + lam))``, so ``B = I - P diag(1/diag(P))`` never needs to be formed: a score
  is ``h_i - (h P)_i / P_ii`` at ``O(rank)`` per (profile, item). It stays additive in the
  history (``score = h @ B``), so exact history attributions still hold.

Why low rank rather than a sparse approximate inverse (the ``sansa`` package): sansa needs
SuiteSparse's CHOLMOD through ``scikit-sparse`` (a system library and a C build that a clean
``make setup`` does not have), while the low-rank form needs only numpy and scipy; its accuracy
cost on ml-100k and its fit cost at scale are printed by ``trustrec eval ranking`` and
``trustrec bench scale`` (see the README).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from ranker.base import Profile

__all__ = [
    "LowRankEASE", "gather_columns", "is_item_item", "item_item_columns", "neighbour_candidates", "topk_per_row", "topk_product",
]  # fmt: skip

#: Nonzeros of one block of a product before it is cut to top-k (bounds the block's memory, ~1 GB).
BLOCK_NNZ = 40_000_000


def topk_per_row(m: sp.spmatrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest entries of each row of ``m`` (CSR); ties go to the lower column; zeros dropped."""
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    counts = np.diff(m.indptr)
    if m.nnz == 0 or counts.max() <= k:
        return m
    rows = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((m.indices, -m.data, rows))  # rows stay grouped, largest first within a row
    rank = np.arange(m.nnz) - np.repeat(m.indptr[:-1], counts)
    keep = order[rank < k]
    keep.sort()
    kept = np.minimum(counts, k)
    return sp.csr_matrix((m.data[keep], m.indices[keep], np.r_[0, np.cumsum(kept)]), shape=m.shape)


def _blocks(cost: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive row ranges whose summed ``cost`` stays within ``budget`` (a costlier row is alone)."""
    out, start, acc = [], 0, 0
    for r, c in enumerate(cost.tolist()):
        if r > start and acc + c > budget:
            out.append((start, r))
            start, acc = r, 0
        acc += c
    if start < cost.size:
        out.append((start, cost.size))
    return out


def topk_product(
    left: sp.spmatrix,
    right: sp.spmatrix,
    k: int,
    *,
    transform: Callable[[sp.csr_matrix, np.ndarray], sp.csr_matrix] | None = None,
    zero_diagonal: bool = True,
    block_nnz: int = BLOCK_NNZ,
    progress: Callable[[int, int], None] | None = None,
) -> sp.csr_matrix:
    """Top-``k`` entries per row of ``transform(left @ right)``, block by block.

    Args:
        left: ``(n, m)`` sparse matrix.
        right: ``(m, n2)`` sparse matrix.
        k: Entries kept per row.
        transform: ``f(block, rows) -> block`` applied to each CSR block of the product (``rows``: the
            block's row indices) before the cut, e.g. a cosine normalisation.
        zero_diagonal: Drop entry ``(r, r)`` of each row (an item is not its own neighbour).
        block_nnz: Upper bound on a block's nonzeros before the cut (memory per block ~ 12 bytes each).
        progress: ``progress(rows_done, n)`` after each block.

    Returns:
        ``(n, n2)`` CSR matrix with at most ``k`` entries per row.
    """
    left, right = sp.csr_matrix(left), sp.csr_matrix(right)
    # a product row's nonzeros are at most the summed lengths of the right rows it touches
    right_len = np.diff(right.indptr).astype(np.float64)
    bound = np.asarray(sp.csr_matrix((np.ones(left.nnz), left.indices, left.indptr), shape=left.shape) @ right_len)
    cost = np.minimum(bound.ravel(), right.shape[1]).astype(np.int64)
    parts = []
    for r0, r1 in _blocks(cost, block_nnz):
        blk = sp.csr_matrix(left[r0:r1] @ right)
        rows = np.arange(r0, r1)
        if zero_diagonal:
            coo = blk.tocoo()
            off = coo.col != coo.row + r0
            blk = sp.csr_matrix((coo.data[off], (coo.row[off], coo.col[off])), shape=blk.shape)
        if transform is not None:
            blk = sp.csr_matrix(transform(blk, rows))
        parts.append(topk_per_row(blk, k))
        if progress is not None:
            progress(r1, left.shape[0])
    if not parts:
        return sp.csr_matrix((left.shape[0], right.shape[1]), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(parts, format="csr"), dtype=np.float32)


def _gram(z: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """``z^T z`` accumulated in float64 over row chunks (``z`` may be float32 and tall)."""
    g = np.zeros((z.shape[1], z.shape[1]))
    for s in range(0, z.shape[0], chunk):
        c = z[s : s + chunk].astype(np.float64)
        g += c.T @ c
    return g


def _orth(z: np.ndarray) -> np.ndarray:
    """An orthonormal basis of ``z``'s columns from the eigenvectors of its Gram matrix, twice over
    (matrix products only: LAPACK's QR of a tall matrix ran ~10x fewer flops per second here);
    directions below ``1e-10`` of the largest are dropped."""
    q = z
    for _ in range(2):
        w, u = np.linalg.eigh(_gram(q))
        keep = w > max(w.max(), 0.0) * 1e-10
        q = q @ (u[:, keep] / np.sqrt(w[keep])).astype(q.dtype)
    return q


def _randomized_eigh(
    x: sp.csr_matrix, extra: np.ndarray | None, rank: int, *, oversample: int, power_iters: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``rank`` eigenpairs ``(s, V)`` of ``G = x^T x + extra^T extra``: subspace iteration from a seeded
    random start, then Rayleigh-Ritz (Halko et al. 2011). Exact when ``rank + oversample`` reaches ``G``'s rank."""
    n = x.shape[1]
    ell = min(n, rank + oversample)
    rng = np.random.default_rng(seed)
    xt = sp.csr_matrix(x.T)

    def a(v: np.ndarray) -> np.ndarray:  # [x; extra] @ v
        top = np.asarray(x @ v)
        return top if extra is None else np.vstack([top, extra @ v])

    def at(y: np.ndarray) -> np.ndarray:  # [x; extra]^T @ y
        out = np.asarray(xt @ y[: x.shape[0]])
        return out if extra is None else out + extra.T @ y[x.shape[0] :]

    q = _orth(rng.standard_normal((n, ell)).astype(np.float32))
    for _ in range(power_iters + 1):
        q = _orth(at(a(q)))  # G q
    w, u = np.linalg.eigh(_gram(a(q)))  # q^T G q
    order = np.argsort(-w)[: min(rank, w.size)]
    v = (q @ u[:, order].astype(np.float32)).astype(np.float64)
    return np.maximum(w[order], 0.0), np.ascontiguousarray(v)


@dataclass
class LowRankEASE:
    """EASE weights ``B = I - P diag(1/diag(P))`` with ``P = I/lam - V diag(c) V^T`` (never formed).

    Attributes:
        v: ``(n_items, rank)`` top eigenvectors of the Gram matrix (float32).
        c: ``(rank,)`` ``s / (lam (s + lam))``.
        lam: The L2 penalty.
        diag: ``(n_items,)`` ``diag(P)``.
    """

    v: np.ndarray
    c: np.ndarray
    lam: float
    diag: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        n = int(self.v.shape[0])
        return n, n

    @property
    def nbytes(self) -> int:
        return int(self.v.nbytes + self.c.nbytes + self.diag.nbytes)

    @classmethod
    def fit(
        cls,
        x: sp.spmatrix,
        lam: float,
        rank: int,
        *,
        text: np.ndarray | None = None,
        text_weight: float = 0.0,
        oversample: int = 16,
        power_iters: int = 1,
        seed: int = 0,
    ) -> LowRankEASE:
        """Fit from a ``(n_users, n_items)`` interaction matrix ``x``.

        ``text`` (``(n_items, d)``) with ``text_weight > 0`` adds ``text_weight * text @ text.T`` to the
        Gram matrix, as :func:`ranker.features.ease_matrix` does. ``power_iters``: one subspace iteration
        reaches three's accuracy on ml-100k (rank 256: NDCG@10 0.3210 against 0.3207; none: 0.3163).
        """
        s, v = cls.eigen(
            x, rank, text=text, text_weight=text_weight, oversample=oversample, power_iters=power_iters, seed=seed
        )
        return cls.from_eigen(s, v, lam)

    @staticmethod
    def eigen(
        x: sp.spmatrix,
        rank: int,
        *,
        text: np.ndarray | None = None,
        text_weight: float = 0.0,
        oversample: int = 16,
        power_iters: int = 1,
        seed: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The Gram matrix's top eigenpairs ``(s, V)`` that :meth:`fit` uses: they do not depend on ``lam``, so a
        sweep over penalties (the trainer's validation search) computes them once and calls :meth:`from_eigen`."""
        xs = sp.csr_matrix(x, dtype=np.float32)
        extra = None
        if text is not None and text_weight > 0:
            extra = (np.sqrt(text_weight) * np.asarray(text, dtype=np.float32)).T.copy()
        return _randomized_eigh(xs, extra, rank, oversample=oversample, power_iters=power_iters, seed=seed)

    @classmethod
    def from_eigen(cls, s: np.ndarray, v: np.ndarray, lam: float) -> LowRankEASE:
        """The low-rank EASE of penalty ``lam`` from :meth:`eigen`'s ``(s, V)``."""
        c = s / (lam * (s + lam))
        diag = 1.0 / lam - (v * v) @ c
        return cls(v=v.astype(np.float32), c=c.astype(np.float64), lam=float(lam), diag=diag.astype(np.float64))

    def columns(self, h: sp.spmatrix | np.ndarray, items: np.ndarray | None) -> np.ndarray:
        """``(h @ B)[:, items]`` without forming ``B`` (``items`` None: all)."""
        hv = np.asarray(h @ self.v, dtype=np.float64) * self.c  # (P, rank)
        v = self.v if items is None else self.v[items]
        d = self.diag if items is None else self.diag[items]
        hp = -(hv @ v.T.astype(np.float64))  # (h P)[:, items] minus the h/lam part
        hi = _dense_columns(h, items)
        hp += hi / self.lam
        return hi - hp / d[None, :]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"v": self.v, "c": self.c, "lam": np.asarray([self.lam]), "diag": self.diag}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> LowRankEASE:
        return cls(
            v=np.asarray(a["v"], dtype=np.float32),
            c=np.asarray(a["c"], dtype=np.float64),
            lam=float(np.asarray(a["lam"]).ravel()[0]),
            diag=np.asarray(a["diag"], dtype=np.float64),
        )


def gather_columns(m: sp.spmatrix, items: np.ndarray | None) -> np.ndarray:
    """``m[:, items]`` of a sparse ``(P, n)`` matrix as a dense float64 ``(P, len(items))`` array.

    Costs ``O(nnz log len(items))``: no column-major copy of ``m`` (whose index array alone has ``n``
    entries, a million on a large catalog) is made. Repeated ``items`` get the same column.
    """
    c = sp.csr_matrix(m)
    if items is None:
        return np.asarray(c.toarray(), dtype=np.float64)
    items = np.asarray(items, dtype=np.int64).reshape(-1)
    out = np.zeros((c.shape[0], items.size))
    if c.nnz == 0 or items.size == 0:
        return out
    order = np.argsort(items, kind="stable")
    sorted_items = items[order]
    pos = np.minimum(np.searchsorted(sorted_items, c.indices), items.size - 1)
    hit = sorted_items[pos] == c.indices
    rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))[hit]
    vals = c.data[hit].astype(np.float64)
    first = pos[hit]
    # every position holding this item (items may repeat): walk the run of equal sorted entries
    while first.size:
        out[rows, order[first]] = vals
        nxt = first + 1
        more = nxt < items.size
        more[more] = sorted_items[nxt[more]] == sorted_items[first[more]]
        rows, vals, first = rows[more], vals[more], nxt[more]
    return out


def _dense_columns(h: sp.spmatrix | np.ndarray, items: np.ndarray | None) -> np.ndarray:
    if sp.issparse(h):
        return gather_columns(h, items)
    arr = np.asarray(h, dtype=np.float64)
    return arr if items is None else arr[:, items]


def is_item_item(m: object) -> bool:
    """Whether ``m`` is an item-item model this module scores (dense array, sparse matrix or low rank)."""
    return isinstance(m, (np.ndarray, LowRankEASE)) or sp.issparse(m)


def item_item_columns(
    h: sp.spmatrix, m: np.ndarray | sp.spmatrix | LowRankEASE, items: np.ndarray | None
) -> np.ndarray:
    """``(h @ m)[:, items]`` as a dense float64 array, for a dense, CSR or low-rank item-item ``m``.

    ``h`` is a sparse ``(P, n_items)`` history matrix; for CSR ``m`` the product's rows are sparse
    (a profile reaches only its history's neighbours), so the columns are picked before densifying.
    """
    if isinstance(m, LowRankEASE):
        return m.columns(h, items)
    if sp.issparse(m):
        return gather_columns(h @ m, items)  # a profile reaches only its history's neighbours: sparse rows
    mm = m if items is None else m[:, items]
    return np.asarray(h @ mm, dtype=np.float64)


def neighbour_candidates(
    profile: Profile, neighbours: sp.csr_matrix | None, popularity: np.ndarray, n_neighbours: int, n_popular: int
) -> np.ndarray:
    """Candidate items for a profile on a large catalog: its history's top neighbours plus the most popular.

    Args:
        profile: A :class:`ranker.base.Profile` (``history`` and ``weights`` are read).
        neighbours: ``(n_items, n_items)`` top-k neighbour matrix (row = source item), or None.
        popularity: Per-item training counts.
        n_neighbours: Neighbour candidates kept (by summed positive weight).
        n_popular: Most popular items added.

    Returns:
        Sorted distinct item indices (history items included; the caller drops them).
    """
    pop = np.asarray(popularity)
    k = min(n_popular, pop.size)
    out = [np.argpartition(-pop, k - 1)[:k]] if k else []
    hist = np.asarray(profile.history, dtype=np.int64)
    w = np.clip(np.asarray(profile.weights, dtype=np.float64), 0.0, None)
    if neighbours is not None and hist.size and w.any():
        rows = sp.csr_matrix((w, (np.zeros(hist.size, np.int64), hist)), shape=(1, neighbours.shape[0]))
        reach = sp.csr_matrix(rows @ neighbours)
        if reach.nnz:
            m = min(n_neighbours, reach.nnz)
            out.append(reach.indices[np.argpartition(-reach.data, m - 1)[:m]])
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)
