"""Suite reports: results JSON, Markdown, and one self-contained HTML file with the plots embedded.

Plots are drawn from the ``artifacts`` of each check result (and the suite-level ones, e.g. the
learning curves from the training logs) with matplotlib's Agg backend. Each artifact is a dict with a
``type`` that names its plotter; :func:`register_plot` adds types. Built-in types:

- ``bars``: ``labels``, ``series`` ({name: values}), optional ``ylabel``, ``horizontal``.
- ``lines``: ``x``, ``series`` ({name: ys}), ``xlabel``, ``ylabel``.
- ``histogram``: ``edges``, ``series`` ({name: share per bin}), ``xlabel``, ``ylabel``.
- ``reliability``: ``views`` ({name: {bins: {mean_p, freq, weight}, ece, brier}}).
- ``learning_curve``: ``runs`` ([{name, rows: [{epoch, loss, ndcg@10, ...}]}]).

The Markdown report links the PNG files written next to it; the HTML report embeds them as
``data:image/png;base64`` so it can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Plot", "register_plot", "render_plots", "write_reports"]

Plotter = Callable[[Any, dict[str, Any]], None]
"""``plotter(figure, artifact)`` draws the artifact onto an empty matplotlib figure."""

_PLOTTERS: dict[str, Plotter] = {}


@dataclass(frozen=True)
class Plot:
    """One rendered plot."""

    key: str
    check: str
    title: str
    png: bytes

    @property
    def filename(self) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{self.check}-{self.key}")
        return f"{safe}.png"

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def register_plot(kind: str, fn: Plotter, *, replace: bool = False) -> None:
    """Add a plotter for artifacts of ``type == kind``.

    Raises:
        ValueError: ``kind`` exists and ``replace`` is False.
    """
    if kind in _PLOTTERS and not replace:
        raise ValueError(f"plot type {kind!r} already registered; pass replace=True to overwrite it")
    _PLOTTERS[kind] = fn


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _bars(fig: Any, a: dict[str, Any]) -> None:
    import numpy as np

    ax = fig.add_subplot(1, 1, 1)
    labels = [str(x) for x in a.get("labels", [])]
    series = a.get("series", {})
    k = max(len(series), 1)
    width = 0.8 / k
    pos = np.arange(len(labels))
    for j, (name, vals) in enumerate(series.items()):
        vals = [_num(v) for v in vals]
        if a.get("horizontal"):
            ax.barh(pos + j * width, vals, height=width, label=name)
        else:
            ax.bar(pos + j * width, vals, width=width, label=name)
    if a.get("horizontal"):
        ax.set_yticks(pos + width * (k - 1) / 2, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(a.get("ylabel", ""))
    else:
        ax.set_xticks(pos + width * (k - 1) / 2, labels, rotation=30 if len(labels) > 6 else 0, fontsize=8)
        ax.set_ylabel(a.get("ylabel", ""))
    if len(series) > 1:
        ax.legend(fontsize=8)


def _lines(fig: Any, a: dict[str, Any]) -> None:
    ax = fig.add_subplot(1, 1, 1)
    x = a.get("x", [])
    for name, ys in a.get("series", {}).items():
        ys = [_num(v) for v in ys]
        ax.plot(
            x[: len(ys)] if x else range(len(ys)),
            ys,
            marker="o",
            ms=3,
            label=name,
            ls="--" if "random" in name else "-",
        )
    ax.set_xlabel(a.get("xlabel", ""))
    ax.set_ylabel(a.get("ylabel", ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _histogram(fig: Any, a: dict[str, Any]) -> None:
    ax = fig.add_subplot(1, 1, 1)
    edges = [_num(e) for e in a.get("edges", [])]
    for name, share in a.get("series", {}).items():
        ax.stairs(
            [_num(v) for v in share],
            edges,
            label=name,
            fill=name == "recommendations",
            alpha=0.5 if name == "recommendations" else 1.0,
        )
    ax.set_xlabel(a.get("xlabel", ""))
    ax.set_ylabel(a.get("ylabel", "share"))
    ax.legend(fontsize=8)


def _reliability(fig: Any, a: dict[str, Any]) -> None:
    views = a.get("views", {})
    for i, (name, v) in enumerate(views.items(), start=1):
        ax = fig.add_subplot(1, len(views), i)
        b = v.get("bins", {})
        mp, fr = [_num(x) for x in b.get("mean_p", [])], [_num(x) for x in b.get("freq", [])]
        top = max([*mp, *fr, 0.0]) * 1.1 or 1.0
        ax.plot([0, top], [0, top], ls="--", color="grey", lw=1, label="perfect")
        ax.plot(mp, fr, marker="o", label="model")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("mean predicted probability (bin)")
        ax.set_ylabel("observed frequency")
        ax.set_title(f"{name}: ECE {_num(v.get('ece')):.4f}, Brier {_num(v.get('brier')):.4f}", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")


def _learning_curve(fig: Any, a: dict[str, Any]) -> None:
    ax = fig.add_subplot(1, 2, 1)
    ax2 = fig.add_subplot(1, 2, 2)
    for run in a.get("runs", []):
        rows = run.get("rows", [])
        ep = [r.get("epoch") for r in rows]
        ax.plot(ep, [_num(r.get("loss")) for r in rows], marker="o", ms=3, label=run.get("name", "run"))
        metric = next((k for k in ("ndcg@10", "recall@10") if any(k in r for r in rows)), None)
        if metric:
            ax2.plot(
                ep, [_num(r.get(metric)) for r in rows], marker="s", ms=3, label=f"{run.get('name', 'run')} {metric}"
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation metric")
    for x in (ax, ax2):
        x.grid(alpha=0.3)
        x.legend(fontsize=7)


for _k, _f in (
    ("bars", _bars),
    ("lines", _lines),
    ("histogram", _histogram),
    ("reliability", _reliability),
    ("learning_curve", _learning_curve),
):
    register_plot(_k, _f)


def _render(key: str, check: str, a: dict[str, Any]) -> Plot | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fn = _PLOTTERS.get(str(a.get("type")))
    if fn is None:
        return None
    wide = a.get("type") in ("learning_curve",) or len(a.get("views", {})) > 1
    fig = plt.figure(figsize=(10.5 if wide else 6.8, 4.2))
    try:
        fn(fig, a)
        title = str(a.get("title", key))
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=96)
    finally:
        plt.close(fig)
    return Plot(key, check, title, buf.getvalue())


def render_plots(result: dict[str, Any]) -> list[Plot]:
    """Every plot of a suite result dict (``SuiteResult.to_dict()``), suite-level ones first."""
    plots: list[Plot] = []
    for key, a in (result.get("artifacts") or {}).items():
        if isinstance(a, dict) and (p := _render(key, "suite", a)) is not None:
            plots.append(p)
    for c in result.get("checks", []):
        for key, a in (c.get("artifacts") or {}).items():
            if isinstance(a, dict) and (p := _render(key, c["name"], a)) is not None:
                plots.append(p)
    return plots


# -------------------------------------------------------------------------------------------- text


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "unavailable": "UNAVAILABLE", "skipped": "SKIPPED"}


def _key_metrics(c: dict[str, Any], limit: int = 40) -> list[tuple[str, Any]]:
    from evals.suite import flatten_metrics

    flat = flatten_metrics(c.get("metrics") or {})
    return [(k, v) for k, v in flat.items() if not isinstance(v, str) or len(v) < 80][:limit]


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}
.passed{color:#137333}.failed,.error,.unavailable{color:#b3261e;font-weight:bold}.skipped{color:#8a6d00}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}code{background:#f4f4f4;padding:0 3px}
details{margin:.5em 0}pre{background:#f7f7f7;padding:.5em;overflow:auto;font-size:12px}
"""


