"""Load the configured dataset from the workspace, fetching the default one if needed."""

from __future__ import annotations

from catalog.config import DataConfig, Workspace
from catalog.errors import BadInput, LoadReport
from catalog.fetch import Progress, download_grouplens, ensure_ml100k
from catalog.loaders import load_amazon_reviews, load_movielens_native, load_movielens_recbole, load_table
from catalog.types import Dataset


def load_dataset(
    config: DataConfig | None = None,
    workspace: Workspace | None = None,
    *,
    progress: Progress | None = None,
    report: LoadReport | None = None,
) -> Dataset:
    """Load the dataset ``config`` names, obtaining ml-100k first when it is missing.

    Raises:
        DataError: A malformed file (strict mode).
        FetchError: ml-100k could not be obtained.
        ValueError: The config lacks a path the dataset kind needs.
    """
    cfg = config or DataConfig()
    ws = workspace or Workspace()
    lenient = cfg.lenient
    if cfg.dataset == "ml-100k":
        if cfg.source == "path":
            if cfg.path is None:
                raise BadInput(
                    "data.source = 'path' needs data.path: a folder with ml-100k.{inter,item,user} or u.{data,item,user}"
                )
            if (cfg.path / "u.data").is_file():
                return load_movielens_native(cfg.path, lenient=lenient, report=report)
            return load_movielens_recbole(cfg.path, lenient=lenient, report=report)
        if cfg.source == "grouplens":
            return load_movielens_native(download_grouplens(ws.data, progress=progress), lenient=lenient, report=report)
        return load_movielens_recbole(
            ensure_ml100k(ws.data, ws.cache, progress=progress), lenient=lenient, report=report
        )
    if cfg.dataset == "synthetic-shop":
        from catalog.synthetic import generate_shop_dataset

        return generate_shop_dataset(cfg.synthetic, progress=progress)
    if cfg.path is None:
        raise BadInput(f"data.dataset = {cfg.dataset!r} needs data.path")
    if cfg.dataset == "amazon":
        if cfg.items_path is None:
            raise BadInput("data.dataset = 'amazon' needs data.items_path (the metadata JSONL)")
        from catalog.synthetic import synthetic_note

        ds = load_amazon_reviews(cfg.path, cfg.items_path, events=cfg.events_path, lenient=lenient, report=report)
        ds.note = synthetic_note(cfg.path.parent)  # files the generator wrote say so in every report
        return ds
    return load_table(cfg.path, cfg.items_path, mapping=cfg.mapping, lenient=lenient, report=report)
