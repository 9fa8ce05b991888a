"""Scripted evaluation suites: a YAML list of checks, each measured and held to thresholds.

A suite file::

    name: smoke
    description: what it is for
    checks:
      - name: ranking-ro811          # unique within the suite
        kind: ranking                # a key of the check registry (see check_kinds())
        params: {protocol: ro811, models: [pop, ease]}
        thresholds:                  # flattened metric name -> bound(s)
          ease.ndcg@10: {min: 0.31}
        optional: false              # true: "unavailable" is reported as skipped, not failed

Built-in suites (``smoke``, ``full``) are package data in ``evals/suites/``; :func:`load_suite` takes
either such a name or a path.

A check is a function ``(params, context) -> dict`` registered under its kind with
:func:`register_check`. It returns ``{"metrics": {...}, "artifacts": {...}, "notes": [...]}``
(metrics may nest; thresholds name them flattened with dots, e.g. ``deletion_test.lowered_rate``).
Artifacts are plot data that :mod:`evals.report` knows how to draw (``bars``, ``lines``,
``reliability``, ``histogram``). A check that cannot run here raises :class:`CheckUnavailable`
(or returns ``"unavailable": reason`` next to partial metrics): the suite then fails with a
``not available: <reason>`` result unless the check is marked ``optional``.

Check kinds registered here: ``ranking``, ``explanations``, ``calibration``, ``fairness``,
``conversation`` (needs ``agent.Recommender``; simulated users need ``evals.conversation``),
``robustness``, ``reliability`` (:mod:`evals.reliability`), ``reliability-http``
(:mod:`evals.reliability_http`) and ``faithfulness`` (:mod:`evals.faithfulness`).
"""

from __future__ import annotations

import math
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog.errors import BadInput, MissingFile

if TYPE_CHECKING:
    from agent.config import TrustrecConfig
    from agent.reply import ItemCard
    from catalog.splits import Split
    from catalog.types import Dataset
    from ranker.base import Ranker
    from ranker.calibration import Calibrator

__all__ = [
    "CheckFn",
    "CheckResult",
    "CheckSpec",
    "CheckUnavailable",
    "SuiteContext",
    "SuiteResult",
    "SuiteSpec",
    "Threshold",
    "builtin_suites",
    "check_kinds",
    "flatten_metrics",
    "load_suite",
    "register_check",
    "run_suite",
]

Progress = Callable[[str], None]
Status = Literal["passed", "failed", "error", "unavailable", "skipped"]


# ------------------------------------------------------------------------------------------- specs


class Threshold(BaseModel):
    """Bounds on one metric: ``min`` (value must be >= min) and/or ``max`` (value must be <= max)."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = Field(None, description="Lowest passing value (inclusive).")
    max: float | None = Field(None, description="Highest passing value (inclusive).")

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if self.min is None and self.max is None:
            raise BadInput("a threshold needs min, max or both, e.g. {min: 0.3}")
        return self

    def check(self, value: Any) -> str | None:
        """None when ``value`` passes, else why it fails."""
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or (isinstance(value, float) and math.isnan(value)):
            return f"value {value!r} is not a number"
        if self.min is not None and value < self.min:
            return f"{value:.6g} < min {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{value:.6g} > max {self.max:g}"
        return None

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


class CheckSpec(BaseModel):
    """One check of a suite."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique name within the suite (used in reports and --check).")
    kind: str = Field(min_length=1, description="Registry key of the check function (see check_kinds()).")
    params: dict[str, Any] = Field(default_factory=dict, description="Passed to the check function.")
    thresholds: dict[str, Threshold] = Field(
        default_factory=dict, description="Flattened metric name -> bounds; a missed bound fails the check."
    )
    optional: bool = Field(
        False, description="When the check is unavailable here, report it as skipped instead of failing."
    )
    description: str = Field("", description="What the check shows, for the report.")


class SuiteSpec(BaseModel):
    """A named list of checks."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Suite name (report title).")
    description: str = Field("", description="What the suite is for.")
    checks: list[CheckSpec] = Field(min_length=1, description="Checks, run in order.")

    @model_validator(mode="after")
    def _unique(self) -> SuiteSpec:
        names = [c.name for c in self.checks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise BadInput(f"suite {self.name!r}: duplicate check names {dup}; give each check its own name")
        return self


def builtin_suites() -> dict[str, str]:
    """Built-in suite name -> YAML text (package data in ``evals/suites``)."""
    folder = resources.files("evals").joinpath("suites")
    return {
        p.name.rsplit(".", 1)[0]: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".yaml")
    }


def load_suite(source: str | Path) -> SuiteSpec:
    """A suite from a built-in name (``smoke``, ``full``) or a YAML path.

    Raises:
        FileNotFoundError: Neither a built-in name nor an existing file.
        ValueError: The YAML is malformed or a check names an unknown kind (the message says which).
    """
    text: str
    builtins = builtin_suites()
    src = str(source)
    if src in builtins and not Path(src).is_file():
        text, where = builtins[src], f"built-in suite {src!r}"
    else:
        path = Path(source)
        if not path.is_file():
            raise MissingFile(
                f"suite {src!r} is neither a built-in suite ({', '.join(sorted(builtins))}) nor a YAML file"
            )
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BadInput(f"{where}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: expected a mapping with name and checks, got {type(raw).__name__}")
    spec = SuiteSpec.model_validate(raw)
    unknown = [c.kind for c in spec.checks if c.kind not in _CHECKS]
    if unknown:
        raise BadInput(f"{where}: unknown check kind(s) {unknown}; known kinds: {', '.join(sorted(_CHECKS))}")
    return spec


# ------------------------------------------------------------------------------------------ results


@dataclass
class CheckResult:
    """What one check measured and whether it met its thresholds."""

    name: str
    kind: str
    status: Status
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "description": self.description,
            "error": self.error,
            "notes": self.notes,
            "thresholds": self.thresholds,
            "metrics": _jsonable(self.metrics),
            "artifacts": _jsonable(self.artifacts),
        }


@dataclass
class SuiteResult:
    """All check results of one suite run, plus suite-level artifacts (training logs)."""

    suite: str
    description: str
    checks: list[CheckResult]
    seconds: float
    started: str
    artifacts: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.checks:
            out[c.status] = out.get(c.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "description": self.description,
            "passed": self.passed,
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "started": self.started,
            "environment": self.environment,
            "artifacts": _jsonable(self.artifacts),
            "checks": [c.to_dict() for c in self.checks],
        }


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return v if math.isfinite(v) else None if math.isnan(v) else str(v)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics -> ``{"a.b.c": scalar}`` (lists are left out; they are not thresholded)."""
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_metrics(v, key + "."))
        elif isinstance(v, bool | int | float | str | np.integer | np.floating | np.bool_) or v is None:
            out[key] = v.item() if isinstance(v, np.generic) else v
    return out


