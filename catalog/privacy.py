"""Deleted users stay deleted: the tombstone list (:meth:`catalog.Store.forget_user`) applied to a dataset.

Training (``trustrec train``, :func:`ranker.train.ensure_trained` through ``agent.Engine.build``) and
serving read the tombstones of the workspace store and drop those users' interactions and attributes
before anything is fitted or shown. User and item indices stay as they are, so a model trained before
the deletion still loads (the deleted user is then served like a new user, without history).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from catalog.store import Store, is_postgres_url
from catalog.types import Dataset, User

__all__ = ["apply_tombstones", "tombstoned_users", "without_users"]


def without_users(dataset: Dataset, user_ids: Iterable[str]) -> Dataset:
    """``dataset`` less every interaction and attribute of ``user_ids`` (indices unchanged).

    Returns ``dataset`` itself when none of the users is in it.
    """
    gone = {u for u in user_ids if u in dataset.user_index}
    if not gone:
        return dataset
    df = dataset.interactions
    keep = ~df["user_id"].isin(gone)
    users = [User(user_id=u.user_id) if u.user_id in gone else u for u in dataset.users]
    cols = [c for c in df.columns if c not in ("user_idx", "item_idx")]
    return Dataset(dataset.name, dataset.items, users, df.loc[keep, cols].reset_index(drop=True))


def tombstoned_users(dataset: Dataset, store: Store | str | Path) -> set[str]:
    """The users of ``dataset`` that were deleted (read from the store's tombstones)."""
    if isinstance(store, Store):
        return store.tombstoned(dataset.user_index)
    if not is_postgres_url(store) and not Path(store).is_file():
        return set()
    with Store(store) as s:
        return s.tombstoned(dataset.user_index)


def apply_tombstones(dataset: Dataset, store: Store | str | Path) -> tuple[Dataset, set[str]]:
    """Drop the deleted users' data from ``dataset``; returns the new dataset and who was dropped."""
    gone = tombstoned_users(dataset, store)
    return without_users(dataset, gone), gone
