"""`trustrec train --engine ray` on a real local Ray cluster (2 CPUs, one per test session) with the real
ml-100k data and the tiny training configuration: two DDP workers both take every epoch's steps, the
checkpoint they produce loads through the ranking stack and ranks, one worker reproduces the
single-process run, and --gpu without a GPU fails before any work with a message saying what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.config import TrustrecConfig
from catalog import Workspace, load_dataset, make_split
from catalog.config import isolated_workspace
from catalog.errors import BadInput
from evals.ranking import evaluate_set, history_profiles
from ranker.base import Profile
from ranker.checkpoint import load_model
from ranker.train import TrainResult, model_folder
from tests.ranker_helpers import TINY, make_trainer

pytestmark = pytest.mark.slow  # a Ray cluster and a few short trainings: a few minutes on 2 cores

CFG = TINY.model_copy(update={"epochs": 2, "patience": 5})


def _train(ds: Any, folder: Path, workers: int, **kw: Any) -> TrainResult:
    from ranker.train_ray import train_ray

    split = make_split(ds, "ro811")
    valid = history_profiles(ds, split, "valid")
    return train_ray(
        ds, split, kw.pop("config", CFG), folder, lambda m: evaluate_set(m, valid, ks=(10,)),
        workers=workers, cache_dir=Workspace().cache, progress=False, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace sharing data, caches and index, with a models folder of its own (training writes there)."""
    real = Workspace().home
    return isolated_workspace(real, tmp_path_factory.mktemp("train-ray-ws"), parts=("data", "cache", "index"))


@pytest.fixture(scope="module")
def two_workers(ray_cluster: Any, home: Path) -> tuple[TrainResult, Any]:
    cfg = TrustrecConfig(home=home)
    ws = cfg.workspace()
    ds = load_dataset(cfg.data, ws)
    return _train(ds, model_folder(ws, "ro811", "joint"), 2), ds


def test_two_workers_both_train_every_epoch(two_workers: tuple[TrainResult, Any]) -> None:
    res, _ = two_workers
    assert [h["epoch"] for h in res.history] == [0, 1, 2]
    for row in res.history[1:]:
        ranks = row["workers"]
        assert [w["rank"] for w in ranks] == [0, 1], f"epoch {row['epoch']}: reports from ranks {ranks}"
        steps = [w["steps"] for w in ranks]
        # each worker takes its half of the epoch's examples, half a batch per step
        assert steps[0] == steps[1] == CFG.examples_per_epoch // CFG.batch_size, steps  # type: ignore[operator]
        assert all(np.isfinite(w["loss"]) for w in ranks)
    logged = [json.loads(x)["epoch"] for x in (res.folder / "log.jsonl").read_text().splitlines()]
    assert logged == [1, 2]
    assert not (res.folder / "last").exists()
    assert not list((res.folder.parent / "ray-train").glob(f"{res.folder.name}-*")), "the Ray run's folder is left"


def test_checkpoint_loads_through_the_stack_and_ranks(two_workers: tuple[TrainResult, Any], home: Path) -> None:
    from ranker.stack import build_stack

    res, ds = two_workers
    model, _, meta = load_model(res.folder)
    assert meta["epoch"] == res.best_epoch
    assert meta["valid"]["ndcg@10"] == pytest.approx(res.best_metric)
    for k, v in res.model.net.state_dict().items():
        assert np.array_equal(v.numpy(), model.net.state_dict()[k].numpy()), k
    stack = build_stack(TrustrecConfig(home=home), model="joint", calibrate=False, cold_start=False, dataset=ds)
    assert stack.name == "joint" and stack.folder == res.folder
    history = np.array([0, 1, 2, 49, 171])
    scores = stack.ranker.score([Profile(history, user_idx=0)])[0]
    assert np.isfinite(scores[stack.split.item_mask]).all()
    np.testing.assert_allclose(scores, model.score([Profile(history, user_idx=0)])[0], rtol=1e-5, atol=1e-6)
    # it ranks: the trained model beats a random order on validation
    assert res.best_metric > 0.05


def test_one_worker_reproduces_the_single_process_run(ray_cluster: Any, ml100k: Any, tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"epochs": 1})
    local = make_trainer(ml100k, tmp_path / "local", config=cfg).fit()
    ray_res = _train(ml100k, tmp_path / "ray", 1, config=cfg)
    assert [h["epoch"] for h in ray_res.history] == [0, 1]
    assert ray_res.history[1]["loss"] == pytest.approx(local.history[1]["loss"], rel=1e-4)
    assert ray_res.best_metric == pytest.approx(local.best_metric, abs=1e-4)
    for k, v in local.model.net.state_dict().items():
        np.testing.assert_allclose(ray_res.model.net.state_dict()[k].numpy(), v.numpy(), atol=1e-4, err_msg=k)


def test_gpu_without_a_gpu_fails_before_any_work(ray_cluster: Any, ml100k: Any, tmp_path: Path) -> None:
    assert ray_cluster.cluster_resources().get("GPU", 0) == 0  # the test cluster has none
    with pytest.raises(
        BadInput, match=r"--gpu asks for 2 GPU worker\(s\) but the Ray cluster sees 0 GPU\(s\).*drop --gpu"
    ):
        _train(ml100k, tmp_path / "m", 2, gpu=True)
    assert not (tmp_path / "m").exists()


def test_cli_rejects_ray_options_without_the_ray_engine() -> None:
    from typer.testing import CliRunner

    from ui.cli import app

    r = CliRunner().invoke(app, ["train", "--gpu"])
    assert r.exit_code == 2 and "--workers and --gpu need --engine ray" in r.output
    r = CliRunner().invoke(app, ["train", "--engine", "ray", "--resume"])
    assert r.exit_code == 2 and "--engine local only" in r.output
    r = CliRunner().invoke(app, ["train", "--engine", "spark"])
    assert r.exit_code == 2 and "unknown engine 'spark'" in r.output
