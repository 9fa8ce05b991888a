"""Classical baselines with RecBole 1.2.1's default hyperparameters, as :class:`ranker.base.Ranker` s.

Every baseline scores from the profile's history (not from a stored user row), so a session profile
(history plus this session's likes) works without retraining:

- :class:`PopRanker`: training interaction counts (RecBole ``Pop``).
- :class:`ItemKNNRanker`: cosine item-item similarity, top-``k`` neighbours per item, ``shrink``
  (RecBole ``ItemKNN``: k=100, shrink=0.0); score = history vector @ W.
- :class:`EASERanker`: closed-form EASE (RecBole ``EASE``: reg_weight=250.0); score = history vector @ B.
- :class:`BPRRanker`: matrix factorisation with the BPR loss (RecBole ``BPR``), torch on CPU; the
  learnt user embedding for known users, the weighted mean of the history item embeddings otherwise.

Usage: ``EASERanker().fit(dataset, split).score(profiles)``. ``fit`` reads only ``split.train``
(BPR's early stopping reads what its ``validate`` callback measures), never ``split.test``.

Each baseline declares ``additive_in_history``: True when its score is ``history vector @ matrix``,
so history attributions are exact without sampling (the explainer reads it, not the model's name).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from catalog.behaviour import aggregate_interactions
from catalog.splits import Split
from catalog.types import Dataset
from ranker.base import Profile, check_profiles
from ranker.features import ease_matrix

__all__ = [
    "BPRConfig",
    "BPRRanker",
    "EASEConfig",
    "EASERanker",
    "ItemKNNConfig",
    "ItemKNNRanker",
    "PopConfig",
    "PopRanker",
    "history_matrix",
    "train_matrix",
]


def train_matrix(dataset: Dataset, split: Split) -> sp.csr_matrix:
    """``(n_users, n_items)`` CSR matrix of the split's training entries (float32), valued by their
    behaviour weight (``weight``, see :func:`catalog.behaviour.aggregate_interactions`): binary for
    ratings-only data, as RecBole's ``inter_matrix``."""
    tr = aggregate_interactions(split.train)  # a split's frames are aggregated already: no copy
    u = tr["user_idx"].to_numpy(dtype=np.int64)
    i = tr["item_idx"].to_numpy(dtype=np.int64)
    w = tr["weight"].to_numpy(dtype=np.float32)
    x = sp.csr_matrix((w, (u, i)), shape=(dataset.n_users, dataset.n_items))
    x.sum_duplicates()
    return x


def history_matrix(profiles: Sequence[Profile], n_items: int) -> sp.csr_matrix:
    """``(len(profiles), n_items)`` CSR matrix of profile histories, weighted by ``Profile.weights``.

    Repeated history entries add up. Raises ValueError for an item index outside ``[0, n_items)``.
    """
    lengths = np.fromiter((p.history.size for p in profiles), dtype=np.int64, count=len(profiles))
    if lengths.sum() == 0:
        return sp.csr_matrix((len(profiles), n_items), dtype=np.float32)
    check_profiles(profiles, n_items)
    cols = np.concatenate([p.history for p in profiles])
    vals = np.concatenate([p.weights for p in profiles]).astype(np.float32)
    indptr = np.r_[0, np.cumsum(lengths)]
    x = sp.csr_matrix((vals, cols, indptr), shape=(len(profiles), n_items))
    x.sum_duplicates()
    return x


def _columns(items: np.ndarray | None) -> np.ndarray | slice:
    return slice(None) if items is None else np.asarray(items, dtype=np.int64).reshape(-1)


