"""``/api/runs``: start a run, read its state, join or resume its stream, cancel it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..auth import current_owner, stream_token_for
from ..errors import bad_request
from ..ownership import check_run, listed_owner, visible_run
from ..runs.owners import public_thread_id
from ..state import stagecast
from ..tracing import current_trace_id
from .requests import run_request_from_body
from .streaming import head_response, last_event_id_of, parse_event_id, resume_response

bp = Blueprint("runs", __name__, url_prefix="/runs")


@bp.post("")
def create() -> tuple[Response, int]:
    state = stagecast()
    run_request = run_request_from_body(request, state.settings)
    run = state.manager.start(run_request, current_trace_id(), owner=current_owner())
    body = {
        "run_id": run.run_id,
        "thread_id": public_thread_id(run.thread_id),
        "trace_id": run.trace_id,
        # With auth on it carries a stream token, for EventSource (which sends no headers).
        "stream_url": stream_token_for(run.run_id).stream_url,
    }
    return jsonify(body), 202


@bp.get("")
def index() -> Response:
    """Runs of every worker, newest first, ``limit`` (default 50) at a time, without answers;
    ``next_cursor`` goes in ``?cursor=`` for the next page (the runs monitor). The caller's
    own runs, or every one for an admin."""
    limit = _int_arg("limit", default=50, low=1, high=MAX_PAGE)
    try:
        page = stagecast().manager.page(limit, request.args.get("cursor") or None, listed_owner())
    except ValueError:
        raise bad_request("cursor is not one this server gave out.") from None
    return jsonify({"runs": page.runs, "next_cursor": page.next_cursor})


MAX_PAGE = 500


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and low <= int(raw) <= high):
        raise bad_request(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


@bp.get("/<run_id>")
def show(run_id: str) -> Response:
    return jsonify(visible_run(run_id))


@bp.get("/<run_id>/stream")
def stream(run_id: str) -> Response:
    check_run(run_id)  # HEAD too: someone else's run does not exist for a HEAD either
    if request.method == "HEAD":
        return head_response()
    state = stagecast()
    after = 0
    event_id = last_event_id_of(request)
    if event_id:
        id_run, after = parse_event_id(event_id)
        if id_run != run_id:
            raise bad_request(f"Last-Event-ID names run {id_run}, not {run_id}.")
    return resume_response(state.transport, run_id, after, current_trace_id())


@bp.post("/<run_id>/cancel")
def cancel(run_id: str) -> tuple[Response, int]:
    check_run(run_id)
    body = stagecast().manager.cancel_by_id(run_id)
    return jsonify(body), 202 if body["cancelled"] else 200
