"""`trustrec eval conversation`: simulated users with a hidden target chat with the recommender."""

from __future__ import annotations

from collections.abc import Callable
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


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["eval"].command("conversation")
    def conversation(
        users: Annotated[int, typer.Option("--users", "-u", min=1, help="Simulated users to draw.")] = 200,
        json_: JsonFlag = False,
        out: OutFile = None,
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
        cohort: Annotated[
            str,
            typer.Option(
                "--cohort",
                help="warm: ml-100k users under their id; cold: new users (no history, targets across the "
                "popularity range, onboarding answered); both: the two side by side.",
            ),
        ] = "warm",
        cold_start: Annotated[
            bool, typer.Option("--cold-start", help="Also run new users next to the warm ones (= --cohort both).")
        ] = False,
        simulator: Annotated[
            str,
            typer.Option(
                "--simulator",
                help="genre: the user reveals genres, decades and titles (MovieLens); shop: the shopper reveals "
                "category, price band, brand and a feature word, and every shown card is checked against them; "
                "auto: shop when the catalog has prices and brands.",
            ),
        ] = "auto",
        config: ConfigOption = None,
    ) -> None:
        """Success within MAX_TURNS turns, average turns (failure = MAX_TURNS + 1) and success by turn."""
        from agent.recommender import Recommender
        from evals.conversation import SimulatorConfig, evaluate_conversations

        cfg = config_from(config)
        if cold_start and cohort == "warm":
            cohort = "both"
        with user_errors():
            if cohort not in ("warm", "cold", "both"):
                raise BadInput(f"--cohort must be warm, cold or both, not {cohort!r}")
            if simulator not in ("auto", "genre", "shop"):
                raise BadInput(f"--simulator must be auto, genre or shop, not {simulator!r}")
            sim_cfg = SimulatorConfig.model_validate({"genre_order": genre_order})
            rec = Recommender.from_config(cfg, progress=step("building the recommender"), llm="config" if llm else None)
        if simulator == "auto":
            items = rec.engine.dataset.items
            shop = any(it.price is not None for it in items) and any(it.brand for it in items)
            simulator = "shop" if shop else "genre"
        if simulator == "shop":
            _shop(rec, users=users, seed=seed, n=n, max_turns=max_turns, cohort=cohort, json_=json_, out=out)
            return
        full = explanations or llm
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        wins = 0
        with Progress(
            TextColumn("simulated users"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("users", total=users * (2 if cohort == "both" else 1), rate="")

            def progress(done: int, total: int, ep: Any) -> None:
                nonlocal wins
                wins += bool(ep.success)
                bar.update(task, completed=done, total=total, rate=f"success {wins / done:.2f}")

            try:
                with user_errors():
                    res = evaluate_conversations(
                        rec, None, n_users=users, max_turns=max_turns, seed=seed, n=n,
                        explanations=full, config=sim_cfg, progress=progress, cohort=cohort,  # type: ignore[arg-type]
                    )  # fmt: skip
            finally:
                rec.close()
        res["llm"] = llm
        finish(res, json_=json_, out=out, show=lambda: _print(res))


def _shop(rec: Any, *, users: int, seed: int, n: int, max_turns: int, cohort: str, json_: bool, out: Any) -> None:
    """The shop simulator (:mod:`evals.shop_conversation`): success, turns and constraint violations."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from evals.shop_conversation import evaluate_shop_conversations

    with Progress(
        TextColumn("simulated shoppers"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("users", total=users * (2 if cohort == "both" else 1))
        try:
            with user_errors():
                res = evaluate_shop_conversations(
                    rec, n_users=users, max_turns=max_turns, seed=seed, n=n, cohort=cohort,  # type: ignore[arg-type]
                    progress=lambda done, total, ep: bar.update(task, completed=done, total=total),
                )  # fmt: skip
        finally:
            rec.close()
    finish(res, json_=json_, out=out, show=lambda: _print_shop(res))


def _print_shop(res: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    m = res["max_turns"]
    cohorts = [("known shoppers" if res["cohort"] != "cold" else "new shoppers", res)]
    if res.get("cold_start"):
        cohorts.append(("new shoppers", res["cold_start"]))
    t = Table(
        title=f"Simulated shoppers ({res['dataset']}, ro811 test targets), {res['n']} products per turn",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("metric")
    for name, _ in cohorts:
        t.add_column(name, justify="right")
    t.add_row("users", *(str(r["users"]) for _, r in cohorts))
    t.add_row(f"success within {m} turns", *(f"{r['success_rate']:.3f}" for _, r in cohorts))
    t.add_row(f"average turns (failure = {m + 1})", *(f"{r['average_turns']:.2f}" for _, r in cohorts))
    for k in range(m):
        t.add_row(f"  success by turn {k + 1}", *(f"{r['success_by_turn'][k]:.3f}" for _, r in cohorts))
    t.add_row("shown cards", *(str(r["shown_cards"]) for _, r in cohorts))
    t.add_row("cards breaking a revealed category/brand/price", *(str(r["violations"]) for _, r in cohorts))
    t.add_row("seconds", f"{res['seconds']:.1f}", *([""] * (len(cohorts) - 1)))
    stdout.print(t)
    for name, r in cohorts:
        for v in r["violation_list"]:
            stdout.print(f"violation ({name}): {v}")


def _print(res: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    m = res["max_turns"]
    cohorts: list[tuple[str, dict[str, Any]]] = []
    if res.get("cohort") == "cold":
        cohorts.append(("new users", res))
    else:
        cohorts.append(("known users", res))
        if res.get("cold_start"):
            cohorts.append(("new users", res["cold_start"]))
    users = " + ".join(f"{r['users']} {name}" for name, r in cohorts)
    t = Table(
        title=f"Simulated users (ml-100k, ro811 test targets): {users}, {res['n']} items per turn", box=box.SIMPLE_HEAD
    )
    t.add_column("metric")
    for name, _ in cohorts:
        t.add_column(name, justify="right")

    def row(label: str, fmt: Callable[[dict[str, Any]], str]) -> None:
        t.add_row(label, *(fmt(r) for _, r in cohorts))

    def num(key: str, spec: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: "" if r.get(key) is None else format(r[key], spec)

    row(f"success within {m} turns", num("success_rate", ".3f"))
    row(f"average turns (failure = {m + 1})", num("average_turns", ".2f"))

    def by_turn(k: int) -> Callable[[dict[str, Any]], str]:
        return lambda r: f"{r['success_by_turn'][k]:.3f}" if r["success_by_turn"] else ""

    for k in range(m):
        row(f"  success by turn {k + 1}", by_turn(k))
    if any(r.get("long_tail") for _, r in cohorts):
        row("long-tail half (target below median popularity): success", num("long_tail_success_rate", ".3f"))
        row("long-tail half: average turns", num("long_tail_average_turns", ".2f"))
        row("long-tail half: users", num("long_tail_users", "d"))
        row("popular half: success", num("head_success_rate", ".3f"))
        row("onboarding offered / answered", lambda r: (
            f"{r['onboarding_offered_rate']:.2f} / {r['onboarding_answered_rate']:.2f}" if "onboarding_offered_rate" in r else ""
        ))  # fmt: skip
    row("reference title understood", num("reference_understood_rate", ".3f"))
    row("failures: target fits final constraints", lambda r: f"{r['failures_target_fits_constraints']}/{r['failures']}")
    row("failures: target not a candidate", lambda r: f"{r['failures_target_not_candidate']}/{r['failures']}")
    row("turn seconds, p50", num("turn_seconds_p50", ".2f"))
    t.add_row("explanations / LLM", f"{res['explanations']} / {res.get('llm', False)}", *([""] * (len(cohorts) - 1)))
    t.add_row("seconds", f"{res['seconds']:.1f}", *([""] * (len(cohorts) - 1)))
    stdout.print(t)
    for name, r in cohorts:
        for b in r.get("by_stratum") or []:
            stdout.print(
                f"{name}, popularity bin {b['stratum']} ({b['popularity_min']}-{b['popularity_max']} training "
                f"interactions): {b['users']} users, success {b['success_rate']:.3f}, average turns {b['average_turns']:.2f}"
            )
