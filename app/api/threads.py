"""``/api/threads``: a thread's status, the conversation its checkpoints hold, and its branches."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from ..agent.branches import has_checkpoint, history, messages_at
from ..agent.threads import read_thread
from ..auth import current_principal
from ..errors import ServiceError, bad_request, not_found
from ..events import ErrorCode
from ..ownership import check_thread
from ..runs.owners import SEPARATOR
from ..state import stagecast
from ..validation import validate_body

bp = Blueprint("threads", __name__, url_prefix="/threads")


class ThreadHandOver(BaseModel):
    """The body of ``POST /api/threads/<thread_id>/owner``."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=200, description="the user id that gets the thread")


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_HISTORY_PAGE = 20
_HISTORY_MAX = 200


@bp.get("/<thread_id>")
def show(thread_id: str) -> Response:
    """``busy`` while a run executes on it, ``paused`` while an ``interrupt()`` waits, else ``idle``.
    An admin reads another user's thread with ``?owner=<user>``."""
    key = check_thread(thread_id, request.args.get("owner"))
    state = stagecast()
    run_id = state.manager.thread_run(key)
    saved = read_thread(state.checkpointer, key)
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
    """The conversation; with ``?checkpoint_id=``, as it was there (a branch, docs/branches.md).
    An admin reads another user's thread with ``?owner=<user>``."""
    key = check_thread(thread_id, request.args.get("owner"))
    checkpoint_id = request.args.get("checkpoint_id") or None
    history = messages_at(stagecast().checkpointer, key, checkpoint_id)
    if history is None:
        if checkpoint_id and read_thread(stagecast().checkpointer, key) is not None:
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


@bp.post("/<thread_id>/owner")
def hand_over(thread_id: str) -> Response:
    """Give a thread nobody owns (one used while authentication was off) to a user; admins only
    (with authentication off, anyone: e.g. before turning it on).

    Until then only admins read or continue it; afterwards it is the user's like any other."""
    principal = current_principal()
    if not (principal.admin or principal.open):
        raise ServiceError(ErrorCode.FORBIDDEN, 403, "Only an admin hands a thread to a user.")
    owner = validate_body(request, ThreadHandOver).owner
    state = stagecast()
    store = state.manager.store
    if store.thread_owner(thread_id) is not None or read_thread(state.checkpointer, thread_id) is None:
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id} without an owner.")
    if store.thread_owner(f"{thread_id}{SEPARATOR}{owner}") is not None:
        # The plain id would hide the thread the user already has under that id.
        raise ServiceError(ErrorCode.THREAD_BUSY, 409, f"{owner} already has a conversation {thread_id}.")
    store.claim_thread(thread_id, owner)
    return jsonify({"thread_id": thread_id, "owner": owner})


@bp.get("/<thread_id>/history")
def checkpoints(thread_id: str) -> Response:
    """The thread's checkpoints, newest first; ``before`` (a checkpoint id) pages on. An admin
    reads another user's thread with ``?owner=<user>``."""
    key = check_thread(thread_id, request.args.get("owner"))
    state = stagecast()
    limit = request.args.get("limit", _HISTORY_PAGE, type=int)
    if limit is None or not 1 <= limit <= _HISTORY_MAX:
        raise bad_request(f"limit must be a whole number from 1 to {_HISTORY_MAX}.")
    before = request.args.get("before") or None
    saved = read_thread(state.checkpointer, key)
    if saved is None:
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
    if before and not has_checkpoint(state.checkpointer, key, before):
        raise _no_checkpoint(thread_id, before)
    agents = state.manager.agents
    graph = agents.get(saved.agent if saved.agent in agents.agents else None).graph
    found = history(graph, key, limit=limit, before=before)
    return jsonify({"thread_id": thread_id, "checkpoints": [item.to_json() for item in found]})


def _no_checkpoint(thread_id: str, checkpoint_id: str) -> ServiceError:
    return not_found(ErrorCode.CHECKPOINT_NOT_FOUND, f"No checkpoint {checkpoint_id} in {thread_id}.")