def _sample_unseen(
    users: np.ndarray, seen: sp.csr_matrix, eligible: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One uniform item from ``eligible`` per entry of ``users``, not in that user's row of ``seen``.

    Rejection sampling, as RecBole's sampler; gives up re-drawing after 100 rounds (only a user who
    has seen almost every eligible item can get there).
    """
    neg = eligible[rng.integers(0, eligible.size, users.size)]
    bad = np.flatnonzero(np.asarray(seen[users, neg]).ravel())
    for _ in range(100):
        if bad.size == 0:
            break
        neg[bad] = eligible[rng.integers(0, eligible.size, bad.size)]
        bad = bad[np.asarray(seen[users[bad], neg[bad]]).ravel()]
    return neg


class _Fitted:
    """Shared plumbing: ``n_items`` and a clear error when used before ``fit``."""

    _n_items: int | None = None

    @property
    def n_items(self) -> int:
        if self._n_items is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call .fit(dataset, split) first")
        return self._n_items

    def _check_fitted(self) -> None:
        _ = self.n_items


# ---------------------------------------------------------------------------------------------- EASE


class EASEConfig(BaseModel):
    """EASE (Steck 2019) hyperparameters; defaults are RecBole's ``EASE.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reg_weight: float = Field(250.0, gt=0, description="L2 weight added to the Gram matrix diagonal (RecBole: 250.0).")


class EASERanker(_Fitted):
    """Closed-form EASE: ``B = -P / diag(P)`` with ``P = (X^T X + reg I)^-1`` and ``diag(B) = 0``.

    Score of a profile = (weighted history vector) @ B, exactly RecBole's ``X[user] @ B`` for a
    training user's profile.
    """

    name = "ease"
    additive_in_history: ClassVar[bool] = True

    def __init__(self, config: EASEConfig | None = None) -> None:
        self.config = config or EASEConfig()
        self.B: np.ndarray | None = None

    def fit(self, dataset: Dataset, split: Split) -> EASERanker:
        """Learn ``B`` from ``split.train``. Returns self."""
        return self.fit_matrix(train_matrix(dataset, split))

    def fit_matrix(self, x: sp.spmatrix) -> EASERanker:
        """Learn ``B`` from a ``(n_users, n_items)`` interaction matrix. Returns self."""
        b = ease_matrix(sp.csr_matrix(x, dtype=np.float64), self.config.reg_weight)
        self.B = b
        self._n_items = int(b.shape[0])
        return self

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))`` (all items when ``items`` is None)."""
        self._check_fitted()
        assert self.B is not None
        h = history_matrix(profiles, self.n_items)
        return np.asarray(h @ self.B[:, _columns(items)], dtype=np.float32)


# ----------------------------------------------------------------------------------------------- Pop


class PopConfig(BaseModel):
    """Popularity counting.

    ``counting="interactions"`` (default) is true popularity: training interactions per item.
    ``counting="recbole"`` reproduces what RecBole 1.2.1's ``Pop`` really computes with default
    settings: one epoch (``TraditionalTrainer``) over shuffled pointwise batches of 1,024 training
    pairs plus 1,024 uniform unseen negatives, and ``item_cnt[item] = item_cnt[item] + 1``, an
    index assignment that adds 1 once per batch however often the item occurs in it, negatives
    included. The count thus saturates at the number of batches (~79 on ml-100k), which is why
    RecBole's Pop reads NDCG@10 0.1005 while true popularity reads ~0.14 on the same protocol.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    counting: Literal["interactions", "recbole"] = Field(
        "interactions", description="'interactions' (true counts) or 'recbole' (RecBole 1.2.1 Pop's per-batch counts)."
    )
    batch_size: int = Field(
        2048, ge=2, description="RecBole train_batch_size, for counting='recbole' (half positives, half negatives)."
    )
    seed: int = Field(2020, description="Shuffling and negative-sampling seed, for counting='recbole'.")


