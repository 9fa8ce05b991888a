"""The HTTP/agent reliability checks (evals.reliability_http) with small counts.

The server tests run the real ``trustrec serve --no-llm`` in a subprocess on 127.0.0.1 over a private
workspace (real data, models and index linked in; its own store). The failing-LLM test wires an
``openai``-backend chat model pointing at a refusing port / a server that never answers into the real
template-only recommender of the UI tests. A small broken app shows the fuzzer does report 5xx.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request  # module level: the route's annotations are resolved from these globals

from evals import reliability_http as rh


# ----------------------------------------------------------------------------------- fast, no server
def test_config_toml_round_trips_for_the_subprocess() -> None:
    from agent.config import TrustrecConfig

    cfg = TrustrecConfig.model_validate(
        {"agent": {"default_n": 7, "understand": {"safety": {"max_message_chars": 1234}}}, "llm": {"timeout_s": 3.5}}
    )
    back = TrustrecConfig.model_validate(tomllib.loads(rh.config_toml(cfg)))
    assert back.agent.default_n == 7 and back.llm.timeout_s == 3.5
    assert back.agent.understand.safety.max_message_chars == 1234
    assert back.model_dump(exclude={"home"}) == cfg.model_dump(exclude={"home"})


def test_check_kind_is_registered_in_smoke_and_full() -> None:
    from evals.suite import check_kinds, load_suite

    assert "reliability-http" in check_kinds()
    for name, fuzz, sessions in (("smoke", 100, 10), ("full", 500, 50)):
        (c,) = [c for c in load_suite(name).checks if c.kind == "reliability-http"]
        cfg = rh.HttpReliabilityConfig.model_validate(c.params)
        assert cfg.fuzz_examples >= fuzz and cfg.sessions >= sessions
        assert c.thresholds["fuzz.5xx"].max == 0 and c.thresholds["concurrent.errors"].max == 0
        assert c.thresholds["injections.canary_leaks"].max == 0 and c.thresholds["llm_failure.not_degraded"].max == 0


def test_fuzzer_reports_server_errors() -> None:
    """A deliberately broken app: the fuzzer must count its 5xx answers (the check can fail)."""
    from tests.ui_helpers import running_server

    app = FastAPI()

    @app.post("/v1/chat")
    async def chat(request: Request) -> dict[str, Any]:
        await request.body()
        raise RuntimeError("boom")  # every chat request -> 500

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    with running_server(app) as url:
        res = rh.fuzz_api(url, 200, seed=1)
    assert res["examples"] == 200
    assert res["5xx"] > 0 and res["bad"] >= res["5xx"], res
    assert res["by_endpoint"]["POST /v1/chat"].get("5xx", 0) == res["5xx"]  # only the broken endpoint
    assert any(f["status"] == 500 and f["path"] == "/v1/chat" for f in res["failures"])
    assert res["healthy_after"] is True


def test_a_client_failure_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error the client itself raises mid-run is one counted, shown outcome; the run goes on to the end."""
    from tests.ui_helpers import running_server

    app = FastAPI()

    @app.post("/v1/chat")
    async def chat(request: Request) -> dict[str, Any]:
        return {"bytes": len(await request.body())}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    real_send, calls = rh._send, []

    def flaky_send(client: Any, req: Any) -> tuple[str, int | None, str]:
        calls.append(req)
        if len(calls) % 7 == 3:
            raise UnicodeError("a request the client cannot write")
        return real_send(client, req)

    monkeypatch.setattr(rh, "_send", flaky_send)
    with running_server(app) as url:
        res = rh.fuzz_api(url, 30, seed=2)
    assert res["examples"] == 30 and res["client_error"] == len([i for i in range(1, 31) if i % 7 == 3])
    assert res["bad"] >= res["client_error"]
    assert any(f["detail"].startswith("UnicodeError: a request the client") for f in res["failures"])


def test_the_fuzz_strategy_is_described_without_parsing_source() -> None:
    """Hypothesis describes a lambda by parsing its module's source, and CPython 3.11's parser is not safe
    against a parse in another thread (an in-process server formatting a traceback): a mid-run SystemError
    that hypothesis then reported as an "unreliable assumption". The fuzzer's strategy has no lambdas."""
    app = FastAPI()

    @app.post("/v1/chat")
    def chat(body: dict[str, Any]) -> dict[str, Any]:
        return body

    described = repr(rh._request_strategy(app.openapi()))
    assert "request" in described and "lambda" not in described, described[:500]


def test_token_mode_reaches_the_subprocess_config(tmp_path: Path) -> None:
    from agent.config import TrustrecConfig
    from catalog import Store, Workspace
    from catalog.store import token_hash

    cfg = rh.token_config(TrustrecConfig.model_validate({}), rate_limit_per_minute=7)
    back = TrustrecConfig.model_validate(tomllib.loads(rh.config_toml(cfg)))
    assert back.server.auth.mode == "token" and back.server.auth.rate_limit_per_minute == 7
    token = rh.provision_token(tmp_path, "admin")
    with Store(Workspace(tmp_path).store_path) as s:
        assert s.token(token_hash(token))["role"] == "admin"  # type: ignore[index]
    assert rh.bearer(token) == {"Authorization": f"Bearer {token}"} and rh.bearer(None) == {}


