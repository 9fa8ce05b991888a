"""Catalog-scale benchmark: what fitting and serving cost as the catalog grows (``trustrec bench scale``).

For cost, not quality. Per size, in a fresh child process (so its peak RSS is its own): a seeded
synthetic shop (:mod:`catalog.synthetic`: Zipf item popularity, power-law user activity, word-list
titles), the RO 8:1:1 split, then each model fitted on train (EASE: dense below
``sparse_above`` items, low rank above; ItemKNN: dense or block-wise top-k), its size on disk, and
recommend + explain for the top ``n`` (SHAP history attributions, trust report, list metrics) for
sampled users, candidate-first on large catalogs. Growth exponents between sizes are
``log(cost ratio) / log(size ratio)``: ~1 is linear, ~2 is quadratic.

Figures are wall-clock on this machine; print them with the load average (``uptime``). Nothing asserts a time.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Progress = Callable[[str], None]


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def _pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95))}


def _disk_bytes(model: Any, folder: Path) -> int:
    """Bytes the model's learnt matrices take saved (``.npz``: CSR parts, low-rank factors or dense)."""
    import scipy.sparse as sp

    from ranker.sparse import LowRankEASE

    m = getattr(model, "B", None)
    if m is None:
        m = getattr(model, "W", None)
    path = folder / f"{model.name}.npz"
    if isinstance(m, LowRankEASE):
        np.savez(path, *m.arrays().values())
    elif sp.issparse(m):
        sp.save_npz(path, sp.csr_matrix(m), compressed=False)
    else:
        np.savez(path, b=np.asarray(m))
    return path.stat().st_size


