"""Interpretable item-side features of the additive head, fit in closed form on the train split only.

- ``ease``: closed-form item-item weights (EASE, Steck 2019) of the binary train matrix; with text,
  the Gram matrix gets ``ease_text * T T^T`` added (T: the language model's unit item-text vectors),
  so items the LM describes alike share evidence (the LM's say inside the collaborative model).
- ``rp3``: RP3beta (Paudel et al. 2017): three-step random-walk item-item probabilities
  ``P_iu^a P_ui^a`` divided by the target's popularity to the power ``beta``.
- ``seq``: a closed-form next-item model (SLIST-like ridge regression, Choi et al. 2021): the next
  item of each train position regressed on the recency-decayed window of items before it (the
  sequential signal of LOO; under random-order splits it is another item-item model).
- ``transition``: how often item j follows item i within a few steps in users' time-ordered train
  histories, row-normalised.
- ``users``: the binary train matrix (user-kNN neighbours are found against its rows at scoring time).
- ``popularity``: log train counts, standardised.
- ``genres`` / ``year``: item attribute indicator matrices (multi-hot genres, one-hot year bucket).

Catalogs above ``sparse_above`` items (:func:`fit_features`) get the large-catalog forms of
:mod:`ranker.sparse` instead of dense ``(n_items, n_items)`` matrices: a low-rank EASE, RP3beta cut to
its top-``sparse_k`` neighbours per item (CSR), the transition counts as CSR, the train matrix as CSR,
and no next-item model (its ridge solve is dense; the feature is zero there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp

from catalog.splits import user_histories
from catalog.types import Dataset
from ranker.sparse import LowRankEASE, topk_product

#: Default catalog size above which item-item models are sparse or low rank. From `trustrec bench scale`
#: (load average ~14): at 10k items the dense EASE took 353 s to fit, 381 MiB on disk and 3.3 GB peak RSS,
#: the low-rank one 46 s and 9.8 MiB; a dense (n, n) float32 matrix grows 4x per doubling (1.6 GB at 20k),
#: while the low-rank EASE costs 2.6% NDCG@10 on ml-100k (0.3206 against 0.3291).
SPARSE_ABOVE = 10_000

#: An item-item feature: dense below the size threshold, CSR or low rank above it.
ItemItem: TypeAlias = np.ndarray | sp.csr_matrix | LowRankEASE

#: Item-by-item matrices among the features (scored as ``history_weights @ matrix``).
ITEM_ITEM: tuple[str, ...] = ("ease", "rp3", "seq", "transition")
_KEYS: tuple[str, ...] = ("ease", "rp3", "seq", "transition", "users", "popularity", "genres", "year")


@dataclass
class ItemFeatures:
    """Item-side feature matrices (float32): dense numpy below the size threshold; above it the
    item-item features are CSR or :class:`ranker.sparse.LowRankEASE` and ``users`` is CSR."""

    ease: ItemItem  # (n_items, n_items), zero diagonal
    transition: ItemItem  # (n_items, n_items)
    popularity: np.ndarray  # (n_items,)
    genres: np.ndarray  # (n_items, n_genres)
    year: np.ndarray  # (n_items, n_year_buckets)
    rp3: ItemItem | None = None  # (n_items, n_items), zero diagonal
    seq: ItemItem | None = None  # (n_items, n_items)
    users: np.ndarray | sp.csr_matrix | None = None  # (n_users, n_items) binary train matrix

    def __post_init__(self) -> None:
        ni = self.ease.shape[0]
        large = self.sparse
        for k in ("rp3", "seq"):
            if getattr(self, k) is None:
                setattr(self, k, sp.csr_matrix((ni, ni), dtype=np.float32) if large else np.zeros((ni, ni), np.float32))
        if self.users is None:
            self.users = np.zeros((0, ni), dtype=np.float32)

    @property
    def n_items(self) -> int:
        return int(self.popularity.shape[0])

    @property
    def sparse(self) -> bool:
        """Whether these are the large-catalog (sparse / low-rank) forms."""
        return not isinstance(self.ease, np.ndarray)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for a checkpoint: dense features by name; CSR ``k`` as ``k.csr.{data,indices,indptr,shape}``
        and low-rank ``k`` as ``k.lowrank.{v,c,lam,diag}``."""
        out: dict[str, np.ndarray] = {}
        for k in _KEYS:
            m = getattr(self, k)
            if isinstance(m, LowRankEASE):
                out.update({f"{k}.lowrank.{a}": v for a, v in m.arrays().items()})
            elif sp.issparse(m):
                c = sp.csr_matrix(m)
                out.update({
                    f"{k}.csr.data": c.data, f"{k}.csr.indices": c.indices.astype(np.int64),
                    f"{k}.csr.indptr": c.indptr.astype(np.int64), f"{k}.csr.shape": np.asarray(c.shape, np.int64),
                })  # fmt: skip
            else:
                out[k] = m
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ItemFeatures:
        """Rebuild from :meth:`arrays`; features missing from older checkpoints become zeros."""
        kw: dict[str, object] = {}
        for k in _KEYS:
            if k in arrays:
                kw[k] = np.asarray(arrays[k], dtype=np.float32)
            elif f"{k}.csr.data" in arrays:
                kw[k] = sp.csr_matrix(
                    (arrays[f"{k}.csr.data"], arrays[f"{k}.csr.indices"], arrays[f"{k}.csr.indptr"]),
                    shape=tuple(int(x) for x in arrays[f"{k}.csr.shape"]),
                )
            elif f"{k}.lowrank.v" in arrays:
                kw[k] = LowRankEASE.from_arrays({a: arrays[f"{k}.lowrank.{a}"] for a in ("v", "c", "lam", "diag")})
        return cls(**kw)  # type: ignore[arg-type]


