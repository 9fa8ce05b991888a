"""Retrieval configuration (text encoder, FAISS index, candidate generation)."""

from __future__ import annotations

from pydantic import BaseModel


class RetrievalConfig(BaseModel):
    """Text encoder, index and candidate-generator settings."""
