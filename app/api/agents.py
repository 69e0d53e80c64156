"""``/api/agents``: the agents this service serves, for pickers and docs."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..state import stagecast

bp = Blueprint("agents", __name__, url_prefix="/agents")


@bp.get("")
def index() -> Response:
    registry = stagecast().manager.agents
    return jsonify(
        {
            "default": registry.default,
            "agents": [agent.describe() for agent in registry.agents.values()],
        }
    )
