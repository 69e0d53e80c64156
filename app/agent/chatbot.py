"""ChatbotAgent: drives a compiled LangGraph graph and maps its stream to Stagecast events.

The mapping (DESIGN.md, "The default agent"):
- ``tasks`` stream: a node starting or ending becomes ``progress``; a node's result with a
  ``sources`` key becomes ``sources``; AI tool calls and tool messages become ``tool_call``.
- ``messages`` stream: AI message chunks become ``token``.
- ``custom`` stream (``get_stream_writer()``): ``{"type": "progress"|"token"|"sources"|
  "tool_call", ...}`` becomes that event; any other payload becomes ``progress``.
- ``values`` stream: the last state gives ``final``'s sources, confidence, table and chart.

This module knows nothing of Flask, SSE or the run log: it yields events.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.pregel import Pregel

from app.agent.control import RunControl
from app.agent.errors import classify
from app.agent.models import AgentInput
from app.events import (
    Event,
    EventFactory,
    FinalData,
    ProgressData,
    SourceData,
    ToolCallData,
)

log = logging.getLogger(__name__)

STREAM_MODES = ["tasks", "messages", "custom", "values"]
_HISTORY_TYPES: dict[str, type[BaseMessage]] = {
    "user": HumanMessage,
    "assistant": AIMessage,
    "system": SystemMessage,
}

ContextFactory = Callable[[AgentInput, RunControl], Any]


class ChatbotAgent:
    """One servable agent: a compiled graph, its name, and how to describe its stages."""

    def __init__(
        self,
        name: str,
        graph: Pregel,
        *,
        stage_messages: Mapping[str, tuple[str, str]] | None = None,
        context_factory: ContextFactory | None = None,
        recursion_limit: int = 25,
    ) -> None:
        self.name = name
        self.graph = graph
        self.stage_messages = dict(stage_messages or {})
        self.context_factory = context_factory
        self.recursion_limit = recursion_limit

    def run(
        self,
        request: AgentInput,
        thread_id: str,
        control: RunControl,
        events: EventFactory,
    ) -> Iterator[Event]:
        """Run the graph once on ``thread_id``; yield events up to ``final`` or ``error``."""
        mapper = _StreamMapper(events, self.stage_messages)
        config = {
            "configurable": {
                "thread_id": thread_id,
                "user_id": request.user_id,
                "custom_prompt": request.custom_prompt,
                "llm_config": request.llm_config.model_dump(exclude_none=True),
            },
            "metadata": {"stagecast_run_id": events.run_id, "trace_id": events.trace_id},
            "recursion_limit": self.recursion_limit,
        }
        stream = None
        try:
            context = self.context_factory(request, control) if self.context_factory else None
            graph_input = {"messages": self._input_messages(request, config), "question": request.message}
            stream = self.graph.stream(graph_input, config, stream_mode=STREAM_MODES, context=context)
            for mode, payload in stream:
                control.raise_if_cancelled()
                yield from mapper.map(mode, payload)
            control.raise_if_cancelled()
            yield from mapper.finish()
        except Exception as exc:
            failure = classify(exc, control)
            if not failure.expected:
                log.error("agent run failed", exc_info=exc)
            else:
                log.info("agent run stopped: %s (%s)", failure.code, exc.__class__.__name__)
            yield events.error(failure.code, failure.message)
        finally:
            if stream is not None:
                stream.close()

    def _input_messages(self, request: AgentInput, config: dict[str, Any]) -> list[BaseMessage]:
        """The new question, after the client's ``history`` if the thread has none of its own."""
        question = HumanMessage(request.message)
        if not request.history:
            return [question]
        if self.graph.checkpointer is not None and self.graph.get_state(config).values.get("messages"):
            return [question]  # the server's own history of this thread wins
        prior = [_HISTORY_TYPES[item.role](item.content) for item in request.history]
        return [*prior, question]


