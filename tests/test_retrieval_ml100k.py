"""Retrieval on the real ml-100k catalog with the real packaged encoder (index built once per module)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence

import numpy as np
import pytest
from typer.testing import CliRunner

from catalog import Dataset, Workspace, load_dataset
from retrieval import (
    FaissIndex,
    Filters,
    HybridRetriever,
    IndexMismatchError,
    ItemToItemRetriever,
    Query,
    RetrievalConfig,
    SemanticRetriever,
    TextEncoder,
    build_or_load_index,
    index_folder,
)
from retrieval.encoder import EmbeddingCache, ProgressFn

pytestmark = pytest.mark.slow


class CountingEncoder(TextEncoder):
    """The real encoder, counting the texts it actually encodes."""

    encoded = 0

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        CountingEncoder.encoded += len(texts)
        return super().encode(texts, progress=progress)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return load_dataset()


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return CountingEncoder()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, encoder: TextEncoder) -> Workspace:
    """A fresh workspace; the item-embedding cache is seeded from the default workspace when present
    (it is keyed by encoder id and text hash, so a seeded entry is exactly what encoding would give)."""
    ws = Workspace(tmp_path_factory.mktemp("ws"))
    src = EmbeddingCache(Workspace().cache, encoder.encoder_id).folder
    if (src / "manifest.json").is_file():
        dst = EmbeddingCache(ws.cache, encoder.encoder_id).folder
        shutil.copytree(src, dst)
    return ws


@pytest.fixture(scope="module")
def index(ds: Dataset, ws: Workspace, encoder: TextEncoder) -> FaissIndex:
    return build_or_load_index(ds, ws, RetrievalConfig(), encoder=encoder)


@pytest.fixture(scope="module")
def semantic(index: FaissIndex, encoder: TextEncoder) -> SemanticRetriever:
    return SemanticRetriever(index, encoder)


def test_index_covers_the_catalog(index: FaissIndex, ds: Dataset, encoder: TextEncoder) -> None:
    assert len(index) == ds.n_items and index.kind == "flat" and index.dim == 384
    assert index.label(ds.items[10].item_id) == 10  # labels are Dataset.item_idx
    v = index.vectors([ds.items[0].item_id])[0]
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 and v.dtype == np.float32


def test_space_adventure_top10(semantic: SemanticRetriever, ds: Dataset) -> None:
    got = semantic.retrieve("space adventure", 10)
    assert len(got) == 10 and len(set(got.item_ids)) == 10
    assert np.all(np.diff(got.scores) <= 1e-6) and got.scores[0] > 0.3
    scifi = sum("Sci-Fi" in ds.item(i).categories for i in got.item_ids)
    assert scifi >= 3, [ds.item(i).title for i in got.item_ids]


def test_exclude_and_range_filters_on_real_data(semantic: SemanticRetriever, ds: Dataset) -> None:
    got = semantic.retrieve("space adventure", 10, Filters(exclude_categories={"Sci-Fi"}))
    assert len(got) == 10 and not any("Sci-Fi" in ds.item(i).categories for i in got.item_ids)
    flt = Filters(include_categories={"Horror", "Film-Noir"}, year_min=1950, year_max=1979)
    matches = [it for it in ds.items if flt.matches(it)]
    got = semantic.retrieve("scary night", 500, flt)
    assert len(got) == len(matches) > 10
    assert {ds.item(i).item_id for i in got.item_ids} == {it.item_id for it in matches}


def test_more_like_this_and_hybrid(index: FaissIndex, semantic: SemanticRetriever, ds: Dataset) -> None:
    star_wars = next(it for it in ds.items if it.title.startswith("Star Wars"))
    like = ItemToItemRetriever(index).retrieve(Query(item_ids=(star_wars.item_id,)), 10)
    assert len(like) == 10 and star_wars.item_id not in like.item_ids
    assert sum("Sci-Fi" in ds.item(i).categories for i in like.item_ids) >= 5
    fused = HybridRetriever([semantic, ItemToItemRetriever(index)]).retrieve(
        Query(text="space adventure", item_ids=(star_wars.item_id,)), 20
    )
    assert len(fused) == 20 and star_wars.item_id not in fused.item_ids
    assert "semantic+item" in fused.sources


def test_restart_reuses_cache_and_stale_index_is_refused(ds: Dataset, ws: Workspace, index: FaissIndex) -> None:
    enc = CountingEncoder()
    before = CountingEncoder.encoded
    again = build_or_load_index(ds, ws, RetrievalConfig(), encoder=enc)  # loads, encodes nothing
    assert len(again) == ds.n_items and CountingEncoder.encoded == before
    vecs = enc.encode_items(ds.items, cache_dir=ws.cache)
    assert CountingEncoder.encoded == before  # every item text is cached
    np.testing.assert_allclose(vecs[5], index.vectors([ds.items[5].item_id])[0], atol=1e-6)
    changed = Dataset(
        ds.name, [ds.items[0].model_copy(update={"title": "Toy Story, The Director's Cut"}), *ds.items[1:]],
        ds.users, ds.interactions,
    )  # fmt: skip
    with pytest.raises(IndexMismatchError, match="trustrec index build"):
        build_or_load_index(changed, ws, RetrievalConfig(), encoder=enc)
    other = RetrievalConfig(encoder={"model": "some/other-model"})  # type: ignore[arg-type]
    with pytest.raises(IndexMismatchError, match="encoder"):
        build_or_load_index(ds, ws, other)
    assert (index_folder(ws) / "manifest.json").is_file()


def test_cli_index_search_json(ws: Workspace, index: FaissIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.cli import app

    data = Workspace().data / "ml-100k"  # the prepared default dataset, read in place
    monkeypatch.setenv("TRUSTREC_HOME", str(ws.home))
    monkeypatch.setenv("TRUSTREC_DATA__SOURCE", "path")
    monkeypatch.setenv("TRUSTREC_DATA__PATH", str(data))
    runner = CliRunner()
    res = runner.invoke(app, ["index", "search", "space adventure", "--n", "10", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 10 and len({r["item_id"] for r in rows}) == 10
    assert all(r["title"] and isinstance(r["score"], float) for r in rows)
    res = runner.invoke(
        app, ["index", "search", "space adventure", "--n", "10", "--json", "--exclude-category", "Sci-Fi"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 10 and not any("Sci-Fi" in r["categories"] for r in rows)
