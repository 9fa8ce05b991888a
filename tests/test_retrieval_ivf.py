"""IVF and IVF-PQ index kinds, the size threshold, parameter checks, and resuming a killed build (real FAISS)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from retrieval import FaissIndex, IndexConfig
from retrieval.bench import recall_at_k, synthetic_vectors

ROOT = Path(__file__).resolve().parents[1]
DIM, N, CHUNK = 64, 3000, 700
SHAPE = {"n_clusters": 64, "latent_dim": 16}


def data() -> tuple[np.ndarray, list[str], np.ndarray]:
    vecs = synthetic_vectors(N, DIM, seed=0, **SHAPE)  # type: ignore[arg-type]
    queries = synthetic_vectors(60, DIM, seed=99, **SHAPE)  # type: ignore[arg-type]
    return vecs, [f"i{i}" for i in range(N)], queries


def cfg(kind: str, **kw: object) -> IndexConfig:
    base: dict[str, object] = {"ivf_nlist": 32, "ivf_nprobe": 4, "pq_m": 16, "build_chunk": CHUNK}
    return IndexConfig(kind=kind, **(base | kw))  # type: ignore[arg-type]


def exact_labels(vecs: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return FaissIndex.build(vecs, [str(i) for i in range(len(vecs))], IndexConfig(kind="flat")).search_labels(
        queries, k
    )[0]


def test_ivf_recall_against_exact_and_exhaustive_probe_is_exact() -> None:
    vecs, ids, qs = data()
    exact = exact_labels(vecs, qs)
    ivf = FaissIndex.build(vecs, ids, cfg("ivf"))
    assert ivf.kind == "ivf" and ivf.params == {"nlist": 32, "nprobe": 4}
    assert recall_at_k(ivf.search_labels(qs, 10)[0], exact, 10) >= 0.9
    ivf.set_nprobe(32)  # every list visited: the same items as exact search
    assert recall_at_k(ivf.search_labels(qs, 10)[0], exact, 10) == 1.0
    pq = FaissIndex.build(vecs, ids, cfg("ivfpq"))
    assert pq.kind == "ivfpq" and pq.params == {"nlist": 32, "nprobe": 4, "pq_m": 16, "pq_nbits": 8}
    r_pq = recall_at_k(pq.search_labels(qs, 10)[0], exact, 10)
    assert 0.4 <= r_pq < 1.0  # compressed: approximate scores
    # stored vectors: exact for IVF, decoded codes (close, not equal) for IVF-PQ
    np.testing.assert_array_equal(ivf.vectors(["i5"])[0], vecs[5])
    err = np.abs(pq.vectors(["i5"])[0] - vecs[5]).max()
    assert 0 < err < 0.2
    # every result list is still full, with filters too
    got = pq.search(qs[0], 25)[0]
    assert len(got) == 25 and len(set(got.item_ids)) == 25


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_new_kinds_round_trip_and_manifest_says_what_they_hold(tmp_path: Path, kind: str) -> None:
    vecs, ids, qs = data()
    index = FaissIndex.build(vecs, ids, cfg(kind), encoder_id="e")
    man = index.save(tmp_path)
    assert man.index_type == kind and man.params["nlist"] == 32 and man.count == N
    assert ("pq_m" in man.params) == (kind == "ivfpq")
    loaded = FaissIndex.load(tmp_path, cfg(kind), encoder_id="e")
    assert loaded.kind == kind
    np.testing.assert_array_equal(loaded.search_labels(qs, 10)[0], index.search_labels(qs, 10)[0])
    loaded.remove(["i1", "i2"])  # rebuilt on the trained centroids, labels kept
    assert len(loaded) == N - 2 and loaded.params["nlist"] == 32 and loaded.label("i9") == 9


def test_auto_switches_kind_at_the_threshold() -> None:
    vecs, ids, _ = data()
    auto = IndexConfig(kind="auto", flat_max_items=1000, ivf_nlist=16)
    assert FaissIndex.build(vecs[:1000], ids[:1000], auto).kind == "flat"
    assert FaissIndex.build(vecs[:1001], ids[:1001], auto).kind == "ivf"
    grown = FaissIndex.build(vecs[:1000], ids[:1000], auto)
    grown.add(ids[1000:1200], vecs[1000:1200])
    assert grown.kind == "ivf" and len(grown) == 1200 and grown.params["nlist"] == 16
    assert grown.search(vecs[1100], 1)[0].item_ids == ("i1100",)
    hnsw = auto.model_copy(update={"large_kind": "hnsw"})
    assert FaissIndex.build(vecs[:1001], ids[:1001], hnsw).kind == "hnsw"
    # IVF-PQ needs 2**pq_nbits vectors to train its codebooks; fewer stay exact
    pq = IndexConfig(kind="ivfpq", pq_m=16)
    assert FaissIndex.build(vecs[:255], ids[:255], pq).kind == "flat"
    assert FaissIndex.build(vecs[:256], ids[:256], pq).kind == "ivfpq"
    # nlist is capped so each list has about 39 training points
    assert FaissIndex.build(vecs[:390], ids[:390], IndexConfig(kind="ivf")).params["nlist"] == 10


def test_bad_parameters_give_clear_errors() -> None:
    vecs, ids, _ = data()
    with pytest.raises(ValueError, match=r"pq_m = 10 does not divide the vector dimension 64"):
        FaissIndex.build(vecs, ids, cfg("ivfpq", pq_m=10))
    for bad in ({"ivf_nprobe": 0}, {"ivf_nlist": 0}, {"pq_nbits": 20}, {"kind": "ivff"}, {"build_chunk": 0}):
        with pytest.raises(ValidationError):
            IndexConfig(**bad)  # type: ignore[arg-type]
    index = FaissIndex.build(vecs[:500], ids[:500], cfg("ivf"))
    with pytest.raises(ValueError, match="nprobe must be >= 1"):
        index.set_nprobe(0)
    with pytest.raises(ValueError, match="only for building a new index"):
        index.add(ids[500:510], vecs[500:510], checkpoint=Path("unused"))


KILLER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.test_retrieval_ivf import cfg, data
from retrieval import FaissIndex

vecs, ids, _ = data()

def progress(done, total):
    if done >= 2 * {chunk}:
        os.kill(os.getpid(), signal.SIGKILL)  # a killed process: no cleanup of any kind runs

FaissIndex.build(vecs, ids, cfg({kind!r}), checkpoint={folder!r}, progress=progress)
"""


