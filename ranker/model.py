"""The joint ranker: a hybrid two-tower network with a fine-tuned language model, plus an additive head.

Score of item ``i`` for a profile (history ``h_k`` with weights ``w_k``; recency ``r_k = decay**age``;
base weight ``a_k = clip(w_k, 0, 1)`` and session part ``e_k = w_k - a_k``)::

    score = two_tower + collaborative + text + attributes + popularity + session + bias

- ``two_tower``: cosine of the user tower (position-aware attention over the last history item
  vectors, weighted by ``w``, plus a last-item term and a user-id embedding) and the item tower
  (fine-tuned LM text vector + item-id + genre + year embeddings). In residual training
  (:mod:`ranker.train`) it learns what the collaborative terms miss.
- ``collaborative``: ``sum_k r_k a_k (EASE, RP3beta, transition)[h_k, i]`` (EASE's Gram matrix may
  include the language model's item-text kernel, see :mod:`ranker.features`), the closed-form next-item
  model over the last ``seq_window`` items (own decay ``seq_decay``) and user-kNN (cosine neighbours
  among train users, the user's own row excluded); all fit in closed form on the train split.
- ``text``: similarity of the item's LM text vector to the recency-weighted history text profile.
- ``attributes``: genre and release-year match with the history.
- ``popularity``: standardised log train popularity.
- ``session``: the collaborative and text terms again with the session part ``e`` (likes above an
  ordinary interaction, dislikes below zero), so this session's feedback moves scores at once.

Each term is a head weight times a standardised feature, so ``score_components`` add up to
``score`` exactly (feature-group Shapley values are the components themselves).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import sparse
from torch import nn

from ranker.base import Profile, check_profiles
from ranker.config import Ablation, RankerConfig
from ranker.features import ItemFeatures
from ranker.sparse import item_item_columns

RAW_CACHE_BYTES = 512 * 2**20  # memoised raw features kept (the latest two always; more within this budget)

ALL_GROUPS: tuple[str, ...] = ("two_tower", "collaborative", "text", "attributes", "popularity", "session")
#: Raw features each head weight multiplies (standardised by ``scales``).
HEAD_KEYS: tuple[str, ...] = (
    "two_tower", "ease", "rp3", "seq", "uknn", "transition", "text", "genre", "year", "popularity",
)  # fmt: skip
#: Head keys of the collaborative group, and those with a session term.
COLLAB_KEYS: tuple[str, ...] = ("ease", "rp3", "seq", "uknn", "transition")
SESSION_KEYS: tuple[str, ...] = ("ease", "rp3", "seq", "transition", "text")


def groups_for(ablation: Ablation) -> tuple[str, ...]:
    """Feature groups active in an ablation (text-only: no ids, no collaborative signal; id-only: no LM)."""
    if ablation == "text-only":
        return ("two_tower", "text", "attributes", "session")
    if ablation == "id-only":
        return ("two_tower", "collaborative", "attributes", "popularity", "session")
    return ALL_GROUPS


def heads_for(ablation: Ablation) -> tuple[str, ...]:
    """Head weights that exist in an ablation."""
    if ablation == "text-only":
        return ("two_tower", "text", "genre", "year")
    if ablation == "id-only":
        return ("two_tower", *COLLAB_KEYS, "genre", "year", "popularity")
    return HEAD_KEYS


class TwoTowerNet(nn.Module):
    """User and item towers. Padding rows: item ``n_items``, user ``n_users`` (unknown user)."""

    genres: torch.Tensor
    year_bucket: torch.Tensor

    def __init__(
        self,
        *,
        n_users: int,
        n_items: int,
        genres: np.ndarray,
        year_bucket: np.ndarray,
        n_year_buckets: int,
        text_dim: int | None,
        use_ids: bool,
        dim: int,
        history_len: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_users, self.n_items, self.dim, self.history_len = n_users, n_items, dim, history_len
        g = torch.as_tensor(genres, dtype=torch.float32)
        self.register_buffer("genres", g / g.sum(1, keepdim=True).clamp_min(1.0))
        self.register_buffer("year_bucket", torch.as_tensor(year_bucket, dtype=torch.long))
        self.genre = nn.Linear(g.shape[1], dim, bias=False)
        self.year = nn.Embedding(n_year_buckets + 1, dim)
        self.text_proj = nn.Linear(text_dim, dim) if text_dim else None
        self.item_id = nn.Embedding(n_items, dim) if use_ids else None
        self.user_id = nn.Embedding(n_users + 1, dim, padding_idx=n_users) if use_ids else None
        self.query = nn.Parameter(torch.zeros(dim))
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.recency = nn.Embedding(history_len, 1)
        self.last = nn.Linear(dim, dim, bias=False)  # the most recent item's own say (next-item transitions)
        self.drop = nn.Dropout(dropout)
        for emb in (self.year, self.item_id, self.user_id):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.05)
        nn.init.zeros_(self.recency.weight)
        nn.init.zeros_(self.last.weight)
        if self.user_id is not None:
            with torch.no_grad():
                self.user_id.weight[n_users].zero_()

    def item_vectors(self, text_vecs: torch.Tensor | None, items: torch.Tensor | None = None) -> torch.Tensor:
        """Item-tower output ``(len(items), dim)``; ``text_vecs`` rows align with ``items``."""
        if items is None:
            items = torch.arange(self.n_items)
        v = self.genre(self.genres[items]) + self.year(self.year_bucket[items])
        if self.text_proj is not None and text_vecs is not None:
            v = v + self.text_proj(text_vecs)
        if self.item_id is not None:
            v = v + self.item_id(items)
        return self.drop(v)

    def user_vectors(
        self, item_vecs: torch.Tensor, hist: torch.Tensor, weights: torch.Tensor, age: torch.Tensor, users: torch.Tensor
    ) -> torch.Tensor:
        """User-tower output ``(B, dim)``.

        Args:
            item_vecs: ``(n_items, dim)`` item vectors.
            hist: ``(B, L)`` history item indices, ``n_items`` = padding.
            weights: ``(B, L)`` history weights (0 on padding).
            age: ``(B, L)`` position from the most recent entry, clipped to ``history_len - 1``.
            users: ``(B,)`` user indices, ``n_users`` = unknown.
        """
        padded = torch.cat([item_vecs, item_vecs.new_zeros(1, self.dim)])
        k = padded[hist]
        q = self.query.expand(hist.shape[0], -1)
        uid = self.user_id(users) if self.user_id is not None else None
        if uid is not None:
            q = q + uid
        logits = (self.key(k) @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.dim) + self.recency(age).squeeze(-1)
        pad = hist >= self.n_items
        logits = logits.masked_fill(pad, -1e9)
        alpha = torch.softmax(logits, dim=-1) * (~pad).to(logits.dtype)
        u = ((alpha * weights).unsqueeze(-1) * self.value(k)).sum(1)
        last = ((~pad).sum(1) - 1).clamp_min(0)
        k_last = k[torch.arange(hist.shape[0], device=hist.device), last] * (~pad).any(1, keepdim=True).to(k.dtype)
        u = u + self.last(k_last)
        if uid is not None:
            u = u + uid
        return self.drop(u)


def pad_histories(
    profiles: Sequence[Profile], n_items: int, n_users: int, history_len: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded ``(hist, weights, age, users)`` tensors of the last ``history_len`` entries of each profile."""
    b = len(profiles)
    hist = np.full((b, history_len), n_items, dtype=np.int64)
    w = np.zeros((b, history_len), dtype=np.float32)
    age = np.zeros((b, history_len), dtype=np.int64)
    users = np.full(b, n_users, dtype=np.int64)
    for r, p in enumerate(profiles):
        h, pw = p.history[-history_len:], p.weights[-history_len:]
        m = h.size
        if m:
            hist[r, :m], w[r, :m] = h, pw
            age[r, :m] = np.arange(m - 1, -1, -1)
        if p.user_idx is not None and 0 <= p.user_idx < n_users:
            users[r] = p.user_idx
    return torch.from_numpy(hist), torch.from_numpy(w), torch.from_numpy(age), torch.from_numpy(users)


