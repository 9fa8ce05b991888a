"""`trustrec serve --engine ray`: the HTTP API and the browser app as Ray Serve deployments.

Layout (one Ray cluster: a local one, or ``--address`` of an existing head):

- ``trustrec-api``: the FastAPI app (:func:`ui.api.create_api`) in ``N`` replicas behind Serve's HTTP
  proxy. Each replica is a Ray actor that builds its own :class:`agent.Recommender` once (the engine
  loads; the explainer and the LLM warm up in the background as with ``trustrec serve``) and keeps
  nothing another replica needs: dialog checkpoints, feedback, descriptions, tokens and tombstones are
  in the store, so any replica continues any session. ``N > 1`` therefore needs the shared PostgreSQL
  store (``[store] url``); a SQLite file is refused.
- ``trustrec-ui`` (only when ``N > 1``): the same app with the browser app mounted at ``/``, in one
  replica. Gradio's event queue lives in the memory of the process that accepted the event (its
  stream of results must come back from that process), so the browser app needs every request of a
  page on one process; Serve's proxy routes each request to any replica. The API (``/v1``) goes to
  the ``N`` API replicas, everything else (the page, ``/healthz``, ``/docs``) to the UI replica.
  With ``N = 1`` one application serves both.

Every answer carries ``X-Trustrec-Replica`` (the Serve replica id) and ``/healthz`` names it.
The proxy binds ``server.host`` (127.0.0.1 unless set) and the port; Ctrl-C (or SIGTERM) deletes the
applications and stops the local cluster.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

from agent.config import TrustrecConfig
from catalog.errors import BadInput

__all__ = ["API_APP", "UI_APP", "TrustrecReplica", "check_replicas", "deploy", "serve_forever"]

API_APP, UI_APP = "trustrec-api", "trustrec-ui"
REPLICA_HEADER = "X-Trustrec-Replica"
MAX_REPLICAS = 64
# environment a replica needs as the driver has it (offline model hubs, no telemetry)
_PASS_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "GRADIO_ANALYTICS_ENABLED", "HF_HOME", "TORCH_HOME")
Progress = Callable[[str], None]


def check_replicas(config: TrustrecConfig, replicas: int) -> None:
    """Refuse a replica count the store cannot serve.

    Raises:
        BadInput: ``replicas`` out of 1..64, or more than one replica over a SQLite store.
    """
    if not 1 <= replicas <= MAX_REPLICAS:
        raise BadInput(f"--replicas must be 1..{MAX_REPLICAS}, not {replicas}")
    if replicas > 1 and not config.store.url:
        raise BadInput(
            f"--replicas {replicas} needs a shared store: the store is the SQLite file "
            f"{config.workspace().store_target}, which only one process on one host can use, and each replica "
            "is its own process (sessions, feedback and deletions must reach all of them). Set\n"
            '  [store] url = "postgresql://user:password@db-host:5432/trustrec"\n'
            "in trustrec.toml (or TRUSTREC_STORE__URL), or run one replica."
        )


class TrustrecReplica:
    """One Serve replica: builds its engine and the ASGI app once (Serve calls
    ``__serve_build_asgi_app__`` after the constructor), and closes the store when Serve stops it."""

    def __init__(self, config: TrustrecConfig, llm: bool, ui: bool) -> None:
        self.config, self.llm, self.ui = config, llm, ui
        self.rec: Any = None

    def __serve_build_asgi_app__(self) -> Any:
        import logging

        from ray import serve

        from agent.recommender import Recommender
        from agent.warmup import Warmup
        from ui.api import create_api

        log = logging.getLogger("ray.serve")
        ctx = serve.get_replica_context()
        replica = str(ctx.replica_id.unique_id)
        self.rec = Recommender.from_config(self.config, llm=None, warm_up=False)
        warmup = Warmup(self.rec.engine, llm=self.llm, progress=lambda m: log.warning("replica %s: %s", replica, m))
        api = create_api(self.rec, warmup=warmup, ui=self.ui, replica=replica)
        api.add_middleware(PrefixInPath)
        warmup.start()
        log.warning("replica %s of %s serving (models warm up in the background)", replica, ctx.app_name)
        return api

    def __del__(self) -> None:
        if self.rec is not None:
            self.rec.close()
            self.rec = None


class PrefixInPath:
    """Pure ASGI middleware: Serve mounts an application under its route prefix (``/v1``) as the ASGI
    ``root_path`` with the full path; the app's routes carry the full path, so routing ignores the root."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        root = scope.get("root_path", "")
        if root and scope["type"] in ("http", "websocket"):
            path = scope["path"] if scope["path"].startswith(root) else root + scope["path"]
            scope = {**scope, "root_path": "", "path": path}
        await self.app(scope, receive, send)


def _prepare(config: TrustrecConfig) -> str:
    """Prepare the workspace once (data, trained model, index, the browser-storage secret) before the
    replicas start, so they only load; runs as a Ray task that exits afterwards."""
    from agent.engine import Engine
    from ui.app import browser_secret

    engine = Engine.build(config, llm=None, warm_up=False)
    try:
        browser_secret(engine.workspace.cache)
        return str(engine.workspace.home)
    finally:
        engine.close()