class PopRanker(_Fitted):
    """Most popular first: training interaction count per item divided by the largest count.

    The score ignores the profile (every profile gets the same ranking).
    """

    name = "pop"
    additive_in_history: ClassVar[bool] = True

    def __init__(self, config: PopConfig | None = None) -> None:
        self.config = config or PopConfig()
        self.popularity: np.ndarray | None = None

    def fit(self, dataset: Dataset, split: Split) -> PopRanker:
        """Count training interactions per item. Returns self."""
        items = split.train["item_idx"].to_numpy(dtype=np.int64)
        if self.config.counting == "recbole":
            counts = self._recbole_counts(dataset, split)
        else:
            counts = np.bincount(items, minlength=dataset.n_items)
        self.popularity = (counts / max(1, counts.max())).astype(np.float32)
        self._n_items = dataset.n_items
        return self

    def _recbole_counts(self, dataset: Dataset, split: Split) -> np.ndarray:
        """Number of RecBole training batches each item occurs in (see :class:`PopConfig`)."""
        rng = np.random.default_rng(self.config.seed)
        users = split.train["user_idx"].to_numpy(dtype=np.int64)
        items = split.train["item_idx"].to_numpy(dtype=np.int64)
        order = rng.permutation(users.size)
        users, items = users[order], items[order]
        negs = _sample_unseen(
            users, train_matrix(dataset, split).astype(bool).tocsr(), np.flatnonzero(split.item_mask), rng
        )
        step = max(self.config.batch_size // 2, 1)  # RecBole: batch_num = batch_size // (1 + neg_num)
        counts = np.zeros(dataset.n_items, dtype=np.int64)
        for s in range(0, users.size, step):
            counts[np.unique(np.concatenate([items[s : s + step], negs[s : s + step]]))] += 1
        return counts

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))`` (all items when ``items`` is None)."""
        self._check_fitted()
        check_profiles(profiles, self.n_items)
        assert self.popularity is not None
        row = self.popularity[_columns(items)]
        return np.tile(row, (len(profiles), 1))


# ------------------------------------------------------------------------------------------- ItemKNN


class ItemKNNConfig(BaseModel):
    """Item-based k-nearest-neighbours; defaults are RecBole's ``ItemKNN.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(100, ge=1, description="Neighbours kept per item (RecBole: 100).")
    shrink: float = Field(0.0, ge=0, description="Added to the cosine denominator (RecBole: 0.0).")


class ItemKNNRanker(_Fitted):
    """RecBole's ItemKNN: cosine similarity between item columns of the training matrix.

    ``W[j, i]`` = cos(i, j) for the ``k`` most similar items ``j`` of each item ``i`` (self excluded,
    zeros dropped); score of a profile = (weighted history vector) @ W, so item ``i`` collects the
    similarities of its own neighbours that the user has seen, as RecBole's ``X @ W``.
    """

    name = "itemknn"
    additive_in_history: ClassVar[bool] = True

    def __init__(self, config: ItemKNNConfig | None = None) -> None:
        self.config = config or ItemKNNConfig()
        self.W: sp.csr_matrix | None = None

    def fit(self, dataset: Dataset, split: Split) -> ItemKNNRanker:
        """Compute the neighbourhood matrix from ``split.train``. Returns self."""
        return self.fit_matrix(train_matrix(dataset, split))

    def fit_matrix(self, x: sp.spmatrix) -> ItemKNNRanker:
        """Compute the neighbourhood matrix from a ``(n_users, n_items)`` matrix. Returns self."""
        x = sp.csc_matrix(x, dtype=np.float32)
        n = x.shape[1]
        k = min(self.config.k, n)
        norms = np.sqrt(np.asarray(x.power(2).sum(axis=0)).ravel())
        sim = (x.T @ x).toarray()
        np.fill_diagonal(sim, 0.0)
        # RecBole: dot / (|i| |j| + shrink + 1e-6), column by column
        sim /= np.outer(norms, norms) + self.config.shrink + 1e-6
        top = np.argpartition(-sim, k - 1, axis=0)[:k, :]  # (k, n): neighbours j of each item i
        vals = np.take_along_axis(sim, top, axis=0)
        cols = np.broadcast_to(np.arange(n), top.shape)
        keep = vals != 0.0
        self.W = sp.csr_matrix((vals[keep], (top[keep], cols[keep])), shape=(n, n), dtype=np.float32)
        self._n_items = int(n)
        return self

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))`` (all items when ``items`` is None)."""
        self._check_fitted()
        assert self.W is not None
        h = history_matrix(profiles, self.n_items)
        w = self.W if items is None else self.W[:, _columns(items)]
        return np.asarray((h @ w).toarray(), dtype=np.float32)


# ----------------------------------------------------------------------------------------------- BPR


class BPRConfig(BaseModel):
    """BPR-MF; defaults are RecBole's (``BPR.yaml`` + ``overall.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embedding_size: int = Field(64, ge=1, description="User and item embedding size (RecBole: 64).")
    learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate (RecBole: 0.001).")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay (RecBole: 0.0).")
    batch_size: int = Field(2048, ge=1, description="Training pairs per step (RecBole train_batch_size: 2048).")
    negatives: int = Field(1, ge=1, description="Uniform negatives per positive, unseen in training (RecBole: 1).")
    epochs: int = Field(300, ge=1, description="Maximum epochs (RecBole: 300).")
    patience: int = Field(
        10, ge=0, description="Stop after more than this many epochs without improvement (RecBole stopping_step: 10)."
    )
    valid_metric: str = Field(
        "mrr@10", description="Validation metric for early stopping (RecBole valid_metric: MRR@10)."
    )
    eval_every: int = Field(1, ge=1, description="Epochs between validation passes (RecBole eval_step: 1).")
    seed: int = Field(2020, description="Seed for initialisation, shuffling and negative sampling (RecBole: 2020).")


