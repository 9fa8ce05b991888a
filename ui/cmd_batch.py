"""`trustrec batch ...`: batch jobs over every user (Ray Data or this process), stored for the online path."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ui.common import ConfigOption, JsonFlag, OutFile, config_from, console, finish, stdout, user_errors


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    batch = typer.Typer(help="Batch jobs: recommend + explain for many users, stored by model and prompt version.",
                        no_args_is_help=True)  # fmt: skip
    app.add_typer(batch, name="batch")

    @batch.command("recommend")
    def recommend_cmd(
        engine: Annotated[str, typer.Option("--engine", help="ray (Ray Data actors) or local (this process).")] = "ray",
        users: Annotated[str, typer.Option("--users", help="'all' or a file with one user id per line.")] = "all",
        explain: Annotated[
            bool, typer.Option("--explain/--no-explain", help="SHAP attributions, trust and explanation text.")
        ] = False,
        llm: Annotated[
            bool,
            typer.Option(
                "--llm",
                help="Texts written by the configured LLM ([llm]: embedded or an OpenAI-compatible "
                "endpoint such as vLLM), checked as online; implies --explain.",
            ),
        ] = False,
        workers: Annotated[int, typer.Option("--workers", help="Ray actors, one CPU each (ray engine).")] = 1,
        batch_size: Annotated[int, typer.Option("--batch-size", help="Users per batch (and per transaction).")] = 16,
        force: Annotated[bool, typer.Option("--force", help="Recompute users whose stored list is current.")] = False,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Top-n (and with --explain the evidence and template text, with --llm the LLM's) for every chosen user,
        stored keyed by (user, item, model version, prompt version). Resumable: users whose stored list is current
        are skipped. Exits 1 when some users' LLM texts could not be had (the rest is stored; run it again)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from agent.batch import run_batch

        cfg = config_from(config)
        cols = (TextColumn("batch recommend"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with user_errors(), Progress(*cols, console=console, transient=True) as bar:
            task = bar.add_task("users", total=None)
            rep = run_batch(
                cfg, users, engine=engine, workers=workers, explain=explain, llm=llm, batch_size=batch_size, force=force,
                progress=lambda d, t: bar.update(task, completed=d, total=t), say=lambda m: console.print(f"  {m}"),
            )  # fmt: skip
        load = "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())  # what `uptime` prints
        result = {**rep.as_dict(), "uptime": load}

        def show() -> None:
            stdout.print(
                f"{rep.engine} x{rep.workers}: {rep.users_done} users ({rep.users_skipped} current, skipped), "
                f"{rep.explanations} explanations in {rep.seconds:.1f} s: {rep.users_per_s:.2f} users/s, "
                f"{rep.explanations_per_s:.2f} explanations/s ({rep.llm_texts} LLM-written, "
                f"{rep.llm_texts_per_s:.2f}/s); first results after {rep.startup_seconds:.1f} s, "
                f"{rep.steady_users_per_s:.2f} users/s after them; one actor computes "
                f"{rep.actor_users_per_s:.2f} users/s"
            )
            stdout.print(f"model {rep.model_version}, prompt {rep.prompt_version}; {'; '.join(rep.notes)}")
            stdout.print(f"uptime: {load}")

        finish(result, json_=json_, out=out, show=show)
        if rep.users_failed:  # what was stored stays; a script sees that the run is not complete
            raise typer.Exit(1)
