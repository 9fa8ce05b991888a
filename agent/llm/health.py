"""Health checks per backend: can it answer now, and how fast?"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from agent.config import LLMConfig
from catalog.config import Workspace


class Health(BaseModel):
    """Result of one health check."""

    backend: str
    model: str
    ok: bool
    latency_s: float = Field(description="Seconds the check took.")
    detail: str = Field("", description="What failed, or what was checked.")


def check_health(cfg: LLMConfig, workspace: Workspace | None = None, *, generate: bool = True) -> Health:
    """Check the configured backend within ``cfg.health_timeout_s`` (model loading excluded).

    - ``openai``: ``GET {base_url}/models`` answers 200 and lists ``cfg.model``; with ``generate``,
      a one-token completion also succeeds.
    - ``embedded``: the GGUF package or the workspace cache is present; with ``generate`` the model
      is loaded (once per process) and writes one token.
    - ``vllm-inprocess``: ``vllm`` is importable.

    Never raises for backend failures; ``ok`` is False and ``detail`` says why.
    """
    from agent.llm.backends import complete, make_chat_model
    from agent.llm.errors import LLMError

    t0 = time.perf_counter()

    def done(ok: bool, detail: str) -> Health:
        return Health(backend=cfg.backend, model=cfg.model, ok=ok, latency_s=time.perf_counter() - t0, detail=detail)

    ping_cfg = cfg.model_copy(update={"max_new_tokens": 1, "timeout_s": cfg.health_timeout_s, "max_retries": 0})
    if cfg.backend == "openai":
        import httpx

        try:
            r = httpx.get(cfg.base_url.rstrip("/") + "/models", timeout=cfg.health_timeout_s,
                          headers={"Authorization": f"Bearer {cfg.api_key}"})  # fmt: skip
            r.raise_for_status()
            ids = [m.get("id") for m in r.json().get("data", [])]
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            return done(False, f"{cfg.base_url}: {type(e).__name__}: {e}")
        if cfg.model not in ids:
            return done(False, f"model {cfg.model!r} not served; served: {ids}")
        detail = f"serves {cfg.model}"
    elif cfg.backend == "vllm-inprocess":
        from agent.llm.vllm_inprocess import has_vllm

        if not has_vllm():
            return done(False, "vllm is not installed: pip install 'trustrec[gpu]'")
        return done(True, "vllm importable")
    else:
        from agent.llm.embedded import cache_ready
        from agent.llm.llamacpp import has_llamacpp

        ws = workspace or Workspace()
        if cfg.embedded_backend == "llamacpp" and has_llamacpp():
            detail = "llamacpp on the packaged GGUF"
        else:
            fell = " (llama_cpp missing: fallback)" if cfg.embedded_backend == "llamacpp" else ""
            src = "workspace cache" if cache_ready(ws.models) else "packaged GGUF (first load de-quantises)"
            detail = f"{'transformers-cached' if fell else cfg.embedded_backend}{fell} from the {src}"
        if generate:
            from agent.llm.embedded import EmbeddedChatModel

            model = make_chat_model(ping_cfg, ws)
            assert isinstance(model, EmbeddedChatModel)
            try:
                model.loaded()
            except LLMError as e:
                return done(False, str(e))
            t0 = time.perf_counter()  # loading is not the health of the backend
    if generate:
        try:
            complete(make_chat_model(ping_cfg, workspace), [("human", "Hello")], timeout_s=cfg.health_timeout_s)  # type: ignore[list-item]
        except LLMError as e:
            return done(False, str(e))
        detail += "; generated 1 token"
    return done(True, detail)
