"""Shared helpers for the LLM tests: Evidence built from real ml-100k data, and a chat model stand-in
at the process edge that blocks until the test releases it."""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from catalog import Dataset, load_dataset
from ranker.evidence import Evidence, HistoryAttribution, TrustReport


@cache
def dataset() -> Dataset:
    return load_dataset()


def real_evidence(user_id: str = "196", item_id: str = "181", k: int = 3) -> Evidence:
    """Evidence for ``item_id`` with the user's real highest-rated history titles as attributions."""
    ds = dataset()
    df = ds.interactions
    rows = df[df["user_id"] == user_id].sort_values(["value", "timestamp"], ascending=[False, True])
    hist = [ds.items[int(i)] for i in rows["item_idx"].tolist() if ds.items[int(i)].item_id != item_id][:k]
    it = ds.items[ds.item_index[item_id]]
    return Evidence(
        item_id=it.item_id, title=it.title, year=it.year, categories=list(it.categories), score=0.8, base_value=0.1,
        history=[HistoryAttribution(item_id=h.item_id, title=h.title, value=0.3 / (j + 1)) for j, h in enumerate(hist)],
        features={"collaborative": 0.4, "popularity": 0.1},
        trust=TrustReport(confidence=0.72, uncertainty=0.05, user_support=len(rows), item_support=it.rating.count,
                          cold_start=False, fidelity=0.1, composite=0.7),
    )  # fmt: skip


def titles() -> list[str]:
    return [it.title for it in dataset().items]


# ---------------------------------------------------------------- a chat model at the process edge


class GatedModel(GenericFakeChatModel):
    """An explanation writer's LLM that blocks every generation until ``gate`` is set.

    Its answer restates the prompt's evidence ("Because you liked <first liked title>, you may enjoy
    <item>."), so it passes the grounding guard and the claim checker like a well-behaved model.
    ``calls`` counts generations that got past the gate.
    """

    gate: Any = Field(default_factory=threading.Event)
    calls: int = 0
    wait_s: float = 120.0

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        if not self.gate.wait(self.wait_s):
            raise TimeoutError("the test never released the gated model")
        self.calls += 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=evidence_answer(messages)))])


def evidence_answer(messages: list[BaseMessage]) -> str:
    """A true one-sentence explanation from the explain prompt's evidence line.

    After a few-shot prefill (the last message is the answer's start, "Because you liked X,") only
    the continuation is returned, as a base model would continue it.
    """
    prefilled = isinstance(messages[-1], AIMessage)
    asks = [m for m in messages if not isinstance(m, AIMessage)]
    text = str(asks[-1].content) if asks else ""
    item = re.search(r'recommended "([^"]+)"', text)
    liked = re.search(r'because you liked "([^"]+)"', text)
    if item is None:
        return "No evidence."
    if prefilled:
        return f"you may enjoy {item.group(1)}."
    if liked is None:
        return f"You may enjoy {item.group(1)}."
    return f"Because you liked {liked.group(1)}, you may enjoy {item.group(1)}."


# ---------------------------------------------------------------- an OpenAI-format server at the process edge


class EvidenceServer:
    """A local HTTP server on 127.0.0.1 speaking the OpenAI chat-completions format (vLLM's), whose
    answers restate the prompt's evidence (:func:`evidence_answer`), as a well-behaved model's would.

    ``down`` answers 503 to every request (an endpoint that is unreachable for the client); ``requests``
    counts the completions asked for. Another process (a Ray actor) reaches it over loopback.
    """

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from langchain_core.messages import HumanMessage, SystemMessage

        owner = self
        self.requests = 0
        self.down = False
        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if owner.down:
                    self._send(503, {"object": "error", "message": "overloaded", "code": 503})
                    return
                owner.requests += 1
                msgs = [kinds[m["role"]](content=m["content"]) for m in req["messages"]]
                msg = {"role": "assistant", "content": evidence_answer(msgs)}
                self._send(200, {
                    "id": f"chatcmpl-{owner.requests}", "object": "chat.completion", "created": 1,
                    "model": req["model"], "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "total_tokens": 20, "completion_tokens": 10},
                })  # fmt: skip

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
