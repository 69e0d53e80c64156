"""``/api/threads``: a thread's status, the conversation its checkpoints hold, and its branches."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.agent.branches import has_checkpoint, history, messages_at
from app.agent.threads import read_thread
from app.api.ownership import check_thread
from app.errors import ServiceError, bad_request, not_found
from app.events import ErrorCode
from app.extension import stagecast

bp = Blueprint("threads", __name__, url_prefix="/api/threads")

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_HISTORY_PAGE = 20
_HISTORY_MAX = 200


@bp.get("/<thread_id>")
def show(thread_id: str) -> Response:
    """``busy`` while a run executes on it, ``paused`` while an ``interrupt()`` waits, else ``idle``."""
    check_thread(thread_id)
    state = stagecast()
    run_id = state.manager.thread_run(thread_id)
    saved = read_thread(state.checkpointer, thread_id)
    if saved is None and run_id is None:
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
    # While a resumed run executes, the checkpoint still lists what it is answering.
    interrupts = saved.interrupts if saved is not None and run_id is None else []
    status = "busy" if run_id is not None else "paused" if interrupts else "idle"
    return jsonify(
        {
            "thread_id": thread_id,
            "status": status,
            "run_id": run_id,
            "agent": saved.agent if saved is not None else None,
            "interrupts": [item.model_dump() for item in interrupts],
            "message_count": saved.message_count if saved is not None else 0,
        }
    )


@bp.get("/<thread_id>/messages")
def messages(thread_id: str) -> Response:
    """The conversation; with ``?checkpoint_id=``, as it was there (a branch, docs/branches.md)."""
    check_thread(thread_id)
    checkpoint_id = request.args.get("checkpoint_id") or None
    history = messages_at(stagecast().checkpointer, thread_id, checkpoint_id)
    if history is None:
        if checkpoint_id and read_thread(stagecast().checkpointer, thread_id) is not None:
            raise _no_checkpoint(thread_id, checkpoint_id)
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
    return jsonify(
        {
            "thread_id": thread_id,
            "checkpoint_id": checkpoint_id,
            "messages": [
                {"id": m.id, "role": _ROLES.get(m.type, m.type), "content": m.text} for m in history
            ],
        }
    )


@bp.get("/<thread_id>/history")
def checkpoints(thread_id: str) -> Response:
    """The thread's checkpoints, newest first; ``before`` (a checkpoint id) pages on."""
    check_thread(thread_id)
    state = stagecast()
    limit = request.args.get("limit", _HISTORY_PAGE, type=int)
    if limit is None or not 1 <= limit <= _HISTORY_MAX:
        raise bad_request(f"limit must be a whole number from 1 to {_HISTORY_MAX}.")
    before = request.args.get("before") or None
    saved = read_thread(state.checkpointer, thread_id)
    if saved is None:
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
    if before and not has_checkpoint(state.checkpointer, thread_id, before):
        raise _no_checkpoint(thread_id, before)
    agents = state.manager.agents
    graph = agents.get(saved.agent if saved.agent in agents.agents else None).graph
    found = history(graph, thread_id, limit=limit, before=before)
    return jsonify({"thread_id": thread_id, "checkpoints": [item.to_json() for item in found]})


def _no_checkpoint(thread_id: str, checkpoint_id: str) -> ServiceError:
    return not_found(ErrorCode.CHECKPOINT_NOT_FOUND, f"No checkpoint {checkpoint_id} in {thread_id}.")
