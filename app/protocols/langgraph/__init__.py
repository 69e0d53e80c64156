"""The LangGraph Platform API (``/langgraph``), an adapter over Stagecast's runs and threads."""

from __future__ import annotations

import time

from flask import Flask

from app.extension import Stagecast
from app.protocols.langgraph.api import bp
from app.protocols.langgraph.service import LangGraphService
from app.protocols.langgraph.threads import SqliteRecords
from app.runs.store import connect

__all__ = ["bp", "init_app"]


def init_app(app: Flask, stagecast: Stagecast) -> LangGraphService:
    records = SqliteRecords(connect(stagecast.settings.database_path))
    service = LangGraphService(stagecast.settings, stagecast.manager, records, time.time())
    app.extensions["stagecast_langgraph"] = service
    app.register_blueprint(bp)
    return service