def deploy(
    config: TrustrecConfig,
    *,
    replicas: int,
    llm: bool = True,
    ui: bool = True,
    address: str | None = None,
    replica_cpus: float = 1.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Start (or join) a Ray cluster, prepare the workspace and run the Serve applications.

    Returns when every replica has built its engine; :func:`serve_forever` then waits for Ctrl-C.

    Args:
        config: The served config; ``server.host``/``server.port`` are where Serve's proxy listens.
        replicas: API replicas (``N > 1`` needs ``[store] url``).
        llm: Load the configured LLM in each replica (False: templates only).
        ui: Mount the browser app (for ``N > 1`` in a replica of its own).
        address: An existing cluster (``ray://`` or ``HOST:6379``); None starts a local one.
        replica_cpus: Logical CPUs each replica reserves.

    Raises:
        BadInput: See :func:`check_replicas`.
    """
    import ray

    check_replicas(config, replicas)
    say = progress or (lambda _m: None)
    home = config.workspace().home.resolve()  # replicas start elsewhere: name the workspace absolutely
    config = config.model_copy(update={"home": home})
    env = {k: os.environ[k] for k in _PASS_ENV if k in os.environ}
    env["TRUSTREC_HOME"] = str(home)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            say(f"joining the Ray cluster at {address}")
            ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=True)
        else:
            cpus = max(os.cpu_count() or 1, int(replica_cpus * (replicas + (ui and replicas > 1)) + 1))
            say(f"starting a local Ray cluster ({cpus} logical CPUs)")
            ray.init(num_cpus=cpus, include_dashboard=False, runtime_env={"env_vars": env}, log_to_driver=True)
    try:
        info = _deploy(config, replicas, llm=llm, ui=ui, replica_cpus=replica_cpus, say=say)
    except BaseException:  # Ctrl-C while the replicas load, or a replica that cannot start
        _stop({"joined": not started_here or bool(address), "own_ray": started_here, "apps": [API_APP, UI_APP]})
        raise
    # joined: the cluster is not ours (an --address, or Ray already running here): on exit delete our apps only
    return info | {"joined": not started_here or bool(address), "own_ray": started_here}


def _deploy(
    config: TrustrecConfig, replicas: int, *, llm: bool, ui: bool, replica_cpus: float, say: Progress
) -> dict[str, Any]:
    import ray
    from ray import serve

    t0 = time.perf_counter()
    say("preparing the workspace once (data, model, index) before the replicas load it")
    ray.get(ray.remote(max_calls=1, num_cpus=replica_cpus)(_prepare).remote(config))
    host, port = config.server.host, config.server.port
    serve.start(http_options={"host": host, "port": port})
    srv = config.server
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": replica_cpus},
        # a replica takes as many requests as its turn pool runs and queues; past that Serve queues
        # at most max_pending_turns more and answers 503 beyond (bounded, as one process is)
        "max_ongoing_requests": srv.turn_workers + srv.max_pending_turns,
        "max_queued_requests": srv.max_pending_turns,
        "logging_config": {"log_level": "WARNING", "enable_access_log": False},
        "health_check_period_s": 10,
        "graceful_shutdown_timeout_s": 10,
    }
    split = ui and replicas > 1
    api = _deployment(config, "TrustrecApi", replicas, llm=llm, ui=not split and ui, options=options)
    say(f"starting {replicas} API replica(s){' and 1 UI replica' if split else ''}: each loads the engine once")
    if split:
        ui_dep = _deployment(config, "TrustrecUi", 1, llm=llm, ui=True, options=options)
        serve.run(ui_dep, name=UI_APP, route_prefix="/", blocking=False)
        serve.run(api, name=API_APP, route_prefix="/v1", blocking=False)
    else:
        serve.run(api, name=API_APP, route_prefix="/", blocking=False)
    _wait_running([API_APP, UI_APP] if split else [API_APP], say)
    return {
        "url": f"http://{host}:{port}",
        "replicas": replicas,
        "ui_replica": split,
        "apps": [API_APP, UI_APP] if split else [API_APP],
        "ready_s": time.perf_counter() - t0,
    }


def _deployment(
    config: TrustrecConfig, name: str, replicas: int, *, llm: bool, ui: bool, options: dict[str, Any]
) -> Any:
    from ray import serve

    cls = serve.ingress()(TrustrecReplica)  # the app is built in each replica (__serve_build_asgi_app__)
    return serve.deployment(name=name, num_replicas=replicas, **options)(cls).bind(config, llm, ui)


def _wait_running(apps: list[str], say: Progress, timeout_s: float = 1800.0, poll_s: float = 2.0) -> None:
    """Block until every application is RUNNING (its replicas built their engines).

    Raises:
        RuntimeError: An application failed to deploy, or ``timeout_s`` passed (Serve's message included).
    """
    from ray import serve

    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        st = serve.status().applications
        states = {a: str(getattr(st[a].status, "value", st[a].status)) if a in st else "NOT_STARTED" for a in apps}
        line = ", ".join(f"{a} {s}" for a, s in states.items())
        if line != last:
            say(line)
            last = line
        if all(s == "RUNNING" for s in states.values()):
            return
        failed = [a for a, s in states.items() if s in ("DEPLOY_FAILED", "UNHEALTHY")]
        if failed:
            raise RuntimeError(f"Serve could not start {', '.join(failed)}: {st[failed[0]].message}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replicas were not running within {timeout_s:.0f} s ({line})")
        time.sleep(poll_s)


def serve_forever(info: dict[str, Any], say: Progress) -> None:
    """Wait for Ctrl-C or SIGTERM, then delete the applications and stop the cluster started here."""

    def _term(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        say("stopping: deleting the Serve applications")
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(info)


def _stop(info: dict[str, Any]) -> None:
    """Delete our applications (an existing cluster keeps running) or shut Serve and the local cluster down."""
    import ray
    from ray import serve

    try:
        if ray.is_initialized():
            if info.get("joined"):
                for app in info["apps"]:
                    serve.delete(app)  # the cluster and any other applications stay
            else:
                serve.shutdown()
    finally:
        if info.get("own_ray") and ray.is_initialized():
            ray.shutdown()  # a local cluster started here stops with it
