"""``/api/threads``: a thread's status and the conversation history its checkpoints hold."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from langchain_core.messages import BaseMessage

from app.agent.threads import read_thread
from app.api.ownership import check_thread
from app.errors import not_found
from app.events import ErrorCode
from app.extension import stagecast

bp = Blueprint("threads", __name__, url_prefix="/threads")

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


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
    check_thread(thread_id)
    checkpoint = stagecast().checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    if checkpoint is None:
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
    history: list[BaseMessage] = checkpoint.checkpoint["channel_values"].get("messages", [])
    return jsonify(
        {
            "thread_id": thread_id,
            "messages": [
                {"id": m.id, "role": _ROLES.get(m.type, m.type), "content": m.text} for m in history
            ],
        }
    )
