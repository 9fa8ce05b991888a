"""Shared helpers for the LLM tests: Evidence built from real ml-100k data."""

from __future__ import annotations

from functools import cache

from catalog import Dataset, load_dataset
from ranker.evidence import Evidence, HistoryAttribution, TrustReport


@cache
def dataset() -> Dataset:
    return load_dataset()


def real_evidence(user_id: str = "196", item_id: str = "181", k: int = 3) -> Evidence:
    """Evidence for ``item_id`` with the user's real highest-rated history titles as attributions."""
    ds = dataset()
    df = ds.interactions
    rows = df[df["user_id"] == user_id].sort_values(["value", "timestamp"], ascending=[False, True])
    hist = [ds.items[int(i)] for i in rows["item_idx"].tolist() if ds.items[int(i)].item_id != item_id][:k]
    it = ds.items[ds.item_index[item_id]]
    return Evidence(
        item_id=it.item_id, title=it.title, year=it.year, categories=list(it.categories), score=0.8, base_value=0.1,
        history=[HistoryAttribution(item_id=h.item_id, title=h.title, value=0.3 / (j + 1)) for j, h in enumerate(hist)],
        features={"collaborative": 0.4, "popularity": 0.1},
        trust=TrustReport(confidence=0.72, uncertainty=0.05, user_support=len(rows), item_support=it.rating.count,
                          cold_start=False, fidelity=0.1, composite=0.7),
    )  # fmt: skip


def titles() -> list[str]:
    return [it.title for it in dataset().items]
