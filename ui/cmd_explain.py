"""`trustrec recommend`, `trustrec eval explanations|calibration|fairness`, `trustrec bench recommend`.

The model is the trained joint ranker of the protocol when its checkpoint exists, else EASE fitted
on the split's training data (said on stderr and in the JSON ``note``). The calibrator is loaded
from next to the checkpoint, or fitted on validation data and saved there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agent.state import MAX_N
from catalog.errors import BadInput, UnknownUser
from ui.common import (
    ConfigOption,
    JsonFlag,
    OutFile,
    config_from,
    console,
    finish,
    stdout,
    step,
    user_errors,
)

if TYPE_CHECKING:
    from agent.config import TrustrecConfig
    from ranker.stack import RankingStack

ProtocolOption = Annotated[str, typer.Option("--protocol", help="Split protocol: ro811 or loo.")]
ModelOption = Annotated[
    str, typer.Option("--model", help="auto (trained joint model, else EASE), joint (fail if untrained) or ease.")
]


def load_context(
    cfg: TrustrecConfig, protocol: str, model: str, *, quiet: bool = False, calibrate: bool = True
) -> RankingStack:
    """The ranking stack (:func:`ranker.stack.build_stack`): the trained joint model, else EASE (said on stderr)."""
    from ranker.stack import build_stack

    say = (lambda _m: None) if quiet else step(f"loading {cfg.data.dataset} ({protocol})")
    stack = build_stack(cfg, protocol=protocol, model=model, calibrate=calibrate, progress=say)
    if stack.dataset.note:  # the synthetic shop says so with every figure
        console.print(f"[bold yellow]{stack.dataset.note}[/]")
    if stack.note:
        console.print(f"[yellow]note:[/] {stack.note}")
    return stack


def _shap_jit_cache(cfg: TrustrecConfig, ctx: RankingStack) -> None:
    """Keep shap's numba kernels compiled on disk (20-60 s per process otherwise) when shap will run."""
    if not ctx.additive:
        from ranker.jit_cache import enable_shap_jit_cache

        enable_shap_jit_cache(cfg.workspace().cache / "numba")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @app.command("recommend")
    def recommend_cmd(
        user: Annotated[
            str | None, typer.Option("--user", help="A user id of the dataset (ml-100k: 1..943); omit for a new user.")
        ] = None,
        n: Annotated[int, typer.Option("--n", min=1, max=MAX_N, help="List length.")] = 10,
        llm: Annotated[
            bool, typer.Option("--llm/--no-llm", help="Explanations written by the configured LLM, else templates.")
        ] = False,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """A list for a user through the same pipeline as the app and POST /v1/recommend: each card with
        score, calibrated confidence, trust report, SHAP attributions and explanation (--json: the API's body)."""
        from agent.recommender import Recommender

        cfg = config_from(config)
        with user_errors():
            say = (lambda _m: None) if json_ else step(f"loading the recommender ({cfg.data.dataset})")
            rec = Recommender.from_config(cfg, progress=say, llm="config" if llm else None)
            try:
                if user is not None and user not in rec.engine.dataset.user_index:
                    raise UnknownUser(f"unknown user {user!r}; use an id of the dataset, or omit --user for a new user")
                t0 = time.perf_counter()
                reply = rec.recommend(user, n)
                elapsed = (time.perf_counter() - t0) * 1000
            finally:
                rec.close()
        out = {
            "session_id": reply.session_id,
            "user_id": user,
            "cards": [c.model_dump(mode="json") for c in reply.cards],
            "list_report": reply.list_report,
            "notes": reply.notes,
        }
        finish(out, json_=json_, out=None, show=lambda: _print_recommendations(out, elapsed))

    @groups["eval"].command("explanations")
    def eval_explanations(
        json_: JsonFlag = False,
        out: OutFile = None,
        users: Annotated[int, typer.Option("--users", min=1, help="Users sampled.")] = 100,
        n: Annotated[int, typer.Option("--n", min=1, help="Items explained per user.")] = 10,
        protocol: ProtocolOption = "ro811",
        model: ModelOption = "auto",
        seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
        config: ConfigOption = None,
    ) -> None:
        """Additivity, deletion test vs random, deletion/insertion AUC, comprehensiveness, sufficiency."""
        from rich.progress import Progress

        from evals.explanations import evaluate_explanations

        cfg = config_from(config)
        with user_errors():
            ctx = load_context(cfg, protocol, model, calibrate=False)
            _shap_jit_cache(cfg, ctx)
            t0 = time.perf_counter()
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("explaining", total=users)
                res = evaluate_explanations(
                    ctx.ranker, ctx.dataset, ctx.split, n_users=users, n=n, seed=seed,
                    progress=lambda d, t: bar.update(task, completed=d, total=t),
                )  # fmt: skip
        res = {"model": ctx.name, "protocol": protocol, "note": ctx.note, **res}
        res["wall_s"] = round(time.perf_counter() - t0, 2)
        finish(
            res,
            json_=json_,
            out=out,
            show=lambda: _summary(
                "explanations",
                {
                    "max additivity error": res["additivity"]["max_error"],
                    "top-3 removal lowers score": res["deletion_test"]["lowered_rate"],
                    "top-3 removal beats 3 random": res["deletion_test"]["beats_random_rate"],
                    "deletion AUC (attribution / random)": _pair(res["deletion_curve"]),
                    "insertion AUC (attribution / random)": _pair(res["insertion_curve"]),
                    "comprehensiveness (attr / random)": _pair2(res["comprehensiveness"]),
                    "sufficiency (attr / random)": _pair2(res["sufficiency"]),
                },
                res,
            ),
        )

    @groups["eval"].command("calibration")
    def eval_calibration(
        json_: JsonFlag = False,
        out: OutFile = None,
        diagram: Annotated[Path | None, typer.Option("--diagram", help="Reliability diagram PNG path.")] = None,
        n: Annotated[int, typer.Option("--n", min=1, help="List length of the top-n view.")] = 10,
        method: Annotated[str, typer.Option("--method", help="isotonic or platt.")] = "isotonic",
        protocol: ProtocolOption = "ro811",
        model: ModelOption = "auto",
        config: ConfigOption = None,
    ) -> None:
        """ECE, Brier and a reliability diagram on TEST data; the calibrator is fitted on validation."""
        from evals.calibration import evaluate_calibration
        from ranker.calibration import CalibrationConfig

        cfg = config_from(config)
        with user_errors():
            ccfg = CalibrationConfig.model_validate({"method": method})
            ctx = load_context(cfg, protocol, model, calibrate=method == "isotonic")
            png = diagram or (
                out.with_suffix(".png") if out else cfg.workspace().reports / f"calibration-{ctx.name}-{protocol}.png"
            )
            res = evaluate_calibration(
                ctx.ranker, ctx.dataset, ctx.split, calibrator=ctx.calibrator if method == "isotonic" else None,
                config=ccfg, n=n, diagram=png, model_name=ctx.name, progress=step("calibration"),
            )  # fmt: skip
        res = {"note": ctx.note, **res}
        top = res[f"top_{n}"]
        finish(
            res,
            json_=json_,
            out=out,
            show=lambda: _summary(
                "calibration (test)",
                {
                    "method": res["calibrator"]["method"],
                    f"top-{n} ECE": top["ece"],
                    f"top-{n} Brier": top["brier"],
                    f"top-{n} mean confidence / hit rate": f"{top['mean_confidence']:.4f} / {top['observed_rate']:.4f}",
                    "sampled ECE (full-catalog weights)": res["sampled"]["ece"],
                    "sampled Brier": res["sampled"]["brier"],
                    "diagram": res["diagram"],
                },
                res,
            ),
        )

    @groups["eval"].command("coldstart")
    def eval_coldstart(
        json_: JsonFlag = False,
        out: OutFile = None,
        ks: Annotated[str, typer.Option("--ks", help="Known items per user, comma-separated.")] = "0,1,3,5,10",
        plot: Annotated[Path | None, typer.Option("--plot", help="NDCG-vs-k PNG path.")] = None,
        protocol: ProtocolOption = "ro811",
        config: ConfigOption = None,
    ) -> None:
        """New users: test users cut to their first k training items; NDCG/Recall/Hit@10 and ECE by profile size."""
        from evals.coldstart import evaluate_cold_start

        cfg = config_from(config)
        with user_errors():
            try:
                k_list = sorted({int(x) for x in ks.split(",") if x.strip()})
            except ValueError:
                raise BadInput(f"--ks {ks!r}: give whole numbers separated by commas, e.g. 0,1,3,5,10") from None
            if not k_list or min(k_list) < 0:
                raise BadInput(f"--ks {ks!r}: give non-negative whole numbers, e.g. 0,1,3,5,10")
            ctx = load_context(cfg, protocol, "joint")
            png = plot or (out.with_suffix(".png") if out else cfg.workspace().reports / f"coldstart-{protocol}.png")
            res = evaluate_cold_start(
                ctx.ranker, ctx.calibrator, getattr(ctx.ranker, "base", None), ctx.dataset, ctx.split, k_list,
                plot=png, progress=step("cold start"),
            )  # fmt: skip
        finish(res, json_=json_, out=out, show=lambda: _print_coldstart(res))

    @groups["eval"].command("fairness")
    def eval_fairness(
        json_: JsonFlag = False,
        out: OutFile = None,
        n: Annotated[int, typer.Option("--n", min=1, help="List length.")] = 10,
        protocol: ProtocolOption = "ro811",
        model: ModelOption = "auto",
        config: ConfigOption = None,
    ) -> None:
        """Popularity bias (ARP, Gini, coverage), NDCG@10 by gender and age band, debiasing and MMR trade-offs."""
        from evals.fairness import evaluate_fairness

        cfg = config_from(config)
        with user_errors():
            ctx = load_context(cfg, protocol, model, calibrate=False)
            res = evaluate_fairness(ctx.ranker, ctx.dataset, ctx.split, n=n, progress=step("fairness"))
        res = {"model": ctx.name, "note": ctx.note, **res}
        finish(res, json_=json_, out=out, show=lambda: _print_fairness(res, n))

    @groups["bench"].command("recommend")
    def bench_recommend(
        users: Annotated[int, typer.Option("--users", min=1, help="Users timed (one call each).")] = 100,
        n: Annotated[int, typer.Option("--n", min=1, help="List length.")] = 10,
        protocol: ProtocolOption = "ro811",
        model: ModelOption = "auto",
        seed: Annotated[int, typer.Option("--seed", help="User sampling seed.")] = 0,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """p50/p95 wall time of recommend + SHAP explanations + trust for the top n, one user per call."""
        import numpy as np

        from ranker.base import Profile

        cfg = config_from(config)
        with user_errors():
            ctx = load_context(cfg, protocol, model, quiet=json_)
            rx = ctx.explainer()
            hist = ctx.split.histories("train")
            rng = np.random.default_rng(seed)
            pool = np.array([u for u in range(ctx.dataset.n_users) if hist[u].size])
            sample = rng.choice(pool, size=min(users, pool.size), replace=False)
            # with the new-user blend (the served ranker), the trained ranker alone is timed side by side
            bare = getattr(ctx.ranker, "base", None)
            rx_bare = None
            if bare is not None:
                from ranker.explain import RecommendationExplainer

                warm_cal = getattr(ctx.calibrator, "warm", ctx.calibrator)
                assert warm_cal is not None  # load_context calibrates
                rx_bare = RecommendationExplainer(bare, ctx.dataset, warm_cal, ctx.item_counts, ctx.explain_config)
            for u in sample[:3]:  # warm-up: lazy imports (shap) and caches
                for x in (rx, rx_bare):
                    if x is not None:
                        x(Profile(hist[u], user_idx=int(u)), n)
            times, errs, bare_times = [], [], []
            for k, u in enumerate(sample):
                prof = Profile(hist[u], user_idx=int(u))
                order = [("served", rx), ("bare", rx_bare)] if k % 2 == 0 else [("bare", rx_bare), ("served", rx)]
                for name, x in order:  # interleaved, so load changes hit both alike
                    if x is None:
                        continue
                    memo = getattr(bare, "_raw_cache", None)
                    if memo is not None:  # the two share the trained ranker's feature memo: neither may reuse it
                        memo.clear()
                    t0 = time.perf_counter()
                    r_x = x(prof, n)
                    dt = (time.perf_counter() - t0) * 1000
                    if name == "served":
                        r = r_x
                        times.append(dt)
                        errs.append(r.max_additivity_error)
                    else:
                        bare_times.append(dt)
        t = np.asarray(times)
        res = {
            "model": ctx.name,
            "protocol": protocol,
            "note": ctx.note,
            "users": int(t.size),
            "n": n,
            "history_method": r.history_method,
            "p50_ms": float(np.percentile(t, 50)),
            "p95_ms": float(np.percentile(t, 95)),
            "mean_ms": float(t.mean()),
            "max_ms": float(t.max()),
            "max_additivity_error": float(max(errs)),
            "target_p95_ms": 100.0,
            "load_average": [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
            if Path("/proc/loadavg").is_file()
            else None,
        }
        if bare_times:
            b = np.asarray(bare_times)
            res["without_new_user_blend_p50_ms"] = float(np.percentile(b, 50))
            res["without_new_user_blend_p95_ms"] = float(np.percentile(b, 95))
        title = "bench recommend (recommend + explain + trust, top n)"
        finish(
            res, json_=json_, out=None, show=lambda: _summary(title, {k: v for k, v in res.items() if k != "note"}, res)
        )


# ------------------------------------------------------------------------------------------ printing


def _pair(curves: dict[str, Any]) -> str:
    return f"{curves['attribution']['auc']:.4f} / {curves['random']['auc']:.4f}"


def _pair2(d: dict[str, Any]) -> str:
    return f"{d['attribution']:.4f} / {d['random']:.4f}"


def _summary(title: str, rows: dict[str, Any], res: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{title}: {res.get('model', '')} ({res.get('protocol', '')})")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in rows.items():
        t.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    stdout.print(t)
    if res.get("note"):
        console.print(f"[yellow]note:[/] {res['note']}")


def _print_fairness(res: dict[str, Any], n: int) -> None:
    from rich.table import Table

    rec = res["recommendations"]
    _summary(
        "fairness and popularity bias",
        {
            f"ndcg@{n}": rec[f"ndcg@{n}"],
            "ARP (mean train count)": rec["arp"],
            "Gini": rec["gini"],
            "coverage": rec["coverage"],
            "novelty": rec["novelty"],
            "ILD": rec["ild"],
            **{f"ndcg@{n} {g}": v[f"ndcg@{n}"] for g, v in res["by_gender"].items() if not g.startswith("_")},
            **{f"ndcg@{n} age {g}": v[f"ndcg@{n}"] for g, v in res["by_age_band"].items() if not g.startswith("_")},
        },
        res,
    )
    for key, col, label in (
        ("popularity_debiasing", "beta", "popularity debiasing"),
        ("mmr_tradeoff", "lambda", "MMR"),
    ):
        t = Table(title=label)
        for c in (col, f"ndcg@{n}", "arp", "gini", "coverage", "ild"):
            t.add_column(c, justify="right")
        for row in res[key]:
            t.add_row(*(f"{row[c]:.4f}" for c in (col, f"ndcg@{n}", "arp", "gini", "coverage", "ild")))
        stdout.print(t)


def _print_recommendations(out: dict[str, Any], elapsed_ms: float) -> None:
    from rich.table import Table

    who = f"user {out['user_id']}" if out["user_id"] else "a new user"
    t = Table(title=f"{who}, {elapsed_ms:.0f} ms")
    for c in ("#", "item", "title", "confidence", "trust", "because you liked", "why"):
        t.add_column(c)
    for card in out["cards"]:
        trust = card.get("trust") or {}
        hist = ", ".join(f"{h['title']} ({h['value']:+.3f})" for h in card["history"][:3])
        conf = card.get("confidence")
        row = [str(card["position"]), card["item_id"], card["title"], "-" if conf is None else f"{conf:.3f}"]
        row += [f"{trust['composite']:.2f}" if trust else "-", hist or "-", card["explanation"]]
        t.add_row(*row)
    stdout.print(t)
    lr = out.get("list_report")
    if lr:
        stdout.print(
            f"list: ILD {lr['intra_list_diversity']:.3f}, novelty {lr['novelty']:.2f}, expected hits "
            f"{lr['expected_utility']:.3f}, regret {lr['regret']:.3f}"
        )
    for note in out.get("notes") or []:
        console.print(f"[yellow]note:[/] {note}")


def _print_coldstart(res: dict[str, Any]) -> None:
    """The cold-start table (NDCG / Recall / Hit @10 per model and k), the bars and ECE by profile size."""
    from rich.table import Table

    table = Table(
        title=f"cold start, NDCG@10 / Recall@10 / Hit@10 ({res['protocol']} test users, first k training items by time)"
    )
    table.add_column("k", justify="right")
    for name in res["table"]:
        table.add_column(name, justify="right")
    for k in res["ks"]:
        table.add_row(
            str(k),
            *(
                f"{rows[str(k)]['ndcg@10']:.4f} / {rows[str(k)]['recall@10']:.4f} / {rows[str(k)]['hit@10']:.3f}"
                for rows in res["table"].values()
            ),
        )
    console.print(table)
    for bar, ok in res["requirements"].items():
        console.print(f"  {'[green]met[/]' if ok else '[red]NOT met[/]'}  {bar}")
    cal = Table(title="calibration by profile size (top-10, test items)")
    for c in ("profile", "ECE", "Brier", "mean confidence", "hit rate", "n"):
        cal.add_column(c, justify="right")
    for name, v in res["calibration"].items():
        cal.add_row(name, f"{v['ece']:.4f}", f"{v['brier']:.4f}", f"{v['mean_confidence']:.4f}",
                    f"{v['hit_rate']:.4f}", str(v["n"]))  # fmt: skip
    console.print(cal)
    if res.get("plot"):
        console.print(f"plot: {res['plot']}")
