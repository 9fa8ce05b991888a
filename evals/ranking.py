"""Full-ranking evaluation under the two fixed protocols (design.md, "Evaluation protocols").

- ``ro811`` (RecBole's general protocol): the profile history is the user's training items; for
  ``on="valid"`` the training items are masked, for ``on="test"`` the training and validation items
  are masked (validation items go in ``Profile.exclude``: masked, never an input); the targets are
  that part's items; users without targets are skipped. As in RecBole's ``FullSortEvalDataLoader``,
  an item that is both seen and a target stays rankable.
- ``loo`` (LlamaRec's protocol): items outside ``split.item_mask`` are never ranked; for
  ``on="valid"`` the history is the training sequence (time order), for ``on="test"`` the training
  plus validation sequence; history items are masked; the target is the one held-out item.

Public API: :func:`history_profiles` builds the profiles and targets once (the joint model's trainer
reuses it for its validation callback), :func:`evaluate_set` scores and measures them,
:func:`evaluate` does both, :func:`time_evaluation` times a pure evaluation pass, and
:func:`ranking_models` is the registry ``trustrec eval ranking`` iterates over.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from catalog.splits import Split
from catalog.types import Dataset
from evals.metrics import hits_at, metrics_from_hits
from ranker.base import Profile, Ranker

__all__ = [
    "EvalSet",
    "Part",
    "RankerFactory",
    "evaluate",
    "evaluate_set",
    "history_profiles",
    "ranking_models",
    "register_ranking_model",
    "time_evaluation",
]

Part = Literal["valid", "test"]

RankerFactory = Callable[[Dataset, Split], Ranker]
"""Builds a fitted ranker from a dataset and a split (must train on ``split.train`` only)."""


@dataclass(frozen=True)
class EvalSet:
    """Profiles, targets and masks of one evaluation part, built once and reused.

    Attributes:
        protocol: ``ro811`` or ``loo``.
        on: ``valid`` or ``test``.
        profiles: One profile per evaluated user (``user_idx`` set; ``exclude`` holds items masked
            but not given as input, e.g. validation items during a ro811 test pass).
        targets: Target item indices per profile (non-empty).
        item_mask: Items eligible for ranking (bool per ``item_idx``).
        n_items: Catalog size.
    """

    protocol: str
    on: Part
    profiles: list[Profile]
    targets: list[np.ndarray]
    item_mask: np.ndarray
    n_items: int

    def __len__(self) -> int:
        return len(self.profiles)

    def sample(self, n: int | None, seed: int = 0) -> EvalSet:
        """At most ``n`` of the users (a seeded sample, profile order kept); all of them when ``n`` is None."""
        if n is None or n >= len(self.profiles):
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.profiles), n, replace=False))
        return dataclasses.replace(
            self, profiles=[self.profiles[i] for i in keep], targets=[self.targets[i] for i in keep]
        )

    @property
    def user_idx(self) -> np.ndarray:
        """The evaluated users' indices, in profile order."""
        return np.array([p.user_idx for p in self.profiles], dtype=np.int64)

    def mask(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Boolean ``(n, n_items)`` matrix of items never ranked for profiles ``start:stop``.

        Masked: items outside ``item_mask``, history and ``exclude`` items; under ro811 a target is
        unmasked even if it is also in the history (RecBole: history = used items - positives).
        """
        profs = self.profiles[start:stop]
        tgts = self.targets[start:stop]
        m = np.broadcast_to(~self.item_mask, (len(profs), self.n_items)).copy()
        rows, cols = _rows_cols([np.concatenate([p.history, p.exclude]) for p in profs])
        m[rows, cols] = True
        if self.protocol == "ro811":
            rows, cols = _rows_cols(tgts)
            m[rows, cols] = False
        return m

    def targets_matrix(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Boolean ``(n, n_items)`` target matrix for profiles ``start:stop``."""
        tgts = self.targets[start:stop]
        t = np.zeros((len(tgts), self.n_items), dtype=bool)
        rows, cols = _rows_cols(tgts)
        t[rows, cols] = True
        return t


def _rows_cols(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.repeat(np.arange(len(arrays)), lengths), np.concatenate(arrays).astype(np.int64)


def history_profiles(dataset: Dataset, split: Split, on: Part = "test") -> EvalSet:
    """Profiles and targets for evaluating ``on`` the validation or test part of ``split``.

    Args:
        dataset: The dataset the split was made from.
        split: A ``ro811`` or ``loo`` split.
        on: ``"valid"`` or ``"test"``.

    Returns:
        An :class:`EvalSet` with users in ascending ``user_idx`` order; users without targets skipped.

    Raises:
        ValueError: Unknown ``on`` or protocol.
    """
    if on not in ("valid", "test"):
        raise ValueError(f"on must be 'valid' or 'test', got {on!r}")
    if split.protocol not in ("ro811", "loo"):
        raise ValueError(f"unknown protocol {split.protocol!r}; use a split from catalog.ro_split or loo_split")
    # time order (ties by item index, as LlamaRec sorts)
    train = split.histories("train", by_time=True)
    valid = split.histories("valid", by_time=True)
    train_w = split.weights("train", by_time=True)  # behaviour weights: all 1.0 on ratings-only data
    valid_w = split.weights("valid", by_time=True)
    targets_by_user = split.histories(on, by_time=True)
    empty = np.zeros(0, dtype=np.int64)
    profiles: list[Profile] = []
    targets: list[np.ndarray] = []
    for u, held in enumerate(targets_by_user):
        tgt = np.unique(held)
        if tgt.size == 0:
            continue
        hist, weights = train[u], train_w[u]
        exclude = empty
        if on == "test":
            if split.protocol == "loo":
                hist, weights = np.concatenate([hist, valid[u]]), np.concatenate([weights, valid_w[u]])
            else:
                exclude = valid[u]
        profiles.append(Profile(history=hist, weights=weights, user_idx=u, exclude=exclude))
        targets.append(tgt)
    return EvalSet(
        protocol=split.protocol,
        on=on,
        profiles=profiles,
        targets=targets,
        item_mask=np.asarray(split.item_mask, dtype=bool),
        n_items=dataset.n_items,
    )


@overload
def evaluate_set(
    ranker: Ranker,
    evalset: EvalSet,
    *,
    ks: Sequence[int] = ...,
    batch_size: int = ...,
    per_user: Literal[False] = ...,
) -> dict[str, float]: ...


@overload
def evaluate_set(
    ranker: Ranker,
    evalset: EvalSet,
    *,
    ks: Sequence[int] = ...,
    batch_size: int = ...,
    per_user: Literal[True],
) -> dict[str, np.ndarray]: ...


def evaluate_set(
    ranker: Ranker,
    evalset: EvalSet,
    *,
    ks: Sequence[int] = (5, 10, 20),
    batch_size: int = 1024,
    per_user: bool = False,
) -> dict[str, float] | dict[str, np.ndarray]:
    """Full-ranking metrics of ``ranker`` on a prepared :class:`EvalSet`.

    Args:
        ranker: Any :class:`ranker.base.Ranker`; scored over all items, masks applied here.
        evalset: From :func:`history_profiles`.
        ks: Cut-offs.
        batch_size: Profiles scored per call.
        per_user: Return per-user arrays (profile order) instead of means.

    Returns:
        ``{"recall@10": ..., "mrr@10": ..., "ndcg@10": ..., "hit@10": ..., "precision@10": ..., ...}``.

    Raises:
        ValueError: The ranker's score matrix has the wrong shape.
    """
    if len(evalset) == 0:
        raise ValueError(f"no users with {evalset.on} targets to evaluate")
    kmax = max(ks)
    hit_blocks: list[np.ndarray] = []
    n_pos: list[np.ndarray] = []
    for start in range(0, len(evalset), batch_size):
        stop = min(start + batch_size, len(evalset))
        scores = np.array(ranker.score(evalset.profiles[start:stop]), dtype=np.float32, copy=True)
        if scores.shape != (stop - start, evalset.n_items):
            raise ValueError(
                f"{type(ranker).__name__}.score returned shape {scores.shape}, expected {(stop - start, evalset.n_items)}"
            )
        scores[evalset.mask(start, stop)] = -np.inf
        tgt = evalset.targets_matrix(start, stop)
        hit_blocks.append(hits_at(scores, tgt, kmax))
        n_pos.append(tgt.sum(axis=1))
    per = metrics_from_hits(np.concatenate(hit_blocks), np.concatenate(n_pos), ks)
    if per_user:
        return per
    return {k: float(v.mean()) for k, v in per.items()}


def evaluate(
    ranker: Ranker,
    dataset: Dataset,
    split: Split,
    *,
    on: Part = "test",
    ks: Sequence[int] = (5, 10, 20),
    batch_size: int = 1024,
) -> dict[str, float]:
    """Full-ranking metrics of a fitted ranker on the ``on`` part of ``split`` (see the module doc).

    Returns:
        Means over evaluated users, keys like ``"ndcg@10"``.
    """
    out = evaluate_set(ranker, history_profiles(dataset, split, on), ks=ks, batch_size=batch_size)
    return {k: float(v) for k, v in out.items()}


def time_evaluation(
    ranker: Ranker,
    evalset: EvalSet,
    *,
    ks: Sequence[int] = (5, 10, 20),
    batch_size: int = 1024,
    repeats: int = 5,
) -> float:
    """Median wall seconds of one pure evaluation pass (score, mask, top-k, metrics), profiles prebuilt.

    One warm-up pass is run first and not counted. For the benchmark against the physical floor
    (~10 ms for a full-ranking pass over ml-100k).
    """
    evaluate_set(ranker, evalset, ks=ks, batch_size=batch_size)
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        evaluate_set(ranker, evalset, ks=ks, batch_size=batch_size)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# ------------------------------------------------------------------------------------ model registry


def _pop(dataset: Dataset, split: Split) -> Ranker:
    from ranker.baselines import PopRanker

    return PopRanker().fit(dataset, split)


def _pop_recbole(dataset: Dataset, split: Split) -> Ranker:
    from ranker.baselines import PopConfig, PopRanker

    return PopRanker(PopConfig(counting="recbole")).fit(dataset, split)


def _itemknn(dataset: Dataset, split: Split) -> Ranker:
    from ranker.baselines import ItemKNNRanker

    return ItemKNNRanker().fit(dataset, split)


def _ease(dataset: Dataset, split: Split) -> Ranker:
    from ranker.baselines import EASERanker

    return EASERanker().fit(dataset, split)


def _itemknn_sparse(dataset: Dataset, split: Split) -> Ranker:
    """ItemKNN built as on a large catalog (block-wise top-k from the sparse co-occurrence matrix)."""
    from ranker.baselines import ItemKNNConfig, ItemKNNRanker

    return ItemKNNRanker(ItemKNNConfig(sparse_above=1)).fit(dataset, split)


def _ease_lowrank(dataset: Dataset, split: Split) -> Ranker:
    """EASE as on a large catalog (the low-rank form, default rank), to compare with the dense one."""
    from ranker.baselines import EASEConfig, EASERanker

    return EASERanker(EASEConfig(sparse_above=1)).fit(dataset, split)


def _bpr(dataset: Dataset, split: Split) -> Ranker:
    from ranker.baselines import BPRRanker

    bpr = BPRRanker()
    valid = history_profiles(dataset, split, "valid")
    metric = bpr.config.valid_metric
    return bpr.fit(dataset, split, validate=lambda m: evaluate_set(m, valid)[metric], progress=True)


def _joint(ablation: str) -> RankerFactory:
    """The joint ranker (ranker.train), loaded from the workspace or trained with validation selection."""

    def factory(dataset: Dataset, split: Split) -> Ranker:
        from agent.config import load_config
        from catalog.errors import BadInput
        from ranker.config import selection_users
        from ranker.train import ensure_trained

        # the configured workspace (environment, ./trustrec.toml): a shop's models live in their own scope
        cfg = load_config()
        ws = cfg.workspace()
        # large catalogs: model selection scores a seeded sample of the validation users
        valid = history_profiles(dataset, split, "valid").sample(selection_users(cfg.ranker, dataset.n_items), cfg.seed)
        model = ensure_trained(
            ws, dataset, split, config=cfg.ranker, ablation=ablation, seed=cfg.seed,  # type: ignore[arg-type]
            validate=lambda m: evaluate_set(m, valid, ks=(10,)),
        )  # fmt: skip
        if model.n_items != dataset.n_items:
            raise BadInput(
                f"the {ablation} model in {ws.models} was trained on {model.n_items} items, but {dataset.name} has "
                f"{dataset.n_items}: set TRUSTREC_DATA__DATASET (or --config) to the dataset it was trained on"
            )
        return model

    return factory


_MODELS: dict[str, RankerFactory] = {
    "trustrec": _joint("joint"),
    "text-only": _joint("text-only"),
    "id-only": _joint("id-only"),
    "pop": _pop,
    "pop-recbole": _pop_recbole,
    "itemknn": _itemknn,
    "ease": _ease,
    "itemknn-sparse": _itemknn_sparse,
    "ease-lowrank": _ease_lowrank,
    "bpr": _bpr,
}


def register_ranking_model(name: str, factory: RankerFactory, *, replace: bool = False) -> None:
    """Add a model to :func:`ranking_models` (e.g. ``"trustrec"``, ``"text-only"``, ``"id-only"``).

    Args:
        name: Row name in ``trustrec eval ranking`` (lower case, no commas).
        factory: ``factory(dataset, split) -> fitted Ranker``; trains on ``split.train`` only (it
            may use ``split.valid`` for early stopping), never on ``split.test``.
        replace: Allow overwriting an existing name.

    Raises:
        ValueError: Bad name, or the name exists and ``replace`` is False.
    """
    if not name or "," in name or name != name.strip():
        raise ValueError(f"bad model name {name!r}: use a non-empty name without commas or spaces around it")
    if name in _MODELS and not replace:
        raise ValueError(f"ranking model {name!r} already registered; pass replace=True to overwrite it")
    _MODELS[name] = factory


def ranking_models() -> dict[str, RankerFactory]:
    """Model name -> factory for ``trustrec eval ranking`` (a copy; extend with :func:`register_ranking_model`)."""
    return dict(_MODELS)
