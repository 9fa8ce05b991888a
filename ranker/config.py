"""Ranker configuration (the joint two-tower model and its training)."""

from __future__ import annotations

from pydantic import BaseModel


class RankerConfig(BaseModel):
    """Model and training hyperparameters."""
