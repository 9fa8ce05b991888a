"""`trustrec eval faithfulness`: every shown explanation re-verified claim by claim."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["eval"].command("faithfulness")
    def faithfulness(
        sessions: Annotated[
            int, typer.Option("--sessions", min=1, help="Chat sessions (warm, cold-start and constrained, evenly).")
        ] = 30,
        json_: JsonFlag = False,
        out: OutFile = None,
        n: Annotated[int, typer.Option("--n", min=1, max=50, help="Items asked for per turn.")] = 10,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the user, category and title draws.")] = 0,
        llm: Annotated[
            bool,
            typer.Option("--llm/--no-llm", help="Let the configured LLM write (default); --no-llm: templates only."),
        ] = True,
        language: Annotated[
            str, typer.Option("--language", help="Language of the sessions' messages: en or zh (replies follow it).")
        ] = "en",
        config: ConfigOption = None,
    ) -> None:
        """Shown explanations with a false claim (required 0), the LLM's first-try pass rate under the
        strict claim checker, the LLM/template shares and sample texts."""
        from agent.recommender import Recommender
        from evals.faithfulness import FaithfulnessConfig, evaluate_faithfulness

        cfg = config_from(config)
        with user_errors():
            fcfg = FaithfulnessConfig(sessions=sessions, n=n, seed=seed, language=language)
            rec = Recommender.from_config(cfg, progress=step("building the recommender"), llm="config" if llm else None)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("sessions"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[figs]}"),
            TimeRemainingColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("sessions", total=sessions, figs="")

            def progress(done: int, total: int, figs: dict[str, Any]) -> None:
                bar.update(task, completed=done, total=total,
                           figs=f"shown {figs['shown']}, false {figs['false_claims']}")  # fmt: skip

            try:
                with user_errors():
                    res = evaluate_faithfulness(rec, fcfg, progress=progress)
            finally:
                rec.close()
        note = rec.engine.dataset.note
        if note:  # the synthetic shop says so with every figure
            res = {"dataset_note": note, **res}
            console.print(f"[bold yellow]{note}[/]")
        finish(res, json_=json_, out=out, show=lambda: _print(res))
        if res["false_claims"]:
            raise typer.Exit(1)


def _print(res: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    t = Table(
        title=f"Faithfulness of shown explanations ({res['language']}): {res['sessions']} sessions, {res['turns']} turns, "
        f"{res['n']} items per turn ({res['backend']}, {res['prompt_version']})",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    w, f = res["writers"], res["llm_first_try"]
    t.add_row("shown explanations", str(res["shown"]))
    t.add_row("shown with a false claim (required 0)", str(res["false_claims"]))
    t.add_row("shown failing the grounding guard", str(res["guard_failures"]))
    t.add_row(f"shown not in the sessions' language ({res['language']})", str(res["wrong_language"]))
    t.add_row("turns that raised an error (nothing shown)", str(res["turn_errors"]))
    for kind, row in res["by_session_kind"].items():
        t.add_row(f"  {kind} sessions: shown / false", f"{row['shown']} / {row['false_claims']}")
    t.add_row(
        "written by the LLM / template",
        f"{w['llm']} ({w['llm_share']:.3f}) / {w['template']} ({w['template_share']:.3f})",
    )
    rate = "n/a" if f["pass_rate"] is None else f"{f['passed_claims']}/{f['attempted']} = {f['pass_rate']:.3f}"
    t.add_row("LLM first try passing the strict checker", rate)
    grate = (
        "n/a" if f["guard_pass_rate"] is None else f"{f['passed_guard']}/{f['attempted']} = {f['guard_pass_rate']:.3f}"
    )
    t.add_row("LLM first try passing the grounding guard", grate)
    t.add_row("failed claim kinds (LLM first tries)", str(f["top_failed_claim_kinds"]))
    t.add_row("seconds", f"{res['seconds']:.1f}")
    stdout.print(t)
    for s in res["samples"]:
        stdout.print(f"  [{s['kind']}, {s['writer']}] {s['title']}: {s['text']}")
    for x in res["turn_error_examples"]:
        stdout.print(f"  [yellow]turn error[/] [{x['kind']}] {x['message']!r}: {x['error']}")
    for x in res["false_claim_examples"]:
        stdout.print(f"  [red]FALSE[/] [{x['kind']}, {x['writer']}] {x['text']} -- {x['reasons']}")
