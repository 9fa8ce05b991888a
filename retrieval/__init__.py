"""trustrec retrieval: text encoder, FAISS index, exact filters, candidate generators.

Typical use (the agent's)::

    from retrieval import (Filters, HybridRetriever, ItemToItemRetriever, Query, SemanticRetriever,
                           TextEncoder, build_or_load_index)

    encoder = TextEncoder(cfg.retrieval.encoder)
    index = build_or_load_index(dataset, workspace, cfg.retrieval, encoder=encoder)
    hybrid = HybridRetriever([SemanticRetriever(index, encoder), ItemToItemRetriever(index)])
    cands = hybrid.retrieve(Query(text="space adventure", item_ids=("50",)), n=200,
                            filters=Filters(exclude_categories={"Horror"}, exclude_ids=seen))

Vocabulary: ``item_id`` (external id), ``item_idx`` (the index label, equal to
``Dataset.item_idx``), ``n`` (list length), ``score`` (higher is better).

Names are imported lazily so ``import retrieval`` stays cheap (faiss and torch load on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.build import build_index, build_or_load_index, catalog_hash, index_folder
    from retrieval.candidates import Candidates, reciprocal_rank_fusion
    from retrieval.config import EncoderConfig, IndexConfig, RetrievalConfig
    from retrieval.encoder import TextEncoder
    from retrieval.filters import Filters
    from retrieval.index import HAS_GPU, FaissIndex, IndexManifest, IndexMismatchError
    from retrieval.retrievers import (
        HybridRetriever,
        ItemToItemRetriever,
        Query,
        Retriever,
        SemanticRetriever,
        UserVectorProvider,
        UserVectorRetriever,
    )

_EXPORTS = {
    "Candidates": "retrieval.candidates",
    "reciprocal_rank_fusion": "retrieval.candidates",
    "EncoderConfig": "retrieval.config",
    "IndexConfig": "retrieval.config",
    "RetrievalConfig": "retrieval.config",
    "TextEncoder": "retrieval.encoder",
    "Filters": "retrieval.filters",
    "HAS_GPU": "retrieval.index",
    "FaissIndex": "retrieval.index",
    "IndexManifest": "retrieval.index",
    "IndexMismatchError": "retrieval.index",
    "HybridRetriever": "retrieval.retrievers",
    "ItemToItemRetriever": "retrieval.retrievers",
    "Query": "retrieval.retrievers",
    "Retriever": "retrieval.retrievers",
    "SemanticRetriever": "retrieval.retrievers",
    "UserVectorProvider": "retrieval.retrievers",
    "UserVectorRetriever": "retrieval.retrievers",
    "build_index": "retrieval.build",
    "build_or_load_index": "retrieval.build",
    "catalog_hash": "retrieval.build",
    "index_folder": "retrieval.build",
}

__all__ = [
    "HAS_GPU", "Candidates", "EncoderConfig", "FaissIndex", "Filters", "HybridRetriever", "IndexConfig",
    "IndexManifest", "IndexMismatchError", "ItemToItemRetriever", "Query", "RetrievalConfig", "Retriever",
    "SemanticRetriever", "TextEncoder", "UserVectorProvider", "UserVectorRetriever", "build_index",
    "build_or_load_index", "catalog_hash", "index_folder", "reciprocal_rank_fusion",
]  # fmt: skip
assert sorted(__all__) == sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'retrieval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