def run_size(
    n_items: int,
    n_users: int,
    n_interactions: int,
    *,
    models: Sequence[str] = ("ease", "itemknn"),
    requests: int = 50,
    n: int = 10,
    seed: int = 0,
    sparse_above: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One catalog size in this process. Returns its figures (see the module docstring)."""
    from catalog.splits import make_split
    from catalog.synthetic import SyntheticShopConfig, generate_shop_dataset
    from ranker.base import Profile
    from ranker.baselines import EASEConfig, EASERanker, ItemKNNConfig, ItemKNNRanker, train_matrix
    from ranker.calibration import Calibrator
    from ranker.explain import ExplainConfig, RecommendationExplainer
    from ranker.features import SPARSE_ABOVE

    say = progress or (lambda _m: None)
    above = SPARSE_ABOVE if sparse_above is None else sparse_above
    out: dict[str, Any] = {"items": n_items, "users": n_users, "interactions_asked": n_interactions}
    t0 = time.perf_counter()
    cfg = SyntheticShopConfig(
        n_items=n_items, n_users=n_users, events_per_user=n_interactions / n_users, seed=seed, n_categories=50
    )
    ds = generate_shop_dataset(cfg)
    out["interactions"] = len(ds.interactions)
    out["generate_s"] = time.perf_counter() - t0
    say(f"{n_items} items: generated {len(ds.interactions):,} interactions in {out['generate_s']:.1f} s")
    t0 = time.perf_counter()
    split = make_split(ds, "ro811", seed=seed)
    out["split_s"] = time.perf_counter() - t0
    x = train_matrix(ds, split)
    counts = np.asarray(x.sum(0)).ravel().astype(np.int64)
    out["rss_after_data_mb"] = _current_rss_mb()
    rng = np.random.default_rng(seed)
    hist = split.histories("train")
    valid = split.histories("valid")
    users = np.flatnonzero([h.size > 0 for h in hist])
    picked = rng.choice(users, min(requests, users.size), replace=False)
    out["models"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            t0 = time.perf_counter()
            model: Any
            if name == "ease":
                model = EASERanker(EASEConfig(sparse_above=above)).fit_matrix(x)
            elif name == "itemknn":
                model = ItemKNNRanker(ItemKNNConfig(sparse_above=above)).fit_matrix(x)
            else:
                raise ValueError(f"bench scale fits ease and itemknn, not {name!r}")
            fit_s = time.perf_counter() - t0
            size = _disk_bytes(model, Path(tmp))
            say(f"{n_items} items: {name} fitted in {fit_s:.1f} s, {size / 2**20:.1f} MiB on disk")
            # a calibrator from validation positives and random negatives (cost, not calibration quality)
            cal_users = rng.choice(users, min(300, users.size), replace=False)
            scores, labels = [], []
            for u in cal_users.tolist():
                pos = valid[u][:5]
                neg = rng.integers(0, ds.n_items, 20)
                items = np.concatenate([pos, neg])
                s = model.score([Profile(hist[u], user_idx=u)], items)[0]
                scores.append(s)
                labels.append(np.r_[np.ones(pos.size), np.zeros(neg.size)])
            cal = Calibrator.fit(np.concatenate(scores), np.concatenate(labels), method="platt")
            explainer = RecommendationExplainer(model, ds, cal, counts, ExplainConfig(candidate_first_above=above))
            times, additivity = [], 0.0
            for u in picked.tolist():
                t1 = time.perf_counter()
                res = explainer(Profile(hist[u], user_idx=u), n)
                times.append(time.perf_counter() - t1)
                additivity = max(additivity, res.max_additivity_error)
            out["models"][name] = {
                "fit_s": fit_s,
                "disk_mb": size / 2**20,
                "recommend_explain": _pct(times),
                "max_additivity_error": additivity,
                "form": type(getattr(model, "B", getattr(model, "W", None))).__name__,
                "rss_mb": _current_rss_mb(),
            }
            say(
                f"{n_items} items: {name} recommend+explain p50 {out['models'][name]['recommend_explain']['p50_ms']:.1f} ms"
            )
            del model, explainer
    out["peak_rss_mb"] = _rss_mb()
    return out


def _exponent(va: float, vb: float, d_int: float, d_items: float) -> dict[str, float]:
    r = math.log(max(vb, 1e-9) / max(va, 1e-9))
    return {
        "vs_interactions": r / d_int if d_int else float("nan"),
        "vs_items": r / d_items if d_items else float("nan"),
    }


def exponents(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Growth exponents between consecutive sizes, against interactions and against items."""
    out = []
    for a, b in itertools.pairwise(rows):
        d = (math.log(b["interactions"] / a["interactions"]), math.log(b["items"] / a["items"]))
        e: dict[str, Any] = {"from_items": a["items"], "to_items": b["items"]}
        e["peak_rss"] = _exponent(a["peak_rss_mb"], b["peak_rss_mb"], *d)
        for name in a["models"]:
            if name in b["models"]:
                ma, mb = a["models"][name], b["models"][name]
                e[name] = {
                    "fit_s": _exponent(ma["fit_s"], mb["fit_s"], *d),
                    "disk_mb": _exponent(ma["disk_mb"], mb["disk_mb"], *d),
                    "p50": _exponent(ma["recommend_explain"]["p50_ms"], mb["recommend_explain"]["p50_ms"], *d),
                }
        out.append(e)
    return out


def run_scale(
    sizes: Sequence[tuple[int, int, int]],
    *,
    models: Sequence[str] = ("ease", "itemknn"),
    requests: int = 50,
    seed: int = 0,
    sparse_above: int | None = None,
    timeout_s: float = 3600.0,
    blas_threads: int | None = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every ``(items, users, interactions)`` size in its own child process; figures plus growth exponents.

    ``blas_threads`` caps the children's BLAS/OpenMP threads (None: the libraries' default). One thread
    by default: on a busy 2-core machine OpenBLAS's spinning threads made a low-rank EASE fit ~40x slower
    (ml-100k, rank 256: 46 s against 1.0 s with one thread, load average ~8).

    Raises:
        RuntimeError: A child failed (its stderr tail is in the message) or ran past ``timeout_s``.
    """
    say = progress or (lambda _m: None)
    rows = []
    for items, users, inter in sizes:
        args = {
            "n_items": items, "n_users": users, "n_interactions": inter, "models": list(models),
            "requests": requests, "seed": seed, "sparse_above": sparse_above,
        }  # fmt: skip
        say(f"size {items:,} items, {users:,} users, {inter:,} interactions: child process starts")
        # the child's stderr is ours: its progress lines show as it works
        proc = subprocess.Popen(
            [sys.executable, "-m", "evals.scale", json.dumps(args)], stdout=subprocess.PIPE, text=True
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"bench scale: {items} items ran past {timeout_s:.0f} s; lower the size") from None
        if proc.returncode != 0:
            raise RuntimeError(f"bench scale: the {items}-item run failed (exit {proc.returncode}; its error is above)")
        rows.append(json.loads(stdout.strip().splitlines()[-1]))
    return {"sizes": rows, "exponents": exponents(rows), "load_average": _loadavg(), "blas_threads": blas_threads}


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def plot(result: dict[str, Any], path: Path) -> Path:
    """Fit time, peak RSS, disk size and recommend+explain p50 against catalog size (log-log), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["sizes"]
    items = [r["items"] for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    names = sorted({m for r in rows for m in r["models"]})
    panels: list[tuple[str, Callable[[dict[str, Any], str], float]]] = [
        ("fit time (s)", lambda r, m: r["models"][m]["fit_s"]),
        ("model on disk (MiB)", lambda r, m: r["models"][m]["disk_mb"]),
        ("recommend+explain p50 (ms)", lambda r, m: r["models"][m]["recommend_explain"]["p50_ms"]),
    ]
    for ax, (title, get) in zip(axes[:3], panels, strict=True):
        for m in names:
            ax.plot(items, [get(r, m) for r in rows], marker="o", label=m)
        ax.set_title(title)
    axes[3].plot(items, [r["peak_rss_mb"] for r in rows], marker="o", color="k", label="peak RSS")
    first = rows[0]
    linear = [first["peak_rss_mb"] * r["interactions"] / first["interactions"] for r in rows]
    axes[3].plot(items, linear, ls="--", color="grey", label="linear in interactions")
    axes[3].set_title("peak RSS (MiB)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("items")
        ax.legend(fontsize=8)
    fig.suptitle(f"trustrec bench scale (load average {result.get('load_average')})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _child(argv: list[str]) -> None:
    args = json.loads(argv[0])

    def say(msg: str) -> None:
        print(f"bench scale: {msg}", file=sys.stderr, flush=True)

    res = run_size(**args, progress=say)
    print(json.dumps(res))


if __name__ == "__main__":
    _child(sys.argv[1:])
