"""`trustrec train`: fine-tune the joint ranker (language model + two towers + additive head)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from catalog.errors import BadInput
from ui.common import ConfigOption, JsonFlag, config_from, console, emit_json, stdout, step, user_errors


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @app.command("train")
    def train(
        protocol: Annotated[
            str, typer.Option("--protocol", "-p", help="ro811 (RecBole RO 8:1:1) or loo (LlamaRec).")
        ] = "ro811",
        ablation: Annotated[str, typer.Option("--ablation", help="joint, text-only or id-only.")] = "joint",
        resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint.")] = False,
        epochs: Annotated[int | None, typer.Option("--epochs", help="Maximum epochs (default from config).")] = None,
        incremental: Annotated[
            bool, typer.Option("--incremental", help="Fold the stored dialog feedback into the trained model.")
        ] = False,
        engine: Annotated[
            str, typer.Option("--engine", help="local (this process) or ray (Ray Train, data-parallel workers).")
        ] = "local",
        workers: Annotated[
            int | None, typer.Option("--workers", help="Ray Train workers (--engine ray; default 2).")
        ] = None,
        gpu: Annotated[
            bool, typer.Option("--gpu", help="--engine ray: one GPU per worker, NCCL (fails when none is visible).")
        ] = False,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Train on the split's train part, select on validation, report valid and test figures."""
        with user_errors():
            if engine not in ("local", "ray"):
                raise BadInput(f"unknown engine {engine!r}; use local or ray")
            if engine == "local" and (gpu or workers is not None):
                raise BadInput("--workers and --gpu need --engine ray")
            if engine == "ray" and (resume or incremental):
                raise BadInput("--resume and --incremental work with --engine local only")
        if incremental:
            _incremental(protocol, ablation, config, json_)
            return
        t_start = time.perf_counter()
        from catalog import load_dataset, make_split
        from catalog.privacy import apply_tombstones
        from evals.ranking import evaluate_set, history_profiles
        from ranker.train import Trainer, model_folder, plot_learning_curve

        cfg = config_from(config)
        with user_errors():
            if protocol not in ("ro811", "loo"):
                raise BadInput(f"unknown protocol {protocol!r}; use ro811 or loo")
            if ablation not in ("joint", "text-only", "id-only"):
                raise BadInput(f"unknown ablation {ablation!r}; use joint, text-only or id-only")
            ws = cfg.workspace()
            ds = load_dataset(cfg.data, ws, progress=step("loading dataset"))
            ds, gone = apply_tombstones(ds, ws.store_target)  # deleted users are never trained on
            if gone:
                console.print(f"left out {len(gone)} deleted users (tombstones in the store)")
        split = make_split(ds, protocol, seed=cfg.seed, weights=cfg.data.behaviour_weights)  # type: ignore[arg-type]
        from ranker.config import selection_users

        valid_set = history_profiles(ds, split, "valid")
        select_set = valid_set.sample(selection_users(cfg.ranker, ds.n_items), cfg.seed)
        folder = model_folder(ws, protocol, ablation)  # type: ignore[arg-type]
        console.print(f"[bold]training[/] {ablation} on {protocol} {split.sizes()} -> {folder}")
        if len(select_set) < len(valid_set):
            console.print(
                f"large catalog ({ds.n_items} items): sparse / low-rank features; model selection on "
                f"{len(select_set)} of {len(valid_set)} validation users (ranker.select_users)"
            )
        validate = lambda m: evaluate_set(m, select_set, ks=(10,))  # noqa: E731 - shipped to Ray workers too
        if engine == "ray":
            from ranker.train_ray import train_ray

            with user_errors():
                res = train_ray(
                    ds, split, cfg.ranker, folder, validate, workers=workers or 2, gpu=gpu, epochs=epochs,
                    ablation=ablation, seed=cfg.seed, cache_dir=ws.cache,  # type: ignore[arg-type]
                )  # fmt: skip
        else:
            trainer = Trainer(
                ds, split, cfg.ranker, folder, validate,
                ablation=ablation, seed=cfg.seed, cache_dir=ws.cache,  # type: ignore[arg-type]
            )  # fmt: skip
            res = trainer.fit(epochs, resume=resume)
        for row in res.history:
            console.print(
                f"  epoch {row['epoch']}: loss {row['loss']:.4f}  valid ndcg@10 {row.get('ndcg@10', float('nan')):.4f}"
            )
        png = plot_learning_curve(
            res.history, ws.reports / f"learning-curve-{protocol}-{ablation}.png", f"{ablation} on {protocol}"
        )
        valid = evaluate_set(res.model, valid_set)
        test = evaluate_set(res.model, history_profiles(ds, split, "test"))
        wall = time.perf_counter() - t_start
        import os

        tuned = res.history[0].get("tuned", {}) if res.history else {}
        out = {
            "protocol": protocol, "ablation": ablation, "best_epoch": res.best_epoch, "folder": str(folder),
            "learning_curve": str(png), "log": str(folder / "log.jsonl"), "head": res.model.head,
            "valid": valid, "test": test, "train_wall_s": round(res.wall_s, 1), "wall_s": round(wall, 1),
            "tuned": tuned, "load_average": [round(x, 2) for x in os.getloadavg()], "engine": engine,
            "workers": (workers or 2) if engine == "ray" else 1,
        }  # fmt: skip
        if json_:
            emit_json(out)
            return
        from rich.table import Table

        on = f", ray x{workers or 2}" if engine == "ray" else ""
        t = Table(title=f"trustrec {ablation} on {protocol} (best epoch {res.best_epoch}{on})")
        t.add_column("metric")
        t.add_column("valid", justify="right")
        t.add_column("test", justify="right")
        for k in ("ndcg@10", "recall@10", "mrr@10", "hit@10", "ndcg@20", "recall@20"):
            if k in test:
                t.add_row(k, f"{valid[k]:.4f}", f"{test[k]:.4f}")
        stdout.print(t)
        console.print(f"learning curve: {png}; log: {folder / 'log.jsonl'}")
        console.print(
            f"[green]wall time:[/] training {res.wall_s:.1f} s, whole command {wall:.1f} s; "
            f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )


