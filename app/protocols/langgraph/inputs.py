"""A Platform API run body -> Stagecast's :class:`RunRequest` (the same the native API starts).

``input`` is ``{"messages": [...]}`` in LangChain message dicts (``{"role": "user", ...}`` or
``{"type": "human", ...}``, content a string or content blocks): the last human message is
the question and the earlier ones are its history (used when the thread has none of its
own, as with the native ``history``). A graph of its own keys may send ``{"question": ...}``
instead. ``command.resume`` answers the thread's pending interrupt; ``command.update`` and
``command.goto`` go to the graph as LangGraph's ``Command``; ``input: null`` continues the
thread from its checkpoint (after ``interrupt_before``/``interrupt_after`` paused it), and
``checkpoint``/``checkpoint_id`` fork it from an older one (docs/branches.md). From ``context`` and
``config.configurable`` the agent's own options are read: ``user_id``, ``custom_prompt``
and ``llm_config``.
"""

from __future__ import annotations

from typing import Any

from ...config import Settings
from ...errors import ServiceError
from ...events import ErrorCode
from ...runs.models import RunRequest
from ...validation import validate_run_request
from ..turns import history, split_question
from .models import RunCreate

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant", "system": "system"}
_OPTIONS = ("user_id", "custom_prompt", "llm_config")


def unprocessable(message: str) -> ServiceError:
    return ServiceError(ErrorCode.VALIDATION_ERROR, 422, message)


def run_request(body: RunCreate, thread_id: str, on_disconnect: str, settings: Settings) -> RunRequest:
    data: dict[str, Any] = {
        "conversation_id": thread_id,
        "agent": body.assistant_id,
        "on_disconnect": on_disconnect,
    }
    for source in (body.context or {}, (body.config or {}).get("configurable") or {}):
        data.update({key: source[key] for key in _OPTIONS if key in source})
    checkpoint_id: str | None = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    if checkpoint_id:
        data["checkpoint_id"] = checkpoint_id  # time travel: the run forks from there
    for name in ("interrupt_before", "interrupt_after"):
        if getattr(body, name) is not None:
            data[name] = getattr(body, name)
    command = body.command
    if command is not None and body.input:
        raise unprocessable("Send either input or command, not both.")
    if command is not None and (command.update is not None or command.goto is not None):
        data["command"] = {"update": command.update, "goto": command.goto}
        if command.resume is not None:
            data["resume"] = command.resume
    elif command is not None and "resume" in command.model_fields_set:
        data["resume"] = command.resume
    elif body.input is None:
        data["proceed"] = True  # LangGraph continues from the checkpoint (after a breakpoint)
    else:
        data.update(_question(body.input))
    return validate_run_request(data, settings, graph_controls=True)


def _question(graph_input: dict[str, Any]) -> dict[str, Any]:
    messages = graph_input.get("messages")
    if isinstance(messages, dict):
        messages = [messages]
    if messages:
        question, before = split_question([(_role(m), _text(m)) for m in messages])
        return {"message": question, "history": history(before)}
    given = graph_input.get("question")
    if isinstance(given, str):
        return {"message": given}
    raise unprocessable('input must hold "messages" (with a human message) or a "question".')


def _role(message: Any) -> str:
    """The native role of a LangChain message dict (``human`` -> ``user``, ...), else its own."""
    if isinstance(message, str):
        return "user"
    if not isinstance(message, dict):
        raise unprocessable("input.messages must be message objects.")
    role = str(message.get("role") or message.get("type") or "")
    return _ROLES.get(role, role)


def _text(message: Any) -> str:
    content = message if isinstance(message, str) else message.get("content", "")
    if isinstance(content, list):
        # Content blocks: the text ones, in order (images and files are not for these agents).
        return "".join(
            block if isinstance(block, str) else str(block.get("text", ""))
            for block in content
            if isinstance(block, str) or block.get("type") == "text"
        )
    return str(content)