class BPRRanker(_Fitted):
    """Matrix factorisation trained with the BPR loss (Rendle et al. 2009), as RecBole's ``BPR``.

    Training: Xavier-normal embeddings, Adam, ``-log(sigmoid(pos - neg))`` over each training pair
    and uniform negatives the user has not seen in training (drawn from ``split.item_mask``);
    validation ``valid_metric`` after every epoch on ``split.valid`` (protocol masks), early stopping
    with RecBole's rule, and the best epoch's weights are kept.

    Scoring: dot product of a user vector and the item embeddings; the user vector is the learnt
    embedding when ``profile.user_idx`` is a training user, else the weighted mean of the history
    item embeddings (zeros for an empty history).
    """

    name = "bpr"
    additive_in_history: ClassVar[bool] = False

    def __init__(self, config: BPRConfig | None = None) -> None:
        self.config = config or BPRConfig()
        self.user_emb: np.ndarray | None = None
        self.item_emb: np.ndarray | None = None
        self.known_users: np.ndarray | None = None
        self.log: list[dict[str, float]] = []
        self.best_epoch: int = -1

    def fit(
        self,
        dataset: Dataset,
        split: Split,
        *,
        validate: Callable[[BPRRanker], float] | None = None,
        progress: bool = False,
        num_threads: int | None = 1,
    ) -> BPRRanker:
        """Train on ``split.train`` with early stopping on ``split.valid``. Returns self.

        Args:
            dataset: The dataset the split was made from.
            split: A ro811 or loo split.
            validate: The validation metric of the current weights (higher is better), for early
                stopping and keeping the best epoch; the evaluation layer passes ``valid_metric`` on
                ``split.valid`` (:func:`evals.ranking.ranking_models`). None trains every epoch.
            progress: Show a tqdm bar (stderr) with the validation metric.
            num_threads: Torch intra-op threads while training (restored afterwards); None keeps the
                current setting. One thread is fastest for these tiny steps: on a busy 2-core machine
                torch's default thread pool made an epoch ~40x slower (measured).
        """
        import torch

        prev = torch.get_num_threads()
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        try:
            return self._fit(dataset, split, validate, progress=progress)
        finally:
            torch.set_num_threads(prev)

    def _fit(
        self, dataset: Dataset, split: Split, validate: Callable[[BPRRanker], float] | None, *, progress: bool
    ) -> BPRRanker:
        import torch
        from tqdm.auto import tqdm

        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        n_users, n_items = dataset.n_users, dataset.n_items
        users = split.train["user_idx"].to_numpy(dtype=np.int64)
        pos = split.train["item_idx"].to_numpy(dtype=np.int64)
        seen = train_matrix(dataset, split).astype(bool).tocsr()
        eligible = np.flatnonzero(split.item_mask)
        if eligible.size == 0 or users.size == 0:
            raise ValueError("BPR needs training interactions and at least one eligible item")

        user_e = torch.nn.Embedding(n_users, cfg.embedding_size)
        item_e = torch.nn.Embedding(n_items, cfg.embedding_size)
        torch.nn.init.xavier_normal_(user_e.weight)
        torch.nn.init.xavier_normal_(item_e.weight)
        params = [*user_e.parameters(), *item_e.parameters()]
        opt = torch.optim.Adam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self._n_items = n_items
        self.known_users = np.zeros(n_users, dtype=bool)
        self.known_users[np.unique(users)] = True

        best, best_state, stale = -np.inf, None, 0
        self.log = []
        bar = tqdm(range(cfg.epochs), desc="BPR", disable=not progress, leave=False)
        for epoch in bar:
            order = rng.permutation(users.size)
            u_all = np.repeat(users[order], cfg.negatives)
            p_all = np.repeat(pos[order], cfg.negatives)
            n_all = _sample_unseen(u_all, seen, eligible, rng)
            total = 0.0
            for s in range(0, u_all.size, cfg.batch_size * cfg.negatives):
                sl = slice(s, s + cfg.batch_size * cfg.negatives)
                u = torch.from_numpy(u_all[sl])
                ue = user_e(u)
                ps = (ue * item_e(torch.from_numpy(p_all[sl]))).sum(-1)
                ns = (ue * item_e(torch.from_numpy(n_all[sl]))).sum(-1)
                loss = -torch.log(1e-10 + torch.sigmoid(ps - ns)).mean()  # RecBole's BPRLoss
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * u.numel()
            entry = {"epoch": float(epoch), "loss": total / u_all.size}
            if (epoch + 1) % cfg.eval_every == 0 or epoch == cfg.epochs - 1:
                self.user_emb = user_e.weight.detach().numpy().copy()
                self.item_emb = item_e.weight.detach().numpy().copy()
                value = float(validate(self)) if validate is not None else float(epoch)
                entry[cfg.valid_metric] = value
                if value >= best:  # RecBole's early_stopping: ties count as improvement
                    best, stale, self.best_epoch = value, 0, epoch
                    best_state = (self.user_emb, self.item_emb)
                else:
                    stale += 1
                bar.set_postfix(loss=f"{entry['loss']:.4f}", **{cfg.valid_metric: f"{value:.4f}"})
            self.log.append(entry)
            if stale > cfg.patience:
                break
        bar.close()
        if best_state is not None:
            self.user_emb, self.item_emb = best_state
        return self

    def user_vectors(self, profiles: Sequence[Profile]) -> np.ndarray:
        """``(len(profiles), embedding_size)`` user vectors (learnt, or mean of history items)."""
        self._check_fitted()
        assert self.user_emb is not None and self.item_emb is not None and self.known_users is not None
        out = np.zeros((len(profiles), self.item_emb.shape[1]), dtype=np.float32)
        known = np.array(
            [
                p.user_idx is not None and 0 <= p.user_idx < self.known_users.size and self.known_users[p.user_idx]
                for p in profiles
            ],
            dtype=bool,
        )
        if known.any():
            out[known] = self.user_emb[
                np.array([profiles[i].user_idx for i in np.flatnonzero(known).tolist()], dtype=np.int64)
            ]
        unknown = np.flatnonzero(~known)
        if unknown.size:
            h = history_matrix([profiles[i] for i in unknown.tolist()], self.n_items)
            totals = np.asarray(np.abs(h).sum(axis=1)).ravel()
            out[unknown] = np.asarray(h @ self.item_emb) / np.maximum(totals, 1e-12)[:, None]
        return out

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))`` (all items when ``items`` is None)."""
        assert self.item_emb is not None or self._n_items is None
        uv = self.user_vectors(profiles)
        assert self.item_emb is not None
        return np.asarray(uv @ self.item_emb[_columns(items)].T, dtype=np.float32)
