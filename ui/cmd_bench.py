"""`trustrec bench chat|eval|all`: chat-turn latency, evaluation time against the physical floor,
and every benchmark in one run (each in its own process, so memory figures do not mix)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ui.common import ConfigOption, config_from, console, emit_json, stdout, step, user_errors

OutOption = Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON to this file.")]


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
        out: OutOption = None,
    ) -> None:
        """p50/p95 chat-turn latency (first text, whole turn) through the agent's streaming API."""
        from agent.recommender import Recommender
        from evals.bench import bench_chat

        cfg = config_from(config)
        with user_errors():
            rec = Recommender.from_config(cfg, progress=step("building the recommender"), llm="config" if llm else None)
            res = bench_chat(rec, sessions=sessions)
        res["llm"] = cfg.llm.backend if llm else "none (templates)"
        _table(
            f"chat turns ({res['turns']}, LLM: {res['llm']})",
            [
                ("first text p50 / p95 (s)", f"{res['first_text_s']['p50']:.2f} / {res['first_text_s']['p95']:.2f}"),
                ("whole turn p50 / p95 (s)", f"{res['whole_turn_s']['p50']:.2f} / {res['whole_turn_s']['p95']:.2f}"),
                ("cards written by the LLM", f"{res['llm_written_cards']} of {res['cards']}"),
                ("targets (p50)", "first text <= 1.5 s, whole turn <= 4 s"),
            ],
        )
        emit_json(res, out) if out else None

    @bench.command("eval")
    def bench_eval_cmd(
        protocol: Annotated[str, typer.Option("--protocol", help="ro811 or loo.")] = "ro811",
        config: ConfigOption = None,
        out: OutOption = None,
    ) -> None:
        """Time of one full-ranking evaluation pass (EASE, the joint model) next to the 64-d floor."""
        from catalog import load_dataset, make_split
        from evals.baselines import EASERanker
        from evals.bench import bench_eval

        cfg = config_from(config)
        with user_errors():
            ds = load_dataset(cfg.data, cfg.workspace())
            split = make_split(ds, protocol, seed=cfg.data.seed)  # type: ignore[arg-type]
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
        _table(f"full-ranking evaluation, {res['users']} users x {res['items']} items", rows)
        emit_json(res, out) if out else None

    @bench.command("all")
    def bench_all(
        out: OutOption = None,
        llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Include the embedded LLM (slow on CPU).")] = True,
        sizes: Annotated[str, typer.Option("--sizes", help="Retrieval sizes.")] = "1682,100000,1000000",
        config: ConfigOption = None,
    ) -> None:
        """Every benchmark, one process each, figures collected into one JSON."""
        cfg_args = ["--config", str(config)] if config else []
        # (name, arguments, how the command returns JSON: a file after --json, or stdout with --json)
        plan: list[tuple[str, list[str], str]] = [
            ("eval", ["bench", "eval"], "file"),
            ("recommend", ["bench", "recommend"], "stdout"),
            ("retrieval", ["bench", "retrieval", "--sizes", sizes], "file"),
            ("chat", ["bench", "chat", *([] if llm else ["--no-llm"])], "file"),
        ]
        if llm:
            plan.append(("llm", ["bench", "llm", "--no-cold"], "stdout"))
        results: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name, args, how in plan:
                target = Path(tmp) / f"{name}.json"
                cmd = [
                    sys.executable,
                    "-m",
                    "ui.cli",
                    *args,
                    *cfg_args,
                    "--json",
                    *([str(target)] if how == "file" else []),
                ]
                console.print(f"[bold]bench {name}[/] ...")
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE if how == "stdout" else None, text=True)
                try:
                    text = proc.stdout if how == "stdout" else target.read_text()
                    results[name] = json.loads(text) if proc.returncode == 0 else {"error": f"exit {proc.returncode}"}
                except (OSError, json.JSONDecodeError) as e:
                    results[name] = {"error": f"no JSON ({e})"}
                results[name]["wall_s"] = time.perf_counter() - t0
        cfg = config_from(config)
        log = cfg.workspace().models / "ranker-ro811-joint" / "meta.json"
        if log.is_file():
            meta = json.loads(log.read_text())
            results["training"] = {k: meta[k] for k in ("wall_s", "train_wall_s", "epochs_run") if k in meta}
        emit_json(results, out)
