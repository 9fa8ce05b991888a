"""`trustrec bench chat|eval|all`: chat-turn latency, evaluation time against the physical floor,
and every benchmark in one run (each in its own process, so memory figures do not mix)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Annotated, Any

import typer

from ui.common import ConfigOption, JsonFlag, OutFile, config_from, console, finish, stdout, step, user_errors


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    t = Table(title=title)
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, v)
    stdout.print(t)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    bench = groups["bench"]

    @bench.command("chat")
    def bench_chat_cmd(
        sessions: Annotated[int, typer.Option("--sessions", min=1, help="Scripted sessions (6 turns each).")] = 3,
        llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Use the configured LLM for explanations.")] = True,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """p50/p95 chat-turn latency (first text, whole turn) through the agent's streaming API."""
        from agent.recommender import Recommender
        from evals.bench import bench_chat

        cfg = config_from(config)
        with user_errors():
            say = (lambda _m: None) if json_ else step("building the recommender")
            rec = Recommender.from_config(cfg, progress=say, llm="config" if llm else None)
            res = bench_chat(rec, sessions=sessions)
        res["llm"] = cfg.llm.backend if llm else "none (templates)"
        finish(res, json_=json_, out=out, show=lambda: _table(
            f"chat turns ({res['turns']}, LLM: {res['llm']})",
            [
                ("first text p50 / p95 (s)", f"{res['first_text_s']['p50']:.2f} / {res['first_text_s']['p95']:.2f}"),
                ("whole turn p50 / p95 (s)", f"{res['whole_turn_s']['p50']:.2f} / {res['whole_turn_s']['p95']:.2f}"),
                ("cards written by the LLM", f"{res['llm_written_cards']} of {res['cards']}"),
                ("targets (p50)", "first text <= 1.5 s, whole turn <= 4 s"),
            ],
        ))  # fmt: skip

    @bench.command("eval")
    def bench_eval_cmd(
        protocol: Annotated[str, typer.Option("--protocol", help="ro811 or loo.")] = "ro811",
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Time of one full-ranking evaluation pass (EASE, the joint model) next to the 64-d floor."""
        from catalog import load_dataset, make_split
        from evals.bench import bench_eval
        from ranker.baselines import EASERanker

        cfg = config_from(config)
        with user_errors():
            ds = load_dataset(cfg.data, cfg.workspace())
            split = make_split(ds, protocol, seed=cfg.seed)  # type: ignore[arg-type]
            rankers: dict[str, Any] = {"ease": EASERanker().fit(ds, split)}
            try:
                from ranker.train import load_trained

                rankers["joint"] = load_trained(cfg.workspace(), protocol)
            except FileNotFoundError as e:
                console.print(f"[yellow]note:[/] {e}")
            res = bench_eval(ds, split, rankers)
        rows = [
            (f"{k[:-2]} pass (ms)", f"{v * 1000:.1f}")
            for k, v in res.items()
            if k.endswith("_s") and k != "anchor_floor_s"
        ]
        rows.append(("anchor floor (ms)", "~10 (5-30 us per user x 943)"))
        title = f"full-ranking evaluation, {res['users']} users x {res['items']} items"
        finish(res, json_=json_, out=out, show=lambda: _table(title, rows))

    @bench.command("all")
    def bench_all(
        json_: JsonFlag = False,
        out: OutFile = None,
        llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Include the embedded LLM (slow on CPU).")] = True,
        sizes: Annotated[str, typer.Option("--sizes", help="Retrieval sizes.")] = "1682,100000,1000000",
        config: ConfigOption = None,
    ) -> None:
        """Every benchmark, one process each, figures collected into one JSON."""
        cfg_args = ["--config", str(config)] if config else []
        plan: list[tuple[str, list[str]]] = [
            ("eval", ["bench", "eval"]),
            ("recommend", ["bench", "recommend"]),
            ("retrieval", ["bench", "retrieval", "--sizes", sizes]),
            ("chat", ["bench", "chat", *([] if llm else ["--no-llm"])]),
        ]
        if llm:
            plan.append(("llm", ["bench", "llm", "--no-cold"]))
        results: dict[str, Any] = {}
        for name, args in plan:  # every command prints its JSON on stdout with --json
            cmd = [sys.executable, "-m", "ui.cli", *args, *cfg_args, "--json"]
            console.print(f"[bold]bench {name}[/] ...")
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True)
            try:
                results[name] = (
                    json.loads(proc.stdout) if proc.returncode == 0 else {"error": f"exit {proc.returncode}"}
                )
            except json.JSONDecodeError as e:
                results[name] = {"error": f"no JSON ({e})"}
            results[name]["wall_s"] = time.perf_counter() - t0
        cfg = config_from(config)
        log = cfg.workspace().models / "ranker-ro811-joint" / "meta.json"
        if log.is_file():
            meta = json.loads(log.read_text())
            results["training"] = {k: meta[k] for k in ("wall_s", "train_wall_s", "epochs_run") if k in meta}
        finish(results, json_=json_, out=out, show=lambda: stdout.print_json(data=results, default=str))
