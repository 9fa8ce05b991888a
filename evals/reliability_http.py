"""Reliability of the HTTP API and the agent under hostile input, load and a failing LLM server.

Everything runs on loopback (127.0.0.1) only, and every loop is bounded in count and in time.
The API is served by the real ``trustrec serve --no-llm`` command in a subprocess (random free port,
started and stopped here), over a private workspace: the real data, models, index and caches are
linked in, the SQLite store and session files are the workspace's own, so nothing here writes into
the developer's store. The served recommender is template-only (no LLM), which keeps the HTTP
figures about the server, not about text generation. With ``auth = "token"`` (the default) the server
runs with ``[server.auth] mode = "token"`` and every request carries a valid admin token made in the
private workspace (:func:`provision_token`), the Gradio queue is joined after a login with it, and the
rate limit is off (the counts here are load, not abuse; :mod:`evals.security` checks the limit).

Parts (each a function returning plain figures, and a key of :data:`PARTS`):

- ``fuzz`` (:func:`fuzz_api`): hypothesis-generated requests (JSON bodies of any shape, wrong types,
  huge and odd Unicode strings, missing and extra fields, garbage bytes, bad paths and ids, odd
  methods). Every answer must be 2xx or 4xx: never 5xx, never a dropped connection.
- ``concurrent`` (:func:`concurrent_chats`): many chat sessions at once, a few turns each; latency
  p50/p95 per turn and the server process's resident memory (sampled, plus the kernel's high-water
  mark), zero errors.
- ``llm_failure`` (:func:`llm_failure_turns`): an OpenAI-compatible LLM server that refuses
  connections or accepts and never answers; each chat turn, in tool-calling and in guided mode,
  must still return cards with template explanations, marked degraded, within the bound
  ``calls x timeout x (1 + retries) + margin`` (see :func:`llm_failure_turns` for ``calls``).
- ``bounds`` (:func:`request_bounds`): the body limit (413, also for a chunked body), the message
  length cap (413), field bounds (422), and the Gradio queue's ``max_size`` (503 beyond it).
- ``injections`` (:func:`injection_replies`): the shipped prompt-injection payloads sent as chat
  messages; the canary must never appear in a response body.
- ``file_routes`` (:func:`file_routes`): Gradio file routes asked for files outside the app
  (``/etc/passwd``, the store, the session database, traversal and encoded variants): all refused.

:func:`run_http_reliability` runs the chosen parts with one server and reports the figures; the
``reliability-http`` suite check (:mod:`evals.suite`) calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import json
import operator
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote, urlparse

import tomli_w
from pydantic import BaseModel, ConfigDict, Field

from agent.state import MAX_N
from catalog.config import isolated_workspace

if TYPE_CHECKING:
    from agent.config import TrustrecConfig
    from agent.recommender import Recommender

__all__ = [
    "PARTS",
    "HttpReliabilityConfig",
    "ServedApi",
    "concurrent_chats",
    "file_route_paths",
    "file_routes",
    "fuzz_api",
    "injection_replies",
    "isolated_workspace",
    "llm_failure_turns",
    "provision_token",
    "request_bounds",
    "run_http_reliability",
    "serve_api",
    "start_server",
]

Progress = Callable[[str], None]
Mode = Literal["tools", "guided"]
MODES: tuple[Mode, ...] = ("tools", "guided")
Part = Literal["fuzz", "concurrent", "llm_failure", "bounds", "injections", "file_routes"]
PARTS: tuple[Part, ...] = ("llm_failure", "concurrent", "injections", "fuzz", "file_routes", "bounds")
"""Every part, in the order :func:`run_http_reliability` runs them (the queue burst of ``bounds`` last:
it leaves the server busy)."""

CHAT_TURNS = (
    "I'd like a comedy from the 90s",
    "no romance please",
    "show me more",
    "something like Toy Story",
    "a thriller before 1980",
)
KNOWN_USERS = ("196", "1", "42", "308", "500")


class HttpReliabilityConfig(BaseModel):
    """Sizes and limits of the HTTP/agent reliability checks (small for smoke, large for full)."""

    model_config = ConfigDict(extra="forbid")

    parts: list[Part] = Field(default_factory=lambda: list(PARTS), description="Which parts to run.")
    auth: Literal["none", "token"] = Field(
        "token", description="Serve with bearer tokens (every request sends a valid admin token) or without login."
    )
    fuzz_examples: int = Field(100, ge=1, le=20_000, description="Hypothesis examples (one request each).")
    fuzz_seed: int = Field(0, description="Seed of the fuzzer (the same seed sends the same requests).")
    sessions: int = Field(10, ge=1, le=500, description="Concurrent chat sessions.")
    turns: int = Field(2, ge=1, le=len(CHAT_TURNS), description="Chat turns per concurrent session.")
    llm_timeout_s: float = Field(2.0, gt=0, le=60, description="LLMConfig.timeout_s of the failing-LLM recommenders.")
    llm_turns: int = Field(1, ge=1, le=10, description="Chat turns per failure kind and mode.")
    llm_modes: list[Mode] = Field(
        default_factory=lambda: list(MODES), description="Agent modes tried against the failing LLM."
    )
    llm_margin_s: float = Field(
        10.0, ge=0, description="Allowance for the template turn itself on top of the LLM timeouts (busy 2-core CPU)."
    )
    queue_burst: int = Field(
        100,
        ge=1,
        le=1000,
        description="Simultaneous Gradio queue joins; must exceed the queue's max_size + concurrency.",
    )
    body_limit: int = Field(64 * 1024, ge=1, description="The API's body limit in bytes, probed at and just over it.")
    request_timeout_s: float = Field(180.0, gt=0, description="Client timeout of one HTTP request.")
    startup_timeout_s: float = Field(600.0, gt=0, description="Longest wait for the server to become healthy.")
    deadline_s: float = Field(1800.0, gt=0, description="Wall-clock bound of the whole check; later parts are skipped.")


# ------------------------------------------------------------------------------------------ server


def config_toml(config: TrustrecConfig) -> str:
    """The config as the TOML file a ``trustrec serve`` subprocess reads: every non-default setting
    except ``home`` (the subprocess's own workspace) and the server's host and port (command line);
    the auth settings go in the file."""
    data = config.model_dump(mode="json", exclude={"home", "server"}, exclude_defaults=True)
    auth = config.server.auth.model_dump(mode="json", exclude_defaults=True)
    if auth:
        data["server"] = {"auth": auth}
    return tomli_w.dumps(_without_none(data))


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    """The dict without None values (TOML has no null), nested dicts included."""
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServedApi:
    """A ``trustrec serve`` subprocess: its base URL, process and private workspace."""

    url: str
    process: subprocess.Popen[bytes]
    home: Path
    log: Path
    started: float
    startup_s: float = 0.0
    token: str | None = None  # a valid token for a server in token mode (requests send it)

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_healthy(self, timeout_s: float, progress: Progress | None = None) -> ServedApi:
        """Block until ``GET /healthz`` answers ok.

        Raises:
            RuntimeError: The process exited or was not healthy within ``timeout_s`` (log tail included).
        """
        deadline = time.monotonic() + timeout_s
        while not _healthy(self.url, timeout=2.0):
            if self.process.poll() is not None:
                raise RuntimeError(f"trustrec serve exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"trustrec serve not healthy within {timeout_s:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)
        if not self.startup_s:
            self.startup_s = time.perf_counter() - self.started
            (progress or (lambda _m: None))(f"server healthy after {self.startup_s:.1f} s (pid {self.pid})")
        return self

    def stop(self) -> None:
        """Terminate the process (kill it when it does not exit within 20 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def _healthy(url: str, timeout: float = 5.0) -> bool:
    import httpx

    try:
        r = httpx.get(url + "/healthz", timeout=timeout)
        return r.status_code == 200 and r.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def start_server(config: TrustrecConfig, home: Path, *, progress: Progress | None = None) -> ServedApi:
    """Start ``trustrec serve --no-llm`` on 127.0.0.1 and a free port with ``config`` over ``home``.

    ``home`` should be an :func:`isolated_workspace`. The config (less ``home`` and ``server``) is
    written to a TOML file the subprocess reads; stdout and stderr go to ``home/serve.log``. Returns at
    once; call :meth:`ServedApi.wait_healthy` before sending requests and :meth:`ServedApi.stop` after.
    """
    say = progress or (lambda _m: None)
    toml_path = home / "serve.toml"
    toml_path.write_text(config_toml(config), encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTREC_")}
    env.update(
        TRUSTREC_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )  # fmt: skip
    log = home / "serve.log"
    cmd = [sys.executable, "-m", "ui.cli", "serve", "--no-llm", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--config", str(toml_path)]
    say(f"starting `trustrec serve --no-llm` on 127.0.0.1:{port} (workspace {home})")
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(home))
    return ServedApi(f"http://127.0.0.1:{port}", proc, home, log, t0)


def provision_token(home: Path, role: str = "admin", *, user_id: str | None = None, name: str | None = None) -> str:
    """Make a token in the store of workspace ``home`` (as ``trustrec auth add-token`` does) and return it."""
    from catalog import Store, Workspace
    from ui.auth import create_token

    with Store(Workspace(home).store_path) as store:
        return str(create_token(store, role, user_id=user_id, name=name)["token"])


def token_config(config: TrustrecConfig, rate_limit_per_minute: int = 0) -> TrustrecConfig:
    """``config`` with ``[server.auth] mode = "token"`` and the given per-token rate limit."""
    auth = config.server.auth.model_copy(update={"mode": "token", "rate_limit_per_minute": rate_limit_per_minute})
    return config.model_copy(update={"server": config.server.model_copy(update={"auth": auth})})


def bearer(token: str | None) -> dict[str, str]:
    """The request headers that carry ``token`` (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def web_login(url: str, token: str, username: str = "new", timeout: float = 30.0) -> dict[str, str]:
    """Log in to the mounted Gradio app with a token (``POST /login``); returns its session cookies."""
    import httpx

    r = httpx.post(url + "/login", data={"username": username, "password": token}, timeout=timeout)
    r.raise_for_status()
    return dict(r.cookies)


@contextlib.contextmanager
def serve_api(
    config: TrustrecConfig, home: Path, *, startup_timeout_s: float = 600.0, progress: Progress | None = None
) -> Iterator[ServedApi]:
    """:func:`start_server`, wait until healthy, yield the server, stop it.

    Raises:
        RuntimeError: The server exited or was not healthy within ``startup_timeout_s``.
    """
    served = start_server(config, home, progress=progress)
    try:
        yield served.wait_healthy(startup_timeout_s, progress)
    finally:
        served.stop()


# ---------------------------------------------------------------------------------------- memory


def _proc_status(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (peak resident set) of ``pid`` in MiB (Linux), else psutil's RSS."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) / 1024.0
    except (OSError, ValueError):
        pass
    if "VmRSS" not in out:
        with contextlib.suppress(Exception):
            import psutil

            out["VmRSS"] = psutil.Process(pid).memory_info().rss / 2**20
    return out


class _RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a daemon thread (bounded by ``stop``)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="trustrec-rss")

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = _proc_status(self.pid).get("VmRSS")
            if rss is not None:
                self.peak = max(self.peak, rss)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_a: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


# ------------------------------------------------------------------------------------------ fuzz


@dataclass(frozen=True)
class _Req:
    method: str
    path: str
    body: bytes | None
    content_type: str | None
    label: str


def _request_strategy(spec: dict[str, Any]) -> Any:
    """Hypothesis strategy of hostile requests to the API whose OpenAPI document is ``spec``.

    The bodies, path and query parameters of every ``/v1`` operation come from the schema itself
    (schemathesis: valid cases and cases that break the schema), so the fuzzer follows the API as it
    changes. On top: known user and item ids now and then (so valid requests reach the recommender),
    strings the schema allows but a server may choke on (lone surrogates, NUL, bidi, sizes past the
    message cap and the body limit), wrong content types, garbage bytes, raw ``..``/``%00`` path ids,
    and odd methods and paths. See :func:`fuzz_api`.
    """
    import schemathesis
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    odd_chars = st.integers(0xD800, 0xDFFF).map(chr) | st.sampled_from(
        ["\x00", "\u200b", "\u202e", "\ufeff", "\U0001f3ac", "'", '"', "\\", "/", "%", "<", ">", "\n", "é", "漢"]
    )
    small_text = st.text(max_size=30) | st.text(alphabet=odd_chars, max_size=12)
    huge = st.builds(operator.mul, st.sampled_from(["x", "é", "漢", "\U0001f3ac", " "]),
                     st.sampled_from([129, 2001, 5000, 70_000]))  # fmt: skip
    scalars = (
        st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True, allow_infinity=True) | small_text
    )  # fmt: skip

    def nested(c: Any) -> Any:
        return st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4)

    anything = st.recursive(scalars, nested, max_leaves=8)
    known = {
        "user_id": st.sampled_from(KNOWN_USERS),
        "item_id": st.sampled_from(["1", "50", "100", "181", "258", "1682"]),
        "message": st.sampled_from(CHAT_TURNS),
    }
    hostile_strings = small_text | huge
    raw_ids = st.sampled_from(["..", "../../etc/passwd", "%2e%2e%2f", "a/b", "%00", "?x=1", "#f", "%ZZ", "x" * 20_000])
    ctype = st.sampled_from(["application/json"] * 6 + ["text/plain", "application/x-www-form-urlencoded", None])

    schema = schemathesis.openapi.from_dict(spec)
    operations = [cast(Any, r).ok() for r in schema.get_all_operations()]  # Ok results (an invalid one raises)
    operations = [op for op in operations if op.path.startswith("/v1/")]
    if not operations:
        raise ValueError("the OpenAPI document has no /v1 operations to fuzz")

    @st.composite
    def request(draw: Any, op: Any) -> _Req:
        case = draw(op.as_strategy(draw(st.sampled_from(list(GenerationMode)))))
        body: Any = case.body
        label = f"{case.method} {op.path}"
        if isinstance(body, dict) and draw(st.booleans()):
            for k in list(body):  # a known id or a hostile string in one field of a schema-shaped body
                if k in known and draw(st.booleans()):
                    body[k] = draw(known[k])
                elif draw(st.integers(0, 5)) == 0:
                    body[k] = draw(hostile_strings)
        path = case.formatted_path
        if "{" in op.path and draw(st.integers(0, 4)) == 0:
            path = op.path.split("{", 1)[0] + draw(raw_ids)  # a raw, unencoded id in the path
        if case.query:
            path += "?" + "&".join(
                f"{quote(str(k), safe='', errors='surrogatepass')}={quote(str(v), safe='', errors='surrogatepass')}"
                for k, v in case.query.items()
            )
        if body is None or type(body).__name__ == "NotSet":
            return _Req(case.method, path, None, None, label)
        data = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
        return _Req(case.method, path, data, draw(ctype), label)

    def garbage_request(t: tuple[Any, bytes, str | None]) -> _Req:
        op, data, content_type = t
        return _Req(
            op.method.upper(),
            op.path.split("{", 1)[0] + "x",
            data,
            content_type,
            f"{op.method.upper()} {op.path} bytes",
        )

    def v1_path(s: str) -> str:
        return "/v1/" + quote(s, safe="/", errors="surrogatepass")

    def odd_request(t: tuple[str, str, Any]) -> _Req:
        return _Req(t[0], t[1], None if t[2] is None else json.dumps(t[2]).encode(), "application/json", "odd")

    # named functions, no lambdas: hypothesis describes a lambda by parsing this module's source, and CPython
    # 3.11's parser is not safe against a parse in another thread (a traceback formatted by an in-process
    # server), which raised "AST constructor recursion depth mismatch" mid-run (a SystemError hypothesis then
    # could not replay, so it reported an "unreliable assumption")
    schema_requests = st.sampled_from(operations).flatmap(request)
    garbage = st.tuples(st.sampled_from(operations), st.binary(max_size=64) | st.just(b""), ctype).map(garbage_request)
    odd = st.tuples(
        st.sampled_from(["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"]),
        st.sampled_from(["/v1/chat", "/v1/", "/v1", "/v1/feedback/x", "/healthz", "/v2/chat", "/docs", "/openapi.json"])
        | small_text.map(v1_path),
        st.none() | anything,
    ).map(odd_request)
    # most requests follow the schema (valid or not), the rest are bytes and odd methods or paths
    return st.sampled_from(["schema"] * 8 + ["garbage", "odd"]).flatmap(
        {"schema": schema_requests, "garbage": garbage, "odd": odd}.__getitem__
    )


def _send(client: Any, req: _Req) -> tuple[str, int | None, str]:
    """``(outcome, status, detail)``: outcome is 2xx/3xx/4xx/5xx, ``dropped`` or ``timeout``."""
    import httpx

    headers = {"content-type": req.content_type} if req.content_type else {}
    try:
        r = client.request(req.method, req.path, content=req.body, headers=headers)
    except httpx.TimeoutException as e:
        return "timeout", None, f"{type(e).__name__}: {e}"
    except httpx.TransportError as e:
        return "dropped", None, f"{type(e).__name__}: {e}"
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:  # refused by the client: never reached the server
        return "not_sent", None, f"{type(e).__name__}: {e}"
    return f"{r.status_code // 100}xx", r.status_code, r.text[:200]


def fuzz_api(
    url: str,
    examples: int,
    *,
    seed: int = 0,
    request_timeout_s: float = 180.0,
    deadline_s: float = 1800.0,
    progress: Progress | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send ``examples`` hypothesis-generated hostile requests to the API at ``url``.

    Requests: every ``/v1`` operation of the server's own ``/openapi.json`` with schemathesis cases
    (valid and schema-breaking bodies, path ids and query parameters), known ids now and then, strings
    with lone surrogates, NUL, bidi and zero-width characters, emoji and sizes past the message cap and
    the body limit, wrong content types, garbage bytes and empty bodies, raw ``..``/``%00`` path ids,
    and odd methods and paths. Generation only (no shrinking), seeded, without the example database.

    Returns:
        ``examples`` (sent), counts by status class (``2xx``, ``4xx``, ``5xx``, ``dropped``, ``timeout``,
        ``client_error`` for a request the client failed on in a way it does not know, ...), ``by_status``,
        ``by_endpoint``, ``failures`` (at most 10: request label, path, status, detail), ``healthy_after`` (``GET /healthz`` answered ok) and ``seconds``.
    """
    import httpx
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed

    say = progress or (lambda _m: None)
    counts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    endpoints: dict[str, Counter[str]] = {}
    failures: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    stop_at = time.monotonic() + deadline_s
    sent = 0
    # a fresh connection per request: generating an example can take longer than the server's keep-alive (5 s)
    # on a busy machine, and a request sent on a connection the server is closing at that moment reads as a drop
    # that no server fault caused; a server that really drops a connection still shows as "dropped"
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, timeout=request_timeout_s, headers=headers, limits=no_reuse) as client:
        spec = client.get("/openapi.json").raise_for_status().json()

        @hyp_seed(seed)
        @settings(
            max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck), print_blob=False,
        )  # fmt: skip
        @given(req=_request_strategy(spec))
        def one(req: _Req) -> None:
            nonlocal sent
            if time.monotonic() > stop_at:
                counts["skipped_deadline"] += 1
                return
            try:
                outcome, status, detail = _send(client, req)
            except Exception as e:  # the client itself failed: counted and shown, never a crash
                # (a raise here would make hypothesis replay the example, and schemathesis does not draw the
                # same case twice, so the replay fails as "unreliable assumption" and hides this error)
                outcome, status, detail = "client_error", None, f"{type(e).__name__}: {e}"
            sent += 1
            counts[outcome] += 1
            statuses[str(status)] += 1
            endpoints.setdefault(" ".join(req.label.split(" ")[:2]), Counter())[outcome] += 1
            if outcome not in ("2xx", "3xx", "4xx", "not_sent") and len(failures) < 10:
                failures.append({"request": req.label, "method": req.method, "path": req.path[:200],
                                 "body": (req.body or b"")[:200].decode("utf-8", "replace"), "status": status,
                                 "detail": detail})  # fmt: skip
            if sent % 50 == 0:
                say(f"fuzz: {sent}/{examples} requests, {dict(counts)}")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. hypothesis's "overly large repr" for 70 kB strings
            one()
    healthy = _healthy(url, timeout=30)
    bad = sum(v for k, v in counts.items() if k not in ("2xx", "3xx", "4xx", "skipped_deadline", "not_sent"))
    return {
        "examples": sent,
        "2xx": counts.get("2xx", 0),
        "3xx": counts.get("3xx", 0),
        "4xx": counts.get("4xx", 0),
        "5xx": counts.get("5xx", 0),
        "dropped": counts.get("dropped", 0),
        "timeout": counts.get("timeout", 0),
        "skipped_deadline": counts.get("skipped_deadline", 0),
        "not_sent": counts.get("not_sent", 0),
        "client_error": counts.get("client_error", 0),
        "bad": bad,
        "by_status": dict(sorted(statuses.items())),
        "by_endpoint": {k: dict(v) for k, v in sorted(endpoints.items())},
        "failures": failures,
        "healthy_after": healthy,
        "seconds": round(time.perf_counter() - t0, 3),
    }


# ------------------------------------------------------------------------------------ concurrency


def concurrent_chats(
    url: str,
    sessions: int,
    turns: int,
    *,
    server_pid: int | None = None,
    request_timeout_s: float = 180.0,
    deadline_s: float = 1800.0,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``sessions`` chat sessions at once through ``POST /v1/chat``, ``turns`` turns each (in order).

    Each session is one thread with its own HTTP connection; half the sessions are known users. The
    first turn lets the server make the session id (as token mode requires); a turn counts as an error
    unless it answers 200 with the session's id and at least one card. Latency is
    measured at the client, per turn index; the server's RSS is sampled every 0.2 s while the sessions
    run (``server_pid``), and its kernel high-water mark (VmHWM, whole process life) is read after.

    Returns:
        ``turns_total``, ``errors``, ``error_examples``, ``latency_s`` (``all`` and ``turn_<k>``: p50, p95,
        max), ``turns_per_s``, ``seconds``, ``rss_mb`` (``before``, ``peak_sampled``, ``after``,
        ``high_water``).
    """
    import httpx

    if turns > len(CHAT_TURNS):
        raise ValueError(f"at most {len(CHAT_TURNS)} turns per session")
    stop_at = time.monotonic() + deadline_s
    lat: dict[int, list[float]] = {k: [] for k in range(1, turns + 1)}
    errors: list[str] = []
    guard = threading.Lock()
    start = threading.Barrier(sessions, timeout=60)

    def session(k: int) -> None:
        sid: str | None = None
        user = KNOWN_USERS[k % len(KNOWN_USERS)] if k % 2 == 0 else None
        with httpx.Client(base_url=url, timeout=request_timeout_s, headers=headers) as client:
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait()
            for t in range(1, turns + 1):
                if time.monotonic() > stop_at:
                    with guard:
                        errors.append(f"session {k} turn {t}: not sent (check deadline passed)")
                    return
                body: dict[str, Any] = {"message": CHAT_TURNS[t - 1]}
                if sid is not None:
                    body["session_id"] = sid
                if user:
                    body["user_id"] = user
                t0 = time.perf_counter()
                try:
                    r = client.post("/v1/chat", json=body)
                    dt = time.perf_counter() - t0
                    data = r.json() if r.status_code == 200 else {}
                    sid = sid or data.get("session_id")
                    ok = r.status_code == 200 and data.get("session_id") == sid and len(data.get("cards", [])) > 0
                    why = f"status {r.status_code}: {r.text[:120]}" if not ok else ""
                except (httpx.HTTPError, ValueError) as e:
                    dt, ok, why = time.perf_counter() - t0, False, f"{type(e).__name__}: {e}"
                with guard:
                    lat[t].append(dt)
                    if not ok:
                        errors.append(f"session {k} turn {t}: {why}")

    before = _proc_status(server_pid) if server_pid else {}
    t0 = time.perf_counter()
    sampler = _RssSampler(server_pid) if server_pid else None
    with contextlib.ExitStack() as stack:
        if sampler is not None:
            stack.enter_context(sampler)
        with ThreadPoolExecutor(max_workers=sessions, thread_name_prefix="trustrec-session") as pool:
            list(pool.map(session, range(sessions)))
    wall = time.perf_counter() - t0
    after = _proc_status(server_pid) if server_pid else {}
    every = [x for v in lat.values() for x in v]
    latency = {"all": {"p50": _pct(every, 50), "p95": _pct(every, 95), "max": max(every, default=float("nan"))}}
    for t, v in lat.items():
        latency[f"turn_{t}"] = {"p50": _pct(v, 50), "p95": _pct(v, 95), "max": max(v, default=float("nan"))}
    rss: dict[str, Any] = {}
    if server_pid:
        rss = {
            "before": before.get("VmRSS"),
            "peak_sampled": sampler.peak if sampler else None,
            "after": after.get("VmRSS"),
            "high_water": after.get("VmHWM"),
            "samples": sampler.samples if sampler else 0,
        }
    return {
        "sessions": sessions,
        "turns_per_session": turns,
        "turns_total": len(every),
        "errors": len(errors),
        "error_examples": errors[:10],
        "latency_s": latency,
        "turns_per_s": len(every) / wall if wall > 0 else float("nan"),
        "seconds": round(wall, 3),
        "rss_mb": rss,
    }


# ------------------------------------------------------------------------------------- llm failure


class _HangingServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (until :meth:`close`)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="trustrec-hang")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._conns.append(conn)  # held open, never read from or written to

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self.sock.close()


class _RefusingPort:
    """A port bound on 127.0.0.1 without listening: connections to it are refused (kept bound, no race)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()


def _with_llm(base: Recommender, llm_cfg: Any, mode: str, sessions_path: Path) -> Recommender:
    """``base``'s engine with the chat model of ``llm_cfg`` wired in as :meth:`Engine.build` does."""
    import dataclasses

    from agent.describe import Describer
    from agent.llm import make_chat_model
    from agent.recommender import Recommender
    from agent.writer import ExplanationWriter

    e = base.engine
    cfg = e.config.model_copy(update={"llm": llm_cfg, "agent": e.config.agent.model_copy(update={"mode": mode})})
    model = make_chat_model(cfg.llm, e.workspace)
    titles = [it.title for it in e.dataset.items]
    e2 = dataclasses.replace(
        e, config=cfg, llm=model, writer=ExplanationWriter(model, cfg.llm, catalog=e.dataset.items),
        describer=Describer(model, cfg.llm, catalog_titles=titles),
    )  # fmt: skip
    e2.semantic = e.semantic  # type: ignore[attr-defined]
    return Recommender(e2, sessions_path=sessions_path)


def _bounded_call(fn: Callable[[], Any], cap_s: float) -> tuple[bool, Any, float]:
    """Run ``fn`` in a daemon thread; ``(finished, result or exception, seconds)`` within ``cap_s``."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, fn()))
        except BaseException as e:
            box.put((False, e))

    t0 = time.perf_counter()
    threading.Thread(target=run, daemon=True, name="trustrec-bounded").start()
    try:
        _done, val = box.get(timeout=cap_s)
    except queue.Empty:
        return False, TimeoutError(f"no answer within {cap_s:.0f} s"), time.perf_counter() - t0
    return True, val, time.perf_counter() - t0


def llm_failure_turns(
    base: Recommender,
    work: Path,
    *,
    timeout_s: float = 2.0,
    turns: int = 1,
    modes: Sequence[str] = ("tools", "guided"),
    margin_s: float = 10.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Chat turns against an LLM server that is down (connection refused) or hangs (never answers).

    For each failure and mode, ``base``'s engine gets an ``openai``-backend chat model pointing at a
    127.0.0.1 port that refuses connections, or at a local server that accepts and never answers
    (``timeout_s``, no transport retries), wired in as :meth:`agent.engine.Engine.build` wires it
    (agent model, explanation writer, describer). Every turn must return cards whose explanations are
    the template, and ``degraded=True``, within ``bound_s = calls x timeout_s + margin_s``, where
    ``calls`` is the LLM calls a turn may wait on: ``llm_explanations`` writer calls in guided mode,
    plus the agent's model call in tool-calling mode (its fallback runs the guided writer, which tries
    the LLM again). A turn that has not answered within three times the bound is counted as missing.

    Returns:
        Per ``<failure>_<mode>``: ``seconds`` (list), ``max_s``, ``bound_s``, ``degraded``/``template``
        counts, ``cards_min``, ``notes``; and totals ``turns``, ``missing``, ``not_degraded``,
        ``not_template``, ``no_cards``, ``over_bound``, ``max_s``.
    """
    from agent.config import LLMConfig

    say = progress or (lambda _m: None)
    work.mkdir(parents=True, exist_ok=True)
    per_card = base.engine.config.agent.llm_explanations
    out: dict[str, Any] = {"timeout_s": timeout_s, "llm_explanations": per_card, "margin_s": margin_s}
    totals = Counter[str]()
    worst = 0.0
    hang, refuse = _HangingServer(), _RefusingPort()
    try:
        for failure, port in (("down", refuse.port), ("hang", hang.port)):
            for mode in modes:
                llm_cfg = LLMConfig(
                    backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model=f"{failure}-model",
                    timeout_s=timeout_s, max_retries=0,
                )  # fmt: skip
                rec = _with_llm(base, llm_cfg, mode, work / f"sessions-{failure}-{mode}.sqlite3")
                calls = per_card + (1 if mode == "tools" else 0)
                bound = calls * timeout_s * (1 + llm_cfg.max_retries) + margin_s
                row: dict[str, Any] = {"mode": rec.mode, "calls_bound": calls, "bound_s": bound, "seconds": []}
                deg = tmpl = 0
                cards_min: int | None = None
                notes: list[str] = []
                sid = f"llm-{failure}-{mode}-{uuid.uuid4().hex[:8]}"
                try:
                    for t in range(turns):
                        msg = CHAT_TURNS[t % len(CHAT_TURNS)]
                        turn = functools.partial(rec.chat, sid, msg, "196")
                        done, reply, secs = _bounded_call(turn, 3 * bound)
                        totals["turns"] += 1
                        row["seconds"].append(round(secs, 3))
                        worst = max(worst, secs)
                        if not done or isinstance(reply, BaseException):
                            totals["missing"] += 1
                            notes.append(f"turn {t + 1}: {type(reply).__name__}: {reply}")
                            continue
                        cards = list(reply.cards)
                        cards_min = len(cards) if cards_min is None else min(cards_min, len(cards))
                        deg += bool(reply.degraded)
                        all_tmpl = bool(cards) and all(c.writer == "template" and c.explanation for c in cards)
                        tmpl += all_tmpl
                        totals["not_degraded"] += not reply.degraded
                        totals["not_template"] += not all_tmpl
                        totals["no_cards"] += not cards
                        totals["over_bound"] += secs > bound
                        notes.extend(n for n in reply.notes if "language model" in n or "LLM" in n)
                finally:
                    rec.sessions.close()  # the engine is shared with ``base``: close only this one's sessions
                row.update(degraded=deg, template=tmpl, cards_min=cards_min or 0, notes=sorted(set(notes))[:5])
                row["max_s"] = max(row["seconds"], default=float("nan"))
                out[f"{failure}_{mode}"] = row
                say(f"llm {failure}, {mode} mode: turns {row['seconds']} s (bound {bound:.1f} s), degraded {deg}")
        out["hang_connections"] = hang.accepted
    finally:
        hang.close()
        refuse.close()
    for k in ("turns", "missing", "not_degraded", "not_template", "no_cards", "over_bound"):
        out[k] = totals.get(k, 0)
    out["max_s"] = round(worst, 3)
    return out


# ----------------------------------------------------------------------------------------- bounds


async def _queue_burst(
    url: str, n: int, timeout_s: float, cookies: dict[str, str] | None = None
) -> list[tuple[int | None, str]]:
    import httpx

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits, cookies=cookies) as client:

        async def join(i: int) -> tuple[int | None, str]:
            body = {"data": ["recommend 3 movies", f"queue-{i}-{uuid.uuid4().hex[:6]}", ""]}
            try:
                r = await client.post("/gradio_api/call/chat", json=body)
                return r.status_code, r.text[:200]
            except httpx.HTTPError as e:
                return None, f"{type(e).__name__}: {e}"

        return list(await asyncio.gather(*(join(i) for i in range(n))))


def request_bounds(
    url: str,
    *,
    body_limit: int = 64 * 1024,
    message_cap: int = 2000,
    queue_burst: int = 100,
    request_timeout_s: float = 180.0,
    token: str | None = None,
) -> dict[str, Any]:
    """Probe the API's bounds: body limit, message cap, field bounds, the Gradio queue's size.

    With ``token`` (a server in token mode) every request carries it and the queue is joined after a
    login to the app with it.

    - a JSON body of exactly ``body_limit`` bytes (whitespace padding) is served; one byte more is
      refused with 413, also when sent chunked (no Content-Length);
    - a message of ``message_cap`` characters is served, one more is refused with 413 (naming the limit);
    - an empty message, ``n`` = 0 or 51, and an unknown user answer 422/422/404;
    - ``queue_burst`` simultaneous joins of the Gradio queue (``POST /gradio_api/call/chat``): those
      beyond the queue's ``max_size`` are refused with 503 "Queue is full" (the size is read from that
      answer). Run this last: the accepted turns keep the server busy for a while.

    Returns:
        One entry per probe with the observed status, ``unexpected`` (probes whose status differed)
        and ``queue`` (``burst``, ``accepted``, ``rejected``, ``other``, ``max_size`` observed).
    """
    import httpx

    probes: dict[str, dict[str, Any]] = {}

    def probe(name: str, expect: int, method: str, path: str, **kw: Any) -> None:
        try:
            r = client.request(method, path, **kw)
            status, text = r.status_code, r.text
        except httpx.HTTPError as e:
            status, text = None, f"{type(e).__name__}: {e}"
        probes[name] = {"status": status, "expected": expect, "ok": status == expect, "detail": text[:400]}

    def padded(size: int) -> bytes:
        core = json.dumps({"message": "recommend 3 movies"})  # the server makes the session
        return (core + " " * (size - len(core))).encode()

    with httpx.Client(base_url=url, timeout=request_timeout_s, headers=bearer(token)) as client:
        js = {"content-type": "application/json"}
        probe("body_at_limit", 200, "POST", "/v1/chat", content=padded(body_limit), headers=js)
        probe("body_over_limit", 413, "POST", "/v1/chat", content=padded(body_limit + 1), headers=js)
        big = padded(body_limit + 1)
        probe("body_over_limit_chunked", 413, "POST", "/v1/chat", headers=js,
              content=iter([big[i : i + 8192] for i in range(0, len(big), 8192)]))  # fmt: skip
        probe("message_at_cap", 200, "POST", "/v1/chat", json={"message": "comedy " + "x" * (message_cap - 7)})
        probe("message_over_cap", 413, "POST", "/v1/chat", json={"message": "x" * (message_cap + 1)})
        probe("message_empty", 422, "POST", "/v1/chat", json={"message": ""})
        probe("n_zero", 422, "POST", "/v1/recommend", json={"n": 0})
        probe("n_over_max", 422, "POST", "/v1/recommend", json={"n": MAX_N + 1})
        probe("unknown_user", 404, "POST", "/v1/recommend", json={"user_id": "no-such-user", "n": 3})
    over = probes["message_over_cap"]["detail"]
    try:
        cap_seen = json.loads(over).get("limit") if probes["message_over_cap"]["status"] == 413 else None
    except ValueError:
        cap_seen = None
    body_seen = re.search(r"over (\d+) bytes", probes["body_over_limit"]["detail"])
    cookies = web_login(url, token) if token else None
    results = asyncio.run(_queue_burst(url, queue_burst, request_timeout_s, cookies))
    accepted = sum(1 for s, _ in results if s == 200)
    full = [t for s, t in results if s == 503 and "Queue is full" in t]
    m = re.search(r"Max size is (\d+)", full[0]) if full else None
    queue_info: dict[str, Any] = {
        "burst": queue_burst,
        "accepted": accepted,
        "rejected": len(full),
        "other": len(results) - accepted - len(full),
        "other_examples": [f"{s}: {t[:80]}" for s, t in results if s not in (200, 503)][:5],
        "max_size": int(m.group(1)) if m else None,
    }
    queue_info["accepted_at_least_max_size"] = queue_info["max_size"] is not None and accepted >= queue_info["max_size"]
    return {
        **probes,
        "unexpected": sum(not p["ok"] for p in probes.values()),
        "body_limit_seen": int(body_seen.group(1)) if body_seen else None,
        "message_cap_seen": cap_seen,
        "queue": queue_info,
    }


# -------------------------------------------------------------------------------------- injections


def injection_replies(
    url: str, *, request_timeout_s: float = 180.0, user_id: str | None = "196", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Send every shipped prompt-injection payload (:func:`agent.safety.load_injections`) as a chat message.

    Returns:
        ``payloads``, ``answered`` (200), ``refused`` (4xx, e.g. over the message cap), ``errors``
        (5xx or dropped), ``canary_leaks`` (a payload's canary, exactly, anywhere in the response body),
        ``canary_leaks_casefold`` (informational: also lower-cased echoes such as the free-text query)
        and ``leaks`` (which cases, where).
    """
    import httpx

    from agent.safety import load_injections

    cases = load_injections()
    answered = refused = errors = leaks = casefold = 0
    where: list[str] = []
    with httpx.Client(base_url=url, timeout=request_timeout_s, headers=headers) as client:
        for c in cases:
            body: dict[str, Any] = {"message": c.payload}  # a new session each, made by the server
            if user_id:
                body["user_id"] = user_id
            try:
                r = client.post("/v1/chat", json=body)
            except httpx.HTTPError as e:
                errors += 1
                where.append(f"{c.id}: {type(e).__name__}")
                continue
            if r.status_code >= 500:
                errors += 1
            elif r.status_code >= 400:
                refused += 1
            else:
                answered += 1
            if c.canary in r.text:
                leaks += 1
                where.append(f"{c.id}: canary in the {r.status_code} body")
            if c.canary.lower() in r.text.lower():
                casefold += 1
    return {
        "payloads": len(cases),
        "answered": answered,
        "refused": refused,
        "errors": errors,
        "canary_leaks": leaks,
        "canary_leaks_casefold": casefold,
        "leaks": where,
    }


# ------------------------------------------------------------------------------------- file routes


def file_route_paths(targets: list[str], port: int) -> list[str]:
    """Request paths that try to read ``targets`` (absolute file paths) or escape the app's folders."""
    paths: list[str] = []
    for t in targets:
        enc = t.replace("/", "%2F")
        paths += [f"/gradio_api/file={t}", f"/gradio_api/file/{t.lstrip('/')}", f"/gradio_api/file={enc}",
                  f"/gradio_api/file={enc.replace('%', '%25')}", f"/file={t}"]  # fmt: skip
    traversal = "../" * 12 + "etc/passwd"
    for prefix in ("/gradio_api/file=", "/gradio_api/file/", "/static/", "/assets/", "/svelte/", "/gradio_api/file=./"):
        paths += [
            prefix + traversal,
            prefix + traversal.replace("/", "%2F"),
            prefix + traversal.replace("..", "%2e%2e"),
        ]
    paths += [
        "/gradio_api/file=..%5C..%5C..%5Cetc%5Cpasswd",
        f"/gradio_api/file=http://127.0.0.1:{port}/healthz",  # no server-side fetch of local URLs
        f"/gradio_api/proxy=http://127.0.0.1:{port}/healthz",
    ]
    return paths


def _raw_get(url: str, path: str, timeout: float) -> tuple[int | None, bytes]:
    """GET with the path sent byte for byte (no client-side normalisation of ``../`` or ``%2F``)."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=timeout)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        conn.close()


def file_routes(url: str, targets: list[str], *, request_timeout_s: float = 60.0) -> dict[str, Any]:
    """Ask the running server's file routes for ``targets`` and traversal variants (:func:`file_route_paths`).

    A path counts as leaked when it answers below 400 or its body holds ``root:`` (passwd), an SQLite
    header, or the health answer (a server-side fetch). ``GET /`` must answer 200 with HTML (the route
    table works at all).

    Returns:
        ``paths``, ``refused``, ``leaks`` (count), ``leaked`` (which, with status), ``no_answer``, ``root_ok``,
        ``by_status``.
    """
    port = urlparse(url).port or 80
    root_status, root_body = _raw_get(url, "/", request_timeout_s)
    leaked: list[str] = []
    statuses: Counter[str] = Counter()
    no_answer = 0
    paths = file_route_paths(targets, port)
    for p in paths:
        status, body = _raw_get(url, p, request_timeout_s)
        statuses[str(status)] += 1
        if status is None:
            no_answer += 1  # the connection was closed without an answer: nothing leaked, counted apart
            continue
        if status < 400 or b"root:" in body or b"SQLite format" in body or b'"status":"ok"' in body:
            leaked.append(f"{p} -> {status}")
    return {
        "paths": len(paths),
        "refused": len(paths) - len(leaked) - no_answer,
        "leaks": len(leaked),
        "leaked": leaked[:10],
        "no_answer": no_answer,
        "root_ok": root_status == 200 and b"<html" in root_body.lower(),
        "by_status": dict(sorted(statuses.items())),
    }


# ------------------------------------------------------------------------------------------ runner


@dataclass
class _Run:
    cfg: HttpReliabilityConfig
    say: Progress
    stop_at: float
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def time_left(self, part: str) -> bool:
        if time.monotonic() < self.stop_at:
            return True
        self.notes.append(f"{part}: skipped, the check's deadline ({self.cfg.deadline_s:.0f} s) passed")
        self.metrics[part] = {"skipped": True}
        return False


def run_http_reliability(
    config: TrustrecConfig,
    work: Path | None = None,
    cfg: HttpReliabilityConfig | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the chosen parts against one ``trustrec serve --no-llm`` subprocess (and, for ``llm_failure``,
    an in-process template-only recommender), each over its own private workspace under ``work``.

    The server starts first; the in-process recommender is built and the LLM-failure turns run while
    it starts. Then: concurrency (on a fresh server, so its memory figures are clean), injections,
    fuzzing, file routes, bounds (queue burst last) and a final health check.

    Args:
        config: The system config (its workspace provides data, models, index and caches).
        work: Scratch folder (default: a temporary folder, removed afterwards).
        cfg: Sizes and limits.
        progress: Called with progress lines.

    Returns:
        ``{"metrics": {part: figures, "server": {...}, "healthy_after": bool}, "notes": [...]}``.
    """
    cfg = cfg or HttpReliabilityConfig()
    say = progress or (lambda _m: None)
    tmp = None
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="trustrec-http-")
        work = Path(tmp.name)
    run = _Run(cfg, say, time.monotonic() + cfg.deadline_s)
    real = config.workspace().home
    parts = set(cfg.parts)
    http_parts = parts - {"llm_failure"}
    t0 = time.perf_counter()
    served: ServedApi | None = None
    try:
        if http_parts:  # start the subprocess first: it becomes healthy while the in-process part runs
            home = isolated_workspace(real, work / "server-home")
            token = provision_token(home, "admin", name="reliability-http") if cfg.auth == "token" else None
            serve_cfg = token_config(config) if token else config  # rate limit off: this is load, not abuse
            served = start_server(serve_cfg, home, progress=say)
            served.token = token
            say(f"authentication: {'bearer token (admin)' if token else 'none'}")
        if "llm_failure" in parts and run.time_left("llm_failure"):
            run.metrics["llm_failure"] = _llm_part(config, work, cfg, say)
        if served is not None:
            served.wait_healthy(cfg.startup_timeout_s, say)
            run.metrics["server"] = {"startup_s": round(served.startup_s, 2), "pid": served.pid, "auth": cfg.auth}
            _http_parts(served, http_parts, run, config)
            run.metrics["healthy_after"] = _healthy(served.url, timeout=60)
            if served.process.poll() is not None:
                run.notes.append(f"the server process exited ({served.process.returncode})")
                run.metrics["healthy_after"] = False
            if not run.metrics["healthy_after"]:
                run.notes.append("the server did not answer /healthz at the end:\n" + served.log_tail(1500))
    finally:
        if served is not None:
            served.stop()
        if tmp is not None:
            tmp.cleanup()
    run.metrics["seconds"] = round(time.perf_counter() - t0, 3)
    return {"metrics": run.metrics, "notes": run.notes}


def _llm_part(config: TrustrecConfig, work: Path, cfg: HttpReliabilityConfig, say: Progress) -> dict[str, Any]:
    from agent.recommender import Recommender

    home = isolated_workspace(config.workspace().home, work / "llm-home")
    say("building a template-only recommender for the failing-LLM turns")
    base = Recommender.from_config(config.model_copy(update={"home": home}), llm=None)
    try:
        base.chat(f"warm-{uuid.uuid4().hex[:6]}", "recommend 3 movies", "196")  # loads the text encoder once
        return llm_failure_turns(
            base, work / "llm", timeout_s=cfg.llm_timeout_s, turns=cfg.llm_turns, modes=cfg.llm_modes,
            margin_s=cfg.llm_margin_s, progress=say,
        )  # fmt: skip
    finally:
        base.close()


def _http_parts(served: ServedApi, parts: set[Part], run: _Run, config: TrustrecConfig) -> None:
    cfg, say, url = run.cfg, run.say, served.url
    left = lambda: max(1.0, run.stop_at - time.monotonic())  # noqa: E731
    if "concurrent" in parts and run.time_left("concurrent"):
        say(f"{cfg.sessions} concurrent sessions x {cfg.turns} turns (template-only recommender)")
        run.metrics["concurrent"] = concurrent_chats(
            url, cfg.sessions, cfg.turns, server_pid=served.pid, request_timeout_s=cfg.request_timeout_s,
            deadline_s=left(), headers=served.headers,
        )  # fmt: skip
        c = run.metrics["concurrent"]
        run.notes.extend(f"concurrent: {err}" for err in c["error_examples"])
        say(
            f"  p50 {c['latency_s']['all']['p50']:.2f} s, p95 {c['latency_s']['all']['p95']:.2f} s, errors {c['errors']}"
        )
    if "injections" in parts and run.time_left("injections"):
        say("prompt-injection payloads through POST /v1/chat")
        run.metrics["injections"] = injection_replies(
            url, request_timeout_s=cfg.request_timeout_s, headers=served.headers
        )
    if "fuzz" in parts and run.time_left("fuzz"):
        say(f"fuzzing the API with {cfg.fuzz_examples} hypothesis examples")
        run.metrics["fuzz"] = fuzz_api(
            url, cfg.fuzz_examples, seed=cfg.fuzz_seed, request_timeout_s=cfg.request_timeout_s, deadline_s=left(),
            progress=say, headers=served.headers,
        )  # fmt: skip
        for f in run.metrics["fuzz"]["failures"]:
            run.notes.append(f"fuzz failure: {f['method']} {f['path'][:80]} -> {f['status']}: {f['detail'][:120]}")
    if "file_routes" in parts and run.time_left("file_routes"):
        ws_store = served.home / "store"
        targets = ["/etc/passwd", str(ws_store / "trustrec.sqlite3"), str(ws_store / "sessions.sqlite3"),
                   str((served.home / "cache").resolve() / "ui-browser-secret")]  # fmt: skip
        run.metrics["file_routes"] = file_routes(url, targets)
    if "bounds" in parts and run.time_left("bounds"):
        say(f"bounds: body limit, message cap, field bounds, a burst of {cfg.queue_burst} Gradio queue joins")
        run.metrics["bounds"] = request_bounds(
            url, body_limit=cfg.body_limit, message_cap=config.agent.understand.safety.max_message_chars,
            queue_burst=cfg.queue_burst, request_timeout_s=cfg.request_timeout_s, token=served.token,
        )  # fmt: skip
