"""Ranker configuration (the joint two-tower model and its training).

Hyperparameters live here; device, seed, protocol and paths are run context, passed separately.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Ablation = Literal["joint", "text-only", "id-only"]


class RankerConfig(BaseModel):
    """Model and training hyperparameters of the joint ranker (:class:`ranker.model.JointRanker`)."""

    # --- language model (item text tower) ---
    encoder_path: str | None = Field(
        None, description="Local folder of a BERT-style sentence encoder; None = the packaged all-MiniLM-L6-v2."
    )
    max_tokens: int = Field(32, ge=8, le=512, description="Token limit of an item's text (title, year, genres).")
    trainable_layers: int = Field(
        1,
        ge=1,
        le=12,
        description="Top transformer layers of the LM fine-tuned with the recommender; the rest are frozen and cached.",
    )
    lm_items_per_step: int = Field(
        32,
        ge=1,
        description="Items per step whose text vector is recomputed through the trainable LM layers (the gradient path).",
    )
    lm_lr: float = Field(3e-5, gt=0, description="Learning rate of the LM's trainable layers.")
    # --- two-tower ---
    dim: int = Field(64, ge=8, description="Dimension of user and item vectors.")
    history_len: int = Field(50, ge=1, description="Most recent history items the user tower attends over.")
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout on item/user vectors during training.")
    year_buckets: int = Field(
        10, ge=1, description="Number of release-year buckets (quantiles of the catalog's years)."
    )
    temperature: float = Field(
        0.1, gt=0, description="Softmax temperature of the two-tower loss (on cosine-like scores)."
    )
    negatives: int = Field(
        256, ge=0, description="Uniformly sampled negatives per batch, added to the in-batch negatives."
    )
    # --- training ---
    epochs: int = Field(5, ge=1, description="Maximum epochs (early stopping may end sooner).")
    batch_size: int = Field(1024, ge=2, description="Training examples (user, positive item) per step.")
    examples_per_epoch: int | None = Field(
        None,
        ge=1,
        description=(
            "Training examples drawn per epoch (None = the whole residual fold; without residual mode, 20,000 "
            "train interactions)."
        ),
    )
    lr: float = Field(1e-2, gt=0, description="Learning rate of the embeddings and the user tower (AdamW).")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay (decoupled).")
    patience: int = Field(2, ge=1, description="Epochs without validation NDCG@10 gain before stopping early.")
    # --- interpretable features of the additive head ---
    ease_lambda: float = Field(
        400.0, gt=0, description="L2 penalty of the closed-form item-item (EASE) model fit on the train split."
    )
    transition_window: int = Field(
        3, ge=1, description="Later items (in time order) counted as transitions of an item."
    )
    transition_smoothing: float = Field(
        5.0, ge=0, description="Added to each row total when normalising transition counts."
    )
    ease_lambda_grid: list[float] = Field(
        [250.0, 500.0, 1000.0], description="EASE penalties tried on validation (the best replaces ease_lambda)."
    )
    ease_text: float = Field(
        0.0,
        ge=0,
        description=(
            "Weight of the language model's item-text kernel added to EASE's Gram matrix (text-informed EASE; "
            "0 = plain EASE, and always 0 without text)."
        ),
    )
    ease_text_grid: list[float] = Field(
        [10.0, 30.0, 100.0], description="Text-kernel weights of EASE tried on validation (joint model only)."
    )
    rp3_alpha: float = Field(0.8, gt=0, description="RP3beta: power of the random-walk transition probabilities.")
    rp3_beta: float = Field(0.6, ge=0, description="RP3beta: popularity penalty exponent of the target item.")
    rp3_beta_grid: list[float] = Field([0.5, 0.7], description="Further RP3beta betas tried on validation.")
    seq_window: int = Field(30, ge=1, description="Items before a position the closed-form next-item model reads.")
    seq_decay: float = Field(0.85, gt=0, le=1, description="Recency decay of the next-item model's input window.")
    seq_lambda: float = Field(200.0, gt=0, description="L2 penalty of the closed-form next-item model.")
    seq_lambda_grid: list[float] = Field(
        [50.0, 500.0], description="Further next-item penalties tried on validation (sequential protocols)."
    )
    uknn_k: int = Field(50, ge=1, description="Neighbours of the user-kNN feature (cosine over train histories).")
    residual: bool = Field(
        True,
        description=(
            "Train the two-tower on what the collaborative features miss: their score (fit on a held-out fold of "
            "train) is a fixed logit offset in the loss, so the towers learn the residual."
        ),
    )
    residual_holdout: float = Field(
        0.2, gt=0, lt=1, description="Share of each user's train items held out as two-tower targets (residual mode)."
    )
    offset_scale: float = Field(
        1.0, ge=0, description="Logit units per standard deviation of the collaborative offset (residual mode)."
    )
    head_rounds: int = Field(2, ge=1, description="Rounds of coordinate search over the head weights.")
    recency_grid: list[float] = Field(
        [1.0, 0.95, 0.9, 0.8, 0.7], description="History recency decays tried on validation (1.0 = order ignored)."
    )
    head_grid: list[float] = Field(
        [0.0, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0],
        description="Head weights tried per feature on validation (features are standardised).",
    )
    tune_head: bool = Field(
        True, description="Tune head weights and recency on validation (model selection, never test)."
    )
    # --- large catalogs (see ranker.sparse) ---
    sparse_above: int | None = Field(
        10_000,
        ge=0,
        description=(
            "Catalogs with more items than this train and serve the collaborative features in their sparse / low-rank "
            "forms (RP3beta and transitions as top-k CSR, a low-rank EASE, no next-item model); None = always dense. "
            "Same default as ranker.features.SPARSE_ABOVE."
        ),
    )
    sparse_k: int = Field(100, ge=1, description="Neighbours kept per item by the sparse RP3beta (large catalogs).")
    ease_rank: int = Field(256, ge=1, description="Rank of the low-rank EASE (large catalogs).")
    select_users: int | None = Field(
        1000,
        ge=1,
        description=(
            "Large catalogs: validation users (a seeded sample) that model selection scores; every head-weight and "
            "hyperparameter trial scores them all over the whole catalog. None = every validation user. Reported "
            "validation and test figures always use every user."
        ),
    )
    score_block: int = Field(
        2_000_000,
        ge=1,
        description=(
            "Large catalogs: profiles x items scored per block (each of the ~20 raw features of a block is a float64 "
            "array of this many entries), so validation and serving memory stays bounded however many users are scored."
        ),
    )


def selection_users(config: RankerConfig, n_items: int) -> int | None:
    """How many validation users model selection scores: ``config.select_users`` above the large-catalog
    threshold, else None (all)."""
    large = config.sparse_above is not None and n_items > config.sparse_above
    return config.select_users if large else None


class ColdStartConfig(BaseModel):
    """How new and short profiles are ranked and calibrated (see :mod:`ranker.coldstart`)."""

    enabled: bool = Field(True, description="Blend the prior for short profiles; False = the trained ranker alone.")
    warm_k: int = Field(15, ge=1, description="Profiles with at least this many positive items use the ranker alone.")
    tune_ks: list[int] = Field(
        [1, 2, 3, 5, 10], description="Profile sizes at which the blend weight is tuned on validation users."
    )
    quality_grid: list[float] = Field([0.0, 0.25, 0.5, 1.0, 2.0], description="Candidate weights of rating quality.")
    shrinkage_grid: list[float] = Field([5.0, 20.0, 50.0], description="Candidate pseudo-counts m of the average.")
    blend_grid: list[float] = Field(
        [0.0, 0.1, 0.2, 0.5, 1.0, 2.0], description="Candidate prior weights (per unit spread of the other terms)."
    )
    cooccurrence_grid: list[float] = Field(
        [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0], description="Candidate co-occurrence weights (per unit spread)."
    )
    calibration_buckets: list[tuple[int, int]] = Field(
        [(0, 0), (1, 5), (6, 14)], description="Profile-size buckets with their own calibrator (inclusive bounds)."
    )
    calibration_top_n: int = Field(
        50, ge=1, description="List depth of each bucket's calibration sample (deep: constrained lists score lower)."
    )
    seed: int = Field(0, description="Seed for the sizes drawn within a calibration bucket.")
