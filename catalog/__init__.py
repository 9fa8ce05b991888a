"""trustrec's data layer: domain types, loaders, splits and the durable store."""

from catalog.config import DataConfig, Workspace
from catalog.datasets import load_dataset
from catalog.errors import DataError, LoadReport
from catalog.fetch import FetchError, ensure_ml100k
from catalog.loaders import TableMapping, load_amazon_reviews, load_movielens_native, load_movielens_recbole, load_table
from catalog.splits import Protocol, Split, loo_split, make_split, ro_split
from catalog.store import Store
from catalog.types import (
    Dataset,
    FeedbackEvent,
    FeedbackKind,
    Interaction,
    InteractionKind,
    Item,
    RatingStats,
    User,
)

__all__ = [
    "DataConfig", "DataError", "Dataset", "FeedbackEvent", "FeedbackKind", "FetchError", "Interaction",
    "InteractionKind", "Item", "LoadReport", "Protocol", "RatingStats", "Split", "Store", "TableMapping",
    "User", "Workspace", "ensure_ml100k", "load_amazon_reviews", "load_dataset", "load_movielens_native",
    "load_movielens_recbole", "load_table", "loo_split", "make_split", "ro_split",
]  # fmt: skip
