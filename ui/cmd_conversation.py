"""`trustrec eval conversation`: simulated users with a hidden target chat with the recommender."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ui.common import ConfigOption, config_from, console, emit_json, stdout, step, user_errors


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["eval"].command("conversation")
    def conversation(
        users: Annotated[int, typer.Option("--users", "-u", min=1, help="Simulated users to draw.")] = 200,
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Write the figures and every episode's transcript to this file.")
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the user and target draw.")] = 0,
        n: Annotated[int, typer.Option("--n", min=1, max=50, help="Items the simulated user asks for per turn.")] = 10,
        max_turns: Annotated[int, typer.Option("--max-turns", min=1, max=20, help="Turns before a failure.")] = 5,
        llm: Annotated[
            bool,
            typer.Option(
                "--llm/--no-llm",
                help="Let the configured LLM write the explanations (slow on CPU; implies --explanations). "
                "The shown lists do not depend on it.",
            ),
        ] = False,
        explanations: Annotated[
            bool,
            typer.Option(
                "--explanations/--no-explanations",
                help="Compute SHAP attributions and trust reports every turn (same lists, ~8x slower).",
            ),
        ] = False,
        genre_order: Annotated[
            str, typer.Option("--genre-order", help="Which target genre users name first: random or specific.")
        ] = "random",
        config: ConfigOption = None,
    ) -> None:
        """Success within MAX_TURNS turns, average turns (failure = MAX_TURNS + 1) and success by turn."""
        from agent.recommender import Recommender
        from evals.conversation import SimulatorConfig, evaluate_conversations

        cfg = config_from(config)
        with user_errors():
            sim_cfg = SimulatorConfig.model_validate({"genre_order": genre_order})
            rec = Recommender.from_config(cfg, progress=step("building the recommender"), llm="config" if llm else None)
        full = explanations or llm
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        wins = 0
        with Progress(
            TextColumn("simulated users"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("users", total=users, rate="")

            def progress(done: int, total: int, ep: Any) -> None:
                nonlocal wins
                wins += bool(ep.success)
                bar.update(task, completed=done, total=total, rate=f"success {wins / done:.2f}")

            try:
                with user_errors():
                    res = evaluate_conversations(
                        rec, None, n_users=users, max_turns=max_turns, seed=seed, n=n,
                        explanations=full, config=sim_cfg, progress=progress,
                    )  # fmt: skip
            finally:
                rec.close()
        res["llm"] = llm
        _print(res)
        if json_out is not None:
            emit_json(res, json_out)


def _print(res: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    m = res["max_turns"]
    t = Table(
        title=f"Simulated users (ml-100k, ro811 test targets): {res['users']} users, {res['n']} items per turn",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row(f"success within {m} turns", f"{res['success_rate']:.3f}")
    t.add_row(f"average turns (failure = {m + 1})", f"{res['average_turns']:.2f}")
    for k, v in enumerate(res["success_by_turn"], start=1):
        t.add_row(f"  success by turn {k}", f"{v:.3f}")
    t.add_row("reference title understood", f"{res['reference_understood_rate']:.3f}")
    t.add_row("failures: target fits final constraints", f"{res['failures_target_fits_constraints']}/{res['failures']}")
    t.add_row("failures: target not a candidate", f"{res['failures_target_not_candidate']}/{res['failures']}")
    t.add_row("turn seconds, p50", f"{res['turn_seconds_p50']:.2f}")
    t.add_row("explanations / LLM", f"{res['explanations']} / {res.get('llm', False)}")
    t.add_row("seconds", f"{res['seconds']:.1f}")
    stdout.print(t)
