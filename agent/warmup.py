"""Background warm-up: the server answers at once and turns never wait for a model to load.

``trustrec serve`` builds the :class:`agent.Engine` without the LLM and without the explainer's
first (compiling) run, starts serving, and hands both to a :class:`Warmup` thread. Until a part is
ready its name is in ``engine.warming``; a turn meanwhile answers with template explanations (the
writer it finds has no LLM yet) and says so in its notes. When the LLM has loaded and written its
first token it is installed into the engine's writer and describer, and later turns use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.engine import Engine, warm_up_explainer

Progress = Callable[[str], None]
PartState = Literal["waiting", "loading", "ready", "failed", "off"]


class PartStatus(BaseModel):
    """One warmed-up part."""

    state: PartState
    seconds: float | None = Field(None, description="Time the part took to warm up (when done).")
    detail: str = Field("", description="What was loaded, or why it failed.")


class WarmupStatus(BaseModel):
    """Readiness of the server's slow parts (``/readyz``)."""

    ready: bool = Field(description="Every part is ready, failed (templates are used) or off.")
    parts: dict[str, PartStatus]
    since_start_s: float = Field(description="Seconds since the warm-up started.")


def install_llm(engine: Engine, model: Any) -> None:
    """Make ``model`` write the engine's explanations and descriptions from the next turn on."""
    from agent.describe import Describer
    from agent.writer import ExplanationWriter

    cfg = engine.config.llm
    titles = [it.title for it in engine.dataset.items]
    writer = ExplanationWriter(model, cfg, catalog=engine.dataset.items)
    describer = Describer(model, cfg, catalog_titles=titles)
    # each turn reads the writer once (agent.guided), so a turn in flight keeps its own
    engine.writer, engine.describer, engine.llm = writer, describer, model


class Warmup:
    """Warm the explainer and the configured LLM up in one daemon thread.

    Args:
        engine: Built with ``warm_up=False`` and ``llm=None`` (templates until the LLM is ready).
        llm: Load the configured LLM (False: templates only, e.g. ``--no-llm``).
        progress: Called with one line per finished step.
        load_llm: Builds, loads and checks the chat model; returns ``(model, detail)`` or raises. The
            default builds ``engine.config.llm`` and has it write one token (:func:`agent.llm.check_health`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        llm: bool = True,
        progress: Progress | None = None,
        load_llm: Callable[[Engine], tuple[Any, str]] | None = None,
    ) -> None:
        self.engine = engine
        self.say = progress or (lambda _m: None)
        self.load_llm = load_llm or _load_configured
        self.parts: dict[str, PartStatus] = {"explainer": PartStatus(state="waiting")}
        self.parts["llm"] = PartStatus(state="waiting") if llm else PartStatus(state="off", detail="templates only")
        engine.warming |= {k for k, p in self.parts.items() if p.state == "waiting"}
        self._done = threading.Event()
        self._t0 = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> Warmup:
        """Start the thread (once) and return self."""
        if self._thread is None:
            self._t0 = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="trustrec-warmup", daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every part is done (ready or failed); False when ``timeout`` passed first."""
        return self._done.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def status(self) -> WarmupStatus:
        return WarmupStatus(
            ready=self.ready, parts={k: v.model_copy() for k, v in self.parts.items()},
            since_start_s=time.monotonic() - self._t0,
        )  # fmt: skip

    def _step(self, name: str, fn: Callable[[], str]) -> None:
        if self.parts[name].state == "off":
            return
        self.parts[name] = PartStatus(state="loading")
        t0 = time.monotonic()
        try:
            detail = fn()
        except Exception as e:  # a failed part leaves templates in place; the status says why
            self.parts[name] = PartStatus(
                state="failed", seconds=time.monotonic() - t0, detail=f"{type(e).__name__}: {e}"
            )
            self.say(f"warm-up: {name} failed ({type(e).__name__}: {e}); explanations use templates")
        else:
            self.parts[name] = PartStatus(state="ready", seconds=time.monotonic() - t0, detail=detail)
            self.say(f"warm-up: {name} ready in {time.monotonic() - t0:.1f} s" + (f" ({detail})" if detail else ""))
        finally:
            self.engine.warming.discard(name)

    def _run(self) -> None:
        e = self.engine
        try:
            self._step("explainer", lambda: _warm_explainer(e))
            self._step("llm", lambda: self._llm())
        finally:
            self._done.set()

    def _llm(self) -> str:
        model, detail = self.load_llm(self.engine)
        install_llm(self.engine, model)
        return detail


def _warm_explainer(e: Engine) -> str:
    with e.lock:  # the explainer's caches are shared with turns, which hold the same lock
        warm_up_explainer(e.explainer, e.split)
    return "shap kernels compiled"


def _load_configured(e: Engine) -> tuple[Any, str]:
    """Build the configured chat model, load it and have it write one token."""
    from agent.llm import LLMUnavailable, check_health, make_chat_model

    cfg = e.config.llm
    model = make_chat_model(cfg, e.workspace)
    h = check_health(cfg, e.workspace, generate=True)
    if h.ok:
        return model, f"{cfg.backend}: {h.detail}"
    if cfg.backend == "embedded":  # the local model could not load: nothing later turns could use
        raise LLMUnavailable(h.detail)
    # a server may come up later: install it anyway; each turn tries it and falls back to templates (degraded)
    return model, f"{cfg.backend} not answering yet ({h.detail}); turns try it and fall back to templates"
