"""The one validated configuration that assembles the system (the agent is the composition root).

Sources, highest priority first: keyword arguments, environment variables ``TRUSTREC_...``
(nested with ``__``, e.g. ``TRUSTREC_DATA__LENIENT=true``), then the TOML file
(``--config PATH``, ``$TRUSTREC_CONFIG`` or ``./trustrec.toml``).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.understanding import UnderstandConfig
from catalog.config import DataConfig, StoreConfig, Workspace
from catalog.errors import MissingFile
from ranker.calibration import CalibrationConfig
from ranker.config import ColdStartConfig, RankerConfig
from ranker.explain import ExplainConfig
from retrieval.config import RetrievalConfig

_TOML_PATH: ContextVar[Path | None] = ContextVar("trustrec_toml", default=None)


class LLMConfig(BaseModel):
    """Which LLM writes text, and its limits.

    ``backend`` picks the chat model: ``embedded`` (default, the packaged base gemma-3-270m GGUF on
    CPU, through llama.cpp or transformers: ``embedded_backend``), ``openai`` (any OpenAI-compatible server, e.g. ``vllm serve``) or
    ``vllm-inprocess`` (needs ``pip install 'trustrec[gpu]'``).
    """

    backend: Literal["embedded", "openai", "vllm-inprocess"] = Field(
        "embedded",
        description="Which chat model writes text: embedded CPU model, OpenAI-compatible server, or in-process vLLM.",
    )
    model: str = Field(
        "gemma-3-270m",
        description="Model name: sent as `model` to the OpenAI-compatible server; the model path/id for vllm-inprocess; "
        "a label for the embedded model.",
    )
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint (backend=openai).")
    api_key: str = Field(
        "EMPTY", description="API key for the OpenAI-compatible server (vLLM accepts any unless --api-key is set)."
    )
    timeout_s: float = Field(
        60.0, gt=0, description="Wall-clock limit of one LLM call in seconds; past it callers get LLMTimeout."
    )
    max_retries: int = Field(1, ge=0, le=10, description="Transport retries of the OpenAI client (backend=openai).")
    max_new_tokens: int = Field(64, ge=1, le=4096, description="Token cap of one generated text.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature; 0 means greedy.")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of the embedded model (torch or llama.cpp); default half the cores, at most 4.",
    )
    embedded_backend: Literal["llamacpp", "transformers", "transformers-cached"] = Field(
        "llamacpp",
        description="Engine of the embedded model (backend=embedded): llamacpp (llama.cpp on the GGUF file, needs the "
        "llamacpp extra; falls back to transformers-cached with a warning when missing), transformers-cached "
        "(de-quantised fp32, few-shot prefix KV cache reused, a turn's texts decoded as one batch) or transformers "
        "(de-quantised fp32, one call at a time, no reuse). `trustrec bench llm` measures all three.",
    )
    llamacpp_batch: bool = Field(
        False,
        description="llamacpp engine: decode the rows of a batch (a turn's explanations, concurrent turns' texts) "
        "together, one sequence each over a shared few-shot prefix. Off by default: on 2 cores at 1 thread it was "
        "no faster (a 5-card turn 10.23 s vs 10.26 s one after another), and llama.cpp's arithmetic depends "
        "slightly on the batch size, so long greedy runs can part from the sequential text. `trustrec bench llm "
        "--backends llamacpp-sequential,llamacpp` measures both.",
    )
    queue_size: int = Field(
        32,
        ge=1,
        le=4096,
        description="Embedded model: generations that may wait in the one queue all turns share; past it a text "
        "falls back to the template at once (LLMBusy).",
    )
    max_batch: int = Field(
        8, ge=1, le=64, description="Embedded model: waiting generations with the same settings run together at most."
    )
    grounding_retries: int = Field(
        1,
        ge=0,
        le=5,
        description="Extra generations after a text fails the grounding guard, before the template is used.",
    )
    health_timeout_s: float = Field(10.0, gt=0, description="Limit of a health check in seconds.")
    cache_weights: bool = Field(
        True, description="Cache the de-quantised embedded weights as safetensors in the workspace (models/gemma-270m)."
    )


class AgentConfig(BaseModel):
    """Dialog behaviour and safety bounds."""

    mode: Literal["auto", "guided", "tools"] = Field(
        "auto",
        description="guided: deterministic understanding, the LLM only writes text (for the embedded base model); "
        "tools: an instruct model calls the tools (langchain create_agent); auto: tools for backend=openai, else guided.",
    )
    protocol: Literal["ro811", "loo"] = Field("ro811", description="Which trained ranker serves recommendations.")
    default_n: int = Field(5, ge=1, le=50, description="List length when the user does not say.")
    n_candidates: int = Field(300, ge=10, le=5000, description="Candidates retrieved per turn before ranking.")
    fresh_lists: bool = Field(
        True, description="A later list in a session leaves out items shown earlier, while enough others match."
    )
    n_candidates_new: int = Field(
        40, ge=10, le=5000, description="Candidates for a free-text wish when nothing is known about the person yet."
    )
    llm_explanations: int = Field(
        2, ge=0, le=50, description="How many cards per turn get LLM-written explanations (the rest use the template)."
    )
    like_boost: float = Field(1.0, ge=0, le=10, description="Extra history weight of a session like or reference item.")
    dislike_penalty: float = Field(1.0, ge=0, le=10, description="Negative history weight of a session dislike.")
    understand: UnderstandConfig = Field(
        default_factory=UnderstandConfig, description="Guided understanding thresholds and the message safety cap."
    )
    turn_timeout_s: float = Field(60.0, gt=0, description="Wall-clock bound of one turn (LLM calls included).")
    model_call_limit: int = Field(6, ge=1, le=50, description="Tool mode: most model calls per turn.")
    tool_call_limit: int = Field(8, ge=1, le=50, description="Tool mode: most tool calls per turn.")
    max_sessions_cached: int = Field(1000, ge=1, description="Most per-session locks kept in memory.")
    session_busy_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How long a request waits for the same session's running turn (on any replica with a "
        "PostgreSQL store) before it is answered 409 'session busy'.",
    )
    use_batch_results: bool = Field(
        True,
        description="Serve a known user's plain request (nothing said yet) from `trustrec batch recommend`'s stored "
        "list when its profile, model version and prompt version match (cards say source='batch').",
    )


class AuthConfig(BaseModel):
    """Who may call the HTTP API and open the app (``[server.auth]``).

    ``none``: no login, everyone acts as anyone (allowed only on a loopback bind: a local demo).
    ``token``: every request carries ``Authorization: Bearer <token>`` from ``trustrec auth add-token``
    (only a hash is stored); the app asks for a login with the same tokens.
    """

    mode: Literal["none", "token"] = Field(
        "none", description="none (loopback only, no login) or token (bearer tokens; required off loopback)."
    )
    rate_limit_per_minute: int = Field(
        120, ge=0, le=1_000_000, description="Requests per minute per token (token mode); 0 switches the limit off."
    )
    rate_limit_tokens: int = Field(
        10_000, ge=1, le=10_000_000, description="Most tokens whose request counts are kept (least recent dropped)."
    )


class ServerConfig(BaseModel):
    """The web app and HTTP API."""

    host: str = Field("127.0.0.1", description="Bind address; localhost unless told otherwise.")
    port: int = Field(7860, ge=1, le=65535, description="TCP port.")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Authentication and per-token rate limit.")
    turn_workers: int = Field(
        4, ge=1, le=256, description="HTTP API chat turns that run at once, on threads off the event loop."
    )
    max_pending_turns: int = Field(
        124,
        ge=0,
        le=10_000,
        description="HTTP API turns that may wait for a worker (default: 128 turns in flight in all); more get 503.",
    )
    stream_idle_timeout_s: float = Field(
        120.0,
        gt=0,
        description="A streamed turn (/v1/chat/stream) ends with an error event after this long without an event.",
    )


class TrustrecConfig(BaseSettings):
    """The whole system's configuration, one section per component."""

    model_config = SettingsConfigDict(env_prefix="TRUSTREC_", env_nested_delimiter="__", extra="forbid")

    home: Path | None = Field(None, description="Workspace folder; default $TRUSTREC_HOME or ./.trustrec.")
    seed: int = Field(2020, description="The one seed: splits (RecBole's default 2020), training, simulations.")
    data: DataConfig = Field(default_factory=DataConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    ranker: RankerConfig = Field(default_factory=RankerConfig)
    coldstart: ColdStartConfig = Field(
        default_factory=ColdStartConfig, description="New and short profiles: the prior, the blend, calibration."
    )
    calibration: CalibrationConfig = Field(
        default_factory=CalibrationConfig, description="How scores become calibrated confidences."
    )
    explain: ExplainConfig = Field(
        default_factory=ExplainConfig, description="SHAP attributions, trust report and MMR diversity of every list."
    )
    llm: LLMConfig = Field(default_factory=LLMConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(
        default_factory=StoreConfig, description="SQLite files in the workspace, or a shared PostgreSQL database."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _TOML_PATH.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def workspace(self) -> Workspace:
        """The workspace; a dataset other than ml-100k keeps its models, index and store in its own scope."""
        return Workspace(self.home, scope=self.data.scope(), store_url=self.store.url)


def load_config(source: str | Path | dict[str, Any] | None = None) -> TrustrecConfig:
    """Build the config from a TOML path, a dict, or the default locations.

    Raises:
        FileNotFoundError: An explicit path does not exist.
        pydantic.ValidationError: A field is invalid; the message names it.
    """
    if isinstance(source, dict):
        return TrustrecConfig(**source)
    path: Path | None
    if source is not None:
        path = Path(source)
        if not path.is_file():
            raise MissingFile(f"config file {path} not found; pass an existing TOML file or none for the defaults")
    elif os.environ.get("TRUSTREC_CONFIG"):
        path = Path(os.environ["TRUSTREC_CONFIG"])
    else:
        path = Path("trustrec.toml") if Path("trustrec.toml").is_file() else None
    token = _TOML_PATH.set(path)
    try:
        return TrustrecConfig()
    finally:
        _TOML_PATH.reset(token)