@pytest.mark.parametrize("kind", ["ivf", "ivfpq", "flat"])
def test_a_killed_build_resumes_after_its_last_chunk_and_equals_an_uninterrupted_one(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "ckpt"
    code = textwrap.dedent(KILLER).format(root=str(ROOT), chunk=CHUNK, kind=kind, folder=str(folder))
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=300, capture_output=True)
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    assert sorted(p.name for p in folder.glob("shard-*")) == ["shard-00000.faiss", "shard-00001.faiss"]
    assert (folder / "trained.faiss").is_file() == (kind != "flat")

    vecs, ids, qs = data()
    seen: list[tuple[int, int]] = []
    trained: list[tuple[int, int]] = []
    resumed = FaissIndex.build(
        vecs, ids, cfg(kind), checkpoint=folder, progress=lambda d, t: seen.append((d, t)),
        train_progress=lambda d, t: trained.append((d, t)),
    )  # fmt: skip
    assert seen[0] == (2 * CHUNK, N) and seen[-1] == (N, N)  # resumed, not restarted
    if kind != "flat":
        assert trained == [(1, 1), (1, 1)]  # the trained centroids came from the checkpoint
    whole = FaissIndex.build(vecs, ids, cfg(kind))
    assert len(resumed) == len(whole) == N
    for a, b in zip(resumed.search_labels(qs, 10), whole.search_labels(qs, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.vectors(["i2999", "i0"]), whole.vectors(["i2999", "i0"]))


def test_hnsw_build_resumes_from_its_last_snapshot_and_other_input_starts_over(tmp_path: Path) -> None:
    vecs, ids, qs = data()
    config = cfg("hnsw", hnsw_m=8, hnsw_ef_construction=32)

    class Stop(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done >= 2 * CHUNK:
            raise Stop

    with pytest.raises(Stop):
        FaissIndex.build(vecs, ids, config, checkpoint=tmp_path, progress=stop_after_two)
    assert [p.name for p in tmp_path.glob("snapshot-*")] == ["snapshot-00002.faiss"]
    seen: list[int] = []
    resumed = FaissIndex.build(vecs, ids, config, checkpoint=tmp_path, progress=lambda d, t: seen.append(d))
    assert seen[0] == 2 * CHUNK and len(resumed) == N
    exact = exact_labels(vecs, qs)
    assert recall_at_k(resumed.search_labels(qs, 10)[0], exact, 10) >= 0.9
    # other vectors in the same folder: the old checkpoint is not reused
    seen.clear()
    FaissIndex.build(vecs[::-1].copy(), ids, config, checkpoint=tmp_path, progress=lambda d, t: seen.append(d))
    assert seen[0] == 0
