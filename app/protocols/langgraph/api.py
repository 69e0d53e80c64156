"""``/langgraph``: the LangGraph Platform API subset that ``langgraph-sdk`` and ``useStream`` use.

Views only parse, call :class:`LangGraphService` and shape answers. Paths in ``Location`` and
``Content-Location`` are relative to the API root (``/threads/<tid>/runs/<rid>``): both SDKs
join them to the client's base URL, which already ends in ``/langgraph``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError

from ...errors import ServiceError, bad_request
from ...events import ErrorCode
from ...ownership import addressable_thread, resolve_thread
from ...runs.log import MemoryEventLog
from ...runs.models import Run
from ...runs.owners import public_thread_id
from ...sse import SSE_HEADERS, encode_retry
from ...tracing import current_trace_id
from ...transport.encoders import Resumable
from ...transport.loop import event_stream
from ...transport.streams import respond
from ...validation import unstorable_text
from . import state
from .inputs import unprocessable
from .models import (
    AssistantSearch,
    HistoryRequest,
    RunCreate,
    ThreadCreate,
    ThreadSearch,
    ThreadUpdate,
)
from .service import LangGraphService
from .stream import RunStreamEncoder, parse_last_event_id

bp = Blueprint("langgraph", __name__, url_prefix="/langgraph")

Body = TypeVar("Body", bound=BaseModel)


def service() -> LangGraphService:
    return current_app.extensions["stagecast_langgraph"]


# What changes a thread: an admin may do it only to their own (docs/security.md).
_CHANGES_THREAD = frozenset(
    {"langgraph.update_thread", "langgraph.delete_thread"}
    | {f"langgraph.{name}" for name in ("create_run", "stream_run", "wait_run")}
)


@bp.before_request
def _own_thread_ids() -> None:
    """A thread id in the path names a thread in the caller's namespace (app/runs/owners.py):
    the views work with its key, and answer its public id. (Runs after authentication.)"""
    if request.view_args and "thread_id" in request.view_args:
        read = request.endpoint not in _CHANGES_THREAD
        request.view_args["thread_id"] = resolve_thread(request.view_args["thread_id"], read=read)


def _body(model: type[Body]) -> Body:
    raw = request.get_data(cache=True)
    if raw and not request.is_json:
        raise ServiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415, "Send the request as JSON.")
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}", ErrorCode.INVALID_JSON) from None
    unstorable = unstorable_text(data)
    if unstorable is not None:
        raise bad_request(f"Invalid request: {unstorable}.")
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise unprocessable(f"Invalid request: {problems}.") from None


def _page(items: list[Any], offset: int, limit: int) -> list[Any]:
    return items[offset : offset + limit]


def _matches(metadata: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
    return all(metadata.get(key) == value for key, value in (wanted or {}).items())


# --- assistants ---


@bp.get("/info")
def info() -> Response:
    return jsonify(
        {"version": "stagecast", "langgraph_py_version": None, "flags": {"assistants": True, "crons": True}}
    )


@bp.get("/ok")
def ok() -> Response:
    return jsonify({"ok": True})


@bp.post("/assistants/search")
def search_assistants() -> Response:
    query = _body(AssistantSearch)
    found = [
        a
        for a in service().assistants()
        if (query.graph_id is None or a["graph_id"] == query.graph_id)
        and (query.name is None or query.name in a["name"])
        and _matches(a["metadata"], query.metadata)
    ]
    return jsonify(_page(found, query.offset, query.limit))


@bp.get("/assistants/<assistant_id>")
def get_assistant(assistant_id: str) -> Response:
    return jsonify(service().assistant(assistant_id))


# --- threads ---


@bp.post("/threads")
def create_thread() -> Response:
    body = _body(ThreadCreate)
    return jsonify(service().create_thread(body.thread_id, body.metadata, body.if_exists))


@bp.get("/threads/<thread_id>")
def get_thread(thread_id: str) -> Response:
    svc = service()
    return jsonify(svc.thread_json(svc.require_thread(thread_id)))


@bp.patch("/threads/<thread_id>")
def update_thread(thread_id: str) -> Response:
    body = _body(ThreadUpdate)
    return jsonify(service().update_thread(thread_id, body.metadata))


@bp.delete("/threads/<thread_id>")
def delete_thread(thread_id: str) -> tuple[str, int]:
    service().delete_thread(thread_id)
    return "", 204


@bp.post("/threads/search")
def search_threads() -> Response:
    query = _body(ThreadSearch)
    svc = service()
    ids = set(query.ids) if query.ids is not None else None
    records = [
        r
        for r in svc.records.threads()
        if (ids is None or public_thread_id(r.thread_id) in ids)
        and _matches(r.metadata, query.metadata)
        and addressable_thread(r.thread_id)
    ]
    descending = query.sort_order == "desc"
    if query.status is None and query.values is None and query.sort_by != "status":
        # Only the page's threads need their state read.
        records.sort(key=lambda r: getattr(r, query.sort_by), reverse=descending)
        return jsonify([svc.thread_json(r) for r in _page(records, query.offset, query.limit)])
    threads = [svc.thread_json(r) for r in records]
    threads = [t for t in threads if query.status is None or t["status"] == query.status]
    threads = [t for t in threads if _matches(t["values"] or {}, query.values)]
    threads.sort(key=lambda t: t[query.sort_by], reverse=descending)
    return jsonify(_page(threads, query.offset, query.limit))


@bp.get("/threads/<thread_id>/state")
def get_state(thread_id: str) -> Response:
    return _state(thread_id, None)


@bp.get("/threads/<thread_id>/state/<checkpoint_id>")
def get_state_at(thread_id: str, checkpoint_id: str) -> Response:
    return _state(thread_id, checkpoint_id)


def _state(thread_id: str, checkpoint_id: str | None) -> Response:
    svc = service()
    svc.require_thread(thread_id)
    graph = svc.graph_of(thread_id)
    snapshot = graph.get_state(state.thread_config(thread_id, checkpoint_id))
    return jsonify(state.thread_state(snapshot))


@bp.post("/threads/<thread_id>/history")
def history(thread_id: str) -> Response:
    query = _body(HistoryRequest)
    svc = service()
    svc.require_thread(thread_id)
    before = query.before.get("checkpoint_id") if isinstance(query.before, dict) else query.before
    snapshots = state.history(
        svc.graph_of(thread_id),
        thread_id,
        limit=query.limit,
        before=before,
        metadata=query.metadata,
        checkpoint_id=(query.checkpoint or {}).get("checkpoint_id"),
    )
    return jsonify([state.thread_state(s) for s in snapshots])


# --- runs ---


@bp.post("/threads/<thread_id>/runs/stream")
def stream_run(thread_id: str) -> Response:
    return _stream_new(thread_id)


@bp.post("/runs/stream")
def stream_stateless() -> Response:
    return _stream_new(None)


def _stream_new(thread_id: str | None) -> Response:
    body = _body(RunCreate)
    svc = service()
    run, _ = svc.start(body, thread_id, background=False, stream=True, trace_id=current_trace_id())
    return _stream(
        svc,
        run.run_id,
        run.thread_id,
        run.log,
        run,
        0,
        (0, 0),
        body.modes,
        subgraphs=body.stream_subgraphs,
        stateless=thread_id is None,
    )


@bp.post("/threads/<thread_id>/runs")
def create_run(thread_id: str) -> Response:
    svc = service()
    thread_id, record = svc.create(_body(RunCreate), thread_id, trace_id=current_trace_id())
    response = jsonify(svc.run_json(record))
    response.headers["Content-Location"] = _run_path(thread_id, record.run_id)
    return response


@bp.post("/threads/<thread_id>/runs/wait")
def wait_run(thread_id: str) -> Response:
    return _wait_new(thread_id)


@bp.post("/runs/wait")
def wait_stateless() -> Response:
    return _wait_new(None)


def _wait_new(thread_id: str | None) -> Response:
    svc = service()
    run, _ = svc.start(_body(RunCreate), thread_id, background=False, trace_id=current_trace_id())
    _wait(svc, run.run_id)
    response = jsonify(svc.output(run.run_id, run.thread_id))
    if thread_id is None:
        response.headers["Content-Location"] = f"/runs/{run.run_id}"
    else:
        response.headers["Content-Location"] = _run_path(run.thread_id, run.run_id)
        response.headers["Location"] = _run_path(run.thread_id, run.run_id) + "/join"
    return response


def _wait(svc: LangGraphService, run_id: str) -> None:
    """Block until the run ends, watching it (so it is not cancelled for want of watchers)."""
    log, run = svc.manager.open_log(run_id)
    svc.manager.watch(run_id, run)
    try:
        while not log.closed and not log.failed:
            log.read(log.last_seq, svc.settings.heartbeat_s)
    finally:
        svc.manager.unwatch(run_id, run, log)


@bp.get("/threads/<thread_id>/runs")
def list_runs(thread_id: str) -> Response:
    svc = service()
    svc.require_thread(thread_id)
    limit = request.args.get("limit", 10, type=int)
    offset = request.args.get("offset", 0, type=int)
    status = request.args.get("status")
    runs = [svc.run_json(r) for r in svc.records.runs_of(thread_id)]
    if status:
        runs = [r for r in runs if r["status"] == status]
    return jsonify(_page(runs, offset, limit))


@bp.get("/threads/<thread_id>/runs/<run_id>")
def get_run(thread_id: str, run_id: str) -> Response:
    svc = service()
    return jsonify(svc.run_json(svc.run_record(thread_id, run_id)))


@bp.post("/threads/<thread_id>/runs/<run_id>/cancel")
def cancel_run(thread_id: str, run_id: str) -> tuple[Response, int]:
    svc = service()
    record = svc.run_record(thread_id, run_id)
    cancelled = svc.cancel(run_id, wait=request.args.get("wait") in ("1", "true"))
    return jsonify(svc.run_json(record)), 202 if cancelled else 200


@bp.get("/threads/<thread_id>/runs/<run_id>/join")
def join_run(thread_id: str, run_id: str) -> Response:
    svc = service()
    svc.wait_started(svc.run_record(thread_id, run_id))
    _wait(svc, run_id)
    return jsonify(svc.output(run_id, thread_id))


@bp.get("/threads/<thread_id>/runs/<run_id>/stream")
def join_stream(thread_id: str, run_id: str) -> Response:
    svc = service()
    record = svc.run_record(thread_id, run_id)
    svc.wait_started(record)  # a delayed run (after_seconds) is joined once it starts
    after, cursor = parse_last_event_id(request.headers.get("Last-Event-ID"))
    # The Python SDK sends ``stream_mode=`` (empty) when none is given: the run's own modes.
    modes = (
        [m for m in request.args.getlist("stream_mode") if m]
        or record.kwargs.get("stream_mode")
        or ["values"]
    )
    log, run = svc.manager.open_log(run_id)
    subgraphs = bool(record.kwargs.get("stream_subgraphs"))
    response = _stream(svc, run_id, thread_id, log, run, after, cursor, modes, subgraphs=subgraphs)
    if request.args.get("cancel_on_disconnect") in ("1", "true"):
        response.call_on_close(lambda: svc.cancel(run_id, wait=False))
    return response


def _run_path(thread_id: str, run_id: str) -> str:
    return f"/threads/{public_thread_id(thread_id)}/runs/{run_id}"


def _stream(
    svc: LangGraphService,
    run_id: str,
    thread_id: str,
    log: MemoryEventLog,
    run: Run | None,
    after: int,
    cursor: tuple[int, int],
    modes: list[str],
    *,
    subgraphs: bool,
    stateless: bool = False,
) -> Response:
    agent = svc.manager.describe(run_id)["agent"]
    steps = svc.steps_of(run_id, thread_id, agent)
    encoder = RunStreamEncoder(modes, run_id, thread_id, steps, cursor, subgraphs=subgraphs)
    # Caps, watchers and hang-ups as the native stream: counted from here, not in the
    # generator, so a client gone before the first write still starts the disconnect grace.
    watch = svc.transport.subscribe(run_id, run, log)
    if log.closed and after >= log.last_seq:
        # Everything was sent: the SDKs want a stream all the same (an empty one ends the join).
        body: Any = [encode_retry(svc.settings.retry_ms), encoder.remaining(after)]
    else:
        body = event_stream(svc.manager, log, after, Resumable(encoder, svc.settings.retry_ms), watch)
    path = f"/runs/{run_id}" if stateless else _run_path(thread_id, run_id)
    headers = {
        **SSE_HEADERS,
        "Content-Location": path,
        "X-Run-ID": run_id,
        "X-Trace-ID": current_trace_id(),
    }
    if not stateless:
        headers["Location"] = path + "/stream"
    return respond(watch, body, headers)
