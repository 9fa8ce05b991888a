"""`trustrec eval ranking`: full-ranking figures of the registered models under ro811 and/or loo."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from catalog.errors import BadInput
from ui.common import (
    ConfigOption,
    JsonFlag,
    OutFile,
    config_from,
    console,
    finish,
    stdout,
    step,
    user_errors,
)

TABLE_METRICS = ("recall@10", "mrr@10", "ndcg@10", "hit@10", "precision@10", "ndcg@5", "ndcg@20")
DEFAULT_MODELS = "pop,itemknn,ease,bpr"
_SHORT = {"recall": "R", "mrr": "MRR", "ndcg": "N", "hit": "Hit", "precision": "P"}
_SHORT = {m: f"{_SHORT[m.split('@')[0]]}@{m.split('@')[1]}" for m in TABLE_METRICS}


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["eval"].command("ranking")
    def ranking(
        protocol: Annotated[
            str, typer.Option("--protocol", "-p", help="ro811 (RecBole RO 8:1:1), loo (LlamaRec), or both: ro811,loo.")
        ] = "ro811",
        models: Annotated[
            str, typer.Option("--models", "-m", help="Comma-separated model names (see evals.ranking.ranking_models).")
        ] = DEFAULT_MODELS,
        json_: JsonFlag = False,
        out: OutFile = None,
        config: ConfigOption = None,
    ) -> None:
        """Fit each model on the training part and print test-split metrics (valid figures go to the JSON)."""
        from catalog import load_dataset, make_split
        from evals.ranking import evaluate_set, history_profiles, ranking_models

        cfg = config_from(config)
        registry = ranking_models()
        protocols = [p.strip() for p in protocol.split(",") if p.strip()]
        names = [m.strip() for m in models.split(",") if m.strip()]
        with user_errors():
            bad_p = [p for p in protocols if p not in ("ro811", "loo")]
            if bad_p or not protocols:
                raise BadInput(f"unknown protocol {', '.join(bad_p) or '(none)'}; use ro811, loo or ro811,loo")
            unknown = [m for m in names if m not in registry]
            if unknown or not names:
                raise BadInput(f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(registry)}")
            ds = load_dataset(cfg.data, cfg.workspace(), progress=step("loading dataset"))
        if ds.note:
            console.print(f"[bold yellow]{ds.note}[/]")

        test: dict[str, dict[str, dict[str, float]]] = {}
        valid: dict[str, dict[str, dict[str, float]]] = {}
        timing: dict[str, dict[str, dict[str, float]]] = {}
        for proto in protocols:
            split = make_split(ds, proto, seed=cfg.seed, weights=cfg.data.behaviour_weights)  # type: ignore[arg-type]
            sets = {on: history_profiles(ds, split, on) for on in ("valid", "test")}
            console.print(f"[bold]{proto}[/]: {split.sizes()}, {len(sets['test'])} test users")
            test[proto], valid[proto], timing[proto] = {}, {}, {}
            for name in names:
                console.print(f"  fitting {name} ...")
                t0 = time.perf_counter()
                ranker = registry[name](ds, split)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                test[proto][name] = {k: float(v) for k, v in evaluate_set(ranker, sets["test"]).items()}
                eval_s = time.perf_counter() - t0
                valid[proto][name] = {k: float(v) for k, v in evaluate_set(ranker, sets["valid"]).items()}
                timing[proto][name] = {"fit_s": round(fit_s, 3), "test_eval_s": round(eval_s, 4)}
                console.print(f"    ndcg@10 {test[proto][name]['ndcg@10']:.4f} (fit {fit_s:.1f} s)")
            if not json_:
                _print_table(proto, test[proto], timing[proto])

        res: dict[str, Any] = dict(test)
        res["valid"] = valid
        res["timing"] = timing
        res["meta"] = {"dataset": ds.name, "split": "test", "seed": cfg.seed, "ks": [5, 10, 20]}
        if ds.note:
            res["meta"]["note"] = ds.note
        finish(res, json_=json_, out=out)

    @groups["eval"].command("behaviour-weights")
    def behaviour_weights(
        json_: JsonFlag = False,
        out: OutFile = None,
        config: ConfigOption = None,
    ) -> None:
        """Validation NDCG@10 of EASE under candidate behaviour weights (how the defaults were chosen)."""
        from catalog import load_dataset
        from evals.behaviour import tune_behaviour_weights

        cfg = config_from(config)
        with user_errors():
            ds = load_dataset(cfg.data, cfg.workspace(), progress=step("loading dataset"))
        if ds.note:
            console.print(f"[bold yellow]{ds.note}[/]")
        rows = tune_behaviour_weights(ds, seed=cfg.seed, current=cfg.data.behaviour_weights, progress=console.print)
        res = {"dataset": ds.name, "note": ds.note, "protocol": "ro811", "part": "valid", "model": "ease", "rows": rows}

        def show() -> None:
            from rich.table import Table

            t = Table(title=f"behaviour weights on {ds.name}: EASE, ro811 validation")
            for c in ("weights", "ndcg@10 (all entries)", "ndcg@10 (bought)", "recall@10 (bought)"):
                t.add_column(c)
            for r in rows:
                t.add_row(
                    r["label"], f"{r['ndcg@10']:.4f}", f"{r['bought_ndcg@10']:.4f}", f"{r['bought_recall@10']:.4f}"
                )
            stdout.print(t)

        finish(res, json_=json_, out=out, show=show)


def _print_table(protocol: str, rows: dict[str, dict[str, float]], timing: dict[str, dict[str, float]]) -> None:
    from rich import box
    from rich.table import Table

    title = {"ro811": "RO 8:1:1 (RecBole), full ranking, test", "loo": "LOO (LlamaRec, 5-core), full ranking, test"}
    t = Table(title=title.get(protocol, protocol), box=box.SIMPLE_HEAD, padding=(0, 0))  # fits 80 columns
    t.add_column("model", no_wrap=True)
    for m in TABLE_METRICS:
        t.add_column(_SHORT.get(m, m), justify="right", no_wrap=True)
    t.add_column("fit s", justify="right", no_wrap=True)
    for name, vals in rows.items():
        t.add_row(name, *(f"{vals[m]:.4f}" for m in TABLE_METRICS), f"{timing[name]['fit_s']:.1f}")
    stdout.print(t)
