"""What contenders 2 and 3 share: Stagecast's default graph, its context, and a plain mapping
of LangGraph's stream to the native events (``start``, ``progress``, ``sources``, ``token``,
``final``, ``done``) as ``(id, json)`` pairs, which each framework frames as ``id: <seq>`` +
``data: <json>`` (its own way), as the seed documents did.

"Same graph": ``app.agent.graphs.chat:graph`` with ``make_context(settings, request, control)``
and the OpenAI-compatible writer enabled through ``OPENAI_BASE_URL``. Nothing of Stagecast's
run manager, event log or encoder is used; that is what is being compared.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from app.agent.control import RunControl
from app.agent.graphs.chat import graph, make_context
from app.agent.models import AgentInput
from app.config import Settings, load_settings

STREAM_MODES = ["updates", "messages", "custom"]

__all__ = ["STREAM_MODES", "EventMapper", "Message", "graph", "new_run", "settings"]

Message = tuple[str, str]
"""(id, data): one SSE message, framed by the contender's framework."""

_settings: Settings | None = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def new_run(body: dict[str, Any]) -> tuple[dict[str, Any], Any, RunControl]:
    """(graph input, runtime context, stop flag) for one request body ``{"message": ...}``."""
    request = AgentInput.model_validate({"message": body["message"]})
    control = RunControl()
    context = make_context(settings(), request, control)
    graph_input = {"messages": [HumanMessage(request.message)], "question": request.message}
    return graph_input, context, control


class EventMapper:
    """Turns ``(mode, payload)`` pairs into SSE messages of the native event shapes."""

    def __init__(self) -> None:
        self.run_id = str(uuid.uuid4())
        self.seq = 0
        self.answer: str | None = None

    def encode(self, kind: str, data: Any) -> Message:
        self.seq += 1
        payload = {"type": kind, "data": data, "run_id": self.run_id, "ts": int(time.time() * 1000)}
        return str(self.seq), json.dumps(payload, ensure_ascii=False)

    def start(self) -> Message:
        return self.encode("start", {"run_id": self.run_id})

    def map(self, mode: str, payload: Any) -> Iterator[Message]:
        if mode == "messages":
            message, metadata = payload
            if isinstance(message, AIMessageChunk) and isinstance(message.content, str) and message.content:
                data = {"content": message.content, "node": metadata.get("langgraph_node", "")}
                yield self.encode("token", {**data, "message_id": message.id})
        elif mode == "updates":
            for node, update in payload.items():
                yield self.encode("progress", {"node": node, "stage": node, "status": "completed"})
                if isinstance(update, dict) and update.get("sources"):
                    yield self.encode("sources", update["sources"])
                messages = (update or {}).get("messages") if isinstance(update, dict) else None
                if messages and isinstance(messages[-1], AIMessage):
                    self.answer = str(messages[-1].content)
        elif mode == "custom" and isinstance(payload, dict):
            kind = payload.get("type")
            if kind == "token":
                yield self.encode("token", {"content": payload["content"], "node": "", "message_id": ""})
            else:
                message = str(payload.get("message", ""))
                yield self.encode("progress", {"message": message, "status": "in_progress"})

    def finish(self, started: float) -> Iterator[Message]:
        yield self.encode("final", {"content": self.answer or ""})
        yield self.encode("done", {"status": "success", "duration_ms": round((time.time() - started) * 1000)})

    def failed(self, exc: BaseException, started: float) -> Iterator[Message]:
        yield self.encode("error", {"error": exc.__class__.__name__, "message": "the run failed"})
        yield self.encode("done", {"status": "error", "duration_ms": round((time.time() - started) * 1000)})
