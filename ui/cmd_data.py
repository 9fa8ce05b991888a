"""`trustrec data ...`: prepare the dataset and print its statistics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ui.common import ConfigOption, JsonFlag, config_from, console, emit_json, stdout, step, user_errors

DatasetOption = Annotated[
    str | None, typer.Option("--dataset", help="Dataset kind (ml-100k, amazon, table, synthetic-shop).")
]


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
        if ds.note:
            console.print(f"[bold yellow]{ds.note}[/]")

    @data.command("stats")
    def stats(dataset: DatasetOption = None, config: ConfigOption = None, json_: JsonFlag = False) -> None:
        """Print dataset statistics (counts, density, kinds, time range, split sizes)."""
        from catalog import load_dataset, loo_split, ro_split

        cfg = config_from(config)
        dcfg = cfg.data.model_copy(update={"dataset": dataset} if dataset else {})
        with user_errors():
            ds = load_dataset(dcfg, cfg.workspace(), progress=None if json_ else step("loading"))
        out = ds.stats()
        bw = cfg.data.behaviour_weights
        out["splits"] = {
            "ro811": ro_split(ds, seed=cfg.seed, weights=bw).sizes(),
            "loo": loo_split(ds, weights=bw).sizes(),
        }
        if json_:
            emit_json(out)
            return
        from rich.table import Table

        t = Table(title=f"{ds.name} statistics" + (f" ({ds.note})" if ds.note else ""))
        t.add_column("statistic")
        t.add_column("value", justify="right")
        for k, v in out.items():
            t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
        stdout.print(t)

    @data.command("synthesize")
    def synthesize(
        folder: Annotated[
            Path | None,
            typer.Option(
                "--folder", help="Where to write the files (default: <workspace>/data/synthetic-shop-<seed>)."
            ),
        ] = None,
        items: Annotated[int | None, typer.Option("--items", help="Products (default data.synthetic, 300).")] = None,
        categories: Annotated[int | None, typer.Option("--categories", help="Categories (default 5).")] = None,
        users: Annotated[int | None, typer.Option("--users", help="Users (default 600).")] = None,
        events_per_user: Annotated[
            float | None, typer.Option("--events-per-user", help="Mean behaviours per user (default 40).")
        ] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Seed (default data.synthetic.seed, 0).")] = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Write a generated, clearly synthetic shop as Amazon Reviews 2023 JSONL files (reviews, metadata)
        plus its behaviour log, ready for `data.dataset = "amazon"`."""
        from catalog.synthetic import SYNTHETIC_NOTE, generate_shop, write_amazon_jsonl

        cfg = config_from(config)
        given = {"n_items": items, "n_categories": categories, "n_users": users, "events_per_user": events_per_user}
        given["seed"] = seed
        with user_errors():
            scfg = cfg.data.synthetic.model_validate(
                {**cfg.data.synthetic.model_dump(), **{k: v for k, v in given.items() if v is not None}}
            )
            dest = folder or cfg.workspace().data / f"synthetic-shop-{scfg.seed}"
            say = (lambda _m: None) if json_ else step(f"generating a synthetic shop into {dest}")
            t0 = time.perf_counter()
            shop = generate_shop(scfg, progress=say)
            gen_s = time.perf_counter() - t0
            paths = write_amazon_jsonl(shop, dest, progress=say)
        kinds = shop.interactions["kind"].value_counts().to_dict()
        out = {
            "note": SYNTHETIC_NOTE, "folder": str(dest), "files": {k: str(v) for k, v in paths.items()},
            "items": len(shop.items), "categories": len(shop.categories), "users": len(shop.users),
            "interactions": len(shop.interactions), "kinds": {str(k): int(v) for k, v in kinds.items()},
            "generate_seconds": round(gen_s, 2), "config": scfg.model_dump(),
        }  # fmt: skip
        if json_:
            emit_json(out)
            return
        console.print(f"[bold yellow]{SYNTHETIC_NOTE}[/]")
        stdout.print(
            f"{out['items']} items in {out['categories']} categories, {out['users']} users, "
            f"{out['interactions']} interactions {out['kinds']} (generated in {gen_s:.1f} s)"
        )
        stdout.print("load it with:")
        stdout.print(
            f"  TRUSTREC_DATA__DATASET=amazon TRUSTREC_DATA__PATH={paths['reviews']} "
            f"TRUSTREC_DATA__ITEMS_PATH={paths['meta']} TRUSTREC_DATA__EVENTS_PATH={paths['events']} "
            "trustrec data stats"
        )
        stdout.print(
            f"or generate it in memory: TRUSTREC_DATA__DATASET=synthetic-shop TRUSTREC_DATA__SYNTHETIC__SEED={scfg.seed}"
        )