def _view(result: dict[str, Any], plots: list[Plot]) -> dict[str, Any]:
    """What both report templates show: the result with each check's mark, plots and key figures."""
    by_check: dict[str, list[Plot]] = {}
    for p in plots:
        by_check.setdefault(p.check, []).append(p)
    checks = [
        {
            **c,
            "mark": _MARK[c["status"]],
            "met": sum(t["passed"] for t in c["thresholds"]),
            "key_metrics": _key_metrics(c),
            "plots": by_check.get(c["name"], []),
            "notes": c.get("notes", []),
        }
        for c in result["checks"]
    ]
    return {
        "r": result,
        "status": "PASSED" if result["passed"] else "FAILED",
        "checks": checks,
        "suite_plots": by_check.get("suite", []),
        "environment": json.dumps(result.get("environment", {})),
        "css": _CSS,
    }


def _render_template(name: str, result: dict[str, Any], plots: list[Plot]) -> str:
    """Render ``evals/templates/<name>`` (jinja2; HTML autoescaped, Markdown as is)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evals", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = _fmt
    return env.get_template(name).render(**_view(result, plots))


def write_reports(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` (+ ``plots/*.png``) and a self-contained ``report.html``.

    Args:
        result: ``SuiteResult.to_dict()``.
        out_dir: Folder (created).

    Returns:
        ``{"json": ..., "markdown": ..., "html": ..., "plots": folder}``.
    """
    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    plots = render_plots(result)
    for p in plots:
        (plots_dir / p.filename).write_bytes(p.png)
    paths = {
        "json": out_dir / "results.json",
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
        "plots": plots_dir,
    }
    paths["json"].write_text(json.dumps(result, indent=2, default=str) + "\n")
    paths["markdown"].write_text(_render_template("report.md.j2", result, plots))
    paths["html"].write_text(_render_template("report.html.j2", result, plots))
    return paths
