"""Vercel AI SDK UI message stream: ``useChat`` with ``DefaultChatTransport`` (ai 5 and 6).

``POST /api/ai-sdk/chat`` takes the body the transport sends (``id``: the chat, which is the
thread; ``messages`` with ``parts``; ``trigger``, ``messageId``) plus, from ``useChat``'s
``body`` option, the native ``agent``, ``user_id``, ``custom_prompt`` and ``llm_config``, and
``resume``: the answer to the interrupt the last answer ended with (its ``data-interrupt``).
The last user message is the question; the ones before it seed the thread's history when the
thread has none of its own (the latest ``STAGECAST_MAX_HISTORY_MESSAGES`` of them: a long
chat resends all its messages, and its thread keeps the history anyway).

``GET /api/ai-sdk/chat/<id>/stream`` is what ``useChat({resume: true})`` calls after a reload:
the live run of that chat, replayed from its first event (the transport sends no offset) with
the same ``messageId``, then followed live; ``204`` when nothing is live.

The parts (``ai``'s ``uiMessageChunkSchema``; ai 5.0.0 rejects any field it does not list, so
only listed fields are sent): ``start{messageId, messageMetadata}`` and ``start-step``; stages
as ``data-progress`` with the node as ``id`` (the SDK updates a data part with the same id in
place); ``source-url`` when a source has a URL, else ``source-document``, with the excerpt
and score under ``providerMetadata.stagecast``; text as ``text-start`` (before the first
``text-delta`` of each message id, which the SDK requires), ``text-delta``, ``text-end``;
the agent's tools, which run on the server, as ``tool-input-available`` /
``tool-output-available`` / ``tool-output-error`` with ``providerExecuted`` and ``dynamic``
(the client does not declare them); ``data-table`` and ``data-chart``; ``data-interrupt``;
``error{errorText}``; ``message-metadata``; ``finish-step``, ``finish``, ``data: [DONE]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from flask import Blueprint, Response, request
from pydantic import BaseModel, ConfigDict, Field

from ..auth import current_owner
from ..config import Settings
from ..errors import ServiceError
from ..ownership import check_thread
from ..runs.log import MemoryEventLog
from ..runs.models import Run, RunRequest
from ..state import stagecast
from ..tracing import current_trace_id
from ..transport.encoders import Parsed
from ..transport.streams import sse_headers
from ..validation import validate_body, validate_run_request
from .framing import DONE, sse_data
from .turns import history, split_question

bp = Blueprint("ai_sdk", __name__, url_prefix="/ai-sdk")

# What the SDK's own servers send with a UI message stream (UI_MESSAGE_STREAM_HEADERS).
STREAM_HEADER = {"x-vercel-ai-ui-message-stream": "v1"}


class UIPart(BaseModel):
    """A part of a message the client holds; only text parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(part.text or "" for part in self.parts if part.type == "text")


class ChatRequest(BaseModel):
    """The body ``DefaultChatTransport`` sends, plus the native run options."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1, max_length=200)
    messages: list[UIMessage] = Field(min_length=1)
    trigger: Literal["submit-message", "regenerate-message"] | None = None
    message_id: str | None = Field(None, alias="messageId")
    agent: str | None = None
    user_id: str | None = None
    custom_prompt: str | None = None
    llm_config: dict[str, Any] | None = None
    resume: Any = None


@bp.post("/chat")
def chat() -> Response:
    state = stagecast()
    body = validate_body(request, ChatRequest)
    run_request = run_request_of(body, state.settings)
    run = state.transport.start(run_request, current_trace_id(), owner=current_owner())
    return _stream(run.run_id, run.log, run, run.trace_id)


@bp.get("/chat/<chat_id>/stream")
def resume(chat_id: str) -> Response:
    key = check_thread(chat_id)
    manager = stagecast().manager
    run_id = manager.thread_run(key)
    if run_id is None:
        return Response(status=204)
    try:
        log, run = manager.open_log(run_id)  # the run may execute in another worker
    except ServiceError:
        return Response(status=204)  # it ended meanwhile and is gone, or its worker died
    if log.closed:
        manager.close_log(run_id, log)
        return Response(status=204)
    return _stream(run_id, log, run, current_trace_id())


def _stream(run_id: str, log: MemoryEventLog, run: Run | None, trace_id: str) -> Response:
    headers = {**sse_headers(run_id, trace_id), **STREAM_HEADER}
    encoder = Parsed(UIMessageEncoder(f"msg-{run_id}"))
    return stagecast().transport.stream(run_id, log, run, 0, encoder, headers)


def run_request_of(body: ChatRequest, settings: Settings) -> RunRequest:
    """The native run request of one ``useChat`` turn on the chat's thread: the last user
    message, or with ``resume`` the answer to the thread's pending interrupts."""
    options = body.model_dump(include={"agent", "user_id", "custom_prompt", "llm_config"}, exclude_none=True)
    if body.resume is not None:
        return validate_run_request({**options, "conversation_id": body.id, "resume": body.resume}, settings)
    question, turns = split_question([(m.role, m.text) for m in body.messages])
    earlier = history(turns)
    keep = settings.max_history_messages
    data = {
        **options,
        "message": question,
        "conversation_id": body.id,
        "history": earlier[-keep:] if keep else [],
    }
    return validate_run_request(data, settings)


