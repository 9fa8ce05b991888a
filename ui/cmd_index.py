"""`trustrec index ...` (build, search, info) and `trustrec bench retrieval`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from ui.common import ConfigOption, JsonFlag, OutFile, config_from, console, emit_json, finish, stdout, user_errors

CategoryOption = Annotated[list[str] | None, typer.Option(help="Repeatable.")]


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display (on stderr) fed by ``(stage, done, total)`` callbacks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"--sizes wants comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 10:
        raise typer.BadParameter("--sizes wants integers of at least 10")
    return sizes


def _parse_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"{flag} wants comma-separated integers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise typer.BadParameter(f"{flag} wants integers of at least 1")
    return values


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    index = typer.Typer(help="Build, inspect and query the catalog's vector index.", no_args_is_help=True)
    app.add_typer(index, name="index")

    @index.command("build")
    def build(config: ConfigOption = None) -> None:
        """Encode the catalog (reusing cached vectors) and (re)build the FAISS index."""
        from catalog import load_dataset
        from retrieval import build_index, index_folder

        cfg = config_from(config)
        ws = cfg.workspace()
        with user_errors():
            ds = load_dataset(cfg.data, ws)
            t = time.perf_counter()
            with _progress() as progress:
                idx = build_index(ds, ws, cfg.retrieval, progress=progress)
        console.print(
            f"[green]built:[/] {len(idx)} items, {idx.kind} index {idx.params or ''}, dim {idx.dim}, "
            f"{time.perf_counter() - t:.1f}s -> {index_folder(ws, cfg.retrieval)}"
        )

    @index.command("info")
    def info(config: ConfigOption = None, json_: JsonFlag = False) -> None:
        """Print the stored index's manifest."""
        from retrieval import FaissIndex, index_folder

        cfg = config_from(config)
        with user_errors():
            man = FaissIndex.read_manifest(index_folder(cfg.workspace(), cfg.retrieval))
        if json_:
            emit_json(man.model_dump())
        else:
            for k, v in man.model_dump().items():
                stdout.print(f"{k}: {v}")

    @index.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="Free-text query.")],
        n: Annotated[int, typer.Option("--n", min=1, help="Number of results.")] = 10,
        include_category: CategoryOption = None,
        exclude_category: CategoryOption = None,
        year_min: Annotated[int | None, typer.Option(help="Earliest year, inclusive.")] = None,
        year_max: Annotated[int | None, typer.Option(help="Latest year, inclusive.")] = None,
        price_min: Annotated[float | None, typer.Option(help="Lowest price, inclusive.")] = None,
        price_max: Annotated[float | None, typer.Option(help="Highest price, inclusive.")] = None,
        like: Annotated[
            list[str] | None, typer.Option(help="Item id to find more like (repeatable); fused by RRF.")
        ] = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Semantic search over the catalog with exact filters (builds the index first if missing)."""
        from catalog import load_dataset
        from retrieval import (
            Filters,
            HybridRetriever,
            ItemToItemRetriever,
            Query,
            SemanticRetriever,
            TextEncoder,
            build_or_load_index,
        )

        cfg = config_from(config)
        ws = cfg.workspace()
        with user_errors():
            filters = Filters(
                include_categories=include_category or [],
                exclude_categories=exclude_category or [],
                year_min=year_min,
                year_max=year_max,
                price_min=price_min,
                price_max=price_max,
            )
            ds = load_dataset(cfg.data, ws)
            encoder = TextEncoder(cfg.retrieval.encoder)
            with _progress() as progress:
                idx = build_or_load_index(ds, ws, cfg.retrieval, encoder=encoder, progress=progress)
            unknown = idx.attributes.unknown_categories(filters)
            if unknown:
                console.print(
                    f"[yellow]warning:[/] no item has categor{'y' if len(unknown) == 1 else 'ies'} {unknown}; "
                    f"known: {idx.attributes.category_names()}"
                )
            semantic = SemanticRetriever(idx, encoder)
            if like:
                for item_id in like:
                    idx.label(item_id)
                retriever: Any = HybridRetriever([semantic, ItemToItemRetriever(idx)], k=cfg.retrieval.rrf_k)
            else:
                retriever = semantic
            cands = retriever.retrieve(Query(text=query, item_ids=tuple(like or ())), n, filters)
        rows = []
        for rec in cands.to_records():
            item = ds.item(rec["item_id"])
            rows.append(
                {
                    "item_id": item.item_id,
                    "title": item.title,
                    "year": item.year,
                    "categories": list(item.categories),
                    "score": round(rec["score"], 6),
                    "source": rec["source"],
                }
            )
        if len(rows) < n:
            console.print(f"[yellow]only {len(rows)} items match the filters[/]")
        if json_:
            emit_json(rows)
            return
        from rich.table import Table

        t = Table(title=f"{query!r}: top {len(rows)}")
        for col, justify in (
            ("item_id", "right"),
            ("title", "left"),
            ("year", "right"),
            ("categories", "left"),
            ("score", "right"),
        ):
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in rows:
            t.add_row(r["item_id"], r["title"], str(r["year"] or ""), ", ".join(r["categories"]), f"{r['score']:.4f}")
        stdout.print(t)

    @groups["bench"].command("retrieval")
    def bench_retrieval(
        sizes: Annotated[
            str, typer.Option(help="Comma-separated catalog sizes; the catalog's own size uses real vectors.")
        ] = "1682,100000,1000000",
        queries: Annotated[int, typer.Option(min=10, help="Queries per size.")] = 200,
        kinds: Annotated[
            str, typer.Option(help="Index kinds, comma-separated, from flat, ivf, ivfpq, hnsw (flat is always built).")
        ] = "flat,ivf,ivfpq,hnsw",
        ef_search: Annotated[
            str, typer.Option(help="HNSW efSearch values to sweep, comma-separated (default: config).")
        ] = "",
        nprobe: Annotated[
            str, typer.Option(help="IVF nprobe values to sweep, comma-separated (default: config).")
        ] = "",
        json_: JsonFlag = False,
        out: OutFile = None,
        config: ConfigOption = None,
    ) -> None:
        """Build time, size, p50/p95 single-query latency and recall@10 (vs exact) of each index kind."""
        import numpy as np

        from catalog import load_dataset
        from retrieval import TextEncoder
        from retrieval.bench import bench_retrieval as run_bench

        cfg = config_from(config)
        ws = cfg.workspace()
        size_list = _parse_sizes(sizes)
        efs, nprobes = _parse_ints(ef_search, "--ef-search"), _parse_ints(nprobe, "--nprobe")
        kind_list = [x.strip() for x in kinds.split(",") if x.strip()]
        bad = sorted(set(kind_list) - {"flat", "ivf", "ivfpq", "hnsw"})
        if bad or not kind_list:
            raise typer.BadParameter(f"--kinds: unknown {bad}; choose from flat, ivf, ivfpq, hnsw")
        with user_errors():
            ds = load_dataset(cfg.data, ws)
            real_vectors = real_queries = None
            if ds.n_items in size_list:
                encoder = TextEncoder(cfg.retrieval.encoder)
                with _progress() as progress:
                    real_vectors = encoder.encode_items(
                        ds.items, cache_dir=ws.cache, progress=lambda d, t: progress("encode catalog", d, t)
                    )
                    rng = np.random.default_rng(cfg.seed)
                    picks = rng.choice(ds.n_items, size=min(queries, ds.n_items), replace=False)
                    real_queries = encoder.encode(
                        [ds.items[i].title for i in picks], progress=lambda d, t: progress("encode queries", d, t)
                    )
            with _progress() as progress:
                rows = run_bench(
                    size_list,
                    cfg.retrieval.index,
                    real_vectors=real_vectors,
                    real_queries=real_queries,
                    n_queries=queries,
                    kinds=kind_list,
                    ef_search=efs,
                    nprobe=nprobes,
                    seed=cfg.seed,
                    progress=progress,
                    on_row=lambda r: console.print(f"  measured: {r}"),
                )
        from rich.table import Table

        t = Table(title="retrieval benchmark (single-query latency; recall@10 vs exact search)")
        cols = (
            "dataset",
            "items",
            "index",
            "params",
            "build s",
            "disk MiB",
            "RAM MiB",
            "p50 ms",
            "p95 ms",
            "recall@10",
        )
        for col in cols:
            t.add_column(col, justify="left" if col in ("dataset", "index", "params") else "right")
        for r in rows:
            params = " ".join(f"{k}={v}" for k, v in r["params"].items())
            ram = "" if r["ram_mb"] is None else f"{r['ram_mb']:.0f}"
            t.add_row(
                r["dataset"], f"{r['items']:,}", r["index"], params, f"{r['build_s']:.2f}", f"{r['disk_mb']:.1f}",
                ram, f"{r['p50_ms']:.3f}", f"{r['p95_ms']:.3f}", f"{r['recall_at_10']:.4f}",
            )  # fmt: skip
        threads = rows[0]["search_threads"] if rows else 0
        caption = f"FAISS threads per single query: {threads}; load average at the end: {rows[-1]['load_average'] if rows else ''}"
        t.caption = caption
        finish(rows, json_=json_, out=out, show=lambda: stdout.print(t))
