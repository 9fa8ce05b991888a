"""Closed-form collaborative features: known answers on small synthetic data, and checkpoint consistency."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranker.features import ease_matrix, interaction_matrix, rp3_matrix, seq_gram, seq_matrix, transition_matrix


def _chain_sequences(n_items: int, n_users: int, seed: int = 0) -> list[np.ndarray]:
    """Users walk the cycle 0 -> 1 -> ... -> n_items-1 -> 0 from random starts (next item = previous + 1)."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(n_items) + np.arange(rng.integers(4, 12))) % n_items for _ in range(n_users)]


def test_next_item_model_recovers_a_deterministic_chain() -> None:
    seqs = _chain_sequences(12, 300)
    w = seq_matrix(seq_gram(seqs, 12, decay=0.5, window=5), 1.0)
    for last in range(12):
        window = (last - np.arange(5)[::-1]) % 12  # the last five items before the next one
        x = np.zeros(12)
        x[window] = 0.5 ** np.arange(4, -1, -1)
        assert int(np.argmax(x @ w)) == (last + 1) % 12


def test_transition_counts_follow_the_order() -> None:
    t = transition_matrix([np.array([0, 1, 2]), np.array([0, 1])], 3, window=1, smoothing=0.0)
    np.testing.assert_allclose(t[0], [0, 1, 0])
    np.testing.assert_allclose(t[1], [0, 0, 1])
    assert t[2].sum() == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1.0, 500.0))
def test_ease_is_the_ridge_solution_with_zero_diagonal(seed: int, lam: float) -> None:
    rng = np.random.default_rng(seed)
    x = (rng.random((30, 8)) < 0.3).astype(np.float64)
    b = ease_matrix(x, lam).astype(np.float64)
    assert np.allclose(np.diag(b), 0.0)
    # KKT of min ||X - XB||^2 + lam ||B||^2 s.t. diag(B) = 0: off-diagonal gradient vanishes
    grad = x.T @ (x @ b - x) + lam * b
    off = ~np.eye(8, dtype=bool)
    assert np.abs(grad[off]).max() < 1e-3 * max(1.0, np.abs(x.T @ x).max())


def test_rp3_prefers_the_co_consumed_and_penalises_popularity() -> None:
    x = interaction_matrix([np.array([0, 1]), np.array([0, 1]), np.array([0, 2]), np.array([2, 3])], 4)
    w0 = rp3_matrix(x, 1.0, 0.0)
    assert np.allclose(np.diag(w0), 0.0) and w0[0, 1] > w0[0, 3] == 0.0
    # with a popularity penalty, the more popular target loses weight relative to the rarer one
    w1 = rp3_matrix(x, 1.0, 1.0)
    assert w1[0, 1] / w1[0, 2] == pytest.approx(w0[0, 1] / w0[0, 2])  # equal popularity (2 users each)
    assert w1[2, 0] / w1[2, 3] < w0[2, 0] / w0[2, 3]  # item 0 (3 users) is penalised against item 3 (1 user)


def test_checkpoint_reader_refuses_weights_from_another_save(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import torch
    from safetensors.torch import save_file

    from ranker import checkpoint

    save_file({"a": torch.zeros(1)}, str(tmp_path / "model.safetensors"), metadata={"save_id": "new"})
    (tmp_path / "meta.json").write_text(json.dumps({"format": 1, "save_id": "old"}))
    monkeypatch.setattr(checkpoint.time, "sleep", lambda s: None)
    with pytest.raises(RuntimeError, match="disagreeing"):
        checkpoint._read_pair(tmp_path / "model.safetensors", tmp_path / "meta.json", tries=3)
    (tmp_path / "meta.json").write_text(json.dumps({"format": 1, "save_id": "new"}))
    meta, tensors = checkpoint._read_pair(tmp_path / "model.safetensors", tmp_path / "meta.json")
    assert meta["save_id"] == "new" and set(tensors) == {"a"}


def test_text_kernel_lets_ease_link_items_the_language_model_describes_alike() -> None:
    # items 0 and 2 are never consumed together, but their texts are identical
    x = interaction_matrix([np.array([0, 1]), np.array([1, 2]), np.array([3])], 4)
    text = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    plain = ease_matrix(x, 1.0)
    np.testing.assert_allclose(ease_matrix(x, 1.0, text, 0.0), plain)
    informed = ease_matrix(x, 1.0, text, 2.0)
    assert informed[0, 2] > plain[0, 2] and informed[2, 0] > plain[2, 0]
