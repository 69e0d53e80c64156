"""Settings from ``STAGECAST_*`` environment variables, validated once at start.

This module imports nothing but pydantic, so ``gunicorn.conf.py`` can read the same
settings in the master process without importing LangGraph, httpx or psycopg before
gevent has patched the standard library (DESIGN.md, trap 6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_GRAPHS = {"chat": "app.agent.graphs.chat:graph", "review": "app.agent.graphs.review:graph"}


class SettingsError(ValueError):
    """A setting is invalid; the message names the variable and what is wrong."""


class Settings(BaseSettings):
    """Every knob of the service. Each field is read from ``STAGECAST_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="STAGECAST_", extra="forbid", frozen=True, populate_by_name=True
    )

    # --- server (read by gunicorn.conf.py) ---
    bind: str = "127.0.0.1:8000"
    workers: int = Field(1, ge=1, description="1 while runs live in process memory")
    worker_connections: int = Field(2000, ge=1, description="open streams per worker")
    worker_timeout_s: int = Field(30, ge=1)
    graceful_timeout_s: int = Field(20, ge=1)
    gc_threshold: int = Field(
        100_000, ge=0, description="young-generation GC threshold of a worker; 0: Python's (700)"
    )

    # --- streaming ---
    heartbeat_s: float = Field(15.0, gt=0, description="comment line after this much silence")
    retry_ms: int = Field(2000, ge=0, description="reconnect delay advertised to EventSource")
    disconnect_grace_s: float = Field(10.0, ge=0, description="wait for a rejoin, then cancel")

    # --- runs ---
    run_timeout_s: float = Field(120.0, gt=0)
    run_ttl_s: float = Field(600.0, ge=0, description="how long a finished run stays in memory")
    run_retention_s: float = Field(
        7 * 24 * 3600.0, ge=0, description="how long finished runs are kept on disk for replay"
    )
    max_concurrent_runs: int = Field(500, ge=1, description="per worker process; 429 beyond")
    max_running_runs: int = Field(
        500, ge=1, description="runs executing at once (e.g. the upstream's quota); more wait in order"
    )
    admission_lag_ms: float = Field(
        20.0, ge=0, description="hub lag above which new runs wait for running ones; 0: never wait"
    )
    busy_thread_policy: Literal["reject", "interrupt"] = "reject"

    # --- distributed mode (both set: Redis + PostgreSQL; neither: memory + SQLite) ---
    redis_url: str | None = Field(None, description="event logs, fan-out, cancel signals, leases")
    database_url: str | None = Field(None, description="run records, finished events, checkpoints")
    run_lease_s: float = Field(
        10.0, gt=0, le=15, description="a run whose worker stops renewing this long is taken over"
    )
    run_max_attempts: int = Field(3, ge=1, description="attempts before a run ends Interrupted")
    redis_prefix: str = Field("stagecast:", description="prefix of every Redis key and channel")
    redis_max_connections: int = Field(8, ge=2, description="Redis connections per worker, at most")
    database_pool_size: int = Field(10, ge=1, description="PostgreSQL connections per worker, at most")

    # --- request limits ---
    max_body_bytes: int = Field(64 * 1024, ge=256)
    max_message_chars: int = Field(8000, ge=1)
    max_history_messages: int = Field(50, ge=0)

    # --- agents ---
    graphs: Annotated[dict[str, str], NoDecode] = Field(default_factory=lambda: dict(DEFAULT_GRAPHS))
    default_agent: str = "chat"
    data_dir: Path = Path("var")
    offline_token_delay_ms: float = Field(15.0, ge=0, description="pacing of the offline writer")
    review_approval_threshold: int = Field(
        5_000_000, ge=0, description="KRW; the review agent asks a human to approve orders above it"
    )

    # --- LLM (OpenAI-compatible) ---
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("STAGECAST_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("STAGECAST_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    llm_model: str = "gpt-4o-mini"
    llm_temperature: float = Field(0.2, ge=0, le=2)
    llm_max_tokens: int = Field(1024, ge=1, description="upper bound for llm_config.max_tokens")
    llm_allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated; empty: any model"
    )
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(
        2, ge=0, description="retries of a model call that failed before its first token"
    )
    llm_retry_backoff_s: float = Field(
        0.5, ge=0, description="first retry's wait; doubles each retry, with jitter"
    )
    llm_max_tool_rounds: int = Field(
        4, ge=0, description="rounds of tool calls the model may make in one answer; 0: no tools"
    )
    llm_retry_max_wait_s: float = Field(
        20.0, ge=0, description="longest wait before a retry; a longer Retry-After fails the run at once"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("graphs", mode="before")
    @classmethod
    def _parse_graphs(cls, value: object) -> object:
        """Accept ``name=module:attr,name2=module:attr``; the default agent stays unless overridden."""
        if not isinstance(value, str):
            return value
        graphs = dict(DEFAULT_GRAPHS)
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, target = item.partition("=")
            if not sep or ":" not in target:
                raise ValueError(f"expected name=module:attribute, got {item!r}")
            graphs[name.strip()] = target.strip()
        return graphs

    @field_validator("llm_allowed_models", mode="before")
    @classmethod
    def _parse_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _distributed_needs_both(self) -> Settings:
        # A run's log in Redis with its record on one host's disk (or the reverse) would be
        # half shared: other hosts could stream it but not find it, so it is both or neither.
        if (self.redis_url is None) != (self.database_url is None):
            raise ValueError("STAGECAST_REDIS_URL and STAGECAST_DATABASE_URL are set together, or neither")
        return self

    @property
    def distributed(self) -> bool:
        return self.redis_url is not None

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "stagecast.sqlite"


def load_settings(overrides: dict[str, object] | None = None) -> Settings:
    """Read the environment (plus ``overrides``), or raise SettingsError naming the bad variable."""
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"STAGECAST_{'.'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