class JointRanker:
    """The trained joint model behind the :class:`ranker.base.FeatureRanker` contract.

    Scoring needs no language model at run time: the fine-tuned LM's item text vectors are part
    of the model state (``text_vecs``); :mod:`ranker.train` owns the LM during training.

    Attributes:
        feature_groups: Active groups (depends on the ablation); with ``bias`` they sum to the score.
        head: Head weight per raw feature (see :data:`HEAD_KEYS`) plus ``bias`` and ``decay``.
        scales: Standard deviation of each raw feature on training users (the standardisation).
    """

    def __init__(
        self,
        config: RankerConfig,
        *,
        n_users: int,
        features: ItemFeatures,
        year_bucket: np.ndarray,
        text_vecs: np.ndarray | None,
        ablation: Ablation = "joint",
        protocol: str = "ro811",
        item_mask: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.ablation: Ablation = ablation
        self.protocol = protocol
        self.features = features
        self._n_items = int(features.ease.shape[0])
        self.n_users = n_users
        self.year_bucket = np.asarray(year_bucket, dtype=np.int64)
        self.item_mask = np.ones(self._n_items, dtype=bool) if item_mask is None else np.asarray(item_mask, dtype=bool)
        use_text = ablation != "id-only"
        if use_text and text_vecs is None:
            raise ValueError(f"ablation {ablation!r} needs item text vectors from the language model")
        self.text_vecs = torch.as_tensor(text_vecs, dtype=torch.float32) if use_text and text_vecs is not None else None
        self.net = TwoTowerNet(
            n_users=n_users, n_items=self._n_items, genres=features.genres, year_bucket=self.year_bucket,
            n_year_buckets=config.year_buckets, text_dim=None if self.text_vecs is None else int(self.text_vecs.shape[1]),
            use_ids=ablation != "text-only", dim=config.dim, history_len=config.history_len, dropout=config.dropout,
        )  # fmt: skip
        self.feature_groups: tuple[str, ...] = groups_for(ablation)
        self.head: dict[str, float] = {k: 0.0 for k in heads_for(ablation)}
        self.head.update(bias=0.0, decay=1.0)
        if "ease" in self.head:
            self.head["ease"] = 1.0
        else:
            self.head["text"] = 1.0
        self.scales: dict[str, float] = {k: 1.0 for k in HEAD_KEYS}
        self._item_cache: torch.Tensor | None = None
        self._raw_cache: dict[str, dict[str, np.ndarray]] = {}
        self._side: dict[str, Any] | None = None
        self._tower_cache: dict[str, Any] | None = None
        #: While True every head feature is computed (validation sweeps); else only weighted ones.
        self.tuning = False

    # ----- contract -----
    @property
    def n_items(self) -> int:
        return self._n_items

    def score(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(profiles), len(items))`` (all items when ``items`` is None); higher is better."""
        step = self._block(self._n_items if items is None else int(np.asarray(items).size))
        if len(profiles) > step:  # large catalogs: bounded blocks, only their sums kept
            return np.concatenate([self.score(profiles[s : s + step], items) for s in range(0, len(profiles), step)])
        comps = self.score_components(profiles, items)
        total = comps.pop("bias").copy()
        for g in self.feature_groups:
            total += comps[g]
        return total

    def score_components(self, profiles: Sequence[Profile], items: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per-group contributions (each shaped like :meth:`score`) plus ``bias``; they sum to the score."""
        check_profiles(profiles, self._n_items)
        sel = np.arange(self._n_items) if items is None else np.asarray(items, dtype=np.int64)
        step = self._block(sel.size)
        if len(profiles) > step:  # large catalogs: bounded blocks of profiles, each scored as below
            blocks = [self.score_components(profiles[s : s + step], sel) for s in range(0, len(profiles), step)]
            return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
        raw = self.raw_features(profiles, sel)
        h, s = self.head, self.scales

        def term(key: str, name: str | None = None) -> np.ndarray:
            w = h.get(key, 0.0)
            x = raw[name or key]
            return (w / s[key]) * x if w else np.zeros_like(x)

        out: dict[str, np.ndarray] = {}
        for g in self.feature_groups:
            if g == "two_tower":
                out[g] = term("two_tower")
            elif g == "collaborative":
                out[g] = np.sum([term(k) for k in COLLAB_KEYS if k in h], axis=0)
            elif g == "text":
                out[g] = term("text")
            elif g == "attributes":
                out[g] = term("genre") + term("year")
            elif g == "popularity":
                out[g] = term("popularity")
            elif g == "session":
                parts = [term(k, f"session_{k}") for k in SESSION_KEYS if k in h]
                out[g] = np.sum(parts, axis=0)
        out["bias"] = np.full((len(profiles), sel.size), h["bias"], dtype=np.float64)
        return out

    def _block(self, n_items: int) -> int:
        """Profiles scored at once over ``n_items`` items: unbounded for the dense (small-catalog) features;
        for the large-catalog forms, ``config.score_block`` entries per raw feature."""
        if not self.features.sparse:
            return 1 << 62
        return max(1, self.config.score_block // max(n_items, 1))

    # ----- vectors -----
    def item_vectors(self) -> np.ndarray:
        """Unit-norm two-tower item vectors ``(n_items, dim)`` (for FAISS user-vector retrieval)."""
        return nn.functional.normalize(self._items(), dim=-1).numpy().astype(np.float32)

    def user_vector(self, profile: Profile) -> np.ndarray:
        """Unit-norm two-tower user vector ``(dim,)``; its inner product with :meth:`item_vectors`
        is the raw ``two_tower`` feature."""
        return self.user_vectors([profile])[0]

    def user_vectors(self, profiles: Sequence[Profile]) -> np.ndarray:
        """Unit-norm two-tower user vectors ``(len(profiles), dim)``.

        The same computation as :meth:`TwoTowerNet.user_vectors` in eval mode, in numpy over item-side
        projections computed once per model state (:meth:`_tower`): the key, value and last-item maps
        are linear without bias, so projecting every item once and gathering equals gathering and then
        projecting. SHAP scores hundreds of coalitions of one profile; each then costs a gather, not
        three matrix products.
        """
        t = self._tower()
        hist_t, w_t, age_t, users_t = pad_histories(profiles, self._n_items, self.n_users, self.config.history_len)
        hist, w, age, users = hist_t.numpy(), w_t.numpy(), age_t.numpy(), users_t.numpy()
        q = np.broadcast_to(t["query"], (hist.shape[0], t["query"].size))
        uid = t["user_id"][users] if t["user_id"] is not None else None
        if uid is not None:
            q = q + uid
        logits = np.einsum("bld,bd->bl", t["key"][hist], q) / math.sqrt(self.net.dim) + t["recency"][age]
        pad = hist >= self._n_items
        logits = np.where(pad, np.float32(-1e9), logits)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        alpha = e / e.sum(axis=1, keepdims=True) * (~pad)
        u = np.einsum("bl,bld->bd", alpha * w, t["value"][hist])
        last = np.maximum((~pad).sum(1) - 1, 0)
        u = u + t["last"][hist[np.arange(hist.shape[0]), last]] * (~pad).any(1, keepdims=True)
        if uid is not None:
            u = u + uid
        norm = np.maximum(np.sqrt((u * u).sum(axis=1, keepdims=True)), 1e-12)
        return (u / norm).astype(np.float32)

    def _tower(self) -> dict[str, Any]:
        """The user tower's item-side projections and parameters as numpy, once per model state."""
        items = self._items()
        if self._tower_cache is None or self._tower_cache.get("items") is not items:
            net = self.net
            with torch.no_grad():
                net.eval()
                padded = torch.cat([items, items.new_zeros(1, net.dim)])  # row n_items: padding
                self._tower_cache = {
                    "items": items,
                    "items_unit": nn.functional.normalize(items, dim=-1).numpy(),
                    "key": net.key(padded).numpy(),
                    "value": net.value(padded).numpy(),
                    "last": net.last(padded).numpy(),
                    "query": net.query.detach().numpy().copy(),
                    "recency": net.recency.weight[:, 0].detach().numpy().copy(),
                    "user_id": None if net.user_id is None else net.user_id.weight.detach().numpy().copy(),
                }
        return self._tower_cache

    def invalidate(self) -> None:
        """Forget cached item vectors (after the network or text vectors changed)."""
        self._item_cache = None
        self._tower_cache = None
        self._side = None
        self._raw_cache.clear()

    def _items(self) -> torch.Tensor:
        if self._item_cache is None:
            with torch.no_grad():
                self.net.eval()
                self._item_cache = self.net.item_vectors(self.text_vecs)
        return self._item_cache

    # ----- features -----
    def _history_matrices(
        self, profiles: Sequence[Profile], decay: float | None = None, window: int | None = None
    ) -> tuple[sparse.csr_array, sparse.csr_array]:
        """Sparse ``(P, n_items)`` recency-weighted base (``a``) and session (``e``) history weights.

        ``decay`` defaults to the head's; ``window`` keeps only the last entries (None = all). Sparse,
        because a profile touches a few dozen of the catalog's items: ``history @ matrix`` then costs
        ``O(history x columns)`` instead of ``O(n_items x columns)`` (the many coalitions SHAP scores).
        Repeated items add up, as entries of the same history do.
        """
        decay = float(self.head.get("decay", 1.0)) if decay is None else decay
        rows, cols, base_w, sess_w = [], [], [], []
        for r, p in enumerate(profiles):
            hist, wts = (p.history, p.weights) if window is None else (p.history[-window:], p.weights[-window:])
            if not hist.size:
                continue
            rec = decay ** np.arange(hist.size - 1, -1, -1, dtype=np.float64)
            a = np.clip(wts, 0.0, 1.0)
            rows.append(np.full(hist.size, r, dtype=np.int64))
            cols.append(np.asarray(hist, dtype=np.int64))
            base_w.append((rec * a).astype(np.float32))
            sess_w.append((rec * (wts - a)).astype(np.float32))
        shape = (len(profiles), self._n_items)
        if not rows:
            empty = sparse.csr_array(shape, dtype=np.float32)
            return empty, empty.copy()
        rr, cc = np.concatenate(rows), np.concatenate(cols)
        base = sparse.csr_array((np.concatenate(base_w), (rr, cc)), shape=shape, dtype=np.float32)
        sess = sparse.csr_array((np.concatenate(sess_w), (rr, cc)), shape=shape, dtype=np.float32)
        base.sum_duplicates()
        sess.sum_duplicates()
        return base, sess

    def _item_side(self) -> dict[str, Any]:
        """Item-side arrays every call needs, computed once per model state (:meth:`invalidate` clears them):
        the user-kNN rows normalised, the text vectors as numpy."""
        key = (id(self.features), id(self.features.users), id(self.text_vecs))
        if self._side is None or self._side.get("key") != key:  # a new model state (invalidate() also clears)
            x = self.features.users
            side: dict[str, Any] = {"key": key}
            if x is not None and x.shape[0]:
                if sparse.issparse(x):  # large catalogs: (n_items, n_users) CSR, rows scaled as below
                    inv = 1.0 / np.maximum(np.sqrt(np.asarray(x.sum(axis=1)).ravel()), 1.0)
                    side["users_norm_t"] = sparse.csr_matrix((sparse.diags(inv) @ x).T, dtype=np.float32)
                else:
                    side["users_norm_t"] = np.ascontiguousarray(
                        (x / np.maximum(np.sqrt(x.sum(1, keepdims=True)), 1.0)).T
                    )
            if self.text_vecs is not None:
                side["text"] = self.text_vecs.numpy()
            self._side = side
        return self._side

    def raw_features(self, profiles: Sequence[Profile], items: np.ndarray) -> dict[str, np.ndarray]:
        """Unweighted features ``(P, len(items))`` for every head key (zeros where the ablation lacks them).

        The last results are memoised by profile content, items and decay (validation sweeps over
        head weights re-score the same profiles); :meth:`invalidate` clears the memo.
        """
        h = hashlib.blake2b(digest_size=16)
        h.update(np.asarray([self.head.get("decay", 1.0)]).tobytes())
        h.update(",".join(sorted(self._raw_keys())).encode())
        h.update(np.ascontiguousarray(items).tobytes())
        for p in profiles:
            h.update(np.asarray([-1 if p.user_idx is None else p.user_idx, p.history.size]).tobytes())
            h.update(p.history.tobytes())
            h.update(p.weights.tobytes())
        key = h.hexdigest()
        if key in self._raw_cache:
            return self._raw_cache[key]
        out = self._compute_raw(profiles, items)
        self._raw_cache[key] = out
        # keep the latest results within a byte budget (at least two): a validation pass scores its users in
        # chunks, and a head-weight sweep re-scores every chunk per candidate (two entries made each pass
        # recompute every chunk: 42% of a first `trustrec serve`'s training time on ml-100k)
        size = sum(a.nbytes for entry in self._raw_cache.values() for a in entry.values())
        while len(self._raw_cache) > 2 and size > RAW_CACHE_BYTES:
            old = self._raw_cache.pop(next(iter(self._raw_cache)))
            size -= sum(a.nbytes for a in old.values())
        return out

    def _raw_keys(self) -> set[str]:
        """Head keys whose raw feature is computed: all while tuning, else those with a weight."""
        if self.tuning:
            return {k for k in HEAD_KEYS if k in self.head}
        return {k for k in HEAD_KEYS if self.head.get(k, 0.0)}

    def _compute_raw(self, profiles: Sequence[Profile], items: np.ndarray) -> dict[str, np.ndarray]:
        f = self.features
        base, sess = self._history_matrices(profiles)
        has_sess = bool(sess.count_nonzero())
        norm = np.asarray(base.sum(axis=1), dtype=np.float64).reshape(-1, 1) + 1.0
        zeros = np.zeros((len(profiles), items.size), dtype=np.float64)
        keys = self._raw_keys()
        every = items.size == self._n_items and bool(np.all(items == np.arange(self._n_items)))

        def cols(m: np.ndarray) -> np.ndarray:
            return m if every else m[:, items]  # all items: the matrix itself, no copy

        def mm(x: Any, m: np.ndarray, on: bool = True) -> np.ndarray:
            return np.asarray(x @ m, dtype=np.float64) if on else zeros

        sel = None if every else items

        def ii(x: Any, m: Any, on: bool = True) -> np.ndarray:
            # dense below the size threshold (columns first, as before); CSR or low rank above it
            if not on:
                return zeros
            return mm(x, cols(m)) if isinstance(m, np.ndarray) else item_item_columns(x, m, sel)

        out: dict[str, np.ndarray] = {}
        for k in ("ease", "rp3", "transition"):
            m = getattr(f, k) if k in keys else None
            out[k] = zeros if m is None else ii(base, m)
            out[f"session_{k}"] = zeros if m is None else ii(sess, m, has_sess)
        if "seq" in keys and f.seq is not None:
            sb, ss = self._history_matrices(profiles, self.config.seq_decay, self.config.seq_window)
            out["seq"], out["session_seq"] = ii(sb, f.seq), ii(ss, f.seq, bool(ss.count_nonzero()))
        else:
            out["seq"] = out["session_seq"] = zeros
        out["uknn"] = self._uknn(profiles, items) if "uknn" in keys else zeros
        side = self._item_side()
        if "text" in keys and "text" in side:
            tv = side["text"]
            tvi = tv[items].T
            out["text"] = mm((base @ tv) / norm, tvi)
            out["session_text"] = mm((sess @ tv) / norm, tvi, has_sess)
        else:
            out["text"] = out["session_text"] = zeros
        out["genre"] = mm((base @ f.genres) / norm, f.genres[items].T, "genre" in keys)
        out["year"] = mm((base @ f.year) / norm, f.year[items].T, "year" in keys)
        out["popularity"] = np.broadcast_to(f.popularity[items].astype(np.float64), (len(profiles), items.size)).copy()
        u = self.user_vectors(profiles)
        v = self._tower()["items_unit"]
        out["two_tower"] = (u @ (v if every else v[items]).T).astype(np.float64)
        return out

    def _uknn(self, profiles: Sequence[Profile], items: np.ndarray) -> np.ndarray:
        """User-kNN: cosine neighbours among train users (own row excluded), their items summed by similarity."""
        x = self.features.users
        zeros = np.zeros((len(profiles), items.size), dtype=np.float64)
        if x is None or not x.shape[0]:
            return zeros
        rows, cols, vals = [], [], []
        for r, p in enumerate(profiles):
            if p.history.size:
                # one entry per item (a repeated item counts once, with its last weight)
                rev_items = p.history[::-1]
                uniq, first = np.unique(rev_items, return_index=True)
                rows.append(np.full(uniq.size, r, dtype=np.int64))
                cols.append(uniq.astype(np.int64))
                vals.append(np.clip(p.weights[::-1][first], 0.0, 1.0).astype(np.float32))
        if not rows:
            b = sparse.csr_array((len(profiles), self._n_items), dtype=np.float32)
        else:
            b = sparse.csr_array(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(len(profiles), self._n_items), dtype=np.float32,
            )  # fmt: skip
        lengths = np.sqrt(np.asarray(b.multiply(b).sum(axis=1), dtype=np.float64)).reshape(-1, 1)
        prod = b @ self._item_side()["users_norm_t"]
        prod = prod.toarray() if sparse.issparse(prod) else prod
        sim = np.asarray(prod, dtype=np.float64) / np.maximum(lengths, 1e-9)
        for r, p in enumerate(profiles):
            if p.user_idx is not None and 0 <= p.user_idx < sim.shape[1]:
                sim[r, p.user_idx] = 0.0
        k = min(self.config.uknn_k, sim.shape[1] - 1)
        if k > 0:
            thr = -np.partition(-sim, k - 1, axis=1)[:, k - 1 : k]
            sim = np.where(sim >= thr, sim, 0.0)
        every = items.size == self._n_items and bool(np.all(items == np.arange(self._n_items)))
        if sparse.issparse(x):  # only the k neighbours' rows matter: a sparse (P, n_users) weight matrix
            xi = x if every else sparse.csc_matrix(x)[:, items]
            return np.asarray((sparse.csr_matrix(sim) @ xi).toarray(), dtype=np.float64)
        xi = x if every else x[:, items]
        return (sim @ xi).astype(np.float64)

    def fit_scales(self, profiles: Sequence[Profile]) -> None:
        """Set each raw feature's scale to its standard deviation over ``profiles`` x all items."""
        items = np.flatnonzero(self.item_mask)
        step = self._block(items.size)
        was, self.tuning = self.tuning, True
        try:
            if len(profiles) <= step:
                raw = self.raw_features(profiles, items)
                sds = {k: float(np.std(raw[k])) for k in HEAD_KEYS if k in raw}
            else:  # large catalogs: moments accumulated over bounded blocks of profiles
                acc: dict[str, np.ndarray] = {}
                for s in range(0, len(profiles), step):
                    raw = self.raw_features(profiles[s : s + step], items)
                    for k in HEAD_KEYS:
                        if k in raw:
                            x = raw[k]
                            acc[k] = acc.get(k, np.zeros(3)) + np.array([x.size, x.sum(), np.square(x).sum()])
                sds = {k: float(np.sqrt(max(q / n - (t / n) ** 2, 0.0))) for k, (n, t, q) in acc.items()}
        finally:
            self.tuning = was
        for k in HEAD_KEYS:
            sd = sds.get(k, 0.0)
            self.scales[k] = sd if sd > 1e-9 else 1.0

    def metadata(self) -> dict[str, Any]:
        """JSON-able description (config, ablation, head, scales) stored next to the weights."""
        return {
            "config": self.config.model_dump(), "ablation": self.ablation, "protocol": self.protocol,
            "n_users": self.n_users, "n_items": self._n_items, "head": self.head, "scales": self.scales,
            "feature_groups": list(self.feature_groups),
        }  # fmt: skip
