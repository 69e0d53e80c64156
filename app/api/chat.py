"""``/api/chat``: ask a question and stream the run (POST or EventSource GET), or wait for it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..auth import current_owner
from ..ownership import check_run
from ..runs.models import RunRequest
from ..runs.owners import public_thread_id
from ..state import stagecast
from ..tracing import current_trace_id
from ..transport.streams import run_failure
from .requests import run_request_from_body, run_request_from_query
from .streaming import (
    head_response,
    last_event_id_of,
    parse_event_id,
    resume_response,
    stream_response,
)

bp = Blueprint("chat", __name__, url_prefix="/chat")


@bp.post("/stream")
def stream_post() -> Response:
    return _stream(lambda: run_request_from_body(request, stagecast().settings))


@bp.get("/stream")
def stream_get() -> Response:
    if request.method == "HEAD":
        return head_response()
    return _stream(lambda: run_request_from_query(request.args, stagecast().settings))


def _stream(read_request: Any) -> Response:
    state = stagecast()
    trace_id = current_trace_id()
    event_id = last_event_id_of(request)
    if event_id:
        # An EventSource reconnecting: the id names the run, so resume it, never re-ask.
        run_id, after = parse_event_id(event_id)
        check_run(run_id)
        return resume_response(state.transport, run_id, after, trace_id)
    run = state.transport.start(read_request(), trace_id, owner=current_owner())
    return stream_response(state.transport, run.run_id, run.log, run, 0, trace_id)


@bp.post("")
def chat() -> tuple[Response, int]:
    """Run to the end and answer one JSON document."""
    state = stagecast()
    run_request: RunRequest = run_request_from_body(request, state.settings)
    run = state.transport.start(run_request, current_trace_id(), owner=current_owner())
    state.transport.wait_for_end(run)
    summary = run.summary()
    if run.interrupts is not None and run.result is None and run.error is None:
        # Not a failure: the graph asks a question; answer it with a request that has ``resume``.
        return jsonify(
            {
                "success": True,
                "status": "paused",
                "run_id": run.run_id,
                "thread_id": public_thread_id(run.thread_id),
                "trace_id": run.trace_id,
                "duration_ms": summary["duration_ms"],
                "interrupts": run.interrupts,
            }
        ), 200
    if run.result is None:
        failure = run_failure(run)
        return jsonify(
            {**failure.body(), "run_id": run.run_id, "thread_id": public_thread_id(run.thread_id)}
        ), failure.status
    return jsonify(
        {
            "success": True,
            "run_id": run.run_id,
            "thread_id": public_thread_id(run.thread_id),
            "trace_id": run.trace_id,
            "duration_ms": summary["duration_ms"],
            **run.result,
        }
    ), 200
