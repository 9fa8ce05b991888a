"""Data-parallel training of the joint ranker on Ray Train (``trustrec train --engine ray``).

The same training as :class:`ranker.train.Trainer`, split where it parallelises:

1. One Ray task builds the :class:`~ranker.train.Trainer`: it fits the closed-form collaborative
   features, tunes their hyperparameters and the head on validation (epoch 0) and builds the
   residual fold. Nothing of that is distributed (it is a handful of matrix inverses); its result
   goes to the workers by object reference.
2. ``ray.train.torch.TorchTrainer`` runs ``workers`` processes (DDP over gloo on CPU, nccl with
   ``--gpu``). Each wraps the two towers and the LM's trainable layers in one module
   (:class:`~ranker.train.TowerStep`) through ``prepare_model`` and trains on its shard of every
   epoch's examples (:meth:`~ranker.train.Trainer.train_pass`), so gradients are averaged across
   workers each step.
3. After each epoch, rank 0 re-tunes the two-tower head weight and validates
   (:meth:`~ranker.train.Trainer.end_epoch`), decides early stopping for all workers, and reports a
   Ray checkpoint holding the best model so far in the ordinary safetensors format plus the
   history. The driver copies the final checkpoint's model into the model folder, where
   :func:`ranker.checkpoint.load_model` (and so :func:`ranker.stack.build_stack`) reads it like a
   single-process one.

With one worker the steps, random draws and so the weights equal the single-process run's.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from catalog.errors import BadInput, StoreUnavailable
from catalog.splits import Split
from catalog.types import Dataset
from ranker.checkpoint import load_model, save_model
from ranker.config import Ablation, RankerConfig
from ranker.train import METRIC, Trainer, TrainResult, Validate

HISTORY_FILE = "history.json"


def _ray() -> Any:
    try:
        import ray
        import ray.train.torch
    except ImportError as e:
        raise StoreUnavailable(
            "--engine ray needs Ray Train: pip install 'trustrec[scale]' (or use --engine local)"
        ) from e
    return ray


def _init(ray: Any, workers: int) -> None:
    """Join ``RAY_ADDRESS``'s cluster or start a local one (one CPU per worker at least), unless running."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"])
    else:
        ray.init(num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False)


def check_gpus(ray: Any, workers: int) -> None:
    """Raise when the cluster has fewer GPUs than ``workers`` (``--gpu`` gives each worker one).

    Raises:
        BadInput: Not enough GPUs visible to Ray, naming how many there are and what to do.
    """
    have = float(ray.cluster_resources().get("GPU", 0))
    if have < workers:
        raise BadInput(
            f"--gpu asks for {workers} GPU worker(s) but the Ray cluster sees {have:g} GPU(s) "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); "
            "drop --gpu to train on CPU (gloo), or lower --workers to the GPUs there are"
        )


def _prepare(
    dataset: Dataset, split: Split, config: RankerConfig, folder: Path, validate: Validate, ablation: Ablation,
    seed: int, cache_dir: Path | None,
) -> tuple[Trainer, dict[str, Any]]:  # fmt: skip
    """The Ray task of step 1: features fitted once, epoch 0 tuned, residual fold built.

    Returns the trainer (for the workers) and epoch 0's ``{"history", "best_metric"}`` (for everyone).
    """
    t0 = time.perf_counter()
    trainer = Trainer(
        dataset, split, config, folder, validate, ablation=ablation, seed=seed, cache_dir=cache_dir, progress=False
    )
    res = TrainResult(model=trainer.model, folder=folder)
    trainer.start(res, t0)
    if trainer.residual:
        trainer._residual_fold()
    return trainer, {"history": res.history, "best_metric": res.best_metric}


