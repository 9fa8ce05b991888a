"""Building, storing and re-opening the catalog's item index (what the agent and CLI call)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from catalog.config import Workspace
from catalog.types import Dataset, Item
from retrieval.config import RetrievalConfig
from retrieval.encoder import TextEncoder
from retrieval.index import FaissIndex, clear_checkpoint

StageProgress = Callable[[str, int, int], None]
"""Progress callback ``(stage, done, total)``; stages are "encode", "index train" (IVF kinds) and "index"."""


def catalog_hash(items: Sequence[Item]) -> str:
    """A hash of everything the index depends on: ids in order, encoded text, filter attributes."""
    h = hashlib.sha256()
    for it in items:
        h.update(
            "\x1f".join([it.item_id, it.text(), "|".join(it.categories), str(it.year), str(it.price)]).encode("utf-8")
        )
        h.update(b"\x1e")
    return h.hexdigest()


def index_folder(workspace: Workspace, config: RetrievalConfig | None = None) -> Path:
    """Where the catalog's index lives: ``<workspace>/index/<config.index.name>``."""
    cfg = config or RetrievalConfig()
    return workspace.index / cfg.index.name


def checkpoint_folder(workspace: Workspace, config: RetrievalConfig | None = None) -> Path:
    """Where an unfinished index build keeps its chunks: ``<workspace>/index/.<name>.build``."""
    cfg = config or RetrievalConfig()
    return workspace.index / f".{cfg.index.name}.build"


def build_index(
    dataset: Dataset,
    workspace: Workspace,
    config: RetrievalConfig | None = None,
    *,
    encoder: TextEncoder | None = None,
    progress: StageProgress | None = None,
) -> FaissIndex:
    """Encode every item (reusing cached vectors), build the index and save it in the workspace.

    Labels are ``Dataset.item_idx``, so ``Candidates.item_idx`` indexes the dataset directly. The
    build checkpoints each chunk in :func:`checkpoint_folder`: run again after an interruption and it
    resumes after the last finished chunk (encoded vectors come from the embedding cache). The
    checkpoint is removed once the index is saved.
    """
    cfg = config or RetrievalConfig()
    enc = encoder or TextEncoder(cfg.encoder)

    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    vectors = enc.encode_items(dataset.items, cache_dir=workspace.cache, progress=stage("encode"))
    index = FaissIndex.build(
        vectors,
        [it.item_id for it in dataset.items],
        cfg.index,
        items=dataset.items,
        labels=np.arange(dataset.n_items),
        encoder_id=enc.encoder_id,
        catalog_hash=catalog_hash(dataset.items),
        progress=stage("index"),
        train_progress=stage("index train"),
        checkpoint=checkpoint_folder(workspace, cfg),
    )
    index.save(index_folder(workspace, cfg))
    clear_checkpoint(checkpoint_folder(workspace, cfg))
    return index


def build_or_load_index(
    dataset: Dataset,
    workspace: Workspace,
    config: RetrievalConfig | None = None,
    *,
    encoder: TextEncoder | None = None,
    rebuild: bool = False,
    progress: StageProgress | None = None,
) -> FaissIndex:
    """The catalog's index: loaded from the workspace when present, built (and saved) when missing.

    Args:
        dataset: The catalog; its hash must match a stored index.
        workspace: Where the index and the embedding cache live.
        config: Retrieval settings (encoder, index).
        encoder: An already-loaded encoder to reuse (else one is created from config, lazily).
        rebuild: Build anew even when a stored index exists.
        progress: Called with ``(stage, done, total)`` while building.

    Raises:
        IndexMismatchError: A stored index exists but was built with another encoder, for another
            catalog, or fails its checksum; the message says to run ``trustrec index build``.
    """
    cfg = config or RetrievalConfig()
    folder = index_folder(workspace, cfg)
    enc = encoder or TextEncoder(cfg.encoder)
    if rebuild or not (folder / "manifest.json").is_file():
        return build_index(dataset, workspace, cfg, encoder=enc, progress=progress)
    return FaissIndex.load(folder, cfg.index, encoder_id=enc.encoder_id, catalog_hash=catalog_hash(dataset.items))
