"""Joint ranker model: LM gradients, exact additivity, session profiles, vectors, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ranker.base import FeatureRanker, Profile, Ranker, recommend
from ranker.checkpoint import load_model, save_model
from tests.ranker_helpers import make_trainer


@pytest.fixture(scope="module")
def trained(ml100k, tmp_path_factory):  # type: ignore[no-untyped-def]
    trainer = make_trainer(ml100k, tmp_path_factory.mktemp("joint"))
    before = {k: v.detach().clone() for k, v in trainer.lm.top.state_dict().items()}
    result = trainer.fit()
    return trainer, result, before


def _profiles(model, n: int = 6) -> list[Profile]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    out = [
        Profile(rng.choice(model.n_items, size=k, replace=False), user_idx=int(u))
        for u, k in zip(range(n), (1, 5, 20, 40, 3, 60), strict=False)
    ]
    out.append(Profile(np.array([0, 49, 99]), weights=np.array([1.0, 2.0, -1.0])))  # session like and dislike
    out.append(Profile(np.zeros(0, dtype=np.int64)))  # cold user
    return out


def test_lm_gradients_are_nonzero_and_step_changes_lm(ml100k, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ranker.text import LMTextTower

    lm = LMTextTower([it.text() for it in ml100k.items[:40]], trainable_layers=1)
    item = torch.arange(8)
    target = torch.randn(8, lm.dim)
    loss = ((lm(item) - target) ** 2).sum()
    loss.backward()
    grads = [p.grad for p in lm.top.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    w0 = next(iter(lm.top.parameters())).detach().clone()
    torch.optim.SGD(lm.top.parameters(), lr=0.1).step()
    assert not torch.equal(w0, next(iter(lm.top.parameters())).detach())


@pytest.mark.slow  # fine-tunes the language model
def test_training_changes_the_language_model(trained) -> None:  # type: ignore[no-untyped-def]
    trainer, _, before = trained
    after = trainer.lm.top.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no LM weight moved during training: gradients did not reach the language model"


def test_contracts(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained[1].model
    assert isinstance(model, Ranker)
    assert isinstance(model, FeatureRanker)
    assert model.feature_groups == ("two_tower", "collaborative", "text", "attributes", "popularity", "session")


def test_components_sum_to_score(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained[1].model
    model.head.update(
        two_tower=0.3, transition=0.1, text=0.2, genre=0.1, year=0.05, popularity=0.1, bias=0.25, rp3=0.2, seq=0.3,
        uknn=0.1,
    )  # fmt: skip
    profiles = _profiles(model)
    items = np.array([3, 7, 100, 1500, 49])
    for sel in (None, items):
        comps = model.score_components(profiles, sel)
        total = comps["bias"] + sum(comps[g] for g in model.feature_groups)
        np.testing.assert_allclose(total, model.score(profiles, sel), atol=1e-5)
        assert set(comps) == {*model.feature_groups, "bias"}
    full = model.score(profiles)
    np.testing.assert_allclose(model.score(profiles, items), full[:, items], atol=1e-5)


def test_session_like_moves_scores_without_retraining(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained[1].model
    base = Profile(np.array([0, 1, 2, 3]), user_idx=5)
    liked = Profile(np.array([0, 1, 2, 3, 171]), weights=np.array([1, 1, 1, 1, 2.0]), user_idx=5)
    s0, s1 = model.score([base])[0], model.score([liked])[0]
    assert not np.allclose(s0, s1)
    sess = model.score_components([liked])["session"][0]
    assert np.abs(sess).max() > 0
    rec = recommend(model, liked, 10)
    assert rec.item_idx.size == 10 and not np.isin(rec.item_idx, liked.history).any()
    disliked = Profile(base.history, user_idx=5, exclude=np.array([rec.item_idx[0]]))
    assert rec.item_idx[0] not in recommend(model, disliked, 10).item_idx


def test_vectors_give_the_two_tower_feature(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained[1].model
    p = Profile(np.array([10, 20, 30]), user_idx=1)
    u, v = model.user_vector(p), model.item_vectors()
    assert v.shape == (model.n_items, model.config.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    raw = model.raw_features([p], np.arange(model.n_items))["two_tower"][0]
    np.testing.assert_allclose(v @ u, raw, atol=1e-5)


def test_checkpoint_round_trip_scores_identically(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trainer, result, _ = trained
    model = result.model
    save_model(model, tmp_path / "ck", lm_state=dict(trainer.lm.top.state_dict()))
    again, lm_state, meta = load_model(tmp_path / "ck")
    profiles = _profiles(model)
    np.testing.assert_array_equal(model.score(profiles), again.score(profiles))
    assert meta["ablation"] == "joint" and lm_state
    assert all(torch.equal(lm_state[k], v) for k, v in trainer.lm.top.state_dict().items())
    assert not list(tmp_path.joinpath("ck").glob("*.pt")) and not list(tmp_path.joinpath("ck").glob("*.pkl"))


def test_residual_examples_are_out_of_sample(trained) -> None:  # type: ignore[no-untyped-def]
    trainer = trained[0]
    fold = trainer._fold
    assert trainer.residual and fold is not None and fold["users"].size > 1000
    rows = fold["rows"]
    for r in range(0, fold["users"].size, 97):  # the target is never part of its own offset's input
        assert fold["pos"][r] not in rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
        assert fold["pos"][r] not in fold["hist"][r]
    idx = np.arange(5)
    cand = torch.arange(50)
    expected = np.asarray(rows[idx] @ fold["main"][:, :50]) + fold["pop"][:50]
    if fold["seq"] is not None:
        expected = expected + np.asarray(fold["seq_rows"][idx] @ fold["seq"][:, :50])
    np.testing.assert_allclose(trainer._offsets(idx, cand).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_user_knn_leaves_out_the_user_themself(trained) -> None:  # type: ignore[no-untyped-def]
    trainer = trained[0]
    model = trained[1].model
    u = int(np.argmax([s.size for s in trainer.seqs]))
    own = trainer.seqs[u]
    items = np.arange(model.n_items)
    with_self = model._uknn([Profile(own)], items)[0]
    without = model._uknn([Profile(own, user_idx=u)], items)[0]
    # the user's own row is the most similar one when not excluded: it adds exactly their items
    assert with_self[own].sum() > without[own].sum()


def test_a_validation_sweep_rescoring_its_chunks_reuses_their_features(trained, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A head-weight sweep re-scores the same chunks of users per candidate: every chunk's raw features are
    computed once (the memo held two entries, so a four-chunk pass recomputed everything each time)."""
    model = trained[1].model
    model.invalidate()
    ps = _profiles(model, 6)
    chunks = [ps[k : k + 2] for k in range(0, len(ps), 2)]  # four chunks, as a validation pass scores them
    calls = []
    real = type(model)._compute_raw
    monkeypatch.setattr(type(model), "_compute_raw", lambda self, p, i: calls.append(len(p)) or real(self, p, i))
    model.tuning = True
    try:
        first = [model.score(c) for c in chunks]
        model.head["ease"] = model.head.get("ease", 0.0) + 0.5  # another candidate weight, same features
        again = [model.score(c) for c in chunks]
    finally:
        model.tuning = False
    assert len(calls) == len(chunks)  # computed once per chunk, not once per chunk and candidate
    assert any(not np.allclose(a, b) for a, b in zip(first, again, strict=True))  # the weight did change scores
