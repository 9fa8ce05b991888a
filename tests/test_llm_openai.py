"""The OpenAI-compatible path (vLLM's server format) against a local HTTP server on 127.0.0.1.

The server replays responses in vLLM's OpenAI format; the request's ``model`` picks the behaviour:
a grounded answer, streaming (SSE chunks), a tool call, a hang past the timeout, 503, malformed JSON.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from agent.config import LLMConfig
from agent.grounding import display_title, top_history_title
from agent.llm import LLMTimeout, LLMUnavailable, check_health, complete, make_chat_model, stream
from agent.writer import ExplanationWriter
from tests.llm_helpers import real_evidence, titles

EV = real_evidence("196", "181")
GOOD = f"Because you liked {display_title(top_history_title(EV) or '')}, you may enjoy Return of the Jedi, a 1983 sci-fi adventure."


def _completion(content: str | None, tool_calls: list | None = None) -> dict:
    msg: dict = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "served",
        "choices": [{"index": 0, "message": msg, "logprobs": None,
                     "finish_reason": "tool_calls" if tool_calls else "stop", "stop_reason": None}],
        "usage": {"prompt_tokens": 10, "total_tokens": 20, "completion_tokens": 10},
    }  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "good", "object": "model"}]}).encode())
        else:
            self._send(404, b"{}")

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append(req)
        mode = req["model"]
        if mode == "hang":
            time.sleep(5)
            self._send(200, json.dumps(_completion(GOOD)).encode())
        elif mode == "503":
            self._send(503, json.dumps({"object": "error", "message": "overloaded", "code": 503}).encode())
        elif mode == "malformed":
            self._send(200, b'{"id": "x", "choices": [{"message": {"content": "trunc')
        elif mode == "ungrounded":
            self._send(200, json.dumps(_completion("Watch Titanic (1997), visit http://spam.example now!")).encode())
        elif mode == "tool":
            call = {
                "id": "call_1",
                "type": "function",
                "function": {"name": "recommend", "arguments": json.dumps({"query": "space opera", "n": 3})},
            }
            self._send(200, json.dumps(_completion(None, [call])).encode())
        elif req.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = GOOD.split(" ")
            for k, w in enumerate(words):
                delta = {"content": (w if k == 0 else " " + w)}
                if k == 0:
                    delta["role"] = "assistant"
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": mode,
                         "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}  # fmt: skip
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            end = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": mode,
                   "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}  # fmt: skip
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
        else:
            self._send(200, json.dumps(_completion(GOOD)).encode())


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _cfg(base_url: str, model: str, **kw: object) -> LLMConfig:
    return LLMConfig(backend="openai", base_url=base_url, model=model, timeout_s=1.5, max_retries=0, **kw)  # type: ignore[arg-type]


def _writer(base_url: str, model: str) -> ExplanationWriter:
    cfg = _cfg(base_url, model)
    return ExplanationWriter(make_chat_model(cfg), cfg, catalog_titles=titles())


def test_grounded_answer_is_used_with_provenance(base_url: str) -> None:
    ex = _writer(base_url, "good").write(EV)
    assert ex.writer == "llm" and ex.grounded and ex.first_try_grounded
    assert ex.text == GOOD
    assert ex.prompt_version == "explain-chat/1" and ex.backend == "openai" and ex.model == "good"
    req = _Handler.requests[-1]
    assert req.get("max_completion_tokens", req.get("max_tokens")) == 64 and req["messages"][0]["role"] == "system"
    assert "Return of the Jedi" in req["messages"][-1]["content"]


def test_streaming_sse_chunks(base_url: str) -> None:
    pieces = list(stream(make_chat_model(_cfg(base_url, "good")), [HumanMessage("hi")], timeout_s=5))
    assert len(pieces) > 5
    assert "".join(pieces) == GOOD


def test_tool_call_is_parsed(base_url: str) -> None:
    @tool
    def recommend(query: str, n: int) -> str:
        """Recommend n items for a query."""
        return query

    model = make_chat_model(_cfg(base_url, "tool")).bind_tools([recommend])  # type: ignore[attr-defined]
    msg = model.invoke([HumanMessage("space films please")])
    assert msg.tool_calls[0]["name"] == "recommend"
    assert msg.tool_calls[0]["args"] == {"query": "space opera", "n": 3}
    assert _Handler.requests[-1]["tools"][0]["function"]["name"] == "recommend"


def test_hang_past_timeout_raises_typed_error_and_degrades(base_url: str) -> None:
    with pytest.raises(LLMTimeout):
        complete(make_chat_model(_cfg(base_url, "hang")), [HumanMessage("hi")], timeout_s=1.0)
    ex = _writer(base_url, "hang").write(EV)
    assert ex.writer == "template" and ex.grounded
    assert any("LLMTimeout" in r for r in ex.reasons)


@pytest.mark.parametrize("mode", ["503", "malformed"])
def test_server_errors_degrade_to_template(base_url: str, mode: str) -> None:
    with pytest.raises(LLMUnavailable):
        complete(make_chat_model(_cfg(base_url, mode)), [HumanMessage("hi")], timeout_s=5)
    ex = _writer(base_url, mode).write(EV)
    assert ex.writer == "template" and ex.grounded and ex.attempts == 1
    assert display_title(top_history_title(EV) or "") in ex.text


def test_ungrounded_answer_is_retried_then_templated(base_url: str) -> None:
    ex = _writer(base_url, "ungrounded").write(EV)
    assert ex.writer == "template" and ex.attempts == 2  # first try + one grounding retry
    assert ex.rejected and "http" in ex.rejected[0]
    assert any("link" in r for r in ex.reasons)


def test_unreachable_server_degrades(base_url: str) -> None:
    cfg = _cfg("http://127.0.0.1:9/v1", "good")
    ex = ExplanationWriter(make_chat_model(cfg), cfg, catalog_titles=titles()).write(EV)
    assert ex.writer == "template" and ex.attempts == 1


def test_health(base_url: str) -> None:
    assert check_health(_cfg(base_url, "good")).ok
    bad = check_health(_cfg(base_url, "missing"))
    assert not bad.ok and "not served" in bad.detail
    assert not check_health(_cfg("http://127.0.0.1:9/v1", "good")).ok


def test_vllm_inprocess_missing_extra_names_the_install() -> None:
    from agent.llm.vllm_inprocess import has_vllm

    if has_vllm():
        pytest.skip("vllm installed here")
    model = make_chat_model(LLMConfig(backend="vllm-inprocess", model="x"))
    with pytest.raises(LLMUnavailable, match=r"pip install 'trustrec\[gpu\]'"):
        complete(model, [HumanMessage("hi")], timeout_s=5)
    assert "trustrec[gpu]" in check_health(LLMConfig(backend="vllm-inprocess")).detail
