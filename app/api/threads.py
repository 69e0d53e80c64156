"""``/api/threads``: the conversation history a thread's checkpoints hold."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from langchain_core.messages import BaseMessage

from app.api.ownership import check_thread
from app.errors import not_found
from app.events import ErrorCode
from app.extension import stagecast

bp = Blueprint("threads", __name__, url_prefix="/api/threads")

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


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
