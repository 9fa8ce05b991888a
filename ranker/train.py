"""Training of the joint ranker: closed-form collaborative features, then the LM's top layers and the
two towers learn together on what those features miss.

1. Collaborative features (:mod:`ranker.features`) are fit in closed form on train; their
   hyperparameters (history recency decay, EASE penalty, RP3beta beta, next-item penalty) are each
   chosen on validation, then the head weights by coordinate search on validation NDCG@10.
2. Two-tower training. Loss: softmax cross-entropy of each (history, positive item) example against
   the batch's other positives and uniformly sampled negatives. In residual mode (default when
   collaborative features exist) the examples are a held-out fold of train (``residual_holdout`` of
   each user's train items: random under ro811, the latest under loo) and the logits carry a fixed
   offset: the head's collaborative score from features refit on the rest of train, so the towers
   learn the residual rather than re-learn EASE. Per step, a random subset of the batch's positive
   items get fresh text vectors through the trainable LM layers (the gradient path into the language
   model); all other items use text vectors refreshed once per epoch.
3. After each epoch the two-tower head weight is chosen on validation; early stopping on validation.

Everything is chosen on validation data through the ``validate`` callback (``ranker`` never imports
``evals``; the CLI passes ``evals.ranking.evaluate_set``); test data is never seen here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from catalog.config import Workspace
from catalog.splits import Split
from catalog.types import Dataset
from ranker.base import Profile
from ranker.checkpoint import load_model, load_train_state, save_model, save_train_state
from ranker.config import Ablation, RankerConfig, selection_users
from ranker.features import (
    attribute_indices,
    ease_matrix,
    fit_features,
    interaction_csr,
    interaction_matrix,
    rp3_matrix,
    rp3_topk,
    seq_gram,
    seq_matrix,
    transition_csr,
    transition_matrix,
)
from ranker.model import JointRanker, TwoTowerNet, heads_for
from ranker.sparse import LowRankEASE, item_item_columns

Validate = Callable[[JointRanker], dict[str, float]]
METRIC = "ndcg@10"


@dataclass
class TrainResult:
    """What a training run produced."""

    model: JointRanker
    folder: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("-inf")
    wall_s: float = 0.0
    tuned: dict[str, Any] = field(default_factory=dict)


def model_folder(workspace: Workspace, protocol: str, ablation: Ablation = "joint") -> Path:
    """Checkpoint folder of one (protocol, ablation) model in the workspace."""
    return workspace.models / f"ranker-{protocol}-{ablation}"


def train_profiles(split: Split, n_users: int, users: np.ndarray | None = None) -> list[Profile]:
    """Profiles whose history is each user's train items (in the split's order)."""
    seqs, weights = split.histories("train"), split.weights("train")
    ids = np.arange(n_users) if users is None else users
    return [Profile(seqs[u], weights[u], user_idx=int(u)) for u in ids]


def holdout_validation(
    split: Split, n_users: int, *, on: str = "valid", k: int = 10, max_users: int | None = None, seed: int = 0
) -> Validate:
    """A small full-ranking NDCG@k/Recall@k on ``split.valid`` (history = train, train items masked).

    For development and :func:`ensure_trained` without a caller-supplied callback; the reported
    figures come from ``evals.ranking``. ``max_users``: score a seeded sample of at most that many users.
    """
    target = split.valid if on == "valid" else split.test
    users = np.unique(target["user_idx"].to_numpy())
    if max_users is not None and users.size > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    truth: dict[int, set[int]] = {}
    for u, i in zip(target["user_idx"].to_numpy(), target["item_idx"].to_numpy(), strict=True):
        truth.setdefault(int(u), set()).add(int(i))
    profiles = train_profiles(split, n_users, users)
    if on != "valid":  # test: validation items are known history too, so mask them
        seen = split.histories("valid")
        profiles = [Profile(p.history, user_idx=p.user_idx, exclude=seen[int(p.user_idx or 0)]) for p in profiles]
    disc = 1.0 / np.log2(np.arange(2, k + 2))

    def validate(model: JointRanker) -> dict[str, float]:
        ndcg, rec = [], []
        for s in range(0, len(profiles), 256):
            chunk = profiles[s : s + 256]
            scores = model.score(chunk)
            scores[:, ~split.item_mask] = -np.inf
            for r, p in enumerate(chunk):
                scores[r, p.history] = -np.inf
                scores[r, p.exclude] = -np.inf
            top = np.argsort(-scores, axis=1)[:, :k]
            for r, p in enumerate(chunk):
                t = truth[int(p.user_idx or 0)]
                hits = np.array([i in t for i in top[r]], dtype=float)
                ndcg.append(float((hits * disc).sum() / disc[: min(len(t), k)].sum()))
                rec.append(float(hits.sum() / len(t)))
        return {f"ndcg@{k}": float(np.mean(ndcg)), f"recall@{k}": float(np.mean(rec))}

    return validate


def plot_learning_curve(history: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss and validation NDCG@10 per epoch as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ep, [h["loss"] for h in history], "o-", color="tab:blue", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(ep, [h.get(METRIC, np.nan) for h in history], "s-", color="tab:red", label=f"valid {METRIC}")
    ax2.set_ylabel(f"valid {METRIC}", color="tab:red")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


class TowerStep(nn.Module):
    """The differentiable part of one two-tower training step, as one module so DDP can wrap it.

    ``forward(hist, users, text_cache, fresh)`` returns ``(user vectors, item vectors)``: ``fresh``
    items get their text vector through the LM's trainable layers (the gradient path into the
    language model), all others keep ``text_cache``'s.
    """

    def __init__(self, net: TwoTowerNet, lm: nn.Module | None) -> None:
        super().__init__()
        self.net, self.lm = net, lm

    def forward(
        self, hist: torch.Tensor, users: torch.Tensor, text_cache: torch.Tensor | None, fresh: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        net, L = self.net, self.net.history_len
        text = None
        if self.lm is not None and text_cache is not None and fresh is not None:
            text = text_cache.index_copy(0, fresh, self.lm(fresh))
        pad = hist >= net.n_items
        m = (~pad).sum(1, keepdim=True)
        age = (m - 1 - torch.arange(L, device=hist.device)).clamp(min=0, max=L - 1)
        item_vecs = net.item_vectors(text, torch.arange(net.n_items, device=hist.device))
        return net.user_vectors(item_vecs, hist, (~pad).to(torch.float32), age, users), item_vecs


class Trainer:
    """Trains one (protocol, ablation) joint ranker with checkpoints, resume and early stopping.

    Args:
        dataset: The dataset (items give texts and attributes).
        split: The protocol's split; only ``train`` is used for fitting, ``validate`` sees validation.
        config: Hyperparameters.
        folder: Checkpoint folder (best model at the top, resumable state in ``last/``).
        validate: ``validate(model) -> {"ndcg@10": ..., ...}`` on validation data.
        ablation: ``joint``, ``text-only`` or ``id-only``.
        seed: Seed of every random choice (examples, negatives, initialisation).
        cache_dir: Where the frozen LM layers' outputs are cached.
        progress: Show tqdm progress bars (stderr).
    """

    def __init__(
        self,
        dataset: Dataset,
        split: Split,
        config: RankerConfig,
        folder: Path,
        validate: Validate,
        *,
        ablation: Ablation = "joint",
        seed: int = 2020,
        cache_dir: Path | None = None,
        progress: bool = True,
    ) -> None:
        self.ds, self.split, self.cfg, self.folder = dataset, split, config, folder
        self.validate, self.ablation, self.seed, self.progress = validate, ablation, seed, progress
        self.sequential = split.protocol == "loo"
        torch.manual_seed(seed)
        np.random.seed(seed % (2**32))
        genres, bucket, _ = attribute_indices(dataset, config.year_buckets)
        del genres
        self.lm: Any = None
        text_vecs = None
        if ablation != "id-only":
            from tqdm.auto import tqdm

            from ranker.text import LMTextTower

            bar = tqdm(
                total=dataset.n_items, desc="caching frozen LM layers", unit="item", disable=not progress, leave=False
            )

            def tick(done: int, total: int) -> None:
                bar.n = done
                bar.refresh()

            self.lm = LMTextTower(
                [it.text() for it in dataset.items], config.encoder_path, trainable_layers=config.trainable_layers,
                max_tokens=config.max_tokens, progress=tick, cache_dir=cache_dir,
            )  # fmt: skip
            bar.close()
            text_vecs = self.lm.encode_all().numpy()
        feats = fit_features(
            dataset, split.train, ease_lambda=config.ease_lambda, window=config.transition_window,
            smoothing=config.transition_smoothing, year_buckets=config.year_buckets, rp3_alpha=config.rp3_alpha,
            rp3_beta=config.rp3_beta, seq_decay=config.seq_decay, seq_window=config.seq_window,
            seq_lambda=config.seq_lambda, text=text_vecs, ease_text=config.ease_text, sparse_above=config.sparse_above,
            sparse_k=config.sparse_k, ease_rank=config.ease_rank, seed=seed,
        )  # fmt: skip
        #: Whether the collaborative features are the large-catalog (sparse / low-rank) forms: then every refit
        #: below (feature tuning, the residual fold) builds those forms too, never an items x items array.
        self.large = feats.sparse
        self.model = JointRanker(
            config, n_users=dataset.n_users, features=feats, year_bucket=bucket, text_vecs=text_vecs,
            ablation=ablation, protocol=split.protocol, item_mask=split.item_mask,
        )  # fmt: skip
        self.seqs = split.histories("train")
        rng = np.random.default_rng(seed)
        users = np.flatnonzero([s.size > 0 for s in self.seqs])
        self.scale_profiles = train_profiles(
            split, dataset.n_users, rng.choice(users, min(200, users.size), replace=False)
        )
        self.residual = config.residual and "ease" in self.model.head
        #: head weights re-tuned with the two-tower after each epoch (those it may overlap with)
        self._retune = [k for k in ("text", "seq", "transition") if k in self.model.head]
        self._fold: dict[str, Any] | None = None
        params = [{"params": [p for p in self.model.net.parameters() if p.requires_grad], "lr": config.lr}]
        if self.lm is not None:
            params.append({"params": list(self.lm.top.parameters()), "lr": config.lm_lr})
        self.opt = torch.optim.AdamW(params, weight_decay=config.weight_decay)

    # ----- examples -----
    def _examples(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, positives, padded histories) for one epoch."""
        cfg, ni = self.cfg, self.ds.n_items
        tr = self.split.train
        users_all = tr["user_idx"].to_numpy()
        n = min(len(tr), cfg.examples_per_epoch or 20_000)
        # positions inside each user's sequence, drawn uniformly over interactions
        lens = np.array([s.size for s in self.seqs])
        pick_users = users_all[rng.choice(len(tr), n, replace=False)]
        pos_in = np.floor(rng.random(n) * lens[pick_users]).astype(np.int64)
        if self.sequential:
            keep = pos_in > 0
            pick_users, pos_in = pick_users[keep], pos_in[keep]
        hist = np.full((pick_users.size, cfg.history_len), ni, dtype=np.int64)
        pos = np.empty(pick_users.size, dtype=np.int64)
        L = cfg.history_len
        for r, (u, k) in enumerate(zip(pick_users, pos_in, strict=True)):
            s = self.seqs[u]
            pos[r] = s[k]
            if self.sequential:
                h = s[max(0, k - L) : k]
            else:
                h = np.delete(s, k)
                if h.size > L:
                    h = h[np.sort(rng.choice(h.size, L, replace=False))]
            hist[r, : h.size] = h
        return pick_users, pos, hist

    # ----- residual mode: a held-out fold of train with the collaborative score as a logit offset -----
    def _residual_fold(self) -> dict[str, Any]:
        """Held-out examples of train, their tower histories, and sparse offset inputs (built once).

        The fold's collaborative features are refit on train minus the held-out items with the
        hyperparameters and head weights chosen on validation, so each example's offset is an
        out-of-sample collaborative score, as at test time.
        """
        if self._fold is not None:
            return self._fold
        import scipy.sparse as sp

        cfg, ni, head = self.cfg, self.ds.n_items, self.model.head
        rng = np.random.default_rng([self.seed, 7])
        rest: list[np.ndarray] = []
        ex_u, ex_pos, ex_hist = [], [], []
        for u, s in enumerate(self.seqs):
            n_out = round(cfg.residual_holdout * s.size) if s.size >= 3 else 0
            if n_out == 0:
                rest.append(s)
                continue
            if self.sequential:  # the latest items, each predicted from everything before it
                rest.append(s[: s.size - n_out])
                for k in range(s.size - n_out, s.size):
                    ex_u.append(u)
                    ex_pos.append(s[k])
                    ex_hist.append(s[:k])
            else:
                held = np.zeros(s.size, dtype=bool)
                held[rng.choice(s.size, n_out, replace=False)] = True
                rest.append(s[~held])
                for i in s[held]:
                    ex_u.append(u)
                    ex_pos.append(i)
                    ex_hist.append(s[~held])
        if self.large:
            terms, pop = self._fold_terms_sparse(rest)
        else:
            terms, pop = self._fold_terms_dense(rest)
        decay = float(head.get("decay", 1.0))
        seqw = terms.pop("seq", None)

        def rows(window: int | None, d: float) -> Any:
            r_i, c_i, v_i = [], [], []
            for r, h in enumerate(ex_hist):
                h = h if window is None else h[-window:]
                r_i.append(np.full(h.size, r))
                c_i.append(h)
                v_i.append(d ** np.arange(h.size - 1, -1, -1.0))
            cat = (np.concatenate(v_i), (np.concatenate(r_i), np.concatenate(c_i)))
            return sp.csr_matrix(cat, shape=(len(ex_hist), ni), dtype=np.float32)

        L = cfg.history_len
        hist = np.full((len(ex_hist), L), ni, dtype=np.int64)
        for r, h in enumerate(ex_hist):
            h = h[-L:]
            hist[r, : h.size] = h
        self._fold = {
            "users": np.asarray(ex_u, dtype=np.int64), "pos": np.asarray(ex_pos, dtype=np.int64), "hist": hist,
            "main": terms["main"], "seq": seqw, "pop": pop, "rows": rows(None, decay),
            "seq_rows": None if seqw is None else rows(cfg.seq_window, cfg.seq_decay),
        }  # fmt: skip
        return self._fold

    def _fold_terms_dense(self, rest: list[np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
        """The fold's item-item offset weights as one dense ``(n_items, n_items)`` matrix (small catalogs),
        the next-item weights (``seq``, when weighted) and the popularity offset."""
        cfg, ni, head, sc = self.cfg, self.ds.n_items, self.model.head, self.model.scales
        x = interaction_matrix(rest, ni)
        # item-item offset weights from the fold's features with the head's weights and scales
        main = np.zeros((ni, ni), dtype=np.float32)
        if head.get("ease", 0.0):
            main += (head["ease"] / sc["ease"]) * ease_matrix(x, cfg.ease_lambda, self._text(), cfg.ease_text)
        if head.get("rp3", 0.0):
            main += (head["rp3"] / sc["rp3"]) * rp3_matrix(x, cfg.rp3_alpha, cfg.rp3_beta)
        if head.get("transition", 0.0):
            tm = transition_matrix(rest, ni, window=cfg.transition_window, smoothing=cfg.transition_smoothing)
            main += (head["transition"] / sc["transition"]) * tm
        seqw = None
        if head.get("seq", 0.0):
            gram = seq_gram(rest, ni, decay=cfg.seq_decay, window=cfg.seq_window)
            seqw = (head["seq"] / sc["seq"]) * seq_matrix(gram, cfg.seq_lambda)
        return {"main": main, "seq": seqw}, self._fold_popularity(np.asarray(x.sum(0)).ravel())

    def _fold_terms_sparse(self, rest: list[np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
        """Large catalogs: the fold's offset weights as a list of ``(weight, item-item model)`` in their sparse /
        low-rank forms (RP3beta and transitions summed into one CSR), and the popularity offset. No next-item
        term: that feature is zero above the threshold."""
        import scipy.sparse as sp

        cfg, ni, head, sc = self.cfg, self.ds.n_items, self.model.head, self.model.scales
        x = interaction_csr(rest, ni)
        main: list[tuple[float, Any]] = []
        if head.get("ease", 0.0):
            ease = LowRankEASE.fit(
                x, cfg.ease_lambda, cfg.ease_rank, text=self._text(), text_weight=cfg.ease_text, seed=self.seed
            )
            main.append((head["ease"] / sc["ease"], ease))
        csr = sp.csr_matrix((ni, ni), dtype=np.float32)
        if head.get("rp3", 0.0):
            csr = csr + (head["rp3"] / sc["rp3"]) * rp3_topk(x, cfg.rp3_alpha, cfg.rp3_beta, cfg.sparse_k)
        if head.get("transition", 0.0):
            tm = transition_csr(rest, ni, window=cfg.transition_window, smoothing=cfg.transition_smoothing)
            csr = csr + (head["transition"] / sc["transition"]) * tm
        if csr.nnz:
            main.append((1.0, sp.csr_matrix(csr, dtype=np.float32)))
        return {"main": main}, self._fold_popularity(np.asarray(x.sum(0)).ravel())

    def _fold_popularity(self, counts: np.ndarray) -> np.ndarray:
        head, sc = self.model.head, self.model.scales
        pop = np.zeros(counts.size, dtype=np.float32)
        if head.get("popularity", 0.0):
            lp = np.log1p(counts)
            pop = ((head["popularity"] / sc["popularity"]) * (lp - lp.mean()) / (lp.std() + 1e-9)).astype(np.float32)
        return pop

    def _offsets(self, idx: np.ndarray, cand: torch.Tensor) -> torch.Tensor:
        """Collaborative offsets ``(len(idx), len(cand))`` of fold examples ``idx`` (std units)."""
        f = self._fold
        assert f is not None
        c = cand.numpy()
        if isinstance(f["main"], list):  # large catalogs: each model's columns for the candidates only
            h = f["rows"][idx]
            off = np.zeros((idx.size, c.size)) + f["pop"][c][None, :]
            for w, m in f["main"]:
                off += w * item_item_columns(h, m, c)
        else:
            off = np.asarray(f["rows"][idx] @ f["main"][:, c]) + f["pop"][c][None, :]
        if f["seq"] is not None:
            off = off + np.asarray(f["seq_rows"][idx] @ f["seq"][:, c])
        return torch.from_numpy(off.astype(np.float32))

    def _epoch(self, epoch: int) -> float:
        loss, _ = self.train_pass(epoch, TowerStep(self.model.net, self.lm), self.opt)
        self.refresh_text()
        return loss

    def refresh_text(self) -> None:
        """After an epoch: recompute every item's text vector through the updated LM layers."""
        if self.lm is not None:
            self.model.text_vecs = self.lm.encode_all()
        self.model.invalidate()

    def train_pass(
        self, epoch: int, step: nn.Module, opt: torch.optim.Optimizer, *, rank: int = 0, world: int = 1
    ) -> tuple[float, int]:
        """One epoch of two-tower steps through ``step`` (a :class:`TowerStep`, or one wrapped by DDP).

        With ``world`` > 1 (data-parallel workers) every worker draws the same example order and takes
        the ``rank``-th of ``world`` equal shards, with ``batch_size // world`` examples per step, so
        all workers take the same number of steps and the gradient averaged across them stands for
        one ``batch_size`` step; negatives and fresh LM items are drawn per worker. Tensors go to the
        device of ``step``'s parameters. Returns (mean loss, steps taken).
        """
        from tqdm.auto import tqdm

        cfg = self.cfg
        dev = next(step.parameters()).device
        rng = np.random.default_rng([self.seed, epoch])
        torch.manual_seed(self.seed * 1000 + epoch + 7919 * rank)
        if self.residual:
            fold = self._residual_fold()
            users, pos, hist = fold["users"], fold["pos"], fold["hist"]
            ex = np.arange(users.size)
            if cfg.examples_per_epoch is not None and users.size > cfg.examples_per_epoch:
                ex = rng.choice(users.size, cfg.examples_per_epoch, replace=False)
            order = ex[rng.permutation(ex.size)]
        else:
            users, pos, hist = self._examples(rng)
            order = rng.permutation(users.size)
        batch_size = cfg.batch_size
        if world > 1:
            order = order[: order.size - order.size % world][rank::world]
            batch_size = max(2, cfg.batch_size // world)
        eligible = torch.from_numpy(np.flatnonzero(self.split.item_mask)).to(dev)
        text_cache = None if self.model.text_vecs is None else self.model.text_vecs.to(dev)
        net_users = self.model.net.n_users if self.model.net.user_id is None else None
        step.train()
        losses = []
        steps = range(0, order.size, batch_size)
        bar = tqdm(steps, desc=f"epoch {epoch}", unit="step", disable=not self.progress, leave=False)
        for s in bar:
            idx = order[s : s + batch_size]
            if idx.size < 2:
                continue
            b_users = torch.from_numpy(users[idx]) if net_users is None else torch.full((idx.size,), net_users)
            b_pos = torch.from_numpy(pos[idx]).to(dev)
            fresh = None
            if self.lm is not None and text_cache is not None:
                uniq = torch.unique(b_pos)
                fresh = uniq[torch.randperm(uniq.numel(), device=dev)[: cfg.lm_items_per_step]]
            u, item_vecs = step(torch.from_numpy(hist[idx]).to(dev), b_users.to(dev), text_cache, fresh)
            neg = eligible[torch.randint(eligible.numel(), (cfg.negatives,), device=dev)]
            cand = torch.cat([b_pos, neg])
            logits = nn.functional.normalize(u, dim=-1) @ nn.functional.normalize(item_vecs[cand], dim=-1).T
            logits = logits / cfg.temperature
            if self.residual:
                logits = logits + cfg.offset_scale * self._offsets(idx, cand.cpu()).to(dev)
            eye = torch.eye(idx.size, cand.numel(), dtype=torch.bool, device=dev)
            logits = logits.masked_fill((cand[None, :] == b_pos[:, None]) & ~eye, -1e9)
            loss = nn.functional.cross_entropy(logits, torch.arange(idx.size, device=dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        bar.close()
        return (float(np.mean(losses)) if losses else float("nan")), len(losses)

    # ----- head (model selection on validation) -----
    def _search(self, key: str, grid: Sequence[float], best: float) -> float:
        """Coordinate step: try ``grid`` for head weight ``key``; keep the best by validation NDCG@10."""
        head = self.model.head
        keep = head[key]
        for v in grid:
            if v == keep:
                continue
            head[key] = v
            m = self.validate(self.model)[METRIC]
            if m > best + 1e-6:
                best, keep = m, v
        head[key] = keep
        return best

    def tune_head(self, keys: Sequence[str], rounds: int = 1) -> float:
        """Tune recency decay (when in ``keys``) and head weights on validation. Returns the best NDCG@10.

        Coordinate search: ``rounds`` passes over ``keys``, each trying its grid with the others fixed.
        """
        self.model.tuning = True
        try:
            best = self.validate(self.model)[METRIC]
            for _ in range(rounds):
                before = best
                for key in keys:
                    grid = self.cfg.recency_grid if key == "decay" else self.cfg.head_grid
                    best = self._search(key, grid, best)
                if best <= before + 1e-6:
                    break
        finally:
            self.model.tuning = False
        return best

    def _solo(self, key: str) -> float:
        """Validation NDCG@10 of feature ``key`` alone (head weight 1, all others 0)."""
        saved = dict(self.model.head)
        self.model.head.update({k: 0.0 for k in self.model.head if k not in ("decay",)})
        self.model.head[key] = 1.0
        try:
            return self.validate(self.model)[METRIC]
        finally:
            self.model.head.clear()
            self.model.head.update(saved)

    def tune_features(self) -> dict[str, Any]:
        """Choose the recency decay and each collaborative feature's hyperparameters on validation.

        Each feature is refit in closed form on train per candidate and scored alone on validation;
        the winners are written into the model's config (so checkpoints record them). Returns the choices.
        """
        m, cfg = self.model, self.cfg
        if "ease" not in m.head:
            return {}
        chosen: dict[str, Any] = {}

        def pick(key: str, param: str, values: Sequence[float], refit: Callable[[float], Any]) -> None:
            best_v, best = getattr(cfg, param), self._solo(key)
            cur = getattr(m.features, key)
            for v in values:
                if v == best_v:
                    continue
                setattr(m.features, key, refit(v))
                m.invalidate()
                score = self._solo(key)
                if score > best + 1e-6:
                    best_v, best, cur = v, score, getattr(m.features, key)
            setattr(m.features, key, cur)
            m.invalidate()
            chosen[param] = best_v
            chosen[f"{key}_solo_{METRIC}"] = best

        # decay first (with EASE alone), then each feature's own hyperparameter
        best_d, best = m.head.get("decay", 1.0), self._solo("ease")
        for d in cfg.recency_grid:
            m.head["decay"] = d
            score = self._solo("ease")
            if score > best + 1e-6:
                best_d, best = d, score
        m.head["decay"] = best_d
        chosen["decay"] = best_d
        text = self._text()
        if self.large:
            self._tune_sparse(pick, chosen, text)
        else:
            x = interaction_matrix(self.seqs, self.ds.n_items)
            pick("ease", "ease_lambda", cfg.ease_lambda_grid, lambda v: ease_matrix(x, v, text, cfg.ease_text))
            if text is not None:
                lam = float(chosen["ease_lambda"])
                pick("ease", "ease_text", cfg.ease_text_grid, lambda v: ease_matrix(x, lam, text, v))
            pick("rp3", "rp3_beta", cfg.rp3_beta_grid, lambda v: rp3_matrix(x, cfg.rp3_alpha, v))
        if self.sequential and not self.large:  # no next-item model above the threshold (features.py)
            gram = seq_gram(self.seqs, self.ds.n_items, decay=cfg.seq_decay, window=cfg.seq_window)
            pick("seq", "seq_lambda", cfg.seq_lambda_grid, lambda v: seq_matrix(gram, v))
        self.cfg = cfg.model_copy(update={k: v for k, v in chosen.items() if k in RankerConfig.model_fields})
        m.config = self.cfg
        return chosen

    def _tune_sparse(
        self, pick: Callable[[str, str, Sequence[float], Callable[[float], Any]], None], chosen: dict[str, Any],
        text: np.ndarray | None,
    ) -> None:  # fmt: skip
        """:meth:`tune_features`' refits in the large-catalog forms: a low-rank EASE per candidate (the Gram
        matrix's eigenpairs computed once per text weight and shared by the penalties) and RP3beta's top-k CSR."""
        cfg = self.cfg
        x = interaction_csr(self.seqs, self.ds.n_items)
        eig: dict[float, tuple[np.ndarray, np.ndarray]] = {}

        def ease(lam: float, text_weight: float) -> LowRankEASE:
            tw = text_weight if text is not None else 0.0
            if tw not in eig:
                eig[tw] = LowRankEASE.eigen(x, cfg.ease_rank, text=text, text_weight=tw, seed=self.seed)
            return LowRankEASE.from_eigen(*eig[tw], lam)

        pick("ease", "ease_lambda", cfg.ease_lambda_grid, lambda v: ease(v, cfg.ease_text))
        if text is not None:
            lam = float(chosen["ease_lambda"])
            pick("ease", "ease_text", cfg.ease_text_grid, lambda v: ease(lam, v))
        pick("rp3", "rp3_beta", cfg.rp3_beta_grid, lambda v: rp3_topk(x, cfg.rp3_alpha, v, cfg.sparse_k))

    # ----- the loop -----
    def start(self, res: TrainResult, t0: float) -> None:
        """Epoch 0: choose the collaborative features' hyperparameters and the head on validation.

        Fills ``res`` (tuned choices, best metric, first history row); writes nothing.
        """
        anchor = "ease" if "ease" in self.model.head else "text"
        heads = [k for k in heads_for(self.ablation) if k not in ("two_tower", anchor)]
        if self.cfg.tune_head:
            res.tuned = self.tune_features()
            self.model.fit_scales(self.scale_profiles)
            res.best_metric = self.tune_head([*(["decay"] if anchor == "text" else []), *heads], self.cfg.head_rounds)
        else:
            self.model.fit_scales(self.scale_profiles)
            res.best_metric = self.validate(self.model)[METRIC]
        res.best_epoch = 0
        res.history.append(
            {"epoch": 0, "loss": float("nan"), METRIC: res.best_metric, "head": dict(self.model.head),
             "tuned": res.tuned, "epoch_s": time.perf_counter() - t0}
        )  # fmt: skip

    def end_epoch(self, epoch: int, loss: float, te: float) -> tuple[float, dict[str, float], dict[str, Any]]:
        """After an epoch's steps: refit scales, re-tune the two-tower head weight, validate.

        Returns (the selection metric, the validation metrics, the epoch's history row); ``te`` is
        when the epoch began.
        """
        self.model.scales["two_tower"] = 1.0
        self.model.fit_scales(self.scale_profiles)
        if self.cfg.tune_head:
            self.model.head["two_tower"] = max(self.model.head["two_tower"], 0.0)
            metric = self.tune_head(["two_tower", *self._retune], 1)
        else:
            self.model.head["two_tower"] = 1.0
            metric = self.validate(self.model)[METRIC]
        metrics = self.validate(self.model)
        row = {
            "epoch": epoch,
            "loss": loss,
            **metrics,
            "head": dict(self.model.head),
            "epoch_s": time.perf_counter() - te,
        }
        return metric, metrics, row

    def fit(self, epochs: int | None = None, *, resume: bool = False) -> TrainResult:
        """Train up to ``epochs`` (config default), resuming from ``folder/last`` when asked and present."""
        t0 = time.perf_counter()
        epochs = epochs or self.cfg.epochs
        last = self.folder / "last"
        res = TrainResult(model=self.model, folder=self.folder)
        start, stale = 1, 0
        prior_wall = 0.0
        state = None
        if resume and (last / "model.safetensors").is_file():
            loaded, lm_state, _ = load_model(last)
            self.model.net.load_state_dict(loaded.net.state_dict())
            self.model.text_vecs, self.model.head, self.model.scales = loaded.text_vecs, loaded.head, loaded.scales
            self.model.features, self.model.config = loaded.features, loaded.config
            self.cfg = loaded.config.model_copy(
                update={k: getattr(self.cfg, k) for k in ("epochs", "patience", "examples_per_epoch")}
            )
            self.model.invalidate()
            if self.lm is not None and lm_state:
                self.lm.top.load_state_dict(lm_state)
            state = load_train_state(last, self.opt)
        if state is not None:
            start, stale = int(state["epoch"]) + 1, int(state["stale"])
            res.history, res.best_epoch, res.best_metric = (
                state["history"],
                int(state["best_epoch"]),
                float(state["best_metric"]),
            )
            prior_wall = float(state.get("wall_s", 0.0))
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "log.jsonl").write_text("")
            self.start(res, t0)
            save_model(
                self.model,
                self.folder,
                lm_state=self.lm_state(),
                extra={"epoch": 0, "valid": {METRIC: res.best_metric}},
            )
        for epoch in range(start, epochs + 1):
            te = time.perf_counter()
            loss = self._epoch(epoch)
            metric, metrics, row = self.end_epoch(epoch, loss, te)
            res.history.append(row)
            with (self.folder / "log.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            if metric > res.best_metric + 1e-6:
                res.best_metric, res.best_epoch, stale = metric, epoch, 0
                save_model(self.model, self.folder, lm_state=self.lm_state(), extra={"epoch": epoch, "valid": metrics})
            else:
                stale += 1
            save_model(self.model, last, lm_state=self.lm_state(), extra={"epoch": epoch})
            save_train_state(
                last, self.opt, {
                    "epoch": epoch, "stale": stale, "history": res.history, "best_epoch": res.best_epoch,
                    "best_metric": res.best_metric, "wall_s": prior_wall + time.perf_counter() - t0,
                },
            )  # fmt: skip
            if stale >= self.cfg.patience:
                break
        best, _, _ = load_model(self.folder)
        res.model = best
        res.wall_s = prior_wall + time.perf_counter() - t0
        return res

    def _text(self) -> np.ndarray | None:
        """The model's current item text vectors (numpy), or None without a language model."""
        tv = self.model.text_vecs
        return None if tv is None else tv.numpy()

    def lm_state(self) -> dict[str, torch.Tensor] | None:
        """The LM's trainable layers (what checkpoints store besides the model), None without an LM."""
        return None if self.lm is None else dict(self.lm.top.state_dict())


def load_trained(workspace: Workspace, protocol: str = "ro811", ablation: Ablation = "joint") -> JointRanker:
    """The trained model of ``protocol``/``ablation`` from the workspace.

    Raises:
        FileNotFoundError: Not trained yet; run ``trustrec train --protocol {protocol}`` or use :func:`ensure_trained`.
    """
    folder = model_folder(workspace, protocol, ablation)
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"no trained ranker in {folder}; run `trustrec train --protocol {protocol} --ablation {ablation}`"
        )
    return load_model(folder)[0]


def ensure_trained(
    workspace: Workspace,
    dataset: Dataset,
    split: Split,
    *,
    config: RankerConfig | None = None,
    ablation: Ablation = "joint",
    validate: Validate | None = None,
    seed: int = 2020,
    progress: bool = True,
) -> JointRanker:
    """Load the trained model, training it first (with progress bars) when no checkpoint exists.

    ``validate`` defaults to :func:`holdout_validation` on ``split``'s validation data.
    """
    folder = model_folder(workspace, split.protocol, ablation)
    if (folder / "model.safetensors").is_file():
        return load_model(folder)[0]
    config = config or RankerConfig()
    if validate is None:
        validate = holdout_validation(
            split, dataset.n_users, max_users=selection_users(config, dataset.n_items), seed=seed
        )
    trainer = Trainer(
        dataset, split, config, folder, validate, ablation=ablation, seed=seed, cache_dir=workspace.cache,
        progress=progress,
    )  # fmt: skip
    return trainer.fit().model
