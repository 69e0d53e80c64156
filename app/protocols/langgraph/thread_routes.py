"""``/langgraph`` thread operations beyond create/read/search: update the state, copy, count,
prune, and join the thread's current run (``GET /threads/<id>/stream``).

Routes of the same blueprint as app/protocols/langgraph/api.py; views parse, check the caller
may see the thread (404 otherwise, as everywhere), and hand the checkpoint work to
app/agent/branches.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Response, jsonify, request
from langchain_core.runnables import RunnableConfig
from langgraph.errors import InvalidUpdateError

from ...agent.branches import copy_thread, has_checkpoint, keep_latest
from ...agent.threads import AGENT_KEY
from ...auth import current_owner
from ...errors import ServiceError, not_found
from ...events import ErrorCode
from ...ownership import visible_thread
from ...sse import SSE_HEADERS, encode_retry
from . import state
from .api import _body, _matches, _stream, bp, service
from .inputs import unprocessable
from .models import StateUpdate, ThreadCount, ThreadPrune
from .service import LangGraphService
from .stream import parse_last_event_id
from .threads import ThreadRecord


@bp.post("/threads/<thread_id>/state")
def update_state(thread_id: str) -> Response:
    """Write ``values`` as the node ``as_node`` (LangGraph's ``update_state``), on the latest
    checkpoint or, with ``checkpoint_id``, as a fork of an older one."""
    body = _body(StateUpdate)
    svc = service()
    svc.require_thread(thread_id)
    _not_busy(svc, thread_id)
    checkpoint_id = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    if checkpoint_id and not has_checkpoint(svc.agents.checkpointer, thread_id, checkpoint_id):
        raise not_found(ErrorCode.CHECKPOINT_NOT_FOUND, f"No checkpoint {checkpoint_id} in {thread_id}.")
    agent = svc.agent_of(thread_id)
    config = RunnableConfig(
        configurable=state.thread_config(thread_id, checkpoint_id)["configurable"],
        metadata={AGENT_KEY: agent},  # the next run on the thread goes back to it
    )
    updates: list[dict[str, Any] | None] = (
        list(body.values) if isinstance(body.values, list) else [body.values]
    )
    try:
        for values in updates:
            config = svc.agents.get(agent).graph.update_state(config, values, as_node=body.as_node)
            config["metadata"] = {AGENT_KEY: agent}
    except (InvalidUpdateError, ValueError, KeyError) as exc:
        raise unprocessable(f"The update does not fit the graph: {exc}") from None
    return jsonify({"checkpoint": state.checkpoint(config)})


@bp.post("/threads/<thread_id>/copy")
def copy(thread_id: str) -> Response:
    """A new thread with the same checkpoints (every branch) and metadata."""
    svc = service()
    record = svc.require_thread(thread_id)
    target = str(uuid.uuid4())
    owner = current_owner()
    if owner is not None:
        svc.manager.store.claim_thread(target, owner)
    copy_thread(svc.agents.checkpointer, thread_id, target)
    now = time.time()
    assistant = svc.agent_of(thread_id)
    copied = ThreadRecord(target, now, now, dict(record.metadata), assistant)
    svc.records.put_thread(copied)
    return jsonify(svc.thread_json(copied))


@bp.post("/threads/count")
def count() -> Response:
    """How many threads ``/threads/search`` would find with these filters (without paging)."""
    query = _body(ThreadCount)
    svc = service()
    records = [
        r
        for r in svc.records.threads()
        if _matches(r.metadata, query.metadata) and visible_thread(r.thread_id)
    ]
    if query.status is None and not query.values:
        return jsonify(len(records))
    threads = [svc.thread_json(r) for r in records]
    return jsonify(
        sum(
            1
            for t in threads
            if (query.status is None or t["status"] == query.status)
            and _matches(t["values"] or {}, query.values)
        )
    )


@bp.post("/threads/prune")
def prune() -> Response:
    """``delete`` the threads, or ``keep_latest``: only their latest checkpoint stays. Threads the
    caller cannot see, or that do not exist, are skipped; a busy one is 409."""
    body = _body(ThreadPrune)
    svc = service()
    found = [t for t in dict.fromkeys(body.thread_ids) if visible_thread(t) and svc.thread_record(t)]
    for thread_id in found:
        _not_busy(svc, thread_id)
    for thread_id in found:
        if body.strategy == "delete":
            svc.delete_thread(thread_id)
        else:
            keep_latest(svc.agents.checkpointer, thread_id)
    return jsonify({"pruned_count": len(found)})


@bp.get("/threads/<thread_id>/stream")
def join_thread(thread_id: str) -> Response:
    """The thread's run in progress, in its own stream modes (or ``stream_mode``); an empty
    stream when none is."""
    svc = service()
    svc.require_thread(thread_id)
    run_id = svc.manager.thread_run(thread_id)
    record = svc.records.get_run(run_id) if run_id else None
    if run_id is None:
        return Response([encode_retry(svc.settings.retry_ms)], headers=SSE_HEADERS)
    asked = [m for m in request.args.getlist("stream_mode") if m and m != "run_modes"]
    modes = asked or (record.kwargs.get("stream_mode") if record else None) or ["values"]
    after, cursor = parse_last_event_id(request.headers.get("Last-Event-ID"))
    log, run = svc.manager.open_log(run_id)
    subgraphs = bool(record and record.kwargs.get("stream_subgraphs"))
    return _stream(svc, run_id, thread_id, log, run, after, cursor, modes, subgraphs=subgraphs)


def _not_busy(svc: LangGraphService, thread_id: str) -> None:
    holder = svc.manager.thread_run(thread_id)
    if holder is not None:
        raise ServiceError(
            ErrorCode.THREAD_BUSY, 409, f"Thread {thread_id} has a run in progress ({holder})."
        )