# ------------------------------------------------------------------------------------------ context


class CheckUnavailable(RuntimeError):
    """A check cannot run here (a module or trained model is missing); the message says why and what to do."""


class SuiteContext:
    """Shared, lazily built state for the checks of one run: config, data, splits, fitted rankers.

    Args:
        config: The system config (default: :func:`agent.config.load_config` defaults).
        out_dir: Where reports and artifacts go.
        work_dir: Scratch folder (databases of the reliability checks); default a temporary folder.
        progress: Called with progress lines.
    """

    def __init__(
        self,
        config: TrustrecConfig | None = None,
        out_dir: Path | None = None,
        *,
        work_dir: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        if config is None:
            from agent.config import load_config

            config = load_config()
        self.config = config
        self.workspace = config.workspace()
        self.out_dir = Path(out_dir) if out_dir else self.workspace.reports / "suite"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="trustrec-suite-")
            work_dir = Path(self._tmp.name)
        self.work_dir = Path(work_dir)
        self.say: Progress = progress or (lambda _m: None)
        self._dataset: Dataset | None = None
        self._splits: dict[str, Split] = {}
        self._rankers: dict[tuple[str, str], tuple[Ranker, str, str | None, float]] = {}
        self._calibrators: dict[tuple[str, str], Calibrator] = {}
        self.cache: dict[str, Any] = {}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def dataset(self) -> Dataset:
        if self._dataset is None:
            from catalog import load_dataset

            self.say(f"loading {self.config.data.dataset}")
            self._dataset = load_dataset(self.config.data, self.workspace)
            if self._dataset.note:
                self.say(self._dataset.note)
        return self._dataset

    def split(self, protocol: str) -> Split:
        if protocol not in ("ro811", "loo"):
            raise BadInput(f"unknown protocol {protocol!r}; use ro811 or loo")
        if protocol not in self._splits:
            from catalog import make_split

            self._splits[protocol] = make_split(
                self.dataset(),
                protocol,  # type: ignore[arg-type]
                seed=self.config.seed,
                weights=self.config.data.behaviour_weights,
            )
        return self._splits[protocol]

    def ranker(self, name: str, protocol: str) -> tuple[Ranker, str, str | None]:
        """A fitted ranker: ``auto`` (trained joint model, else EASE), ``joint``, or a model of
        :func:`evals.ranking.ranking_models` (``pop``, ``itemknn``, ``ease``, ``bpr``, ...).

        Returns:
            ``(ranker, resolved name, note)``.

        Raises:
            CheckUnavailable: ``joint`` is asked for and no trained model exists.
            ValueError: Unknown model name.
        """
        key = (name, protocol)
        if key in self._rankers:
            r, n, note, _ = self._rankers[key]
            return r, n, note
        from evals.ranking import ranking_models

        note = None
        resolved = name
        t0 = time.perf_counter()
        ranker: Ranker | None = None
        if name in ("auto", "joint"):
            from ranker.stack import ModelNotTrained, build_stack

            try:
                stack = build_stack(
                    self.config, protocol=protocol, model=name, calibrate=False, cold_start=False,
                    dataset=self.dataset(), progress=self.say,
                )  # fmt: skip
            except ModelNotTrained as e:
                raise CheckUnavailable(f"no trained joint ranker ({e})") from None
            ranker, resolved, note = stack.ranker, stack.name, stack.note
        if ranker is None:
            models = ranking_models()
            if resolved not in models:
                raise BadInput(f"unknown model {resolved!r}; use auto, joint or one of {', '.join(sorted(models))}")
            if (resolved, protocol) in self._rankers:
                ranker = self._rankers[(resolved, protocol)][0]
            else:
                self.say(f"fitting {resolved} on the {protocol} training split")
                ranker = models[resolved](self.dataset(), self.split(protocol))
        fit_s = time.perf_counter() - t0
        self._rankers[key] = (ranker, resolved, note, fit_s)
        self._rankers.setdefault((resolved, protocol), (ranker, resolved, None, fit_s))
        return ranker, resolved, note

    def fit_seconds(self, name: str, protocol: str) -> float:
        return self._rankers[(name, protocol)][3]

    def calibrator(self, ranker: Ranker, resolved: str, protocol: str) -> Calibrator:
        """The calibrator saved next to the model, or fitted on validation data and saved there."""
        key = (resolved, protocol)
        if key not in self._calibrators:
            from ranker.stack import calibrator_for
            from ranker.train import model_folder

            folder = model_folder(self.workspace, protocol) if resolved == "joint" else None
            split = self.split(protocol)
            cal, _, _ = calibrator_for(self.workspace, ranker, resolved, split, self.config.calibration, folder=folder)
            self._calibrators[key] = cal
        return self._calibrators[key]

    def recommender(self) -> Any:
        """The agent (``agent.Recommender.from_config``), built once.

        Raises:
            CheckUnavailable: ``agent.Recommender`` cannot be imported or built (the reason is given).
        """
        if "recommender" not in self.cache:
            from agent.recommender import Recommender

            self.say("building agent.Recommender")
            try:
                self.cache["recommender"] = Recommender.from_config(self.config)
            except Exception as e:  # the agent exists but cannot be built here: a real failure, said plainly
                raise RuntimeError(f"agent.Recommender.from_config failed: {type(e).__name__}: {e}") from e
        return self.cache["recommender"]


# ----------------------------------------------------------------------------------------- registry

CheckFn = Callable[[dict[str, Any], SuiteContext], dict[str, Any]]
"""``check(params, context) -> {"metrics": {...}, "artifacts": {...}, "notes": [...], "unavailable"?: str}``."""

_CHECKS: dict[str, CheckFn] = {}


def register_check(kind: str, fn: CheckFn, *, replace: bool = False) -> None:
    """Add a check kind to the registry (other modules extend suites this way).

    Raises:
        ValueError: The kind exists and ``replace`` is False, or the name is empty.
    """
    if not kind or kind != kind.strip():
        raise ValueError(f"bad check kind {kind!r}")
    if kind in _CHECKS and not replace:
        raise ValueError(f"check kind {kind!r} already registered; pass replace=True to overwrite it")
    _CHECKS[kind] = fn


def check_kinds() -> dict[str, CheckFn]:
    """Registered check kinds (a copy)."""
    return dict(_CHECKS)


