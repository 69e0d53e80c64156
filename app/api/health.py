"""``/healthz``: liveness, and whether this worker takes new runs."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..state import stagecast

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    state = stagecast()
    manager = state.manager
    body = {
        "status": "draining" if manager.draining else "ok",
        "active_runs": manager.active,
        # Of those, how many wait for capacity, and the running limit the hub's lag allows.
        "waiting_runs": manager.admission.waiting,
        "running_limit": manager.admission.limit,
        "hub_lag_ms": round(manager.admission.lag_s * 1000, 1),
        "open_streams": state.streams.open,
        # Live runs and the finished ones kept for fast resumes (STAGECAST_MAX_FINISHED_RUNS).
        "runs_in_memory": len(manager.runs),
        "pid": manager.pid,
        "writer": "openai-compatible" if state.settings.llm_enabled else "offline",
    }
    return jsonify(body), 503 if manager.draining else 200
