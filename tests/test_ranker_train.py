"""Training the joint ranker: beats popularity on validation, resumes, ablations, loading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from catalog import Workspace, make_split
from tests.ranker_helpers import TINY, make_trainer


@pytest.mark.slow
def test_short_training_beats_popularity_on_validation(ml100k, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from evals.ranking import evaluate
    from ranker.baselines import PopRanker

    res = make_trainer(ml100k, tmp_path / "m").fit()
    split = make_split(ml100k, "ro811")
    ours = evaluate(res.model, ml100k, split, on="valid", ks=(10,))["ndcg@10"]
    pop = evaluate(PopRanker().fit(ml100k, split), ml100k, split, on="valid", ks=(10,))["ndcg@10"]
    assert ours > pop + 0.05, (ours, pop)


@pytest.mark.slow
def test_resume_continues_from_the_last_epoch(ml100k, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "m"
    first = make_trainer(ml100k, folder, config=TINY.model_copy(update={"patience": 5})).fit(1)
    assert [h["epoch"] for h in first.history] == [0, 1]
    second = make_trainer(ml100k, folder, config=TINY.model_copy(update={"patience": 5})).fit(2, resume=True)
    assert [h["epoch"] for h in second.history] == [0, 1, 2]
    lines = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    st = json.loads((folder / "last" / "train-state.json").read_text())
    assert st["epoch"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("ablation", ["text-only", "id-only"])
def test_ablations_drop_their_groups(ml100k, tmp_path, ablation) -> None:  # type: ignore[no-untyped-def]
    from ranker.base import Profile

    model = (
        make_trainer(ml100k, tmp_path / ablation, ablation=ablation, config=TINY.model_copy(update={"epochs": 1}))
        .fit()
        .model
    )
    if ablation == "text-only":
        assert "collaborative" not in model.feature_groups and "popularity" not in model.feature_groups
        assert model.net.item_id is None and model.net.user_id is None
    else:
        assert "text" not in model.feature_groups and model.text_vecs is None and model.net.text_proj is None
    p = [Profile(np.array([1, 2, 3]), user_idx=0)]
    comps = model.score_components(p)
    np.testing.assert_allclose(sum(comps[g] for g in model.feature_groups) + comps["bias"], model.score(p), atol=1e-5)


def test_load_trained_explains_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ranker.train import load_trained

    with pytest.raises(FileNotFoundError, match="trustrec train"):
        load_trained(Workspace(tmp_path), "loo")