def _check(kind: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        register_check(kind, fn)
        return fn

    return deco


# ------------------------------------------------------------------------------------------- runner


def _training_logs(ctx: SuiteContext) -> list[dict[str, Any]]:
    """Training JSONL logs in the workspace's model folder (learning curves for the report)."""
    import json

    runs: list[dict[str, Any]] = []
    root = ctx.workspace.home / "models"
    if not root.is_dir():
        return runs
    for path in sorted(root.rglob("log.jsonl")):
        rows = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "epoch" in row:
                rows.append({k: v for k, v in row.items() if isinstance(v, int | float)})
        if rows:
            runs.append({"name": str(path.parent.relative_to(root)), "path": str(path), "rows": rows})
    return runs


def _environment() -> dict[str, Any]:
    import os
    import platform

    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}


def run_check(spec: CheckSpec, ctx: SuiteContext) -> CheckResult:
    """Run one check, apply its thresholds, never raise (errors become ``status="error"``)."""
    t0 = time.perf_counter()
    res = CheckResult(spec.name, spec.kind, "passed", 0.0, description=spec.description)
    fn = _CHECKS.get(spec.kind)
    try:
        if fn is None:
            raise CheckUnavailable(f"no check registered for kind {spec.kind!r}")
        out = fn(dict(spec.params), ctx)
        res.metrics = dict(out.get("metrics", {}))
        res.artifacts = dict(out.get("artifacts", {}))
        res.notes = list(out.get("notes", []))
        if out.get("unavailable"):
            raise CheckUnavailable(str(out["unavailable"]))
    except CheckUnavailable as e:
        res.status = "skipped" if spec.optional else "unavailable"
        res.error = f"not available: {e}"
    except Exception as e:  # a check that crashes is reported, and the suite goes on
        res.status = "error"
        res.error = f"{type(e).__name__}: {e}"
        res.notes.append(traceback.format_exc(limit=6))
    flat = flatten_metrics(res.metrics)
    for metric, th in spec.thresholds.items():
        row: dict[str, Any] = {"metric": metric, "bound": th.describe(), "min": th.min, "max": th.max}
        if metric not in flat:
            row.update(value=None, passed=False, reason="metric missing")
        else:
            why = th.check(flat[metric])
            row.update(value=flat[metric], passed=why is None, reason=why)
        if res.status in ("unavailable", "skipped", "error") and metric not in flat:
            row["reason"] = f"not measured ({res.status})"
        res.thresholds.append(row)
    if res.status == "passed" and not all(r["passed"] for r in res.thresholds):
        res.status = "failed"
    res.seconds = time.perf_counter() - t0
    return res


