"""The service's per-process state, kept on the Flask app as ``app.extensions["stagecast"]``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from langgraph.checkpoint.sqlite import SqliteSaver

from app.agent.registry import load_agents
from app.api.connections import StreamSlots
from app.config import Settings
from app.runs.manager import RunManager
from app.runs.store import RunStore, connect


@dataclass(frozen=True)
class Stagecast:
    settings: Settings
    manager: RunManager
    checkpointer: SqliteSaver
    streams: StreamSlots


def init_app(app: Flask, settings: Settings) -> Stagecast:
    checkpointer = SqliteSaver(connect(settings.database_path))
    checkpointer.setup()
    agents = load_agents(settings, checkpointer)
    manager = RunManager(settings, agents, RunStore(connect(settings.database_path)))
    state = Stagecast(
        settings=settings, manager=manager, checkpointer=checkpointer, streams=StreamSlots(settings)
    )
    app.extensions["stagecast"] = state
    return state


def stagecast() -> Stagecast:
    """The state of the app handling the current request."""
    return current_app.extensions["stagecast"]