def attribute_indices(dataset: Dataset, year_buckets: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Genre multi-hot ``(n_items, n_genres)``, year bucket per item (``year_buckets`` = unknown) and genre names."""
    names = dataset.categories()
    pos = {g: k for k, g in enumerate(names)}
    genres = np.zeros((dataset.n_items, max(1, len(names))), dtype=np.float32)
    years = np.full(dataset.n_items, np.nan)
    for i, it in enumerate(dataset.items):
        for g in it.categories:
            genres[i, pos[g]] = 1.0
        if it.year is not None:
            years[i] = it.year
    bucket = np.full(dataset.n_items, year_buckets, dtype=np.int64)
    known = ~np.isnan(years)
    if known.any():
        edges = np.unique(np.quantile(years[known], np.linspace(0, 1, year_buckets + 1)[1:-1]))
        bucket[known] = np.searchsorted(edges, years[known], side="right")
    return genres, bucket, names


def interaction_matrix(seqs: list[np.ndarray], n_items: int) -> np.ndarray:
    """Binary ``(n_users, n_items)`` matrix of the sequences' items (float64)."""
    x = np.zeros((len(seqs), n_items), dtype=np.float64)
    for u, s in enumerate(seqs):
        x[u, s] = 1.0
    return x


def ease_matrix(
    x: np.ndarray | sp.spmatrix, lam: float, text: np.ndarray | None = None, text_weight: float = 0.0
) -> np.ndarray:
    """EASE item-item weights of a user-item matrix ``x`` (dense or sparse) with L2 penalty ``lam`` (zero diagonal).

    ``text`` (``(n_items, d)`` unit vectors) with ``text_weight > 0`` adds ``text_weight * text @ text.T``
    to the Gram matrix, as if every pair of items co-occurred in proportion to their text similarity.
    """
    gram = x.T @ x
    gram = np.asarray(gram.toarray() if sp.issparse(gram) else gram, dtype=np.float64)
    if text is not None and text_weight > 0:
        t = np.asarray(text, dtype=np.float64)
        gram += text_weight * (t @ t.T)
    gram[np.diag_indices(gram.shape[0])] += lam
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


def rp3_matrix(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """RP3beta item-item weights ``(P_iu^alpha @ P_ui^alpha) / pop_j^beta`` (zero diagonal)."""
    p_ui = x / np.maximum(x.sum(1, keepdims=True), 1.0)
    p_iu = x.T / np.maximum(x.sum(0)[:, None], 1.0)
    w = (p_iu**alpha) @ (p_ui**alpha)
    w /= np.maximum(x.sum(0), 1.0)[None, :] ** beta
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32)


def seq_gram(seqs: list[np.ndarray], n_items: int, *, decay: float, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sufficient statistics ``(H^T H, H^T Y)`` of the next-item regression (see :func:`seq_matrix`)."""
    import scipy.sparse as sp

    rows, cols, vals, ys = [], [], [], []
    r = 0
    w_full = decay ** np.arange(window - 1, -1, -1, dtype=np.float64)
    for s in seqs:
        for k in range(1, s.size):
            h = s[max(0, k - window) : k]
            rows.append(np.full(h.size, r))
            cols.append(h)
            vals.append(w_full[-h.size :])
            ys.append(s[k])
            r += 1
    if r == 0:
        z = np.zeros((n_items, n_items))
        return z, z.copy()
    h_mat = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_items))
    y_mat = sp.csr_matrix((np.ones(r), (np.arange(r), np.asarray(ys))), shape=(r, n_items))
    return (h_mat.T @ h_mat).toarray(), (h_mat.T @ y_mat).toarray()


def seq_matrix(gram: tuple[np.ndarray, np.ndarray], lam: float) -> np.ndarray:
    """Closed-form next-item weights ``(H^T H + lam I)^-1 H^T Y`` from :func:`seq_gram`'s statistics.

    Row ``k`` of ``H`` is the window of items before train position ``k`` weighted by
    ``decay**age``; ``Y`` is the one-hot item at that position. Scoring uses the same weighting
    of a profile's last ``window`` items.
    """
    hth, hty = gram
    a = hth.copy()
    a[np.diag_indices(a.shape[0])] += lam
    return np.linalg.solve(a, hty).astype(np.float32)


def transition_matrix(seqs: list[np.ndarray], n_items: int, *, window: int, smoothing: float) -> np.ndarray:
    """Row-normalised counts of item j following item i within ``window`` steps (weight ``1/step``)."""
    trans = np.zeros((n_items, n_items), dtype=np.float64)
    for seq in seqs:
        for d in range(1, window + 1):
            if seq.size > d:
                np.add.at(trans, (seq[:-d], seq[d:]), 1.0 / d)
    trans /= np.maximum(trans.sum(1, keepdims=True) + smoothing, 1e-12)  # items never followed: zero rows
    return trans.astype(np.float32)


def interaction_csr(seqs: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Binary ``(n_users, n_items)`` CSR matrix of the sequences' items (float32; repeats count once)."""
    lengths = np.fromiter((s.size for s in seqs), dtype=np.int64, count=len(seqs))
    cols = np.concatenate(seqs).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(seqs)), lengths)
    x = sp.csr_matrix((np.ones(cols.size, np.float32), (rows, cols)), shape=(len(seqs), n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def rp3_topk(x: sp.spmatrix, alpha: float, beta: float, k: int) -> sp.csr_matrix:
    """RP3beta (as :func:`rp3_matrix`) cut to the ``k`` largest weights per source item, built blockwise (CSR)."""
    x = sp.csr_matrix(x, dtype=np.float32)
    user_deg = np.maximum(np.asarray(x.sum(1)).ravel(), 1.0)
    pop = np.maximum(np.asarray(x.sum(0)).ravel(), 1.0)
    p_ui = sp.csr_matrix(sp.diags((1.0 / user_deg) ** alpha) @ x)  # binary x: (x / deg)^alpha on nonzeros
    p_iu = sp.csr_matrix(sp.diags((1.0 / pop) ** alpha) @ x.T.tocsr())
    penalty = (1.0 / pop**beta).astype(np.float32)

    def divide(blk: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
        blk.data *= penalty[blk.indices]
        return blk

    return topk_product(p_iu, p_ui, k, transform=divide)


def transition_csr(seqs: list[np.ndarray], n_items: int, *, window: int, smoothing: float) -> sp.csr_matrix:
    """:func:`transition_matrix` as CSR, vectorised over all sequences (nonzeros <= interactions x window)."""
    lengths = np.fromiter((s.size for s in seqs), dtype=np.int64, count=len(seqs))
    if lengths.sum() == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    flat = np.concatenate(seqs).astype(np.int64)
    owner = np.repeat(np.arange(len(seqs)), lengths)
    src, dst, val = [], [], []
    for d in range(1, window + 1):
        same = owner[:-d] == owner[d:]
        src.append(flat[:-d][same])
        dst.append(flat[d:][same])
        val.append(np.full(int(same.sum()), 1.0 / d))
    trans = sp.csr_matrix((np.concatenate(val), (np.concatenate(src), np.concatenate(dst))), shape=(n_items, n_items))
    trans.sum_duplicates()
    denom = np.maximum(np.asarray(trans.sum(1)).ravel() + smoothing, 1e-12)
    return sp.csr_matrix(sp.diags(1.0 / denom) @ trans, dtype=np.float32)


def fit_features(
    dataset: Dataset,
    train: pd.DataFrame,
    *,
    ease_lambda: float,
    window: int,
    smoothing: float,
    year_buckets: int,
    rp3_alpha: float = 0.8,
    rp3_beta: float = 0.6,
    seq_decay: float = 0.85,
    seq_window: int = 30,
    seq_lambda: float = 200.0,
    text: np.ndarray | None = None,
    ease_text: float = 0.0,
    sparse_above: int | None = None,
    sparse_k: int = 100,
    ease_rank: int = 256,
    seed: int = 0,
) -> ItemFeatures:
    """Fit every item-side feature on ``train`` (interactions of the train split only).

    Catalogs with more than ``sparse_above`` items (None: never) get the large-catalog forms (see the
    module docstring): ``sparse_k`` neighbours per item for RP3beta, an EASE of rank ``ease_rank``.
    """
    ni = dataset.n_items
    seqs = user_histories(train, dataset.n_users)
    if sparse_above is not None and ni > sparse_above:
        return _fit_sparse(
            dataset, seqs, ease_lambda=ease_lambda, window=window, smoothing=smoothing, year_buckets=year_buckets,
            rp3_alpha=rp3_alpha, rp3_beta=rp3_beta, text=text, ease_text=ease_text, k=sparse_k, rank=ease_rank,
            seed=seed,
        )  # fmt: skip
    x = interaction_matrix(seqs, ni)
    counts = x.sum(0)
    logpop = np.log1p(counts)
    logpop = (logpop - logpop.mean()) / (logpop.std() + 1e-9)
    genres, bucket, _ = attribute_indices(dataset, year_buckets)
    year = np.zeros((ni, year_buckets + 1), dtype=np.float32)
    year[np.arange(ni), bucket] = 1.0
    return ItemFeatures(
        ease=ease_matrix(x, ease_lambda, text, ease_text),
        transition=transition_matrix(seqs, ni, window=window, smoothing=smoothing),
        popularity=logpop.astype(np.float32),
        genres=genres,
        year=year[:, :year_buckets],
        rp3=rp3_matrix(x, rp3_alpha, rp3_beta),
        seq=seq_matrix(seq_gram(seqs, ni, decay=seq_decay, window=seq_window), seq_lambda),
        users=x.astype(np.float32),
    )


def _attribute_features(dataset: Dataset, year_buckets: int, counts: np.ndarray) -> dict[str, np.ndarray]:
    ni = dataset.n_items
    logpop = np.log1p(counts)
    logpop = (logpop - logpop.mean()) / (logpop.std() + 1e-9)
    genres, bucket, _ = attribute_indices(dataset, year_buckets)
    year = np.zeros((ni, year_buckets + 1), dtype=np.float32)
    year[np.arange(ni), bucket] = 1.0
    return {"popularity": logpop.astype(np.float32), "genres": genres, "year": year[:, :year_buckets]}


def _fit_sparse(
    dataset: Dataset,
    seqs: list[np.ndarray],
    *,
    ease_lambda: float,
    window: int,
    smoothing: float,
    year_buckets: int,
    rp3_alpha: float,
    rp3_beta: float,
    text: np.ndarray | None,
    ease_text: float,
    k: int,
    rank: int,
    seed: int,
) -> ItemFeatures:
    """The large-catalog features: memory ~ interactions + n_items x (k + rank), never n_items squared."""
    ni = dataset.n_items
    x = interaction_csr(seqs, ni)
    return ItemFeatures(
        ease=LowRankEASE.fit(x, ease_lambda, rank, text=text, text_weight=ease_text, seed=seed),
        transition=transition_csr(seqs, ni, window=window, smoothing=smoothing),
        rp3=rp3_topk(x, rp3_alpha, rp3_beta, k),
        seq=sp.csr_matrix((ni, ni), dtype=np.float32),
        users=x,
        **_attribute_features(dataset, year_buckets, np.asarray(x.sum(0)).ravel()),
    )