def _worker_loop(config: dict[str, Any]) -> None:
    """``train_loop_per_worker``: DDP steps on this worker's shard; rank 0 selects, stops and checkpoints."""
    import ray
    import ray.train
    import ray.train.torch
    import torch
    import torch.distributed as dist

    from ranker.train import TowerStep

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    trainer, first = ray.get(config["prepared"]), ray.get(config["first"])
    trainer.progress = False
    original = TowerStep(trainer.model.net, trainer.lm)
    local = copy.deepcopy(original)  # trained on the worker's device; trainer.model stays on CPU for selection
    step = ray.train.torch.prepare_model(
        local, parallel_strategy_kwargs={"find_unused_parameters": True, "broadcast_buffers": False}
    )
    twin = dict(zip(map(id, original.parameters()), local.parameters(), strict=True))
    opt = type(trainer.opt)(
        [{**{k: v for k, v in g.items() if k != "params"}, "params": [twin[id(p)] for p in g["params"]]}
         for g in trainer.opt.param_groups]
    )  # fmt: skip
    history: list[dict[str, Any]] = list(first["history"])
    best, stale = float(first["best_metric"]), 0
    keep = Path(tempfile.mkdtemp(prefix=f"trustrec-rank{rank}-"))

    def report(metrics: dict[str, Any]) -> None:
        """Every rank reports (a barrier); rank 0 with the best model so far and the history."""
        if rank != 0:
            ray.train.report(metrics)
            return
        out = Path(tempfile.mkdtemp(prefix="trustrec-ckpt-"))  # a fresh folder: Ray may delete it after upload
        try:
            for name in ("model.safetensors", "meta.json"):
                shutil.copyfile(keep / name, out / name)
            (out / HISTORY_FILE).write_text(json.dumps(history, default=float))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(str(out)))
        finally:
            shutil.rmtree(out, ignore_errors=True)

    if rank == 0:
        save_model(trainer.model, keep, lm_state=trainer.lm_state(), extra={"epoch": 0, "valid": {METRIC: best}})
        print(
            f"[ray rank 0/{world}] epoch 0: valid {METRIC} {best:.4f} (features and head)", file=sys.stderr, flush=True
        )
    report({"epoch": 0, METRIC: best, "rank": rank, "world": world})
    try:
        for epoch in range(1, int(config["epochs"]) + 1):
            te = time.perf_counter()
            loss, steps = trainer.train_pass(epoch, step, opt, rank=rank, world=world)
            trainer.model.net.load_state_dict({k: v.cpu() for k, v in local.net.state_dict().items()})
            lm: Any = local.lm
            if trainer.lm is not None and lm is not None:
                trainer.lm.top.load_state_dict({k: v.cpu() for k, v in lm.top.state_dict().items()})
            trainer.refresh_text()  # every worker: the next epoch's cached text vectors
            mine = {"rank": rank, "steps": steps, "loss": loss}
            workers = [mine]
            if world > 1:
                gathered: list[Any] = [None] * world
                dist.all_gather_object(gathered, mine)
                workers = gathered
            stop = torch.zeros(1, dtype=torch.int64, device=ray.train.torch.get_device())
            metrics: dict[str, Any] = {"epoch": epoch, "rank": rank, "world": world}
            improved = False
            if rank == 0:
                mean_loss = float(np.nanmean([w["loss"] for w in workers]))
                metric, valid, row = trainer.end_epoch(epoch, mean_loss, te)
                row["workers"] = workers
                history.append(row)
                improved = metric > best + 1e-6
                if improved:
                    best, stale = metric, 0
                    save_model(trainer.model, keep, lm_state=trainer.lm_state(), extra={"epoch": epoch, "valid": valid})
                else:
                    stale += 1
                stop[0] = int(stale >= trainer.cfg.patience)
                metrics.update({METRIC: metric, "loss": mean_loss, "steps_by_rank": [w["steps"] for w in workers]})
                print(
                    f"[ray rank 0/{world}] epoch {epoch}: loss {mean_loss:.4f}  valid {METRIC} {row[METRIC]:.4f}  "
                    f"steps by rank {[w['steps'] for w in workers]}  {row['epoch_s']:.1f} s"
                    + ("  (best)" if improved else ""),
                    file=sys.stderr,
                    flush=True,
                )
            if world > 1:
                dist.broadcast(stop, 0)
            report(metrics)  # every epoch's history reaches the driver with the best model so far
            if int(stop[0]):
                break
    finally:
        shutil.rmtree(keep, ignore_errors=True)