class _StreamMapper:
    """Turns (mode, payload) pairs of one run into events; keeps what ``final`` needs."""

    def __init__(self, events: EventFactory, stage_messages: Mapping[str, tuple[str, str]]) -> None:
        self.events = events
        self.stage_messages = stage_messages
        self.answer: list[str] = []
        self.streamed_ids: set[str] = set()
        self.sources: list[SourceData] = []
        self.usage: dict[str, int] = {}
        self.values: dict[str, Any] = {}
        self.current_node = ""
        self.tool_calls: dict[str, Mapping[str, Any]] = {}
        self.steps: dict[str, int] = {}

    def map(self, mode: str, payload: Any) -> Iterator[Event]:
        if mode == "tasks":
            yield from self._task(payload)
        elif mode == "messages":
            message, metadata = payload
            yield from self._message(message, metadata.get("langgraph_node", self.current_node))
        elif mode == "custom":
            yield from self._custom(payload)
        elif mode == "values" and isinstance(payload, dict):
            self.values = payload

    def finish(self) -> Iterator[Event]:
        values = self.values
        sources = values.get("sources")
        yield self.events.final(
            FinalData(
                content="".join(self.answer),
                sources=[SourceData.model_validate(s) for s in sources] if sources else self.sources,
                confidence_score=values.get("confidence_score"),
                table_data=values.get("table_data"),
                chart_data=values.get("chart_data"),
                usage=self.usage or None,
            )
        )

    # --- tasks: node start and end ---

    def _task(self, task: dict[str, Any]) -> Iterator[Event]:
        node = task["name"]
        if node.startswith("__"):
            return
        started = "result" not in task and "error" not in task
        if started:
            self.current_node = node
            self.steps.setdefault(node, len(self.steps) + 1)
        total = len(self.stage_messages) or None
        messages = self.stage_messages.get(node)
        if started:
            text = messages[0] if messages else f"{node} started"
        elif task.get("error"):
            text = f"{node} failed"
        else:
            text = messages[1] if messages else f"{node} completed"
        yield self.events.progress(
            ProgressData(
                node=node,
                stage=node,
                status="in_progress" if started else "completed",
                message=text,
                step=self.steps.get(node),
                total=total,
            )
        )
        result = task.get("result")
        if not started and isinstance(result, dict):
            yield from self._task_result(node, result)

    def _task_result(self, node: str, result: dict[str, Any]) -> Iterator[Event]:
        if result.get("sources"):
            self.sources = [SourceData.model_validate(s) for s in result["sources"]]
            yield self.events.sources(self.sources)
        messages = result.get("messages") or []
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, AIMessage):
                self._add_usage(message)
                for call in message.tool_calls:
                    yield self._tool_call_started(call)
            elif isinstance(message, ToolMessage):
                call = self.tool_calls.get(message.tool_call_id, {})
                yield self.events.tool_call(
                    ToolCallData(
                        id=message.tool_call_id,
                        name=message.name or call.get("name", ""),
                        args=call.get("args") or {},
                        status="failed" if message.status == "error" else "completed",
                        result=message.content,
                    )
                )

    def _tool_call_started(self, call: Mapping[str, Any]) -> Event:
        call_id = call.get("id") or f"call-{uuid.uuid4().hex}"
        self.tool_calls[call_id] = call
        return self.events.tool_call(
            ToolCallData(
                id=call_id,
                name=call["name"],
                args=call.get("args") or {},
                status="started",
            )
        )

    def _add_usage(self, message: AIMessage) -> None:
        for key, value in (message.usage_metadata or {}).items():
            if isinstance(value, int):
                self.usage[key] = self.usage.get(key, 0) + value

    # --- messages: generated text ---

    def _message(self, message: BaseMessage, node: str) -> Iterator[Event]:
        if not isinstance(message, AIMessage):
            return
        message_id = message.id or f"msg-{uuid.uuid4().hex}"
        if not isinstance(message, AIMessageChunk) and message_id in self.streamed_ids:
            return  # the whole message a node returned after streaming it piece by piece
        text = message.text
        if text:
            yield self._token(text, node, message_id)

    def _token(self, text: str, node: str, message_id: str) -> Event:
        self.streamed_ids.add(message_id)
        self.answer.append(text)
        return self.events.token(text, node, message_id)

    # --- custom: payloads from get_stream_writer() ---

    def _custom(self, payload: Any) -> Iterator[Event]:
        node = self.current_node
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "token":
            message_id = payload.get("message_id") or f"msg-{node}"
            yield self._token(str(payload["content"]), payload.get("node", node), message_id)
        elif kind == "sources":
            self.sources = [SourceData.model_validate(s) for s in payload["sources"]]
            yield self.events.sources(self.sources)
        elif kind == "tool_call":
            fields = {k: v for k, v in payload.items() if k != "type"}
            yield self.events.tool_call(ToolCallData.model_validate(fields))
        else:
            fields = payload if isinstance(payload, dict) else {"message": str(payload)}
            yield self.events.progress(
                ProgressData(
                    node=fields.get("node", node),
                    stage=fields.get("stage", node),
                    status=fields.get("status", "in_progress"),
                    message=str(fields.get("message", "")),
                    step=fields.get("step", self.steps.get(node)),
                    total=fields.get("total", len(self.stage_messages) or None),
                )
            )
