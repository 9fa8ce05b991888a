"""Shared fixtures for the joint-ranker tests: a tiny, fast configuration on real ml-100k."""

from __future__ import annotations

from pathlib import Path

from catalog import Workspace, make_split
from ranker.config import RankerConfig

#: One short epoch on the residual fold, no hyperparameter grids: seconds, not minutes.
TINY = RankerConfig(
    epochs=1, batch_size=256, examples_per_epoch=1024, negatives=64, lm_items_per_step=8, history_len=20,
    recency_grid=[1.0], head_grid=[0.0, 0.1, 0.5], ease_lambda_grid=[], ease_text_grid=[], rp3_beta_grid=[], seq_lambda_grid=[],
    head_rounds=1, seq_window=10,
)  # fmt: skip


def make_trainer(
    ml100k, folder: Path, *, protocol: str = "ro811", ablation: str = "joint", config: RankerConfig = TINY
):  # type: ignore[no-untyped-def]
    from evals.ranking import evaluate_set, history_profiles
    from ranker.train import Trainer

    split = make_split(ml100k, protocol)  # type: ignore[arg-type]
    valid = history_profiles(ml100k, split, "valid")
    return Trainer(
        ml100k,
        split,
        config,
        folder,
        lambda m: evaluate_set(m, valid, ks=(10,)),  # type: ignore[arg-type,return-value]
        ablation=ablation,
        cache_dir=Workspace().cache,
        progress=False,  # type: ignore[arg-type]
    )
