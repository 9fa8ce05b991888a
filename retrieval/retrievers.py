"""Candidate generators: one small protocol, four implementations, one result type.

Every generator takes a :class:`Query` (the parts of a request it can use), a list length ``n``
and optional exact :class:`~retrieval.filters.Filters`, and returns
:class:`~retrieval.candidates.Candidates`. A generator whose part of the query is absent (no
text for the semantic one, no user vector, no reference items) returns an empty list; otherwise
it returns ``min(n, items passing the filters)`` candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.candidates import Candidates, reciprocal_rank_fusion
from retrieval.encoder import TextEncoder
from retrieval.filters import Filters
from retrieval.index import REBUILD_HINT, FaissIndex, IndexMismatchError

UserVectorProvider = Callable[[str], "np.ndarray | None"]
"""Maps a ``user_id`` to a vector in the index's space (e.g. a ranker's user embedding), or None."""


@dataclass(frozen=True)
class Query:
    """What a retrieval request knows; each generator uses its own part.

    Attributes:
        text: Free-text query ("space adventure with robots") for the semantic generator.
        user_id: The user, for a :data:`UserVectorProvider`.
        user_vector: A user vector given directly (overrides the provider).
        item_ids: Reference items ("more like these") for the item-to-item generator;
            they are never returned themselves.
    """

    text: str | None = None
    user_id: str | None = None
    user_vector: np.ndarray | None = None
    item_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_ids", tuple(self.item_ids))


def as_query(query: Query | str) -> Query:
    """A plain string is a text query."""
    return Query(text=query) if isinstance(query, str) else query


@runtime_checkable
class Retriever(Protocol):
    """Proposes candidate items for a request. ``name`` appears in ``Candidates.sources``."""

    name: str

    def retrieve(self, query: Query | str, n: int, filters: Filters | None = None) -> Candidates:
        """Up to ``n`` candidates passing ``filters``, best first (see the module contract)."""
        ...


class SemanticRetriever:
    """Text query -> encoder vector -> nearest items by cosine similarity.

    Raises:
        IndexMismatchError: The index was built with a different encoder.
    """

    def __init__(self, index: FaissIndex, encoder: TextEncoder, *, name: str = "semantic") -> None:
        if index.encoder_id and index.encoder_id != encoder.encoder_id:
            raise IndexMismatchError(
                f"index built with encoder {index.encoder_id!r} but queries use {encoder.encoder_id!r}; {REBUILD_HINT}"
            )
        self.index, self.encoder, self.name = index, encoder, name

    def retrieve(self, query: Query | str, n: int, filters: Filters | None = None) -> Candidates:
        q = as_query(query)
        if not q.text or not q.text.strip():
            return Candidates.empty()
        vec = self.encoder.encode_query(q.text)
        if vec.shape[0] != self.index.dim:
            raise IndexMismatchError(
                f"encoder gives {vec.shape[0]}-d vectors, index holds {self.index.dim}-d; {REBUILD_HINT}"
            )
        return self.index.search(vec, n, filters, source=self.name)[0]


class UserVectorRetriever:
    """A user vector (given, or from a provider such as a ranker) -> nearest items by inner product.

    The vector must live in the same space as ``index`` (pass an index built over the ranker's
    item vectors when the user vector comes from the ranker).
    """

    def __init__(self, index: FaissIndex, provider: UserVectorProvider | None = None, *, name: str = "user") -> None:
        self.index, self.provider, self.name = index, provider, name

    def retrieve(self, query: Query | str, n: int, filters: Filters | None = None) -> Candidates:
        q = as_query(query)
        vec = q.user_vector
        if vec is None and self.provider is not None and q.user_id is not None:
            vec = self.provider(q.user_id)
        if vec is None:
            return Candidates.empty()
        vec = np.asarray(vec, dtype=np.float32).reshape(-1)
        if vec.shape[0] != self.index.dim:
            raise ValueError(f"user vector has dimension {vec.shape[0]}, index holds {self.index.dim}")
        return self.index.search(vec, n, filters, source=self.name)[0]


class ItemToItemRetriever:
    """More like this: the mean of the reference items' vectors -> nearest other items."""

    def __init__(self, index: FaissIndex, *, name: str = "item") -> None:
        self.index, self.name = index, name

    def retrieve(self, query: Query | str, n: int, filters: Filters | None = None) -> Candidates:
        """Raises KeyError naming a reference item that is not in the index."""
        q = as_query(query)
        if not q.item_ids:
            return Candidates.empty()
        vec = self.index.vectors(q.item_ids).mean(axis=0)
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec = vec / norm
        flt = (filters or Filters()).with_excluded(q.item_ids)
        return self.index.search(vec, n, flt, source=self.name)[0]


class HybridRetriever:
    """Fuses several generators by reciprocal rank fusion (``1 / (k + rank)``, k = 60 by default).

    Each generator is asked for ``max(n, depth)`` candidates with the same query and filters;
    the fused list keeps the best ``n``.
    """

    def __init__(self, retrievers: Sequence[Retriever], *, k: int = 60, depth: int = 200, name: str = "hybrid") -> None:
        if not retrievers:
            raise ValueError("HybridRetriever needs at least one retriever")
        self.retrievers, self.k, self.depth, self.name = list(retrievers), k, depth, name

    def retrieve(self, query: Query | str, n: int, filters: Filters | None = None) -> Candidates:
        q = as_query(query)
        lists = [r.retrieve(q, max(n, self.depth), filters) for r in self.retrievers]
        return reciprocal_rank_fusion([c for c in lists if len(c)], k=self.k, n=n)
