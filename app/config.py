"""Settings from ``STAGECAST_*`` environment variables, validated once at start.

This module imports nothing but pydantic (and ``limits``' parser), so ``gunicorn.conf.py`` can read the same
settings in the master process without importing LangGraph, httpx or psycopg before
gevent has patched the standard library (docs/architecture.md, trap 6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many  # light: imports no network client
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Named from this package's own name: ``app`` in the repository, ``stagecast`` once installed.
_PACKAGE = __name__.rpartition(".")[0]
DEFAULT_GRAPHS = {
    "chat": f"{_PACKAGE}.agent.graphs.chat:graph",
    "review": f"{_PACKAGE}.agent.graphs.review:graph",
}


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
    worker_connections: int = Field(2000, ge=1, description="open connections per worker")
    stream_connection_share: float = Field(
        0.9, gt=0, le=1, description="share of worker_connections streams may hold; 503 beyond"
    )
    max_subscribers_per_run: int = Field(50, ge=1, description="open streams of one run; 429 beyond")
    max_streams_per_client: int = Field(100, ge=1, description="open streams of one client address")
    proxy_hops: int = Field(
        0,
        ge=0,
        le=5,
        description="proxies in front that each append to X-Forwarded-For; only their entries are trusted",
    )
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
    max_finished_runs: int = Field(
        1000, ge=0, description="finished runs kept in memory at most (the rest replay from disk)"
    )
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
    body_timeout_s: float = Field(10.0, gt=0, description="a request body must arrive within this")
    max_message_chars: int = Field(8000, ge=1)
    max_request_line_bytes: int = Field(
        8190, ge=1024, le=8190, description="gunicorn's limit_request_line (8190 is its maximum)"
    )
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
    chat_model: Literal["fast", "stock"] = Field(
        "fast", description="fast: app.agent.fast_openai's ChatOpenAI; stock: langchain-openai's own"
    )
    llm_temperature: float = Field(0.2, ge=0, le=2)
    llm_max_tokens: int = Field(1024, ge=1, description="upper bound for llm_config.max_tokens")
    llm_allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated; empty: any model"
    )
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_max_response_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="one streamed answer; more is an UpstreamError"
    )
    llm_keepalive_connections: int = Field(
        100, ge=0, description="idle connections to the model server a worker keeps for later runs"
    )
    llm_keepalive_s: float = Field(
        4.0, gt=0, description="an idle connection to the model server is closed after this"
    )
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

    # --- security (docs/security.md); authentication is off until a key or JWT key is set ---
    api_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="user=key pairs, comma-separated, or @path to a file of them"
    )
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="user ids")
    jwt_secret: str | None = Field(None, min_length=32, description="HS256 key of bearer JWTs")
    jwt_public_key: str | None = Field(None, description="RS256/ES256 PEM of bearer JWTs, or @path")
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    stream_token_secret: str | None = Field(
        None, min_length=32, description="signs stream tokens; derived from the other secrets if unset"
    )
    stream_token_ttl_s: int = Field(600, ge=10, le=86400, description="lifetime of a stream token")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed cross-origin; empty: same-origin only"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="accepted Host values (.example.com: subdomains); empty: any"
    )
    webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="hosts a run's webhook may call; empty: webhooks are refused"
    )
    rate_limit: str | None = Field(None, description="run-creating requests per user, e.g. 30/minute")
    metrics_token: str | None = Field(None, min_length=16, description="bearer token for /metrics")
    allow_anonymous: bool = Field(
        False, description="serve without authentication on a non-loopback STAGECAST_BIND"
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

    @field_validator(
        "llm_allowed_models", "admins", "cors_origins", "allowed_hosts", "webhook_hosts", mode="before"
    )
    @classmethod
    def _parse_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        """``user=key,user2=key2``, or ``@path`` to a file with one ``user=key`` a line (``#`` comments)."""
        if not isinstance(value, str):
            return value
        lines = Path(value[1:]).read_text().splitlines() if value.startswith("@") else value.split(",")
        keys: dict[str, str] = {}
        for line in filter(None, (part.strip() for part in lines)):
            if line.startswith("#"):
                continue
            user, sep, key = (part.strip() for part in line.partition("="))
            if not sep or not user or len(key) < 16:
                # The key itself is never echoed back: the error may end up in a log.
                raise ValueError(f"expected user=key with a key of 16 characters or more (user {user!r})")
            keys[user] = key
        if len(set(keys.values())) != len(keys):
            raise ValueError("two users share one key")
        return keys

    @field_validator("jwt_public_key", mode="before")
    @classmethod
    def _read_pem(cls, value: object) -> object:
        if isinstance(value, str) and value.startswith("@"):
            value = Path(value[1:]).read_text()
        if isinstance(value, str) and "-----BEGIN PUBLIC KEY-----" not in value:
            raise ValueError("expected a PEM public key (-----BEGIN PUBLIC KEY-----), or @path to one")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str | None) -> str | None:
        if value:
            parse_many(value)  # raises ValueError naming what it could not read
        return value or None

    @model_validator(mode="after")
    def _distributed_needs_both(self) -> Settings:
        # A run's log in Redis with its record on one host's disk (or the reverse) would be
        # half shared: other hosts could stream it but not find it, so it is both or neither.
        if (self.redis_url is None) != (self.database_url is None):
            raise ValueError("STAGECAST_REDIS_URL and STAGECAST_DATABASE_URL are set together, or neither")
        return self

    @model_validator(mode="after")
    def _stream_tokens_need_a_secret(self) -> Settings:
        # A public key alone cannot sign anything, and a key derived from it would be public.
        if self.jwt_public_key and not (self.stream_token_secret or self.jwt_secret or self.api_keys):
            raise ValueError(
                "STAGECAST_JWT_PUBLIC_KEY alone needs STAGECAST_STREAM_TOKEN_SECRET to sign stream tokens"
            )
        return self

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys or self.jwt_secret or self.jwt_public_key)

    @property
    def distributed(self) -> bool:
        return self.redis_url is not None

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "stagecast.sqlite"


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Read the environment (plus ``overrides``), or raise SettingsError naming the bad variable."""
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"STAGECAST_{'.'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
