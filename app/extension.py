"""The service's per-process state, kept on the Flask app as ``app.extensions["stagecast"]``.

Two modes, chosen by the settings (DESIGN.md, "Distributed mode"):
- embedded (default): run logs in this process's memory; run records and checkpoints in
  SQLite under ``STAGECAST_DATA_DIR``;
- distributed (``STAGECAST_REDIS_URL`` and ``STAGECAST_DATABASE_URL``): run logs, fan-out,
  cancels and leases in Redis; run records and checkpoints in PostgreSQL.

Either way this runs inside the worker, after gevent has patched the standard library, so
the database clients it makes cooperate with gevent (trap 6).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from langgraph.checkpoint.base import BaseCheckpointSaver

from app.agent.registry import load_agents
from app.agent.store import open_store
from app.api.connections import StreamSlots
from app.config import Settings
from app.runs.backends import Coordinator, worker_name
from app.runs.manager import RunManager
from app.runs.store import RunStore


@dataclass(frozen=True)
class Stagecast:
    settings: Settings
    manager: RunManager
    checkpointer: BaseCheckpointSaver
    streams: StreamSlots


def init_app(app: Flask, settings: Settings) -> Stagecast:
    checkpointer, store, coordinator = _distributed(settings) if settings.distributed else _embedded(settings)
    agents = load_agents(settings, checkpointer, open_store(settings, checkpointer))
    manager = RunManager(settings, agents, store, coordinator)
    state = Stagecast(
        settings=settings, manager=manager, checkpointer=checkpointer, streams=StreamSlots(settings)
    )
    app.extensions["stagecast"] = state
    return state


def _embedded(settings: Settings) -> tuple[BaseCheckpointSaver, RunStore, Coordinator]:
    from app.runs.backends.memory import MemoryCoordinator
    from app.runs.store.sqlite import SQLiteRunStore, connect
    from app.runs.store.sqlite_checkpoints import SqliteCheckpointer

    checkpointer = SqliteCheckpointer(connect(settings.database_path))
    checkpointer.setup()
    store = SQLiteRunStore(connect(settings.database_path))
    return checkpointer, store, MemoryCoordinator(worker_name())


def _distributed(settings: Settings) -> tuple[BaseCheckpointSaver, RunStore, Coordinator]:
    from app.runs.backends.redis import RedisCoordinator
    from app.runs.store.postgres import PostgresCheckpointer, PostgresRunStore, open_pool

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
    from app.runs.store.postgres import schema_lock

    with schema_lock(pool):  # type: ignore[arg-type]
        checkpointer.setup()  # type: ignore[attr-defined]


def stagecast() -> Stagecast:
    """The state of the app handling the current request."""
    return current_app.extensions["stagecast"]
