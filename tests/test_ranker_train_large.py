"""Training the joint ranker on a large catalog (issue 15): above ``sparse_above`` every collaborative
feature of the training path (the fit, the validation search's refits, the residual fold) is sparse or low
rank, and the checkpoint serves through the ranking stack with exact explanations. Exercised on a tiny
generated shop with the threshold lowered; below it the dense path is kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from catalog import Workspace, make_split
from catalog.synthetic import SyntheticShopConfig, generate_shop_dataset
from ranker.config import RankerConfig
from ranker.sparse import LowRankEASE
from tests.ranker_helpers import TINY

SHOP = SyntheticShopConfig(n_items=300, n_users=400, seed=3)
#: TINY with the threshold below the shop's 300 items, a one-value grid per refit (so each refit path runs),
#: and blocks of a few profiles (so block-wise scoring runs).
LARGE = TINY.model_copy(
    update={
        "sparse_above": 100, "sparse_k": 30, "ease_rank": 48, "ease_lambda_grid": [100.0], "ease_text_grid": [10.0],
        "rp3_beta_grid": [0.5], "score_block": 5_000,
    }
)  # fmt: skip


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return generate_shop_dataset(SHOP)


def _trainer(ds, folder: Path, config: RankerConfig):  # type: ignore[no-untyped-def]
    from ranker.train import Trainer, holdout_validation

    split = make_split(ds, "ro811")
    return Trainer(
        ds, split, config, folder, holdout_validation(split, ds.n_users), ablation="id-only",
        cache_dir=Workspace().cache, progress=False,
    )  # fmt: skip


def _no_square_dense(arrays: dict[str, np.ndarray], n: int) -> list[str]:
    return [k for k, a in arrays.items() if a.ndim == 2 and a.shape == (n, n)]


def test_above_the_threshold_the_training_path_is_sparse(shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = _trainer(shop, tmp_path / "m", LARGE)
    f = t.model.features
    assert t.large and f.sparse
    assert isinstance(f.ease, LowRankEASE)
    assert all(sp.issparse(getattr(f, k)) for k in ("rp3", "transition", "seq", "users"))
    t.model.fit_scales(t.scale_profiles)
    chosen = t.tune_features()
    assert chosen["ease_lambda"] in (LARGE.ease_lambda, 100.0) and chosen["rp3_beta"] in (LARGE.rp3_beta, 0.5)
    f = t.model.features  # the validation search's refits stay sparse / low rank
    assert isinstance(f.ease, LowRankEASE) and sp.issparse(f.rp3)
    assert not _no_square_dense(f.arrays(), shop.n_items)
    t.model.head.update(rp3=0.5, transition=0.3, popularity=0.2)
    fold = t._residual_fold()
    models = [m for _, m in fold["main"]]
    assert any(isinstance(m, LowRankEASE) for m in models)
    assert all(isinstance(m, LowRankEASE) or sp.issparse(m) for m in models) and fold["seq"] is None
    # the fold's offsets for some candidates equal each model's full scores at those columns
    idx, cand = np.arange(5), np.array([0, 7, 42, 299])
    import torch

    got = t._offsets(idx, torch.from_numpy(cand)).numpy()
    h = fold["rows"][idx]
    want = fold["pop"][None, :] + sum(
        w * (m.columns(h, None) if isinstance(m, LowRankEASE) else (h @ m).toarray()) for w, m in fold["main"]
    )
    np.testing.assert_allclose(got, want[:, cand], rtol=1e-4, atol=1e-5)


def test_below_the_threshold_the_dense_path_is_kept(shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = _trainer(shop, tmp_path / "m", TINY)  # default threshold 10,000 > 300 items
    f = t.model.features
    assert not t.large and not f.sparse
    assert all(isinstance(getattr(f, k), np.ndarray) for k in ("ease", "rp3", "transition", "seq", "users"))
    t.model.fit_scales(t.scale_profiles)
    assert isinstance(t._residual_fold()["main"], np.ndarray)


def test_block_wise_scoring_equals_one_block(shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ranker.train import train_profiles

    t = _trainer(shop, tmp_path / "m", LARGE)
    m = t.model
    m.head.update(rp3=0.5, transition=0.3, uknn=0.2, popularity=0.2, two_tower=0.1, genre=0.1)
    profiles = train_profiles(t.split, shop.n_users, np.arange(60))
    assert m._block(shop.n_items) < len(profiles)
    m.fit_scales(profiles)  # moments accumulated over blocks
    scales = dict(m.scales)
    blocks = m.score(profiles)
    m.config = m.config.model_copy(update={"score_block": 10**9})
    m.invalidate()
    np.testing.assert_allclose(blocks, m.score(profiles), rtol=1e-6, atol=1e-6)  # float32 products
    m.fit_scales(profiles)  # one block: numpy's std
    for k, v in scales.items():
        assert v == pytest.approx(m.scales[k], rel=1e-6), k


def test_sparse_cooccurrence_keeps_the_dense_values(shop) -> None:  # type: ignore[no-untyped-def]
    from ranker.coldstart import cooccurrence

    split = make_split(shop, "ro811")
    dense = cooccurrence(split, shop.n_items)
    full = cooccurrence(split, shop.n_items, top_k=shop.n_items)
    np.testing.assert_allclose(full.toarray(), dense, rtol=1e-6)
    cut = cooccurrence(split, shop.n_items, top_k=5)
    assert np.diff(cut.indptr).max() <= 5


@pytest.mark.slow  # trains the joint model (with the language model's text) and tunes the new-user blend
def test_train_then_serve_and_explain_through_the_stack(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agent.config import TrustrecConfig
    from ranker.checkpoint import load_model
    from ranker.coldstart import ColdStartRanker
    from ranker.features import ItemFeatures
    from ranker.stack import build_stack
    from ranker.train import model_folder

    cfg = TrustrecConfig(
        home=tmp_path / "ws",
        data={"dataset": "synthetic-shop", "synthetic": SHOP.model_dump()},  # type: ignore[arg-type]
        ranker=LARGE,
        explain={"candidate_first_above": 100, "candidate_pool": 60},  # type: ignore[arg-type]
    )
    stack = build_stack(cfg, model="joint", train=True)
    assert stack.name == "joint" and isinstance(stack.ranker, ColdStartRanker)
    n = stack.dataset.n_items
    base = stack.ranker.base
    assert isinstance(base.features.ease, LowRankEASE) and sp.issparse(base.features.rp3)
    assert sp.issparse(stack.ranker.cooc)  # the new-user blend's co-occurrence too
    folder = model_folder(cfg.workspace(), "ro811")
    loaded, _, meta = load_model(folder)
    assert meta["config"]["sparse_above"] == 100 and loaded.features.sparse
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="np") as fh:
        feats = {k[5:]: fh.get_tensor(k) for k in fh.keys() if k.startswith("feat.")}  # noqa: SIM118
    assert not _no_square_dense(feats, n) and ItemFeatures.from_arrays(feats).sparse

    explainer = stack.explainer()
    for user in list(stack.dataset.user_index)[:3]:
        got = explainer(stack.profile(user), 5, mmr_lambda=1.0)
        assert len(got.items) == 5
        assert got.max_additivity_error <= 1e-4
