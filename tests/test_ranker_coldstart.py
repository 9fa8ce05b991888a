"""New users: the prior, the profile-size blend, size-aware calibration and the cold-start evaluation,
on real ml-100k with the trained joint ranker (trained into the workspace on first use)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranker.base import Profile, profile_size
from ranker.coldstart import (
    ColdStartRanker,
    ItemPrior,
    SizeAwareCalibrator,
    category_groups,
    ensure_cold_start,
    first_k_profiles,
)
from ranker.config import ColdStartConfig


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from agent.config import TrustrecConfig
    from catalog import load_dataset, make_split
    from ranker.calibration import CalibrationConfig, ensure_calibrator
    from ranker.diversity import item_popularity
    from ranker.train import ensure_trained, model_folder

    cfg = TrustrecConfig()
    ws = cfg.workspace()
    ds = load_dataset(cfg.data, ws)
    split = make_split(ds, "ro811", seed=cfg.seed)
    base = ensure_trained(ws, ds, split, config=cfg.ranker, seed=cfg.seed, progress=False)
    folder = model_folder(ws, "ro811")
    warm, _ = ensure_calibrator(base, split, folder / "calibration.json", CalibrationConfig(),
                                checkpoint=folder / "model.safetensors")  # fmt: skip
    # tuned into a temporary file: the test owns its copy
    path = tmp_path_factory.mktemp("coldstart") / "coldstart.json"
    ranker, cal = ensure_cold_start(base, split, ds.n_users, warm, path, ColdStartConfig(),
                                    checkpoint=folder / "model.safetensors",
                                    item_groups=category_groups(ds.items))  # fmt: skip
    counts = item_popularity(split.train["item_idx"].to_numpy(), ds.n_items)
    return {"ds": ds, "split": split, "base": base, "ranker": ranker, "cal": cal, "path": path, "counts": counts,
            "folder": folder, "warm": warm}  # fmt: skip


# ------------------------------------------------------------------------------------------- prior
@settings(max_examples=50, deadline=None)
@given(
    ratings=st.lists(st.integers(4, 5), min_size=1, max_size=300),
    m=st.floats(5.0, 50.0),
)
def test_bayes_average_does_not_let_one_perfect_rating_win(ratings: list[int], m: float) -> None:
    # item 0: many ratings of 4-5 (at least 3 m); item 1: a single 5; item 2: 1000 ratings of 3
    popular = ratings * int(np.ceil(3 * m / len(ratings)))
    sums = np.array([float(sum(popular)), 5.0, 3000.0])
    rated = np.array([len(popular), 1, 1000])
    prior = ItemPrior(rated, sums, rated)
    b = prior.bayes_average(m)
    assert b is not None
    assert b[0] > b[1] > b[2] - 1e-9
    assert prior.scores(quality=1.0, m=m)[0] > prior.scores(quality=1.0, m=m)[1]


def test_prior_without_ratings_is_popularity() -> None:
    prior = ItemPrior(np.array([5, 50, 1, 0]), None, None)
    assert prior.bayes_average(10.0) is None
    assert list(np.argsort(-prior.scores(quality=1.0, m=10.0))) == [1, 0, 2, 3]


# ------------------------------------------------------------------------------------------- blend
def test_components_add_up_and_warm_profiles_are_unchanged(stack: dict[str, Any]) -> None:
    ranker: ColdStartRanker = stack["ranker"]
    base = stack["base"]
    split = stack["split"]
    users = np.unique(split.valid["user_idx"].to_numpy())[:6]
    profiles = [Profile(np.zeros(0, np.int64))]
    profiles += [first_k_profiles(split, users[:1], k, stack["ds"].n_users)[0] for k in (1, 3, 10)]
    warm = first_k_profiles(split, users[1:], 40, stack["ds"].n_users)
    warm = [p for p in warm if profile_size(p) >= ranker.params.warm_k]
    assert warm, "some validation users have long histories"
    items = np.arange(0, stack["ds"].n_items, 7)
    comps = ranker.score_components([*profiles, *warm], items)
    total = comps.pop("bias") + sum(comps[g] for g in ranker.feature_groups)
    np.testing.assert_allclose(total, ranker.score([*profiles, *warm], items), atol=1e-9)
    np.testing.assert_allclose(ranker.score(warm, items), base.score(warm, items), atol=1e-9)
    assert np.all(comps["prior"][len(profiles) :] == 0.0)
    assert np.all(comps["prior"][0] != 0.0), "a new user's score rests on the prior"


def test_new_user_list_is_the_popular_prior_within_candidates(stack: dict[str, Any]) -> None:
    from ranker.base import top_n

    ranker = stack["ranker"]
    counts = stack["counts"]
    empty = Profile(np.zeros(0, np.int64))
    top = top_n(ranker.score([empty])[0], 10)
    # nothing known: the 10 shown items are among the most interacted items of the catalog
    assert np.median(counts[top]) >= np.quantile(counts, 0.95)
    # within a candidate set (constraints), the order follows the prior there, not the warm head
    cands = np.flatnonzero(counts < np.quantile(counts, 0.5))
    s = ranker.score([empty], cands)[0]
    prior = ranker.prior[cands]
    assert np.corrcoef(s, prior)[0, 1] > 0.99


def test_one_like_gives_that_items_neighbours_not_the_prior(stack: dict[str, Any]) -> None:
    from ranker.base import recommend

    ranker = stack["ranker"]
    ds = stack["ds"]
    counts = stack["counts"]
    # a mid-popular item: its neighbours are not simply the global top
    liked = int(np.argsort(-counts)[200])
    one = Profile(np.array([liked]), np.array([2.0]))
    cold = recommend(ranker, Profile(np.zeros(0, np.int64)), 10).item_idx
    warm1 = recommend(ranker, one, 10).item_idx
    assert liked not in warm1
    assert len(set(warm1) - set(cold)) >= 5, "one like must change most of the list"
    cooc = ranker.cooc[liked]
    # the list is drawn from the item's strongest co-occurring items
    assert np.mean(cooc[warm1]) > np.quantile(cooc[cooc > 0], 0.9)
    assert ds.items[liked].title


# ----------------------------------------------------------------------------------- calibration
def test_size_aware_calibrator_gives_new_users_measured_confidence(stack: dict[str, Any]) -> None:
    from ranker.explain import RecommendationExplainer

    cal: SizeAwareCalibrator = stack["cal"]
    assert isinstance(cal, SizeAwareCalibrator)
    assert {(0, 0), (1, 5)} <= set(cal.buckets)
    assert cal.for_size(0) is not cal.warm and cal.for_size(3) is cal.buckets[(1, 5)]
    assert cal.for_size(100) is cal.warm
    ex = RecommendationExplainer(stack["ranker"], stack["ds"], cal, stack["counts"])
    out = ex(Profile(np.zeros(0, np.int64)), 5)
    confidences = [ev.trust.confidence for ev in out.items if ev.trust]
    assert len(confidences) == 5 and min(confidences) > 0.0
    ev = out.items[0]
    assert ev.trust is not None and ev.trust.cold_start and ev.trust.profile_size == 0
    assert ev.history == [] and ev.features["prior"] > 0, "a new user's chart shows the prior"
    assert ev.trust.basis and "nothing known" in ev.trust.basis[0]
    # ratings are named only where the tuned prior uses them
    rated = stack["ranker"].params.quality > 0
    assert any("well rated" in b for b in ev.trust.basis) == rated
    assert ev.popularity_rank is not None and ev.popularity_rank > 0.9


def test_session_like_is_marked_and_named_in_the_basis(stack: dict[str, Any]) -> None:
    from ranker.explain import RecommendationExplainer

    ds = stack["ds"]
    liked = int(np.argmax(stack["counts"]))
    ex = RecommendationExplainer(stack["ranker"], ds, stack["cal"], stack["counts"])
    out = ex(Profile(np.array([liked]), np.array([2.0])), 3)
    for ev in out.items:
        assert [h.session for h in ev.history] == [True]
        if ev.history[0].value > 0:
            assert ev.trust is not None and ds.items[liked].title in ev.trust.basis[0]


def test_tuned_params_are_reused_and_refitted_for_a_new_checkpoint(stack: dict[str, Any], tmp_path) -> None:
    path = stack["path"]
    before = path.read_text()
    groups = category_groups(stack["ds"].items)
    ensure_cold_start(stack["base"], stack["split"], stack["ds"].n_users, stack["warm"], path, ColdStartConfig(),
                      checkpoint=stack["folder"] / "model.safetensors", item_groups=groups)  # fmt: skip
    assert path.read_text() == before
    other = tmp_path / "other.bin"
    other.write_bytes(b"x")
    ensure_cold_start(stack["base"], stack["split"], stack["ds"].n_users, stack["warm"], path, ColdStartConfig(),
                      checkpoint=other, item_groups=groups)  # fmt: skip
    assert path.read_text() != before


def test_disabled_config_returns_the_base_ranker(stack: dict[str, Any], tmp_path) -> None:
    r, c = ensure_cold_start(stack["base"], stack["split"], stack["ds"].n_users, stack["warm"],
                             tmp_path / "cs.json", ColdStartConfig(enabled=False))  # fmt: skip
    assert r is stack["base"] and c is stack["warm"]
    assert not (tmp_path / "cs.json").exists()


# ------------------------------------------------------------------------------------- evaluation
def test_cold_start_evaluation_meets_the_bars(stack: dict[str, Any], tmp_path) -> None:
    from evals.coldstart import evaluate_cold_start

    res = evaluate_cold_start(stack["ranker"], stack["cal"], stack["base"], stack["ds"], stack["split"], (0, 1, 3),
                              plot=tmp_path / "cs.png")  # fmt: skip
    t = res["table"]
    assert set(t) == {"trustrec", "joint", "ease", "pop"}
    assert all(res["requirements"].values()), res["requirements"]
    # the warm head alone is far below popularity for a new user: the blend is what fixes it
    assert t["joint"]["0"]["ndcg@10"] < t["pop"]["0"]["ndcg@10"]
    for name in ("k=0", "k=1-5", "warm"):
        assert res["calibration"][name]["ece"] <= 0.05, (name, res["calibration"][name])
    assert (tmp_path / "cs.png").stat().st_size > 1000