def run_suite(
    spec: SuiteSpec,
    ctx: SuiteContext,
    *,
    only: list[str] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> SuiteResult:
    """Run the checks of ``spec`` in order (``only``: names to run) and collect the results.

    Raises:
        ValueError: ``only`` names a check the suite does not have.
    """
    from datetime import UTC, datetime

    checks = spec.checks
    if only:
        missing = sorted(set(only) - {c.name for c in checks})
        if missing:
            raise BadInput(f"suite {spec.name!r} has no check(s) {missing}; it has {[c.name for c in checks]}")
        checks = [c for c in checks if c.name in only]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    results = []
    for c in checks:
        ctx.say(f"[{c.kind}] {c.name}")
        r = run_check(c, ctx)
        results.append(r)
        if on_result is not None:
            on_result(r)
    artifacts: dict[str, Any] = {}
    logs = _training_logs(ctx)
    if logs:
        artifacts["learning_curves"] = {
            "type": "learning_curve",
            "title": "Learning curves (training logs)",
            "runs": logs,
        }
    return SuiteResult(
        spec.name, spec.description, results, time.perf_counter() - t0, started, artifacts, _environment()
    )


# ------------------------------------------------------------------------------------ check: ranking


def _param(params: dict[str, Any], key: str, default: Any) -> Any:
    return params.get(key, default)


@_check("ranking")
def check_ranking(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Full-ranking metrics under a protocol for a list of models.

    Params: ``protocol`` (ro811|loo), ``models`` (names; ``auto``/``joint`` or registry names),
    ``on`` (test|valid), ``ks``. Metrics: ``<model>.<metric>@k``, ``<model>.fit_s``, ``<model>.eval_s``.
    A model that is not available (e.g. ``joint`` untrained) makes the check unavailable, with the
    other models' figures kept.
    """
    from evals.ranking import evaluate_set, history_profiles

    protocol = _param(params, "protocol", "ro811")
    models = list(_param(params, "models", ["pop", "ease"]))
    on = _param(params, "on", "test")
    ks = tuple(_param(params, "ks", [5, 10, 20]))
    ds = ctx.dataset()
    es = history_profiles(ds, ctx.split(protocol), on)
    metrics: dict[str, Any] = {}
    notes, missing = [], []
    for m in models:
        try:
            ranker, resolved, note = ctx.ranker(m, protocol)
        except CheckUnavailable as e:
            missing.append(str(e))
            continue
        if note:
            notes.append(f"{m}: {note}")
        t0 = time.perf_counter()
        vals = evaluate_set(ranker, es, ks=ks)
        metrics[m] = {**{k: float(v) for k, v in vals.items()}, "fit_s": round(ctx.fit_seconds(m, protocol), 3)}
        metrics[m]["eval_s"] = round(time.perf_counter() - t0, 3)
        metrics[m]["model"] = resolved
        ctx.say(
            f"  {m}: ndcg@10 {vals.get('ndcg@10', float('nan')):.4f}, recall@10 {vals.get('recall@10', float('nan')):.4f}"
        )
    metrics["users"] = len(es)
    k = 10 if 10 in ks else ks[0]
    shown = [m for m in models if m in metrics]
    artifacts = {
        "ranking": {
            "type": "bars",
            "title": f"Full ranking, {protocol} {on} (@{k})",
            "labels": shown,
            "series": {f"{name}@{k}": [metrics[m][f"{name}@{k}"] for m in shown] for name in ("ndcg", "recall", "mrr")},
            "ylabel": "metric",
        }
    }
    out: dict[str, Any] = {"metrics": metrics, "artifacts": artifacts, "notes": notes}
    if missing:
        out["unavailable"] = "; ".join(missing)
    return out


# ------------------------------------------------------------------------------- check: explanations


@_check("explanations")
def check_explanations(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Attribution faithfulness (:func:`evals.explanations.evaluate_explanations`) plus a SHAP summary.

    Params: ``protocol``, ``model`` (default auto), ``users`` (100), ``n`` (10), ``seed``,
    ``summary_users`` (users of the SHAP summary, default min(users, 30)).
    Artifacts: deletion/insertion curves vs random order, SHAP summary (mean |attribution| by rank,
    most influential history items, feature groups when the ranker has them).
    """
    from evals.explanations import evaluate_explanations

    protocol = _param(params, "protocol", "ro811")
    model = _param(params, "model", "auto")
    users = int(_param(params, "users", 100))
    n = int(_param(params, "n", 10))
    seed = int(_param(params, "seed", 0))
    ranker, resolved, note = ctx.ranker(model, protocol)
    ds, split = ctx.dataset(), ctx.split(protocol)
    res = evaluate_explanations(ranker, ds, split, n_users=users, n=n, seed=seed)
    metrics = {k: v for k, v in res.items() if k not in ("settings",)}
    metrics["model"] = resolved
    curves = {}
    for kind in ("deletion", "insertion"):
        for who in ("attribution", "random"):
            c = res[f"{kind}_curve"][who].get("mean_curve") or []
            if c:
                curves[f"{kind} ({who} order)"] = c
    depth = max((len(c) for c in curves.values()), default=0)
    artifacts: dict[str, Any] = {
        "deletion_curves": {
            "type": "lines",
            "title": f"Deletion / insertion curves, {resolved} ({protocol})",
            "x": list(range(depth)),
            "series": curves,
            "xlabel": "history entries removed (deletion) / added back (insertion)",
            "ylabel": "normalised score (f - base) / (f(full) - base)",
        }
    }
    summary = _shap_summary(ranker, ds, split, n, int(_param(params, "summary_users", min(users, 30))), seed)
    metrics["shap_summary"] = {"users": summary["users"], "explained": summary["explained"]}
    artifacts["shap_rank"] = {
        "type": "bars",
        "title": "SHAP summary: mean |attribution| of the k-th strongest history item",
        "labels": [f"#{i + 1}" for i in range(len(summary["by_rank"]))],
        "series": {"mean |value|": summary["by_rank"]},
        "ylabel": "score units",
    }
    artifacts["shap_history_items"] = {
        "type": "bars",
        "title": "SHAP summary: history items with the largest total |attribution|",
        "labels": [t for t, _ in summary["top_items"]],
        "series": {"sum |value|": [v for _, v in summary["top_items"]]},
        "ylabel": "score units",
        "horizontal": True,
    }
    notes = [note] if note else []
    if summary["groups"]:
        artifacts["shap_groups"] = {
            "type": "bars",
            "title": "SHAP summary: mean |attribution| per feature group",
            "labels": list(summary["groups"]),
            "series": {"mean |value|": list(summary["groups"].values())},
            "ylabel": "score units",
        }
        metrics["shap_summary"]["groups"] = summary["groups"]
    else:
        notes.append(f"{resolved} has no interpretable feature groups; the SHAP summary covers history items only")
    return {"metrics": metrics, "artifacts": artifacts, "notes": notes}


def _shap_summary(ranker: Ranker, ds: Dataset, split: Split, n: int, n_users: int, seed: int) -> dict[str, Any]:
    from ranker.base import Profile, recommend
    from ranker.explain import ShapExplainer

    hist = split.histories("train")
    pool = np.array([u for u in range(ds.n_users) if hist[u].size >= 4])
    rng = np.random.default_rng(seed + 1)
    sample = rng.choice(pool, size=min(n_users, pool.size), replace=False) if pool.size else pool
    shap = ShapExplainer(ranker)
    by_rank: list[list[float]] = []
    per_item: dict[int, float] = {}
    groups: dict[str, list[float]] = {}
    explained = 0
    for u in sample:
        prof = Profile(hist[int(u)], user_idx=int(u))
        items = recommend(ranker, prof, n).item_idx
        if items.size == 0:
            continue
        ex = shap.explain_history(prof, items)
        absv = np.abs(ex.values)
        explained += items.size
        srt = -np.sort(-absv, axis=1)
        for r in range(min(10, srt.shape[1])):
            if len(by_rank) <= r:
                by_rank.append([])
            by_rank[r].extend(srt[:, r].tolist())
        for j, pos in enumerate(ex.positions):
            it = int(prof.history[int(pos)])
            per_item[it] = per_item.get(it, 0.0) + float(absv[:, j].sum())
        fx = shap.explain_features(prof, items)
        if fx is not None:
            for g, col in zip(fx.groups, np.abs(fx.values).T, strict=True):
                groups.setdefault(g, []).extend(col.tolist())
    top = sorted(per_item.items(), key=lambda kv: -kv[1])[:15]
    return {
        "users": len(sample),
        "explained": explained,
        "by_rank": [float(np.mean(v)) for v in by_rank],
        "top_items": [(ds.items[i].title, round(v, 6)) for i, v in top],
        "groups": {g: float(np.mean(v)) for g, v in groups.items()},
    }


# -------------------------------------------------------------------------------- check: calibration


@_check("calibration")
def check_calibration(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """ECE and Brier on test data (:func:`evals.calibration.evaluate_calibration`), reliability diagram.

    Params: ``protocol``, ``model`` (auto), ``n`` (10), ``method`` (isotonic|platt; isotonic uses the
    calibrator saved with the model, fitting it on validation data when absent).
    """
    from evals.calibration import evaluate_calibration
    from ranker.calibration import CalibrationConfig

    protocol = _param(params, "protocol", "ro811")
    model = _param(params, "model", "auto")
    n = int(_param(params, "n", 10))
    method = _param(params, "method", "isotonic")
    ranker, resolved, note = ctx.ranker(model, protocol)
    cal = ctx.calibrator(ranker, resolved, protocol) if method == "isotonic" else None
    res = evaluate_calibration(
        ranker, ctx.dataset(), ctx.split(protocol), calibrator=cal,
        config=CalibrationConfig.model_validate({"method": method}), n=n, model_name=resolved,
    )  # fmt: skip
    views = {k: res[k] for k in ("sampled", f"top_{n}") if k in res}
    metrics = {k: v for k, v in res.items() if k not in ("diagram",)}
    metrics = {
        k: ({kk: vv for kk, vv in v.items() if kk != "bins"} if isinstance(v, dict) else v) for k, v in metrics.items()
    }
    artifacts = {
        "reliability": {
            "type": "reliability",
            "title": f"Reliability diagram, {resolved} ({protocol}, test)",
            "views": {k: {"bins": v["bins"], "ece": v["ece"], "brier": v["brier"]} for k, v in views.items()},
        }
    }
    return {"metrics": metrics, "artifacts": artifacts, "notes": [note] if note else []}


# --------------------------------------------------------------------------------- check: coldstart


@_check("coldstart")
def check_coldstart(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """New users (:func:`evals.coldstart.evaluate_cold_start`): test users cut to their first k items.

    Params: ``protocol`` (ro811), ``ks`` ([0, 1, 3, 5, 10]). Needs the trained joint ranker. Metrics:
    ``<model>.k<k>.ndcg@10`` (and recall, hit), ``bars_met`` / ``bars`` (the issue's requirements),
    ``ece.k0``, ``ece.k1_5``, ``ece.warm``, ``ece.as_served`` (every test user with the calibrator of their size).
    """
    from evals.coldstart import evaluate_cold_start
    from ranker.coldstart import category_groups, ensure_cold_start
    from ranker.train import model_folder

    protocol = _param(params, "protocol", "ro811")
    ks = [int(k) for k in _param(params, "ks", [0, 1, 3, 5, 10])]
    base, resolved, note = ctx.ranker("joint", protocol)
    folder = model_folder(ctx.workspace, protocol)
    ranker, cal = ensure_cold_start(
        base, ctx.split(protocol), ctx.dataset().n_users, ctx.calibrator(base, resolved, protocol),
        folder / "coldstart.json", ctx.config.coldstart, checkpoint=folder / "model.safetensors",
        item_groups=category_groups(ctx.dataset().items),
    )  # fmt: skip
    res = evaluate_cold_start(ranker, cal, base, ctx.dataset(), ctx.split(protocol), ks)
    metrics: dict[str, Any] = {name: {f"k{k}": rows[str(k)] for k in ks} for name, rows in res["table"].items()}
    metrics["bars"] = len(res["requirements"])
    metrics["bars_met"] = sum(bool(v) for v in res["requirements"].values())
    metrics["requirements"] = res["requirements"]
    names = {"k=0": "k0", "k=1-5": "k1_5", "warm": "warm", "as served": "as_served"}
    metrics["ece"] = {names[k]: v["ece"] for k, v in res["calibration"].items()}
    metrics["calibration"] = res["calibration"]
    artifacts = {
        "coldstart": {
            "type": "lines",
            "title": f"Cold start: NDCG@10 against known items k ({protocol}, test users)",
            "x": ks,
            "series": {name: [rows[str(k)]["ndcg@10"] for k in ks] for name, rows in res["table"].items()},
            "xlabel": "known items k",
            "ylabel": "NDCG@10",
        }
    }
    return {"metrics": metrics, "artifacts": artifacts, "notes": [note] if note else []}


# ----------------------------------------------------------------------------------- check: fairness


@_check("fairness")
def check_fairness(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Popularity bias and group gaps (:func:`evals.fairness.evaluate_fairness`), popularity histogram.

    Params: ``protocol``, ``model`` (auto), ``n`` (10), ``betas``, ``mmr_lambdas``.
    """
    from evals.fairness import evaluate_fairness
    from evals.metrics import topk_indices
    from evals.ranking import history_profiles
    from ranker.diversity import item_popularity

    protocol = _param(params, "protocol", "ro811")
    model = _param(params, "model", "auto")
    n = int(_param(params, "n", 10))
    kw = {k: params[k] for k in ("betas", "mmr_lambdas", "pool") if k in params}
    ranker, resolved, note = ctx.ranker(model, protocol)
    ds, split = ctx.dataset(), ctx.split(protocol)
    res = evaluate_fairness(ranker, ds, split, n=n, **kw)
    metrics: dict[str, Any] = {
        "model": resolved,
        "users": res["users"],
        "recommendations": res["recommendations"],
        "gender_gap": res["by_gender"]["_max_gap"][f"ndcg@{n}"],
        "age_gap": res["by_age_band"]["_max_gap"][f"ndcg@{n}"],
        "by_gender": {g: v for g, v in res["by_gender"].items() if not g.startswith("_")},
        "by_age_band": {g: v for g, v in res["by_age_band"].items() if not g.startswith("_")},
    }
    # the popularity of what is recommended, next to that of the catalog and of the interactions
    counts = item_popularity(split.train["item_idx"].to_numpy(), ds.n_items).astype(np.float64)
    es = history_profiles(ds, split, "test")
    lists = []
    for start in range(0, len(es), 512):
        stop = min(start + 512, len(es))
        s = np.array(ranker.score(es.profiles[start:stop]), dtype=np.float64, copy=True)
        s[es.mask(start, stop)] = -np.inf
        lists.append(topk_indices(s, n))
    rec = np.concatenate(lists).ravel()
    logc = np.log10(1.0 + counts)
    edges = np.linspace(0.0, float(logc.max()) + 1e-9, 21)

    def dens(values: np.ndarray, weights: np.ndarray | None = None) -> list[float]:
        h, _ = np.histogram(values, bins=edges, weights=weights)
        return (h / max(h.sum(), 1e-12)).tolist()

    artifacts = {
        "popularity": {
            "type": "histogram",
            "title": f"Popularity of recommended items, {resolved} top-{n} ({protocol} test users)",
            "edges": edges.tolist(),
            "series": {
                "recommendations": dens(logc[rec]),
                "catalog items": dens(logc),
                "training interactions": dens(logc, counts),
            },
            "xlabel": "log10(1 + training interactions of the item)",
            "ylabel": "share",
        },
        "debiasing": {
            "type": "lines",
            "title": "Popularity debiasing: accuracy vs bias",
            "x": [r["beta"] for r in res["popularity_debiasing"]],
            "series": {
                f"ndcg@{n}": [r[f"ndcg@{n}"] for r in res["popularity_debiasing"]],
                "coverage": [r["coverage"] for r in res["popularity_debiasing"]],
                "gini": [r["gini"] for r in res["popularity_debiasing"]],
            },
            "xlabel": "beta",
            "ylabel": "value",
        },
    }
    metrics["popularity_debiasing"] = {f"beta_{r['beta']:g}": r for r in res["popularity_debiasing"]}
    metrics["mmr_tradeoff"] = {f"lambda_{r['lambda']:g}": r for r in res["mmr_tradeoff"]}
    return {"metrics": metrics, "artifacts": artifacts, "notes": [note] if note else []}


# ------------------------------------------------------------------------------- check: conversation


def _card_fields(card: ItemCard) -> dict[str, Any]:
    return card.model_dump(mode="json")


def _expectation_failures(expect: dict[str, Any], text: str, cards: list[dict[str, Any]]) -> list[str]:
    """Which expected properties a reply misses (the keys are documented in check_conversation)."""
    fails = []
    if "min_cards" in expect and len(cards) < int(expect["min_cards"]):
        fails.append(f"{len(cards)} cards < min_cards {expect['min_cards']}")
    if "max_cards" in expect and len(cards) > int(expect["max_cards"]):
        fails.append(f"{len(cards)} cards > max_cards {expect['max_cards']}")
    if "category" in expect:
        want = str(expect["category"]).lower()
        bad = [c["title"] for c in cards if want not in [x.lower() for x in c["categories"]]]
        if bad:
            fails.append(f"cards without category {expect['category']!r}: {bad[:3]}")
    if "not_category" in expect:
        ban = str(expect["not_category"]).lower()
        bad = [c["title"] for c in cards if ban in [x.lower() for x in c["categories"]]]
        if bad:
            fails.append(f"cards with excluded category {expect['not_category']!r}: {bad[:3]}")
    lo, hi = expect.get("year_min"), expect.get("year_max")
    if lo is not None or hi is not None:
        bad = [
            c["title"]
            for c in cards
            if c["year"] is None or (lo is not None and c["year"] < lo) or (hi is not None and c["year"] > hi)
        ]
        if bad:
            fails.append(f"cards outside years [{lo}, {hi}]: {bad[:3]}")
    for t in expect.get("exclude_titles", []):
        if any(t.lower() in c["title"].lower() for c in cards):
            fails.append(f"a card shows excluded title {t!r}")
    if expect.get("explained"):
        bad = [c["title"] for c in cards if not c["explanation"].strip()]
        if bad:
            fails.append(f"cards without an explanation: {bad[:3]}")
    if expect.get("grounded"):
        bad = [c["title"] for c in cards if c["grounded"] is False]
        if bad:
            fails.append(f"cards whose explanation failed the grounding guard: {bad[:3]}")
    if expect.get("confidence_in_unit"):
        bad = [c["title"] for c in cards if c["confidence"] is None or not 0.0 <= float(c["confidence"]) <= 1.0]
        if bad:
            fails.append(f"cards without a confidence in [0, 1]: {bad[:3]}")
    if "writer_in" in expect:
        allowed = {str(w) for w in expect["writer_in"]}
        bad = [str(c["writer"]) for c in cards if str(c["writer"]) not in allowed]
        if bad:
            fails.append(f"explanation writers {sorted(set(bad))} not in {sorted(allowed)}")
    everything = " ".join([text, *(c["explanation"] for c in cards)])
    for s in expect.get("text_excludes", []):
        if s.lower() in everything.lower():
            fails.append(f"reply contains {s!r}")
    for s in expect.get("text_includes", []):
        if s.lower() not in everything.lower():
            fails.append(f"reply lacks {s!r}")
    return fails


def _success_by_turn(res: dict[str, Any], max_turns: int) -> list[float]:
    if isinstance(res.get("success_by_turn"), list | dict):
        s = res["success_by_turn"]
        return [float(v) for v in (s.values() if isinstance(s, dict) else s)]
    eps = res.get("episodes") or []
    if not eps:
        return []
    turns = [e.get("turns") if e.get("success") else None for e in eps if isinstance(e, dict)]
    return [float(np.mean([t is not None and t <= k for t in turns])) for k in range(1, max_turns + 1)]


@_check("conversation")
def check_conversation(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Scripted turns against ``agent.Recommender`` and, optionally, simulated users.

    Params:
        scripts: ``[{session, user_id, turns: [{message, expect: {...}}]}]``. Expectation keys:
            ``min_cards``, ``max_cards``, ``category``, ``not_category``, ``year_min``, ``year_max``,
            ``exclude_titles``, ``explained``, ``grounded``, ``confidence_in_unit``, ``writer_in``,
            ``text_includes``, ``text_excludes``.
        simulated: ``{users, max_turns, seed, cohort}``: runs ``evals.conversation.evaluate_conversations(
            recommender, dataset, n_users=..., max_turns=..., seed=...)`` and expects
            ``success_rate``, ``average_turns`` and ``success_by_turn`` (or ``episodes``). ``cohort``
            (``warm`` by default, ``cold`` or ``both``) adds new users with no history; their
            figures (with the long-tail half: ``long_tail_success_rate`` ...) go to ``simulated_cold``.

    Metrics: ``scripted.turns``, ``scripted.passed``, ``scripted.pass_rate``, ``scripted.turn_s_p50``,
    ``simulated.success_rate``, ``simulated.average_turns``; with new users ``simulated_cold.success_rate``,
    ``simulated_cold.average_turns``, ``simulated_cold.long_tail_success_rate``, ...
    """
    rec = ctx.recommender()  # raises CheckUnavailable with the reason
    metrics: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    notes: list[str] = []
    scripts = params.get("scripts") or []
    if scripts:
        turns = passed = 0
        times: list[float] = []
        failures: list[str] = []
        for si, script in enumerate(scripts):
            session = str(script.get("session", f"suite-{si}-{int(time.time())}"))
            user = script.get("user_id")
            for ti, turn in enumerate(script.get("turns", [])):
                t0 = time.perf_counter()
                reply = rec.chat(session, turn["message"], user)
                times.append(time.perf_counter() - t0)
                cards = [_card_fields(c) for c in reply.cards]
                fails = _expectation_failures(turn.get("expect", {}), reply.text, cards)
                turns += 1
                passed += not fails
                failures.extend(f"script {si} turn {ti} ({turn['message'][:40]!r}): {f}" for f in fails)
        metrics["scripted"] = {
            "turns": turns,
            "passed": passed,
            "pass_rate": passed / turns if turns else float("nan"),
            "turn_s_p50": float(np.median(times)) if times else float("nan"),
            "turn_s_max": float(np.max(times)) if times else float("nan"),
        }
        metrics["scripted_failures"] = failures[:20]
        artifacts["turn_times"] = {
            "type": "bars",
            "title": "Scripted turn wall time",
            "labels": [str(i + 1) for i in range(len(times))],
            "series": {"seconds": times},
            "ylabel": "s",
        }
    sim = params.get("simulated")
    if sim:
        from evals.conversation import evaluate_conversations

        max_turns = int(sim.get("max_turns", 5))
        cohort = str(sim.get("cohort", "warm"))
        res = evaluate_conversations(
            rec, ctx.dataset(), n_users=int(sim.get("users", 50)), max_turns=max_turns, seed=int(sim.get("seed", 0)),
            cohort=cohort,  # type: ignore[arg-type]
        )  # fmt: skip
        warm = None if cohort == "cold" else res
        cold = res if cohort == "cold" else res.get("cold_start")
        series: dict[str, list[float]] = {}
        if warm is not None:
            metrics["simulated"] = {k: v for k, v in warm.items() if isinstance(v, int | float | str | bool)}
            if curve := _success_by_turn(warm, max_turns):
                series["success rate"] = curve
        if isinstance(cold, dict):
            metrics["simulated_cold"] = {k: v for k, v in cold.items() if isinstance(v, int | float | str | bool)}
            if curve := _success_by_turn(cold, max_turns):
                series["new users" if warm is not None else "success rate"] = curve
        if series:
            artifacts["success_by_turn"] = {
                "type": "lines",
                "title": "Simulated users: success within k turns",
                "x": list(range(1, max(len(c) for c in series.values()) + 1)),
                "series": series,
                "xlabel": "turn",
                "ylabel": "share of users whose target was shown",
            }
    if not scripts and not sim:
        notes.append("no scripts and no simulated users in params: nothing measured")
    return {"metrics": metrics, "artifacts": artifacts, "notes": notes}


# --------------------------------------------------------------------------------- check: robustness


@dataclass
class _Case:
    name: str
    group: str
    ok: bool
    detail: str


@contextmanager
def _expect_error(
    cases: list[_Case], name: str, group: str, errors: tuple[type[BaseException], ...], *, must: str = ""
) -> Iterator[None]:
    """The body must raise one of ``errors`` (with ``must`` in the message); anything else is a failure."""
    try:
        yield
    except errors as e:
        ok = must.lower() in str(e).lower()
        cases.append(
            _Case(name, group, ok, f"{type(e).__name__}: {str(e)[:160]}" + ("" if ok else f" (lacks {must!r})"))
        )
    except Exception as e:
        cases.append(_Case(name, group, False, f"unexpected {type(e).__name__}: {str(e)[:160]}"))
    else:
        cases.append(_Case(name, group, False, f"no error raised (expected {', '.join(x.__name__ for x in errors)})"))


def _loader_cases(work: Path, cases: list[_Case]) -> None:
    from catalog import DataError, LoadReport, load_amazon_reviews, load_table

    work.mkdir(parents=True, exist_ok=True)
    good = "user_id,item_id,rating,timestamp\nu1,i1,4,100\nu2,i2,5,200\n"
    with _expect_error(cases, "table: missing file", "loaders", (DataError,), must="not found"):
        load_table(work / "nope.csv")
    p = work / "nocol.csv"
    p.write_text("user,item_id,rating,timestamp\nu1,i1,4,100\n")
    with _expect_error(cases, "table: missing column", "loaders", (DataError,), must="user_id"):
        load_table(p)
    p = work / "badrow.csv"
    p.write_text(good + "u3,i3,five,300\n")
    with _expect_error(cases, "table: non-numeric rating (strict)", "loaders", (DataError,), must="line 4"):
        load_table(p)
    try:
        rep = LoadReport()
        ds = load_table(p, lenient=True, report=rep)
        ok = rep.skipped == 1 and len(ds.interactions) == 2
        cases.append(
            _Case(
                "table: non-numeric rating (lenient)",
                "loaders",
                ok,
                f"skipped {rep.skipped}, kept {len(ds.interactions)}",
            )
        )
    except Exception as e:
        cases.append(_Case("table: non-numeric rating (lenient)", "loaders", False, f"{type(e).__name__}: {e}"))
    p = work / "binary.csv"
    p.write_bytes(bytes(range(256)) * 8)
    with _expect_error(cases, "table: binary garbage", "loaders", (DataError,)):
        load_table(p)
    p = work / "empty.csv"
    p.write_text("")
    with _expect_error(cases, "table: empty file", "loaders", (DataError,)):
        load_table(p)
    meta = work / "meta.jsonl"
    meta.write_text('{"parent_asin": "P1", "title": "A pan"}\n')
    rev = work / "reviews.jsonl"
    rev.write_text('{"user_id": "u1", "parent_asin": "P1", "rating": 5, "timestamp": 1000}\n{not json\n')
    with _expect_error(cases, "amazon: broken JSON line (strict)", "loaders", (DataError,), must="line 2"):
        load_amazon_reviews(rev, meta)
    try:
        rep = LoadReport()
        ds = load_amazon_reviews(rev, meta, lenient=True, report=rep)
        ok = rep.skipped == 1 and len(ds.interactions) >= 1
        cases.append(
            _Case(
                "amazon: broken JSON line (lenient)",
                "loaders",
                ok,
                f"skipped {rep.skipped}, kept {len(ds.interactions)}",
            )
        )
    except Exception as e:
        cases.append(_Case("amazon: broken JSON line (lenient)", "loaders", False, f"{type(e).__name__}: {e}"))


def _store_cases(work: Path, cases: list[_Case]) -> None:
    import sqlite3

    from pydantic import ValidationError

    from catalog import FeedbackEvent, Store

    work.mkdir(parents=True, exist_ok=True)
    base = {"event_id": "e", "session_id": "s", "item_id": "1", "kind": "like"}
    for label, bad in (
        ("empty event_id", {"event_id": ""}),
        ("unknown kind", {"kind": "love"}),
        ("NaN value", {"value": float("nan")}),
        ("overlong session_id", {"session_id": "x" * 10_000}),
        ("negative timestamp", {"timestamp": -1.0}),
    ):
        with _expect_error(cases, f"feedback: {label}", "store", (ValidationError,)):
            FeedbackEvent.model_validate({**base, **bad})
    with Store(work / "robust.sqlite3") as s:
        tricky = ["x'); DROP TABLE feedback;--", "zero\u200bwidth", "emoji \U0001f3ac", "quote\"'`", "nul-free \\0"]
        stored = [s.add_feedback(FeedbackEvent.model_validate({**base, "event_id": t})) for t in tricky]
        again = [s.add_feedback(FeedbackEvent.model_validate({**base, "event_id": t})) for t in tricky]
        back = {e.event_id for e in s.feedback()}
        ok = all(stored) and not any(again) and back == set(tricky) and s.integrity_check() == "ok"
        cases.append(_Case("store: hostile ids round-trip, duplicates ignored", "store", ok, f"{len(back)} stored"))
    corrupt = work / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 300)
    with _expect_error(cases, "store: corrupt database file", "store", (sqlite3.DatabaseError,)):
        Store(corrupt).close()


def _injection_cases(cases: list[_Case], ctx: SuiteContext, agent_mode: str) -> dict[str, Any]:
    from agent.safety import detect_injection, load_injections, neutralise

    inj = load_injections()
    flagged = 0
    for c in inj:
        flagged += bool(detect_injection(c.payload))
        cleaned = neutralise(c.payload)
        structural = [
            f.rule for f in detect_injection(cleaned) if f.rule in ("chat_template", "role_label", "tool_markup")
        ]
        cases.append(
            _Case(f"neutralise: {c.id}", "injection", not structural, f"left {structural}" if structural else "defused")
        )
    out: dict[str, Any] = {
        "payloads": len(inj),
        "flagged_rate": flagged / len(inj) if inj else float("nan"),
        "agent_checked": 0,
    }
    if agent_mode == "off":
        return out
    try:
        rec = ctx.recommender()
    except CheckUnavailable as e:
        if agent_mode == "required":
            raise
        out["agent_note"] = str(e)
        return out
    leaks = 0
    for c in inj:
        if c.target != "message":
            continue
        reply = rec.chat(f"robustness-{c.id}", c.payload, None)
        cards = [_card_fields(x) for x in reply.cards]
        text = " ".join([reply.text, *(x["explanation"] for x in cards)])
        leak = c.canary in text
        leaks += leak
        out["agent_checked"] += 1
        cases.append(_Case(f"agent reply: {c.id}", "injection", not leak, "canary leaked" if leak else "no canary"))
    out["canary_leaks"] = leaks
    return out


@_check("robustness")
def check_robustness(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Bad inputs to loaders and the store, and the shipped prompt-injection payloads.

    Params: ``agent`` (``auto``: also send message payloads to ``agent.Recommender`` when it exists;
    ``required``: unavailable without it; ``off``). Metrics: ``cases``, ``passed``, ``failed``, per-group
    pass counts, ``injections.flagged_rate`` (detector recall on the payloads, informational),
    ``injections.canary_leaks`` (agent replies carrying a payload's canary).
    """
    cases: list[_Case] = []
    work = ctx.work_dir / "robustness"
    _loader_cases(work / "loaders", cases)
    _store_cases(work / "store", cases)
    inj = _injection_cases(cases, ctx, str(_param(params, "agent", "auto")))
    groups: dict[str, dict[str, int]] = {}
    for c in cases:
        g = groups.setdefault(c.group, {"cases": 0, "passed": 0})
        g["cases"] += 1
        g["passed"] += c.ok
    failed = [c for c in cases if not c.ok]
    notes = [f"failed: {c.name}: {c.detail}" for c in failed]
    if inj.get("agent_note"):
        notes.append(f"agent reply checks skipped ({inj['agent_note']})")
    metrics = {
        "cases": len(cases),
        "passed": len(cases) - len(failed),
        "failed": len(failed),
        "groups": groups,
        "injections": inj,
        "case_list": [{"name": c.name, "group": c.group, "ok": c.ok, "detail": c.detail} for c in cases],
    }
    return {"metrics": metrics, "artifacts": {}, "notes": notes}


# -------------------------------------------------------------------------------- check: reliability


@_check("reliability")
def check_reliability(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Store durability under SIGKILL, concurrent writers, torn-WAL recovery, bounded lock wait.

    Params: the fields of :class:`evals.reliability.ReliabilityConfig`.
    """
    from evals.reliability import ReliabilityConfig, run_reliability

    cfg = ReliabilityConfig.model_validate(params)
    res = run_reliability(ctx.work_dir / "reliability", cfg, progress=lambda m: ctx.say("  " + m))
    artifacts = {
        "reliability_seconds": {
            "type": "bars",
            "title": "Store reliability checks: wall time",
            "labels": [k for k, v in res.items() if "seconds" in v],
            "series": {"seconds": [v["seconds"] for v in res.values() if "seconds" in v]},
            "ylabel": "s",
        }
    }
    return {"metrics": res, "artifacts": artifacts, "notes": []}


# --------------------------------------------------------------------------- check: reliability-http


@_check("reliability-http")
def check_reliability_http(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """The HTTP API and the agent under fuzzing, concurrent sessions, a failing LLM server, size and
    queue bounds, injection payloads and file-route traversal (loopback only, private workspaces).

    Params: the fields of :class:`evals.reliability_http.HttpReliabilityConfig`.
    """
    from evals.reliability_http import HttpReliabilityConfig, run_http_reliability

    cfg = HttpReliabilityConfig.model_validate(params)
    res = run_http_reliability(ctx.config, ctx.work_dir / "reliability-http", cfg, progress=lambda m: ctx.say("  " + m))
    m = res["metrics"]
    artifacts: dict[str, Any] = {}
    lat = (m.get("concurrent") or {}).get("latency_s")
    if lat:
        labels = [k for k in lat if k != "all"] + ["all"]
        artifacts["http_latency"] = {
            "type": "bars",
            "title": f"Chat turn latency, {m['concurrent']['sessions']} concurrent sessions (template-only)",
            "labels": labels,
            "series": {"p50": [lat[k]["p50"] for k in labels], "p95": [lat[k]["p95"] for k in labels]},
            "ylabel": "s",
        }
    fz = m.get("fuzz")
    if fz and "examples" in fz:
        keys = ["2xx", "3xx", "4xx", "5xx", "dropped", "timeout"]
        artifacts["http_fuzz"] = {
            "type": "bars",
            "title": f"Fuzzed API requests by answer ({fz['examples']} requests)",
            "labels": keys,
            "series": {"requests": [fz.get(k, 0) for k in keys]},
        }
    return {"metrics": m, "artifacts": artifacts, "notes": res["notes"]}


# ---------------------------------------------------------------------------------- check: security


def check_security(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """The attack suite (:mod:`evals.security`): every endpoint of a real token-mode ``trustrec serve``
    with no token, bad tokens, other users' and services' tokens, guessed sessions and non-admin tokens
    on admin endpoints. Metrics: ``attempts``, ``breaches``, ``store_changed``, ``controls_failed``, ``rate_limit``.
    """
    from evals.security import run_security_check

    return run_security_check(params, ctx)


register_check("security", check_security)


# ------------------------------------------------------------------------------ check: faithfulness


@_check("faithfulness")
def check_faithfulness(params: dict[str, Any], ctx: SuiteContext) -> dict[str, Any]:
    """Chat sessions (warm, cold-start, constrained) with every shown explanation re-verified claim by
    claim (:mod:`evals.faithfulness`). Params: ``sessions``, ``n``, ``seed``, ``samples``, ``llm``.
    Metrics: ``shown``, ``false_claims``, ``false_claim_rate``, ``llm_share``, ``llm_first_try_pass_rate``.
    """
    from evals.faithfulness import run_faithfulness_check

    return run_faithfulness_check(params, ctx)