# ------------------------------------------------------------------------------------- real server
@pytest.fixture(scope="module", params=["token", "none"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[rh.ServedApi]:
    """A real server in each auth mode: token (requests carry a valid admin token) and none (loopback demo)."""
    from agent.config import load_config

    cfg = load_config()
    home = rh.isolated_workspace(cfg.workspace().home, tmp_path_factory.mktemp(f"http-server-{request.param}"))
    token = None
    if request.param == "token":
        token = rh.provision_token(home, "admin")
        cfg = rh.token_config(cfg)
    with rh.serve_api(cfg, home) as s:
        s.token = token
        if token:  # the server really checks: no token, no answer
            import httpx

            assert httpx.post(s.url + "/v1/recommend", json={"n": 1}, timeout=60).status_code == 401
        yield s
    assert s.process.poll() is not None  # stopped


@pytest.mark.slow
def test_concurrent_sessions_have_no_errors(served: rh.ServedApi) -> None:
    res = rh.concurrent_chats(served.url, 6, 2, server_pid=served.pid, headers=served.headers)
    assert res["errors"] == 0, res["error_examples"]
    assert res["turns_total"] == 12
    lat = res["latency_s"]
    assert 0 < lat["all"]["p50"] <= lat["all"]["p95"] <= lat["all"]["max"]
    assert set(lat) == {"all", "turn_1", "turn_2"}
    rss = res["rss_mb"]
    assert rss["samples"] > 0 and rss["peak_sampled"] >= rss["before"] > 100  # a real, loaded server process
    assert rss["high_water"] >= rss["peak_sampled"] - 1


@pytest.mark.slow
def test_fuzzed_requests_never_get_5xx_or_dropped(served: rh.ServedApi) -> None:
    res = rh.fuzz_api(served.url, 60, seed=3, headers=served.headers)
    assert res["examples"] == 60
    assert res["5xx"] == 0 and res["dropped"] == 0 and res["timeout"] == 0, res["failures"]
    assert res["2xx"] + res["4xx"] + res["not_sent"] == 60
    assert res["2xx"] > 0 and res["4xx"] > 0  # both valid and invalid requests were sent
    assert res["healthy_after"] is True


@pytest.mark.slow
def test_injection_payloads_never_echo_the_canary(served: rh.ServedApi) -> None:
    from agent.safety import load_injections

    res = rh.injection_replies(served.url, headers=served.headers)
    assert res["payloads"] == len(load_injections()) > 0
    assert res["errors"] == 0 and res["answered"] + res["refused"] == res["payloads"]
    assert res["canary_leaks"] == 0, res["leaks"]


@pytest.mark.slow
def test_file_routes_refuse_everything_outside_the_app(served: rh.ServedApi) -> None:
    store = served.home / "store"
    targets = ["/etc/passwd", str(store / "trustrec.sqlite3"), str(store / "sessions.sqlite3")]
    assert (store / "trustrec.sqlite3").is_file()  # the targets exist: a refusal is not just "missing"
    res = rh.file_routes(served.url, targets)
    assert res["root_ok"] and res["paths"] > 30
    assert res["leaks"] == 0, res["leaked"]
    assert res["refused"] + res["no_answer"] == res["paths"]


@pytest.mark.slow
def test_bounds_body_message_fields_and_queue(served: rh.ServedApi) -> None:
    """Last in this module: the queue burst leaves the server busy with the accepted turns."""
    from agent.config import load_config

    cap = load_config().agent.understand.safety.max_message_chars
    res = rh.request_bounds(served.url, message_cap=cap, queue_burst=100, token=served.token)
    bad = {k: v for k, v in res.items() if isinstance(v, dict) and "ok" in v and not v["ok"]}
    assert res["unexpected"] == 0, bad
    assert res["body_limit_seen"] == 64 * 1024 and res["message_cap_seen"] == cap
    q = res["queue"]
    assert q["max_size"] is not None and q["accepted"] >= q["max_size"]
    assert q["rejected"] > 0 and q["accepted"] + q["rejected"] == 100 and q["other"] == 0
    assert rh._healthy(served.url, timeout=60)


# ------------------------------------------------------------------------------------- failing LLM
@pytest.mark.slow
def test_llm_down_or_hanging_degrades_within_the_bound(tmp_path: Path) -> None:
    from tests.ui_helpers import shared_recommender

    rec = shared_recommender()
    res = rh.llm_failure_turns(rec, tmp_path, timeout_s=1.5, turns=1, modes=("tools", "guided"), margin_s=30.0)
    assert res["turns"] == 4
    for key in ("down_tools", "down_guided", "hang_tools", "hang_guided"):
        row = res[key]
        assert row["degraded"] == 1 and row["template"] == 1 and row["cards_min"] >= 1, (key, row)
        assert row["max_s"] <= row["bound_s"], (key, row)
    assert res["missing"] == res["not_degraded"] == res["not_template"] == res["over_bound"] == 0
    assert res["hang_connections"] > 0  # the hanging server was really called
    assert res["hang_tools"]["mode"] == "tools" and res["down_guided"]["mode"] == "guided"
    assert any("OpenAITimeoutError" in n for n in res["hang_tools"]["notes"])
    # the shared engine still serves template turns afterwards (its store was not closed)
    assert rec.chat("after-llm-failure", "recommend 3 movies", "196").cards