class UIMessageEncoder:
    """Native events -> UI message stream parts of one assistant message."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.open_texts: list[str] = []
        self.tools_started: set[str] = set()

    def encode(self, event: Mapping[str, Any]) -> bytes:
        return b"".join(sse_data(part) for part in self._parts(event["type"], event["data"])) + (
            DONE if event["type"] == "done" else b""
        )

    def end(self, *, cut: bool) -> bytes:
        # Cut by a drain: no finish, so useChat can still resume the run from another worker.
        return b""

    def _parts(self, kind: str, data: Any) -> Iterator[dict[str, Any]]:
        if kind == "start":
            yield {"type": "start", "messageId": self.message_id, "messageMetadata": data}
            yield {"type": "start-step"}
        elif kind == "progress":
            yield {"type": "data-progress", "id": data["node"], "data": data}
        elif kind == "sources":
            yield from (_source_part(source) for source in data)
        elif kind == "token":
            if data["message_id"] not in self.open_texts:
                self.open_texts.append(data["message_id"])
                yield {"type": "text-start", "id": data["message_id"]}
            yield {"type": "text-delta", "id": data["message_id"], "delta": data["content"]}
        elif kind == "tool_call":
            yield from self._tool_parts(data)
        elif kind == "final":
            yield from self._close_texts()
            for name in ("table", "chart"):
                if data.get(f"{name}_data"):
                    yield {"type": f"data-{name}", "id": name, "data": data[f"{name}_data"]}
            metadata = {"confidence_score": data.get("confidence_score"), "usage": data.get("usage")}
            yield {"type": "message-metadata", "messageMetadata": metadata}
        elif kind == "error":
            yield from self._close_texts()
            yield {"type": "error", "errorText": data["message"]}
            yield {"type": "message-metadata", "messageMetadata": {"error": data["error"]}}
        elif kind == "interrupt":
            yield from self._close_texts()
            yield {"type": "data-interrupt", "id": "interrupt", "data": data}
        elif kind == "done":
            yield from self._close_texts()
            yield {"type": "finish-step"}
            yield {"type": "finish", "messageMetadata": data}

    def _close_texts(self) -> Iterator[dict[str, Any]]:
        for text_id in self.open_texts:
            yield {"type": "text-end", "id": text_id}
        self.open_texts.clear()

    def _tool_parts(self, call: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        server_side = {"toolCallId": call["id"], "providerExecuted": True, "dynamic": True}
        if call["id"] not in self.tools_started:
            # An output needs its input part first (the SDK looks the call up by id).
            self.tools_started.add(call["id"])
            yield {
                "type": "tool-input-available",
                **server_side,
                "toolName": call["name"],
                "input": call["args"],
            }
        if call["status"] == "completed":
            yield {"type": "tool-output-available", **server_side, "output": call.get("result")}
        elif call["status"] == "failed":
            yield {"type": "tool-output-error", **server_side, "errorText": str(call.get("result"))}


def _source_part(source: Mapping[str, Any]) -> dict[str, Any]:
    metadata = source.get("metadata") or {}
    details = {
        "stagecast": {"content": source["content"], "score": source.get("score"), "metadata": metadata}
    }
    if isinstance(metadata.get("url"), str):
        return {
            "type": "source-url",
            "sourceId": source["id"],
            "url": metadata["url"],
            "title": source["title"],
            "providerMetadata": details,
        }
    return {
        "type": "source-document",
        "sourceId": source["id"],
        "mediaType": "text/markdown" if metadata.get("kind") == "document" else "text/plain",
        "title": source["title"],
        "providerMetadata": details,
    }
