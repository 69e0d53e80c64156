"""The LangGraph Platform API (``/langgraph``), an adapter over Stagecast's runs and threads."""

from __future__ import annotations

import time

from flask import Blueprint, Flask

from ...config import Settings
from ...runs.store.sqlite import connect
from ...state import StagecastState
from . import crons, run_routes, store_routes, thread_routes
from .api import bp
from .service import LangGraphService
from .threads import LangGraphRecords, PostgresRecords, SqliteRecords

__all__ = ["bp", "init_app"]
_ROUTES = (crons, run_routes, store_routes, thread_routes)  # imported for the routes they add to ``bp``


def init_app(
    app: Flask, stagecast: StagecastState, parent: Blueprint | None = None, url_prefix: str = "/langgraph"
) -> LangGraphService:
    """Serve the API at ``url_prefix`` of ``app``, or of ``parent`` (the extension's blueprint)."""
    service = LangGraphService(
        stagecast.settings, stagecast.manager, stagecast.transport, _records(stagecast.settings), time.time()
    )
    app.extensions["stagecast_langgraph"] = service
    (parent or app).register_blueprint(bp, url_prefix=url_prefix)
    crons.start_scheduler(app, service)
    return service


def _records(settings: Settings) -> LangGraphRecords:
    if settings.database_url is None:
        return SqliteRecords(connect(settings.database_path))
    # Made here, in the worker after fork and after gevent patched (docs/architecture.md, trap 6).
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        settings.database_url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True
    )
    return PostgresRecords(pool)
