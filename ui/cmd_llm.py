"""`trustrec describe`, `trustrec explain`, `trustrec llm health`, `trustrec eval grounding`, `trustrec bench llm`.

Explanations come from the real evidence producer (:class:`ranker.explain.RecommendationExplainer`
through :func:`ui.cmd_explain.load_context`: the trained joint ranker, or EASE when none is trained)
and are written by the configured LLM (default: the embedded gemma-3-270m) behind the grounding
guard, falling back to the deterministic template.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from catalog.errors import UnknownItem
from ui.common import (
    ConfigOption,
    JsonFlag,
    OutFile,
    config_from,
    console,
    emit_json,
    finish,
    stdout,
    step,
    user_errors,
)

if TYPE_CHECKING:
    from agent.config import LLMConfig, TrustrecConfig

BackendOption = Annotated[
    str | None, typer.Option("--backend", help="LLM backend: embedded, openai or vllm-inprocess (default from config).")
]
MaxTokensOption = Annotated[int | None, typer.Option("--max-new-tokens", min=1, help="Token cap per text.")]


def _llm_cfg(cfg: TrustrecConfig, backend: str | None, max_new_tokens: int | None = None) -> LLMConfig:
    upd: dict[str, Any] = {}
    if backend:
        upd["backend"] = backend
    if max_new_tokens:
        upd["max_new_tokens"] = max_new_tokens
    return cfg.llm.model_validate({**cfg.llm.model_dump(), **upd})


def _writer(cfg: TrustrecConfig, lcfg: LLMConfig, dataset: Any) -> Any:
    """An explanation writer over the configured model that knows every catalog title."""
    from agent.writer import ExplanationWriter

    return ExplanationWriter(_load_llm(cfg, lcfg), lcfg, catalog=dataset.items)


def _load_llm(cfg: TrustrecConfig, lcfg: LLMConfig) -> Any:
    """Build the chat model; load the embedded one now (with a message) so timing is visible."""
    from agent.llm import make_chat_model
    from agent.llm.embedded import EmbeddedChatModel, cache_ready

    ws = cfg.workspace()
    model = make_chat_model(lcfg, ws)
    if isinstance(model, EmbeddedChatModel):
        from agent.llm.llamacpp import has_llamacpp

        if model.embedded_backend == "llamacpp" and has_llamacpp():
            src = "the packaged GGUF through llama.cpp"
        elif cache_ready(ws.models):
            src = "the workspace cache through transformers"
        else:
            src = "the packaged GGUF through transformers (first time: de-quantising, minutes)"
        console.print(f"[bold]loading the embedded model[/] from {src}")
        lm = model.loaded()
        console.print(f"  {lm.backend} loaded in {lm.load_s:.1f} s")
    return model


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    llm_app = typer.Typer(help="LLM backend checks.", no_args_is_help=True)
    app.add_typer(llm_app, name="llm")

    @llm_app.command("health")
    def health_cmd(backend: BackendOption = None, config: ConfigOption = None, json_: JsonFlag = False) -> None:
        """Check the configured LLM backend (loads the embedded model once, then writes one token)."""
        from agent.llm import check_health

        cfg = config_from(config)
        with user_errors():
            h = check_health(_llm_cfg(cfg, backend), cfg.workspace())
        if json_:
            emit_json(h.model_dump())
        else:
            colour = "green" if h.ok else "red"
            stdout.print(
                f"[{colour}]{'ok' if h.ok else 'FAILED'}[/] {h.backend} {h.model}: {h.detail} ({h.latency_s:.2f} s)"
            )
        if not h.ok:
            raise typer.Exit(1)

    @app.command("describe")
    def describe_cmd(
        items: Annotated[str | None, typer.Option("--items", help="Comma-separated item ids, e.g. 1,50,181.")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Every catalog item (resumable).")] = False,
        force: Annotated[bool, typer.Option("--force", help="Rewrite descriptions already stored.")] = False,
        backend: BackendOption = None,
        max_new_tokens: MaxTokensOption = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Write item descriptions from attributes and store them with provenance (resumable batch job)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from agent.describe import Describer, DescriptionStore
        from catalog import load_dataset

        if bool(items) == all_:
            console.print("[bold red]error:[/] give either --items 1,50,181 or --all")
            raise typer.Exit(2)
        cfg = config_from(config)
        ws = cfg.workspace()
        with user_errors():
            ds = load_dataset(cfg.data, ws)
            if items:
                ids = [s.strip() for s in items.split(",") if s.strip()]
                unknown = [i for i in ids if i not in ds.item_index]
                if unknown:
                    raise UnknownItem(f"unknown item ids {unknown}; ids are the catalog's (ml-100k: '1' to '1682')")
                chosen = [ds.items[ds.item_index[i]] for i in ids]
            else:
                chosen = list(ds.items)
            lcfg = _llm_cfg(cfg, backend, max_new_tokens)
            describer = Describer(_load_llm(cfg, lcfg), lcfg, catalog_titles=[it.title for it in ds.items])
            with DescriptionStore(ws.store_target) as store:
                done = store.done_ids(describer.version)
                skip = 0 if force else sum(it.item_id in done for it in chosen)
                if skip:
                    console.print(f"  resuming: {skip} of {len(chosen)} already described with {describer.version}")
                cols = (TextColumn("describing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*cols, console=console, transient=True) as bar:
                    task = bar.add_task("describe", total=len(chosen) - skip)
                    describer.run(chosen, store, force=force, progress=lambda d, t, _x: bar.update(task, completed=d))
                results = [store.get(it.item_id) for it in chosen]
        rows = [r.model_dump() for r in results if r is not None]
        if json_:
            emit_json(rows)
            return
        from rich.table import Table

        t = Table(title=f"descriptions ({describer.version}, stored in {ws.store_path.name}: item_descriptions)")
        for c in ("item", "title", "description", "writer", "grounded", "tries"):
            t.add_column(c)
        for it, r in zip(chosen, results, strict=True):
            if r is not None:
                t.add_row(it.item_id, it.title, r.text, r.writer, "yes" if r.grounded else "NO", str(r.attempts))
        stdout.print(t)
        n_ok = sum(r["grounded"] for r in rows)
        console.print(f"{n_ok}/{len(rows)} grounded; {sum(r['writer'] == 'template' for r in rows)} from the template")

    @app.command("explain")
    def explain_cmd(
        user: Annotated[str, typer.Option("--user", help="User id (ml-100k: 1..943).")],
        n: Annotated[int, typer.Option("--n", min=1, max=50, help="Items to recommend and explain.")] = 3,
        history: Annotated[str, typer.Option("--history", help="Profile: train or all.")] = "train",
        protocol: Annotated[str, typer.Option("--protocol", help="ro811 or loo.")] = "ro811",
        model: Annotated[str, typer.Option("--model", help="Ranker: auto, joint or ease.")] = "auto",
        backend: BackendOption = None,
        max_new_tokens: MaxTokensOption = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Recommend for a user and print an LLM explanation per item, marked grounded (llm) or template."""
        from ui.cmd_explain import load_context

        cfg = config_from(config)
        with user_errors():
            ctx = load_context(cfg, protocol, model, quiet=json_)
            rx = ctx.explainer()
            res = rx(ctx.profile(user, history), n, user_id=user)
            lcfg = _llm_cfg(cfg, backend, max_new_tokens)
            writer = _writer(cfg, lcfg, ctx.dataset)
            say = step(f"writing {len(res.items)} explanations")
            out: list[dict[str, Any]] = []
            for ev in res.items:
                ex = writer.write(ev)
                say(f"{ev.title}: {ex.writer} in {ex.seconds:.1f} s")
                out.append({"evidence": ev.model_dump(), "explanation": ex.model_dump()})
        if json_:
            emit_json({"user_id": user, "ranker": ctx.name, "note": ctx.note, "items": out})
            return
        for k, row in enumerate(out, start=1):
            evd, exd = row["evidence"], row["explanation"]
            mark = "[green]grounded (llm)[/]" if exd["writer"] == "llm" else "[yellow]template[/]"
            stdout.print(f"{k}. [bold]{evd['title']}[/] ({evd['year']}) score {evd['score']:.3f}  {mark}")
            stdout.print(f"   {exd['text']}")
        n_llm = sum(r["explanation"]["writer"] == "llm" for r in out)
        console.print(f"{n_llm}/{len(out)} written by the LLM and grounded; the rest by the template")

    @groups["eval"].command("grounding")
    def eval_grounding(
        users: Annotated[int, typer.Option("--users", min=1, help="Users (the first N user ids).")] = 50,
        n: Annotated[int, typer.Option("--n", min=1, help="Items explained per user.")] = 10,
        protocol: Annotated[str, typer.Option("--protocol", help="ro811 or loo.")] = "ro811",
        model: Annotated[str, typer.Option("--model", help="Ranker: auto, joint or ease.")] = "auto",
        backend: BackendOption = None,
        max_new_tokens: MaxTokensOption = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Grounding rate of LLM explanations: first-try passes of the guard and the claim checker over the
        top n of each user."""
        from collections import Counter

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from ui.cmd_explain import load_context

        cfg = config_from(config)
        with user_errors():
            ctx = load_context(cfg, protocol, model, quiet=json_)
            rx = ctx.explainer()
            lcfg = _llm_cfg(cfg, backend, max_new_tokens).model_copy(update={"grounding_retries": 0})
            writer = _writer(cfg, lcfg, ctx.dataset)
            ids = [u.user_id for u in ctx.dataset.users[:users]]
            total = passed = errors = 0
            reasons: Counter[str] = Counter()
            t0 = time.perf_counter()
            cols = (TextColumn("explaining"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*cols, console=console, transient=True) as bar:
                task = bar.add_task("grounding", total=len(ids) * n)
                for uid in ids:
                    for ev in rx(ctx.profile(uid, "train"), n, user_id=uid).items:
                        ex = writer.write(ev)
                        total += 1
                        passed += ex.first_try_grounded
                        errors += ex.attempts == 0 or any(r.startswith("LLM") for r in ex.reasons)
                        reasons.update(r.split(":")[0] for r in ex.reasons)
                        bar.advance(task)
        res = {
            "users": len(ids), "n": n, "explanations": total, "first_try_grounded": passed,
            "grounding_rate": passed / total if total else 0.0, "llm_errors": errors,
            "backend": lcfg.backend, "prompt_version": writer.prompt.version, "ranker": ctx.name,
            "top_failure_reasons": dict(reasons.most_common(8)), "wall_s": round(time.perf_counter() - t0, 1),
            "shown_grounded_rate": 1.0,
        }  # fmt: skip
        if json_:
            emit_json(res)
            return
        stdout.print(
            f"grounding rate (first try, {lcfg.backend}, {writer.prompt.version}): {passed}/{total} = {res['grounding_rate']:.3f}"
        )
        stdout.print(f"failure reasons: {res['top_failure_reasons']}; LLM errors {errors}; wall {res['wall_s']} s")
        stdout.print("shown explanations: every failing text is replaced by the template, which passes the guard")

    @groups["bench"].command("llm")
    def bench_llm(
        tokens: Annotated[
            int, typer.Option("--tokens", min=2, max=512, help="Tokens generated for the speed figures.")
        ] = 32,
        turn: Annotated[
            int, typer.Option("--turn", min=1, max=16, help="Explanations in the simulated turn (one batch).")
        ] = 2,
        backends: Annotated[
            str,
            typer.Option(
                "--backends",
                help="Comma-separated embedded backends (llamacpp decodes a turn's rows together, "
                "llamacpp-sequential one after another); the first is the baseline.",
            ),
        ] = "transformers,transformers-cached,llamacpp-sequential,llamacpp",
        cold: Annotated[
            bool, typer.Option("--cold/--no-cold", help="Also time the cold load from GGUF (de-quantising, minutes).")
        ] = False,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Embedded backends side by side in one run: load time, time to first token, tokens per second on an
        explanation prompt, and a turn of several explanations; each as a ratio to the first (today's path)."""
        from evals.llm_bench import BenchConfig, run_llm_bench

        cfg = config_from(config)
        names = [b.strip() for b in backends.split(",") if b.strip()]
        with user_errors():
            bcfg = BenchConfig(backends=names, tokens=tokens, turn=turn, cold=cold)
            res = run_llm_bench(cfg, bcfg, say=lambda m: console.print(m))
        finish(res, json_=json_, out=out, show=lambda: _print_llm_bench(res, turn))


def _print_llm_bench(res: dict[str, Any], turn: int) -> None:
    from rich.table import Table

    t = Table(title=f"bench llm: {res['model']}, {res['threads']} thread(s), prompt {res['prompt_tokens']} tokens")
    stdout.print(f"load average (1, 5, 15 min) at the end: {res['loadavg_end']}")
    cols = (
        "backend",
        "load s",
        "ttft s",
        "tok/s",
        "x tok/s",
        "x ttft",
        f"turn({turn}) s",
        "turn tok/s",
        "x turn",
        "load1",
    )
    for c in cols:
        t.add_column(c, justify="left" if c == "backend" else "right")
    for r in res["backends"]:
        if r.get("error"):
            t.add_row(r["backend"], *["-"] * (len(cols) - 2), "", style="red")
            continue
        t.add_row(
            r["backend"], f"{r['load_s']:.2f}", f"{r['ttft_s']:.3f}", f"{r['tokens_per_s']:.1f}",
            f"{r['tokens_per_s_ratio']:.2f}x", f"{r['ttft_ratio']:.2f}x", f"{r['turn_s']:.2f}",
            f"{r['turn_tokens_per_s']:.1f}", f"{r['turn_speedup']:.2f}x", r["loadavg"].split()[0],
        )  # fmt: skip
    stdout.print(t)
    for r in res["backends"]:
        if r.get("error"):
            stdout.print(f"[red]{r['backend']}[/]: {r['error']}")
        else:
            stdout.print(f"{r['backend']} sample: {r['sample']!r}")
    stdout.print(
        "x tokens/s: decode tokens/s over the baseline's; x ttft: the baseline's time to first token over "
        "this one's (above 1 is faster); turn tok/s: the turn's new tokens over its time (rows decoded together "
        "count together); x turn: the baseline's turn time over this one's."
    )
