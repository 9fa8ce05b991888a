"""`trustrec serve`: the browser app and HTTP API on one server; `trustrec chat`: a terminal chat."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from agent.config import TrustrecConfig
from ui.common import ConfigOption, config_from, console, stdout, step, user_errors


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Bind address (default server.host: 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="TCP port (default server.port: 7860).")] = None,
        no_llm: Annotated[bool, typer.Option("--no-llm", help="Template explanations only (no LLM).")] = False,
        engine: Annotated[
            str,
            typer.Option("--engine", help="local: one process (uvicorn); ray: Ray Serve replicas behind its proxy."),
        ] = "local",
        replicas: Annotated[
            int,
            typer.Option(
                "--replicas", help="--engine ray: API replicas (more than 1 needs the PostgreSQL store, store.url)."
            ),
        ] = 1,
        address: Annotated[
            str | None, typer.Option("--address", help="--engine ray: an existing Ray cluster (default: start one).")
        ] = None,
        no_ui: Annotated[bool, typer.Option("--no-ui", help="The HTTP API only (no browser app).")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Serve the chat app at / and the HTTP API at /v1 (docs at /docs). Prepares data, model and index on first run.

        The server answers as soon as the data, ranker and index are ready; the explainer and the LLM
        warm up in the background (``/readyz``), and turns meanwhile use template explanations.
        ``--engine ray --replicas N`` runs the app as N Ray Serve replicas over the shared store.
        """
        import time

        t_start = time.perf_counter()
        from ui.auth import check_bind

        cfg = config_from(config)
        updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update=updates)})
        if engine not in ("local", "ray"):
            console.print(f"[bold red]error:[/] --engine must be local or ray, not {engine!r}")
            raise typer.Exit(2)
        if engine == "local" and (replicas != 1 or address):
            console.print("[bold red]error:[/] --replicas and --address need --engine ray")
            raise typer.Exit(2)
        if engine == "ray":
            _serve_ray(cfg, replicas=replicas, address=address, llm=not no_llm, ui=not no_ui)
            return
        import uvicorn

        from agent.recommender import Recommender
        from agent.warmup import Warmup
        from ui.api import create_api

        with user_errors():
            check_bind(cfg.server)  # no login off loopback: refuse before loading anything
            # the LLM and the explainer's first run load in the background: the first turn never waits on them
            rec = Recommender.from_config(cfg, progress=step("preparing the recommender"), llm=None, warm_up=False)
        warmup = Warmup(rec.engine, llm=not no_llm, progress=lambda m: console.print(f"[dim]{m}[/]"))
        api = create_api(rec, warmup=warmup, ui=not no_ui)
        h, p = cfg.server.host, cfg.server.port
        if cfg.server.auth.mode == "token":
            live = sum(t["revoked"] is None for t in rec.engine.store.tokens())
            console.print(f"authentication: bearer tokens ({live} live); `trustrec auth add-token` makes more")
        warmup.start()
        console.print(
            f"[green]serving[/] http://{h}:{p}/  (API docs http://{h}:{p}/docs)  Ctrl+C stops  "
            f"[dim](ready to serve {time.perf_counter() - t_start:.1f} s after start; the models warm up in the "
            "background, /readyz says when)[/]"
        )
        try:
            uvicorn.run(api, host=h, port=p, log_level="warning", timeout_graceful_shutdown=5)
        finally:
            rec.close()

    def _serve_ray(cfg: TrustrecConfig, *, replicas: int, address: str | None, llm: bool, ui: bool) -> None:
        from ui.auth import check_bind
        from ui.serve_ray import check_replicas, deploy, serve_forever

        say = lambda m: console.print(f"[dim]{m}[/]")  # noqa: E731
        with user_errors():
            check_bind(cfg.server)
            check_replicas(cfg, replicas)  # before any cluster starts
        info = deploy(cfg, replicas=replicas, llm=llm, ui=ui, address=address, progress=say)
        url = info["url"]
        layout = (
            f"{replicas} API replicas at {url}/v1, the browser app in its own replica at {url}/"
            if info["ui_replica"]
            else f"{replicas} replica(s) at {url}/ (API at /v1)"
        )
        console.print(
            f"[green]serving on Ray Serve[/] {layout}  (API docs {url}/docs)  Ctrl+C stops  "
            f"[dim](replicas built their engines {info['ready_s']:.1f} s after start; the models warm up in the "
            "background)[/]"
        )
        serve_forever(info, say)

    @app.command("chat")
    def chat(
        user: Annotated[
            str | None, typer.Option("--user", help="A known user id (e.g. 196); default a new user.")
        ] = None,
        session: Annotated[str | None, typer.Option("--session", help="Continue this session id.")] = None,
        no_llm: Annotated[bool, typer.Option("--no-llm", help="Template explanations only (no LLM).")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Chat in the terminal through the same Recommender API as the web app (type 'quit' to stop)."""
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        from agent.recommender import Recommender
        from agent.safety import MessageTooLong

        cfg = config_from(config)
        with user_errors():
            rec = Recommender.from_config(
                cfg, progress=step("preparing the recommender"), llm=None if no_llm else "config"
            )
        if user is not None and user not in rec.engine.dataset.user_index:
            console.print(f"[bold red]error:[/] unknown user {user!r}; omit --user to chat as a new user")
            raise typer.Exit(2)
        sid = session or f"cli-{uuid.uuid4().hex}"
        console.print(f"session {sid}" + (f", user {user}" if user else ", new user") + "; 'quit' stops")
        try:
            while True:
                try:
                    msg = console.input("[bold cyan]you> [/]").strip()
                except (EOFError, KeyboardInterrupt):
                    break
                if msg.lower() in ("quit", "exit", ":q"):
                    break
                if not msg:
                    continue
                try:
                    reply = rec.chat(sid, msg, user)
                except MessageTooLong as e:
                    console.print(f"[bold red]error:[/] {e}")
                    continue
                if not reply.cards:
                    stdout.print(Panel(Text(reply.text), title="trustrec", border_style="blue"))
                    continue
                t = Table(show_lines=True, title=Text(reply.text.splitlines()[0]) if reply.text else None)
                for col in ("#", "item", "trust", "confidence", "why", "writer"):
                    t.add_column(col)
                for c in reply.cards:
                    comp = c.trust.composite if c.trust else None
                    t.add_row(
                        str(c.position), Text(f"{c.title} ({c.year})" if c.year else c.title),
                        f"{comp:.2f}" if comp is not None else "-",
                        f"{c.confidence:.0%}" if c.confidence is not None else "-", Text(c.explanation), c.writer,
                    )  # fmt: skip
                stdout.print(t)
                for n in reply.notes:
                    console.print(f"[dim]note: {n}[/]")
        finally:
            rec.close()