def train_ray(
    dataset: Dataset,
    split: Split,
    config: RankerConfig,
    folder: Path,
    validate: Validate,
    *,
    workers: int = 2,
    gpu: bool = False,
    epochs: int | None = None,
    ablation: Ablation = "joint",
    seed: int = 2020,
    cache_dir: Path | None = None,
    storage: Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train like :meth:`ranker.train.Trainer.fit` on ``workers`` Ray Train workers; the best model lands in ``folder``.

    Args:
        workers: Data-parallel workers (one CPU, or one GPU with ``gpu``, each).
        gpu: NCCL and one GPU per worker; fails up front when the cluster has too few GPUs.
        epochs: Maximum epochs (config default); early stopping as in the single-process trainer.
        storage: Where Ray Train persists the run's checkpoints (default ``folder``'s parent ``/ray-train``);
            the run's folder there is removed once its model is copied into ``folder``.
        progress: Print one line per stage (epoch lines come from rank 0 through Ray's log).

    Uses the running Ray cluster, else ``RAY_ADDRESS``'s, else starts a local one. ``folder/last``
    (single-process resume state) is removed, since it would not match the model written here.

    Raises:
        BadInput: ``workers`` < 1, or ``gpu`` without enough GPUs.
        StoreUnavailable: Ray Train is not installed.
        RuntimeError: The training run failed (Ray's error attached).
    """
    if workers < 1:
        raise BadInput(f"--workers must be at least 1, got {workers}")
    ray = _ray()
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    t0 = time.perf_counter()
    _init(ray, workers)
    if gpu:
        check_gpus(ray, workers)

    def say(line: str) -> None:
        if progress:  # stderr: stdout is for the command's answer (--json)
            print(line, file=sys.stderr, flush=True)

    cpus = float(ray.available_resources().get("CPU", 1))
    say(f"ray {ray.__version__}: fitting features and tuning the head (one task, {cpus:g} CPUs)")
    prepared, first = (
        ray.remote(_prepare)
        .options(num_cpus=max(1.0, cpus), num_returns=2)
        .remote(dataset, split, config, folder, validate, ablation, seed, cache_dir)
    )
    start = ray.get(first)  # raises the task's error here, before any worker starts
    say(f"epoch 0: valid {METRIC} {start['best_metric']:.4f} ({time.perf_counter() - t0:.1f} s)")
    epochs = epochs or config.epochs
    run_name = f"{folder.name}-{int(time.time())}"
    run_dir = (storage or folder.parent / "ray-train").resolve()
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"prepared": prepared, "first": first, "epochs": epochs},
        torch_config=TorchConfig(backend="nccl" if gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpu),
        run_config=RunConfig(
            name=run_name,
            storage_path=str(run_dir),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    say(f"ray train: {workers} worker(s), {'nccl + GPU' if gpu else 'gloo on CPU'}, up to {epochs} epochs")
    try:
        result = trainer.fit()
    except Exception as e:  # Ray Train's TrainingFailedError wraps the worker's exception
        raise RuntimeError(f"ray training of {folder.name} failed: {e}") from e
    if getattr(result, "error", None) is not None:  # Ray Train v1 returns the error instead
        raise RuntimeError(f"ray training of {folder.name} failed: {result.error}") from result.error
    if result.checkpoint is None:
        raise RuntimeError(f"ray training of {folder.name} reported no checkpoint; see Ray's log above")
    folder.mkdir(parents=True, exist_ok=True)
    with result.checkpoint.as_directory() as ckpt:
        src = Path(ckpt)
        history = json.loads((src / HISTORY_FILE).read_text())
        for name in ("model.safetensors", "meta.json"):  # weights first: readers retry until the save ids agree
            tmp = folder / f"{name}.tmp"
            shutil.copyfile(src / name, tmp)
            tmp.replace(folder / name)
    shutil.rmtree(folder / "last", ignore_errors=True)
    shutil.rmtree(run_dir / run_name, ignore_errors=True)  # its model is in folder now; runs would pile up
    (folder / "log.jsonl").write_text("".join(json.dumps(r, default=float) + "\n" for r in history[1:]))
    model, _, meta = load_model(folder)
    best_epoch = int(meta["epoch"])
    return TrainResult(
        model=model, folder=folder, history=history, best_epoch=best_epoch,
        best_metric=float(next(r[METRIC] for r in history if r["epoch"] == best_epoch)),
        wall_s=time.perf_counter() - t0, tuned=history[0].get("tuned", {}),
    )  # fmt: skip
