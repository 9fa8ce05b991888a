"""`trustrec bench chat|startup|serve|eval|scale|all`: chat-turn latency, evaluation time against the physical floor,
and every benchmark in one run (each in its own process, so memory figures do not mix)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Annotated, Any

import typer

from ui.common import ConfigOption, JsonFlag, OutFile, config_from, console, finish, stdout, step, user_errors


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    t = Table(title=title)
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, v)
    stdout.print(t)


def _pp(d: dict[str, float] | None) -> str:
    return "-" if d is None else f"{d['p50']:.2f} / {d['p95']:.2f}"


def _load(res: dict[str, Any]) -> str:
    la = res.get("load_average")
    return " ".join(f"{x:.2f}" for x in la) if la else "n/a"


def _print_chat(res: dict[str, Any]) -> None:
    rows = [
        ("first text p50 / p95 (s)", _pp(res["first_text_s"])),
        ("first card p50 / p95 (s)", _pp(res["first_card_s"])),
        ("whole turn p50 / p95 (s)", _pp(res["whole_turn_s"])),
        ("cards written by the LLM", f"{res['llm_written_cards']} of {res['cards']}"),
        ("load average (1/5/15 min)", _load(res)),
    ]
    tmpl = res.get("templates_only")
    if tmpl:
        rows += [
            ("templates only: first card p50 / p95 (s)", _pp(tmpl["first_card_s"])),
            ("templates only: whole turn p50 / p95 (s)", _pp(tmpl["whole_turn_s"])),
            ("templates only: load average", _load(tmpl)),
            ("LLM turn / template turn (p50)", f"{res['llm_to_template_p50_ratio']:.2f}x"),
        ]
    rows.append(("targets", "first card <= 0.5 s; whole turn p50 <= 2.5 s, p95 <= 4 s"))
    _table(f"chat turns ({res['turns']}, LLM: {res['llm']})", rows)


def _print_concurrency(res: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(
        title=f"concurrent chat sessions ({res['script_turns']} turns each, {res['cores']} cores, LLM: {res['llm']})"
    )
    for c in ("text", "sessions", "turns", "turns/s", "turns/s/core", "whole p50 / p95 (s)", "first card p50 / p95 (s)",
              "LLM cards", "load avg"):  # fmt: skip
        t.add_column(c, justify="right")
    for mode, rows in res["modes"].items():
        for level, r in rows.items():
            t.add_row(
                mode, level, str(r["turns"]), f"{r['turns_per_s']:.2f}", f"{r['turns_per_s_per_core']:.2f}",
                _pp(r["whole_turn_s"]), _pp(r["first_card_s"]), f"{r['llm_written_cards']} of {r['cards']}", _load(r),
            )  # fmt: skip
    stdout.print(t)
    for level, ratio in (res.get("llm_to_template_p50_ratio") or {}).items():
        stdout.print(f"LLM turn / template turn (p50) at {level} sessions: {ratio:.2f}x")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    bench = groups["bench"]

    @bench.command("chat")
    def bench_chat_cmd(
        sessions: Annotated[int, typer.Option("--sessions", min=1, help="Scripted sessions (6 turns each).")] = 3,
        llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Use the configured LLM for explanations.")] = True,
        concurrency: Annotated[
            str | None,
            typer.Option(
                "--concurrency",
                help="Sessions at once, e.g. 1,4,8: turns/s and p50/p95 per level (3 turns per session), "
                "with LLM text and with templates only (only templates with --no-llm).",
            ),
        ] = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """p50/p95 chat-turn latency (first text, first card, whole turn) through the agent's streaming API."""
        from agent.recommender import Recommender
        from evals.bench import bench_chat, bench_chat_concurrency

        levels: list[int] = []
        if concurrency is not None:
            try:
                levels = [int(x) for x in concurrency.split(",") if x.strip()]
            except ValueError:
                levels = []
            if not levels or min(levels) < 1 or max(levels) > 64:
                console.print(f"[bold red]error:[/] --concurrency {concurrency!r}: give levels 1..64, e.g. 1,4,8")
                raise typer.Exit(2)
        cfg = config_from(config)
        with user_errors():
            say = (lambda _m: None) if json_ else step("building the recommender")
            rec = Recommender.from_config(cfg, progress=say, llm="config" if llm else None)
            if rec.engine.llm is not None:
                from agent.llm import check_health

                check_health(cfg.llm, rec.engine.workspace, generate=True)  # load the model before timing
            res = bench_chat_concurrency(rec, levels, llm=llm) if levels else bench_chat(rec, sessions=sessions)
        res["llm"] = cfg.llm.backend if llm else "none (templates)"
        finish(res, json_=json_, out=out, show=lambda: _print_concurrency(res) if levels else _print_chat(res))

    @bench.command("startup")
    def bench_startup_cmd(
        reuse: Annotated[
            str,
            typer.Option(
                "--reuse",
                help="Workspace folders linked from the current workspace, i.e. already cached (comma-separated: "
                "models, index, cache). Default none: a fresh workspace with only the prepared data.",
            ),
        ] = "",
        llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Serve with the configured LLM.")] = True,
        timeout: Annotated[float, typer.Option("--timeout", min=10, help="Give up after this many seconds.")] = 1800,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Seconds from `trustrec serve` to /healthz, to the first chat answer, and to /readyz, on a new workspace."""
        from evals.bench import bench_startup

        names = [x.strip() for x in reuse.split(",") if x.strip()]
        bad = [x for x in names if x not in ("models", "index", "cache")]
        if bad:
            console.print(f"[bold red]error:[/] --reuse {','.join(bad)}: choose among models, index, cache")
            raise typer.Exit(2)
        cfg = config_from(config)
        with user_errors():
            res = bench_startup(cfg.workspace().home, reuse=names, llm=llm, timeout_s=timeout,
                                progress=lambda m: console.print(f"[dim]{m}[/]"))  # fmt: skip
        cached = ", ".join(names) if names else "nothing but the prepared data"
        finish(res, json_=json_, out=out, show=lambda: _table(
            f"start-up on a new workspace (already cached: {cached})",
            [
                ("trustrec serve -> /healthz (s)", f"{res['healthz_s']:.1f}"),
                ("trustrec serve -> first chat answer (s)", f"{res['first_answer_s']:.1f}"),
                ("first answer's writers", ", ".join(res["first_answer_writers"]) or "-"),
                ("trustrec serve -> /readyz (s)", f"{res['readyz_s']:.1f}"),
                ("a turn after /readyz (s)", f"{res['answer_after_ready_s']:.1f}"),
                ("its writers", ", ".join(res["after_ready_writers"]) or "-"),
                ("load average at start", _load({"load_average": res["load_average_start"]})),
                ("load average at end", _load({"load_average": res["load_average_end"]})),
            ],
        ))  # fmt: skip

    @bench.command("serve")
    def bench_serve_cmd(
        replicas: Annotated[
            str,
            typer.Option(
                "--replicas",
                help="Replica counts to compare, e.g. 1,2 (more than 1 needs the PostgreSQL store, store.url).",
            ),
        ] = "1,2",
        sessions: Annotated[int, typer.Option("--sessions", min=1, max=32, help="Concurrent sessions.")] = 4,
        turns: Annotated[int, typer.Option("--turns", min=1, max=20, help="Timed turns per session.")] = 5,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Turns/s and p50/p95 per turn (template text) through Ray Serve's proxy for each replica count
        (`trustrec serve --engine ray --replicas N --no-llm --no-ui` started per count, on a fresh workspace
        linking this one's data, models and index)."""
        import tempfile
        from pathlib import Path

        from evals.replicas import ray_serve_throughput

        try:
            counts = tuple(int(x) for x in replicas.split(",") if x.strip())
        except ValueError:
            counts = ()
        if not counts or min(counts) < 1 or max(counts) > 8:
            console.print(f"[bold red]error:[/] --replicas {replicas!r}: give counts 1..8, e.g. 1,2")
            raise typer.Exit(2)
        cfg = config_from(config)
        say = lambda m: console.print(f"[dim]{m}[/]")  # noqa: E731
        with user_errors(), tempfile.TemporaryDirectory(prefix="trustrec-bench-serve-") as work:
            res = ray_serve_throughput(cfg, cfg.workspace().home, Path(work), replicas=counts, sessions=sessions,
                                       turns=turns, progress=say)  # fmt: skip

        def show() -> None:
            from rich.table import Table

            t = Table(title=f"Ray Serve, {sessions} sessions x {turns} turns, templates only ({res['cores']} cores)")
            for col in ("replicas", "turns/s", "p50 / p95 (s)", "answers per replica", "load average before / after"):
                t.add_column(col)
            for lv in res["levels"]:
                t.add_row(
                    str(lv["replicas"]), f"{lv['turns_per_s']:.2f}", f"{lv['p50_s']:.2f} / {lv['p95_s']:.2f}",
                    ", ".join(f"{k}: {v}" for k, v in lv["answers_per_replica"].items()),
                    f"{_load({'load_average': lv['load_average_before']})} / "
                    f"{_load({'load_average': lv['load_average_after']})}",
                )  # fmt: skip
            stdout.print(t)

        finish(res, json_=json_, out=out, show=show)

    @bench.command("eval")
    def bench_eval_cmd(
        protocol: Annotated[str, typer.Option("--protocol", help="ro811 or loo.")] = "ro811",
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Time of one full-ranking evaluation pass (EASE, the joint model) next to the 64-d floor."""
        from catalog import load_dataset, make_split
        from evals.bench import bench_eval
        from ranker.baselines import EASERanker

        cfg = config_from(config)
        with user_errors():
            ds = load_dataset(cfg.data, cfg.workspace())
            split = make_split(ds, protocol, seed=cfg.seed, weights=cfg.data.behaviour_weights)  # type: ignore[arg-type]
            rankers: dict[str, Any] = {"ease": EASERanker().fit(ds, split)}
            try:
                from ranker.train import load_trained

                rankers["joint"] = load_trained(cfg.workspace(), protocol)
            except FileNotFoundError as e:
                console.print(f"[yellow]note:[/] {e}")
            res = bench_eval(ds, split, rankers)
        rows = [
            (f"{k[:-2]} pass (ms)", f"{v * 1000:.1f}")
            for k, v in res.items()
            if k.endswith("_s") and k != "anchor_floor_s"
        ]
        rows.append(("anchor floor (ms)", "~10 (5-30 us per user x 943)"))
        title = f"full-ranking evaluation, {res['users']} users x {res['items']} items"
        finish(res, json_=json_, out=out, show=lambda: _table(title, rows))

    @bench.command("scale")
    def bench_scale_cmd(
        items: Annotated[str, typer.Option("--items", help="Catalog sizes, comma-separated (k and M allowed).")] = (
            "10k,100k"
        ),
        users: Annotated[
            str | None, typer.Option("--users", help="Users per size (default: items, at least 10k).")
        ] = None,
        interactions: Annotated[
            str | None, typer.Option("--interactions", help="Interactions per size (default: 10 x items).")
        ] = None,
        models: Annotated[str, typer.Option("--models", help="ease, itemknn or both.")] = "ease,itemknn",
        requests: Annotated[
            int, typer.Option("--requests", min=1, help="Recommend+explain calls timed per size.")
        ] = 50,
        sparse_above: Annotated[
            int | None, typer.Option("--sparse-above", min=1, help="Size threshold (default: the config default).")
        ] = None,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        plot_path: Annotated[
            str | None, typer.Option("--plot", help="PNG of the curves (default: workspace reports/scale.png).")
        ] = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Fit time, peak RSS, model size and recommend+explain p50/p95 on seeded synthetic shops of growing size."""
        from pathlib import Path

        from catalog.errors import BadInput
        from evals.scale import plot, run_scale

        def sizes(text: str | None, what: str) -> list[int] | None:
            if text is None:
                return None
            mult = {"k": 1_000, "m": 1_000_000}
            vals = []
            for tok in (t.strip().lower() for t in text.split(",") if t.strip()):
                try:
                    vals.append(int(float(tok[:-1]) * mult[tok[-1]]) if tok[-1] in mult else int(tok))
                except ValueError:
                    raise BadInput(f"--{what}: {tok!r} is not a size; write e.g. 10k,100k,1M") from None
            return vals

        with user_errors():
            n_items = sizes(items, "items") or []
            n_users = sizes(users, "users") or [max(10_000, i) for i in n_items]
            n_inter = sizes(interactions, "interactions") or [10 * i for i in n_items]
            if not (len(n_items) == len(n_users) == len(n_inter)):
                raise BadInput("--items, --users and --interactions need the same number of sizes")
            names = [m.strip() for m in models.split(",") if m.strip()]
            if not names or set(names) - {"ease", "itemknn"}:
                raise BadInput(f"--models: ease and/or itemknn, got {models!r}")
            res = run_scale(
                list(zip(n_items, n_users, n_inter, strict=True)), models=names, requests=requests, seed=seed,
                sparse_above=sparse_above, progress=lambda m: console.print(m),
            )  # fmt: skip
            png = Path(plot_path) if plot_path else config_from(config).workspace().reports / "scale.png"
            res["plot"] = str(plot(res, png))

        def show() -> None:
            rows: list[tuple[str, str]] = []
            for r in res["sizes"]:
                head = f"{r['items']:,} items / {r['interactions']:,} inter."
                rows.append((f"{head}: peak RSS (MiB)", f"{r['peak_rss_mb']:.0f}"))
                for m, f in r["models"].items():
                    re = f["recommend_explain"]
                    rows.append((
                        f"{head}: {m} ({f['form']}) fit s / MiB / p50 / p95 ms",
                        f"{f['fit_s']:.1f} / {f['disk_mb']:.1f} / {re['p50_ms']:.1f} / {re['p95_ms']:.1f}",
                    ))  # fmt: skip
            for e in res["exponents"]:
                span = f"{e['from_items']:,} -> {e['to_items']:,}"
                rows.append((f"exponent {span}: peak RSS vs interactions", f"{e['peak_rss']['vs_interactions']:.2f}"))
                for m in (k for k in e if k in ("ease", "itemknn")):
                    rows.append((
                        f"exponent {span}: {m} fit / disk / p50 vs interactions",
                        " / ".join(f"{e[m][k]['vs_interactions']:.2f}" for k in ("fit_s", "disk_mb", "p50")),
                    ))  # fmt: skip
            rows.append(("load average", _load(res)))
            rows.append(("plot", res["plot"]))
            _table("catalog scale (synthetic shop)", rows)

        finish(res, json_=json_, out=out, show=show)

    @bench.command("all")
    def bench_all(
        json_: JsonFlag = False,
        out: OutFile = None,
        llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Include the embedded LLM (slow on CPU).")] = True,
        sizes: Annotated[str, typer.Option("--sizes", help="Retrieval sizes.")] = "1682,100000,1000000",
        config: ConfigOption = None,
    ) -> None:
        """Every benchmark, one process each, figures collected into one JSON."""
        cfg_args = ["--config", str(config)] if config else []
        plan: list[tuple[str, list[str]]] = [
            ("eval", ["bench", "eval"]),
            ("recommend", ["bench", "recommend"]),
            ("retrieval", ["bench", "retrieval", "--sizes", sizes]),
            ("chat", ["bench", "chat", *([] if llm else ["--no-llm"])]),
        ]
        if llm:
            plan.append(("llm", ["bench", "llm", "--no-cold"]))
        results: dict[str, Any] = {}
        for name, args in plan:  # every command prints its JSON on stdout with --json
            cmd = [sys.executable, "-m", "ui.cli", *args, *cfg_args, "--json"]
            console.print(f"[bold]bench {name}[/] ...")
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True)
            try:
                results[name] = (
                    json.loads(proc.stdout) if proc.returncode == 0 else {"error": f"exit {proc.returncode}"}
                )
            except json.JSONDecodeError as e:
                results[name] = {"error": f"no JSON ({e})"}
            results[name]["wall_s"] = time.perf_counter() - t0
        cfg = config_from(config)
        log = cfg.workspace().models / "ranker-ro811-joint" / "meta.json"
        if log.is_file():
            meta = json.loads(log.read_text())
            results["training"] = {k: meta[k] for k in ("wall_s", "train_wall_s", "epochs_run") if k in meta}
        finish(results, json_=json_, out=out, show=lambda: stdout.print_json(data=results, default=str))
