"""One app's Stagecast, kept on the Flask app as ``app.extensions["stagecast"]``
(:class:`StagecastState`), and :func:`stagecast`, which the views read it with.

Two modes, chosen by the settings (docs/architecture.md, "Distributed mode"):
- embedded (default): run logs in this process's memory; run records and checkpoints in
  SQLite under ``STAGECAST_DATA_DIR``;
- distributed (``STAGECAST_REDIS_URL`` and ``STAGECAST_DATABASE_URL``): run logs, fan-out,
  cancels and leases in Redis; run records and checkpoints in PostgreSQL.

Either way this runs inside the worker, after gevent has patched the standard library, so
the database clients it makes cooperate with gevent (docs/architecture.md, trap 6). It sits
below the views that read it and the extension (app/extension.py) that mounts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, current_app
from langgraph.checkpoint.base import BaseCheckpointSaver

from . import metrics
from .agent.registry import load_agents
from .agent.store import ScopedStore
from .config import Settings
from .runs.backends import Coordinator, worker_name
from .runs.manager import RunManager
from .runs.store import RunStore
from .transport.slots import StreamSlots
from .transport.streams import Transport


@dataclass(frozen=True)
class StagecastState:
    """One app's Stagecast: its settings, runs, threads and open streams."""

    settings: Settings
    manager: RunManager
    checkpointer: BaseCheckpointSaver
    streams: StreamSlots
    transport: Transport
    url_prefix: str = "/api"
    """Where the native routes are mounted (``/api`` for the service)."""
    endpoint_prefix: str = ""
    """What the blueprints' endpoint names start with (``stagecast.`` when mounted in a host app)."""

    def endpoint(self, name: str) -> str:
        """The full endpoint name of a native route, e.g. ``runs.stream``, for ``url_for``."""
        return self.endpoint_prefix + name

    def service_path(self, path: str) -> str:
        """``path`` as the service would spell it: under ``/api`` for the native routes and the
        AI SDK and AG-UI adapters, at the root for ``/v1`` and ``/langgraph`` (what the
        security module's path rules are written against)."""
        if not self.endpoint_prefix or not path.startswith(self.url_prefix + "/"):
            return path  # the service's own paths, or not one of Stagecast's
        rest = path[len(self.url_prefix) :]
        at_root = rest.partition("/")[2].partition("/")[0] in ("v1", "langgraph")
        return rest if at_root else "/api" + rest


def init_state(
    app: Flask,
    settings: Settings,
    agents: Mapping[str, object] | None = None,
    url_prefix: str = "/api",
    endpoint_prefix: str = "",
) -> StagecastState:
    checkpointer, store, coordinator = _distributed(settings) if settings.distributed else _embedded(settings)
    registry = load_agents(settings, checkpointer, agents, open_store(settings, checkpointer))
    manager = RunManager(settings, registry, store, coordinator, metrics)
    if settings.distributed:
        from .runs.backends.redis import RedisCoordinator
        from .runs.sweeper import Sweeper

        # A checkpoint write refused as stale stops that run here (docs/faults.md).
        checkpointer.on_stale = manager.fenced  # type: ignore[attr-defined]
        assert isinstance(coordinator, RedisCoordinator)
        Sweeper(store, coordinator, settings.run_lease_s).start()
    streams = StreamSlots(settings)
    state = StagecastState(
        settings=settings,
        manager=manager,
        checkpointer=checkpointer,
        streams=streams,
        transport=Transport(manager, streams),
        url_prefix=url_prefix,
        endpoint_prefix=endpoint_prefix,
    )
    app.extensions["stagecast"] = state
    return state


def _embedded(settings: Settings) -> tuple[BaseCheckpointSaver, RunStore, Coordinator]:
    from .runs.backends.memory import MemoryCoordinator
    from .runs.store.sqlite import SQLiteRunStore, connect
    from .runs.store.sqlite_checkpoints import SqliteCheckpointer

    checkpointer = SqliteCheckpointer(connect(settings.database_path))
    checkpointer.setup()
    store = SQLiteRunStore(connect(settings.database_path))
    return checkpointer, store, MemoryCoordinator(worker_name())


def _distributed(settings: Settings) -> tuple[BaseCheckpointSaver, RunStore, Coordinator]:
    from .runs.backends.redis import RedisCoordinator
    from .runs.store.postgres import PostgresCheckpointer, PostgresRunStore, open_pool

    assert settings.database_url is not None and settings.redis_url is not None
    pool = open_pool(settings.database_url, settings.database_pool_size)
    checkpointer = PostgresCheckpointer(pool)
    _setup_checkpointer(pool, checkpointer)
    coordinator = RedisCoordinator(
        worker_name(),
        settings.redis_url,
        prefix=settings.redis_prefix,
        lease_s=settings.run_lease_s,
        ttl_s=settings.run_ttl_s,
        max_connections=settings.redis_max_connections,
        # A busy thread's mark outlives every attempt of its run, then frees itself.
        thread_ttl_s=(settings.run_timeout_s + settings.run_lease_s) * settings.run_max_attempts,
    )
    return checkpointer, PostgresRunStore(pool), coordinator


def _setup_checkpointer(pool: object, checkpointer: BaseCheckpointSaver) -> None:
    """Create LangGraph's tables once, even when several workers start together."""
    from .runs.store.postgres import schema_lock

    with schema_lock(pool):  # type: ignore[arg-type]
        checkpointer.setup()  # type: ignore[attr-defined]


def stagecast() -> StagecastState:
    """The state of the app handling the current request."""
    return current_app.extensions["stagecast"]


def open_store(settings: Settings, checkpointer: BaseCheckpointSaver) -> ScopedStore:
    """The store, next to the checkpoints (its tables made once, as the checkpointer's)."""
    if settings.database_url is None:
        from langgraph.store.sqlite import SqliteStore

        from .runs.store.sqlite import connect

        sqlite_store = SqliteStore(connect(settings.database_path))
        sqlite_store.setup()
        return ScopedStore(sqlite_store)
    from langgraph.store.postgres import PostgresStore

    from .runs.store.postgres import schema_lock

    pool = checkpointer.conn  # type: ignore[attr-defined]
    postgres_store = PostgresStore(pool)
    with schema_lock(pool):
        postgres_store.setup()
    return ScopedStore(postgres_store)
