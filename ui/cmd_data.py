"""`trustrec data ...`: prepare the dataset and print its statistics."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.common import ConfigOption, JsonFlag, config_from, console, emit_json, stdout, step, user_errors

DatasetOption = Annotated[str | None, typer.Option("--dataset", help="Dataset kind (ml-100k, amazon, table).")]


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    data = typer.Typer(help="Obtain, check and describe datasets.", no_args_is_help=True)
    app.add_typer(data, name="data")

    @data.command("prepare")
    def prepare(
        dataset: DatasetOption = None,
        config: ConfigOption = None,
        lenient: bool = typer.Option(False, help="Skip bad rows and report them."),
    ) -> None:
        """Fetch (if needed), verify and load the dataset into the store."""
        from catalog import LoadReport, Store, load_dataset

        cfg = config_from(config)
        updates = {
            k: v for k, v in {"dataset": dataset, "lenient": lenient or cfg.data.lenient}.items() if v is not None
        }
        dcfg = cfg.data.model_copy(update=updates)
        ws = cfg.workspace()
        report = LoadReport()
        with user_errors():
            ds = load_dataset(dcfg, ws, progress=step(f"preparing {dcfg.dataset} in {ws.home}"), report=report)
        if dcfg.lenient:
            console.print(f"  load report: {report.summary()}")
        with Store(ws.store_target) as store:
            where = "the PostgreSQL store" if ws.store_url else ws.store_path
            console.print(f"  writing {ds.n_items} items and {ds.n_users} users to {where}")
            store.upsert_items(ds.items)
            store.upsert_users(ds.users)
        console.print(f"[green]ready:[/] {ds.n_users} users, {ds.n_items} items, {len(ds.interactions)} interactions")

    @data.command("stats")
    def stats(dataset: DatasetOption = None, config: ConfigOption = None, json_: JsonFlag = False) -> None:
        """Print dataset statistics (counts, density, kinds, time range, split sizes)."""
        from catalog import load_dataset, loo_split, ro_split

        cfg = config_from(config)
        dcfg = cfg.data.model_copy(update={"dataset": dataset} if dataset else {})
        with user_errors():
            ds = load_dataset(dcfg, cfg.workspace(), progress=None if json_ else step("loading"))
        out = ds.stats()
        out["splits"] = {"ro811": ro_split(ds, seed=cfg.seed).sizes(), "loo": loo_split(ds).sizes()}
        if json_:
            emit_json(out)
            return
        from rich.table import Table

        t = Table(title=f"{ds.name} statistics")
        t.add_column("statistic")
        t.add_column("value", justify="right")
        for k, v in out.items():
            t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
        stdout.print(t)