def _incremental(protocol: str, ablation: str, config: object, json_: bool) -> None:
    """`train --incremental`: refit the collaborative features on train + unconsumed positive feedback."""
    from catalog import Store, load_dataset, make_split
    from catalog.privacy import apply_tombstones
    from evals.ranking import evaluate_set, history_profiles
    from ranker.checkpoint import load_model, save_model
    from ranker.incremental import fold_feedback
    from ranker.train import model_folder

    cfg = config_from(config)  # type: ignore[arg-type]
    with user_errors():
        ws = cfg.workspace()
        ds = load_dataset(cfg.data, ws, progress=None if json_ else step("loading dataset"))
        ds, _gone = apply_tombstones(ds, ws.store_target)  # deleted users are never trained on
        split = make_split(ds, protocol, seed=cfg.seed, weights=cfg.data.behaviour_weights)  # type: ignore[arg-type]
        folder = model_folder(ws, protocol, ablation)  # type: ignore[arg-type]
        model, lm_state, meta = load_model(folder)
        with Store(ws.store_target) as store:
            events = store.feedback(unconsumed=True)
            valid_set = history_profiles(ds, split, "valid")
            model, res = fold_feedback(model, ds, split, events, lambda m: evaluate_set(m, valid_set, ks=(10,)))
            if res.new_interactions:
                own = {"format", "save_id", *model.metadata()}
                keep: dict[str, object] = {k: v for k, v in meta.items() if k not in own}
                keep["incremental_events"] = int(meta.get("incremental_events", 0)) + res.events
                save_model(model, folder, lm_state=lm_state, extra=keep)
            store.mark_consumed([e.event_id for e in events])
    out = {
        "protocol": protocol, "ablation": ablation, "folder": str(folder), "events": res.events,
        "new_interactions": res.new_interactions, "valid_before": res.before, "valid_after": res.after,
    }  # fmt: skip
    if json_:
        emit_json(out)
        return
    stdout.print(
        f"folded {res.events} feedback events ({res.new_interactions} new positive interactions) into {folder}"
    )
    for k in sorted(res.before):
        stdout.print(f"  valid {k}: before {res.before[k]:.4f}  after {res.after[k]:.4f}")
