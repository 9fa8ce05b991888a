"""FAISS index, exact filters, persistence and candidate generators on small synthetic catalogs (real FAISS)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrieval
from catalog.types import Item
from retrieval import (
    Candidates,
    FaissIndex,
    Filters,
    HybridRetriever,
    IndexConfig,
    IndexMismatchError,
    ItemToItemRetriever,
    Query,
    Retriever,
    UserVectorRetriever,
    reciprocal_rank_fusion,
)

CATS = ("Action", "Comedy", "Drama", "Sci-Fi", "Horror")
DIM = 8


def make_catalog(n: int, seed: int) -> tuple[list[Item], np.ndarray]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        cats = tuple(c for c in CATS if rng.random() < 0.3)
        year = None if rng.random() < 0.1 else int(rng.integers(1950, 2000))
        price = None if rng.random() < 0.2 else float(rng.integers(0, 50))
        items.append(Item(item_id=f"i{i}", title=f"Item {i}", categories=cats, year=year, price=price))
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return items, vecs


def build(items: list[Item], vecs: np.ndarray, kind: str = "flat", **cfg: object) -> FaissIndex:
    config = IndexConfig(kind=kind, hnsw_m=8, hnsw_ef_construction=32, hnsw_ef_search=16, **cfg)  # type: ignore[arg-type]
    return FaissIndex.build(
        vecs, [it.item_id for it in items], config, items=items, encoder_id="enc-a", catalog_hash="cat-1"
    )


def brute_force(items: list[Item], vecs: np.ndarray, q: np.ndarray, n: int, flt: Filters) -> list[str]:
    ok = [i for i, it in enumerate(items) if flt.matches(it)]
    scores = vecs[ok] @ q
    order = np.argsort(-scores, kind="stable")[:n]
    return [items[ok[j]].item_id for j in order]


filters_st = st.builds(
    Filters,
    include_categories=st.frozensets(st.sampled_from((*CATS, "sci-fi", "Western")), max_size=2),
    exclude_categories=st.frozensets(st.sampled_from(CATS), max_size=2),
    year_min=st.one_of(st.none(), st.integers(1940, 2000)),
    year_max=st.one_of(st.none(), st.integers(2000, 2010)),
    price_min=st.one_of(st.none(), st.floats(0, 30)),
    price_max=st.one_of(st.none(), st.floats(30, 60)),
    exclude_ids=st.frozensets(st.sampled_from([f"i{i}" for i in range(60)]), max_size=10),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_items=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    n=st.integers(0, 70),
    flt=filters_st,
    kind=st.sampled_from(["flat", "hnsw", "ivf", "ivfpq"]),
    exact_subset_max=st.sampled_from([0, 10_000]),
)
def test_every_result_passes_its_filter_and_count_is_min_n_matches(
    n_items: int, seed: int, n: int, flt: Filters, kind: str, exact_subset_max: int
) -> None:
    items, vecs = make_catalog(n_items, seed)
    index = build(items, vecs, kind, exact_subset_max=exact_subset_max)
    q = np.random.default_rng(seed + 1).standard_normal(DIM).astype(np.float32)
    got = index.search(q, n, flt)[0]
    matches = sum(flt.matches(it) for it in items)
    assert len(got) == min(n, matches)
    assert len(set(got.item_ids)) == len(got)
    by_id = {it.item_id: it for it in items}
    assert all(flt.matches(by_id[i]) for i in got.item_ids)
    assert np.all(np.diff(got.scores) <= 1e-6)
    if kind == "flat":  # exact: the same items as brute force, up to ties
        want = brute_force(items, vecs, q, n, flt)
        want_scores = np.sort(vecs[[int(i[1:]) for i in want]] @ q)[::-1]
        np.testing.assert_allclose(got.scores, want_scores, atol=1e-5)


def test_filters_match_semantics() -> None:
    it = Item(item_id="x", title="X", categories=("Sci-Fi", "Drama"), year=1990, price=None)
    assert Filters(include_categories={"sci-fi", "Horror"}).matches(it)
    assert not Filters(include_categories={"Horror"}).matches(it)
    assert not Filters(exclude_categories={"drama"}).matches(it)
    assert Filters(year_min=1990, year_max=1990).matches(it)
    assert not Filters(price_max=10).matches(it)  # unknown price fails a price bound
    assert not Filters(exclude_ids={"x"}).matches(it)
    assert Filters().is_empty() and not Filters(year_min=1).is_empty()
    with pytest.raises(ValueError, match="year_min"):
        Filters(year_min=2000, year_max=1990)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_round_trips_through_disk(tmp_path: Path, kind: str) -> None:
    items, vecs = make_catalog(50, 3)
    index = build(items, vecs, kind)
    man = index.save(tmp_path)
    assert (man.count, man.dim, man.index_type, man.encoder_id, man.catalog_hash) == (50, DIM, kind, "enc-a", "cat-1")
    loaded = FaissIndex.load(tmp_path, index.config, encoder_id="enc-a", dim=DIM, catalog_hash="cat-1")
    assert loaded.kind == kind and len(loaded) == 50
    qs = np.random.default_rng(0).standard_normal((5, DIM)).astype(np.float32)
    flt = Filters(include_categories={"Drama"}, year_min=1960)
    for a, b in zip(index.search(qs, 7, flt), loaded.search(qs, 7, flt), strict=True):
        assert a.item_ids == b.item_ids
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    assert loaded.attributes.category_names() == index.attributes.category_names()


def test_mismatched_or_damaged_index_is_refused(tmp_path: Path) -> None:
    items, vecs = make_catalog(30, 4)
    build(items, vecs).save(tmp_path)
    for kwargs, words in (
        ({"encoder_id": "enc-b"}, "encoder"),
        ({"dim": DIM + 1}, "dimension"),
        ({"catalog_hash": "cat-2"}, "different catalog"),
    ):
        with pytest.raises(IndexMismatchError, match=words) as e:
            FaissIndex.load(tmp_path, **kwargs)  # type: ignore[arg-type]
        assert "trustrec index build" in str(e.value)
    # a changed index file fails its checksum
    raw = bytearray((tmp_path / "index.faiss").read_bytes())
    raw[-5] ^= 0xFF
    (tmp_path / "index.faiss").write_bytes(bytes(raw))
    with pytest.raises(IndexMismatchError, match="checksum"):
        FaissIndex.load(tmp_path, encoder_id="enc-a")
    # a manifest that lies about the count
    build(items, vecs).save(tmp_path)
    man = json.loads((tmp_path / "manifest.json").read_text())
    man["count"] = 31
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(IndexMismatchError, match="trustrec index build"):
        FaissIndex.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="trustrec index build"):
        FaissIndex.load(tmp_path / "missing")


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_add_update_remove(kind: str) -> None:
    items, vecs = make_catalog(40, 5)
    index = build(items[:30], vecs[:30], kind)
    index.add([it.item_id for it in items[30:]], vecs[30:], items=items[30:])
    assert len(index) == 40 and "i35" in index
    assert index.search(vecs[35], 1)[0].item_ids == ("i35",)
    with pytest.raises(ValueError, match="already"):
        index.add(["i1"], vecs[:1])
    # update: i3 takes i7's direction and i7's attributes change
    index.update(["i3"], vecs[7:8])
    assert set(index.search(vecs[7], 2)[0].item_ids) == {"i3", "i7"}
    new7 = items[7].model_copy(update={"categories": ("Western",)})
    index.update(["i7"], vecs[7:8], items=[new7])
    assert index.search(vecs[7], 5, Filters(include_categories={"western"}))[0].item_ids == ("i7",)
    label3 = index.label("i3")
    index.remove(["i3", "i35"])
    assert len(index) == 38 and "i3" not in index
    got = index.search(vecs[7], 40)[0]
    assert len(got) == 38 and "i3" not in got.item_ids and "i35" not in got.item_ids
    assert index.label("i7") == 7 and label3 == 3  # labels survive rebuilds
    with pytest.raises(KeyError, match="i3"):
        index.remove(["i3"])


@pytest.mark.parametrize("large_kind", ["ivf", "hnsw"])
def test_auto_kind_switches_to_large_kind_above_threshold(large_kind: str) -> None:
    items, vecs = make_catalog(30, 6)
    cfg = IndexConfig(kind="auto", flat_max_items=20, large_kind=large_kind)  # type: ignore[arg-type]
    small = FaissIndex.build(vecs[:20], [it.item_id for it in items[:20]], cfg, items=items[:20])
    assert small.kind == "flat"
    small.add([it.item_id for it in items[20:]], vecs[20:], items=items[20:])
    assert small.kind == large_kind and len(small) == 30
    assert small.search(vecs[25], 1)[0].item_ids == ("i25",)
    assert FaissIndex.build(vecs, [it.item_id for it in items], cfg).kind == large_kind
    assert IndexConfig().large_kind == "ivf"  # the default above flat_max_items


def test_gpu_flag_warns_never_crashes() -> None:
    assert isinstance(retrieval.HAS_GPU, bool)
    items, vecs = make_catalog(10, 7)
    if not retrieval.HAS_GPU:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            index = build(items, vecs, use_gpu="always")
        assert any("GPU" in str(w.message) for w in caught)
    else:
        index = build(items, vecs, use_gpu="always")
    assert len(index.search(vecs[0], 3)[0]) == 3


def test_generators_share_one_result_type() -> None:
    items, vecs = make_catalog(40, 8)
    index = build(items, vecs)
    i2i = ItemToItemRetriever(index)
    got = i2i.retrieve(Query(item_ids=("i4",)), 5)
    assert len(got) == 5 and "i4" not in got.item_ids and set(got.sources) == {"item"}
    user = UserVectorRetriever(index, provider=lambda uid: vecs[9] if uid == "u1" else None)
    assert user.retrieve(Query(user_id="u1"), 1).item_ids == ("i9",)
    assert len(user.retrieve(Query(user_id="u2"), 3)) == 0
    assert user.retrieve(Query(user_vector=vecs[11]), 1).item_ids == ("i11",)
    for r in (i2i, user):
        assert isinstance(r, Retriever)
    hyb = HybridRetriever([i2i, user])
    flt = Filters(exclude_categories={"Drama"})
    fused = hyb.retrieve(Query(user_vector=vecs[4], item_ids=("i4",)), 6, flt)
    assert len(fused) == 6 and "i4" not in fused.item_ids
    assert all(flt.matches(items[int(i[1:])]) for i in fused.item_ids)
    assert any(s == "item+user" for s in fused.sources)


def test_reciprocal_rank_fusion_known_answer() -> None:
    a = Candidates(("x", "y", "z"), np.array([3, 2, 1]), ("a",) * 3)
    b = Candidates(("z", "x"), np.array([9, 8]), ("b",) * 2)
    fused = reciprocal_rank_fusion([a, b], k=60)
    assert fused.item_ids == ("x", "z", "y")
    np.testing.assert_allclose(fused.scores, [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62], rtol=1e-6)
    assert fused.sources == ("a+b", "a+b", "a")
    with pytest.raises(ValueError):
        Candidates(("x",), np.array([1.0, 2.0]), ("a",))


def test_public_api_is_pinned() -> None:
    assert set(retrieval.__all__) == {
        "Candidates", "EncoderConfig", "FaissIndex", "Filters", "HAS_GPU", "HybridRetriever", "IndexConfig",
        "IndexManifest", "IndexMismatchError", "ItemToItemRetriever", "Query", "RetrievalConfig", "Retriever",
        "SemanticRetriever", "TextEncoder", "UserVectorProvider", "UserVectorRetriever", "build_index",
        "build_or_load_index", "catalog_hash", "index_folder", "reciprocal_rank_fusion",
    }  # fmt: skip
    for name in retrieval.__all__:
        assert getattr(retrieval, name) is not None


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    code = "import sys, retrieval; assert not {'faiss', 'torch', 'sentence_transformers'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
