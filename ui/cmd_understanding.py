"""`trustrec eval understanding`: the paraphrase set (templates x the catalog's vocabulary) through the parser
and the real recommender: exact match of the constraints and the share of turns whose shown items honour them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ui.common import ConfigOption, config_from, console, emit_json, step, user_errors


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["eval"].command("understanding")
    def understanding(
        full: Annotated[
            bool,
            typer.Option(
                "--full/--parser-only",
                help="--full (default): every request through the real recommender (guided mode, list-only "
                "ranking, templates), also measuring whether the shown items honour the request; "
                "--parser-only: the understanding alone (exact match only, seconds).",
            ),
        ] = True,
        per_template: Annotated[int, typer.Option("--per-template", min=1, max=50, help="Fills per template.")] = 7,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the vocabulary draw.")] = 0,
        split: Annotated[str, typer.Option("--split", help="heldout, dev or both.")] = "both",
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Write the report as JSON to this file.")] = None,
        failures: Annotated[int, typer.Option("--failures", min=0, help="Dev-split failures to print.")] = 10,
        config: ConfigOption = None,
    ) -> None:
        """Exact match and honoured share per category and split (required on held-out: >= 0.95 each)."""
        from agent.understanding import CatalogVocab
        from evals.understanding import SPLITS, evaluate_understanding

        cfg = config_from(config)
        with user_errors():
            if split not in ("heldout", "dev", "both"):
                raise ValueError(f"--split must be heldout, dev or both, not {split!r}")
            splits: Any = SPLITS if split == "both" else (split,)
            rec: Any = None
            if full:
                from agent.recommender import Recommender

                rec = Recommender.from_config(cfg, progress=step("building the recommender"), llm=None)
                vocab = rec.engine.vocab
            else:
                from catalog.datasets import load_dataset

                vocab = CatalogVocab.from_dataset(load_dataset(cfg.data, cfg.workspace()))
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        load0 = os.getloadavg()
        try:
            with Progress(
                TextColumn("requests"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                transient=True,
            ) as bar:  # fmt: skip
                task = bar.add_task("requests", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                with user_errors():
                    res = evaluate_understanding(
                        vocab, rec=rec, per_template=per_template, seed=seed, splits=splits, progress=progress
                    )
        finally:
            if rec is not None:
                rec.close()
        res["load_average"] = {"start": [round(x, 2) for x in load0], "end": [round(x, 2) for x in os.getloadavg()]}
        if as_json:
            emit_json(res)
        else:
            _print(res, failures)
        if out is not None:
            emit_json(res, out)


def _print(res: dict[str, Any], n_fail: int) -> None:
    from rich import box
    from rich.table import Table

    for split in res.get("empty_splits", []):
        console.print(
            f"[yellow]The {split} split has no templates (evals/suites/understanding/{split}.yaml): nothing to "
            "measure there until its next version is added.[/yellow]"
        )
    for split in ("heldout", "dev"):
        if split not in res:
            continue
        t = Table(
            title=f"Understanding, {split} templates ({res['templates'].get(split, 0)}): "
            f"{res[split]['all']['requests']} requests",
            box=box.SIMPLE_HEAD,
        )
        t.add_column("category")
        t.add_column("requests", justify="right")
        t.add_column("exact match", justify="right")
        if res["full"]:
            t.add_column("shown items honour it", justify="right")
        for cat, row in [*res[split]["categories"].items(), ("all", res[split]["all"])]:
            cells = [cat, str(row["requests"]), f"{row['exact_match']:.3f}"]
            if res["full"]:
                cells.append(f"{row['honoured']:.3f}")
            t.add_row(*cells)
        console.print(t)
    la = res["load_average"]
    console.print(
        f"{res['requests']} requests, {res['turns']} turns, languages {', '.join(res['languages'])}, "
        f"{res['seconds']} s; load average {la['start'][0]} at start, {la['end'][0]} at the end"
    )
    dev_fail = [f for f in res["failures"] if f["split"] == "dev"][:n_fail]
    for f in dev_fail:
        console.print(f"[dim]dev failure {f['template']}: {f['turns']} -> {f['why']} (honoured: {f['honoured']})[/dim]")
    held = sum(1 for f in res["failures"] if f["split"] == "heldout")
    if held:
        console.print(f"{held} held-out failures (in the JSON report; not printed, so tuning stays on dev)")
