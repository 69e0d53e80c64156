"""How one run's LangGraph stream becomes Stagecast events (:class:`StreamMapper`).

- ``tasks`` items: a node starting or ending becomes ``progress``, with ``path`` (the node
  names from the top graph down: nodes of subgraphs report their own stages); a node's
  result with a ``sources`` key becomes ``sources``; AI tool calls and tool messages become
  ``tool_call``. A node that is itself a subgraph leaves its result to the subgraph's
  nodes, which reported it already.
- chat model tokens become ``token`` as the model streams them, from any depth: a LangGraph
  ``StreamMessagesHandler`` hands them over from the node itself, instead of LangGraph's
  ``messages`` stream mode, whose queue and per-chunk hand-off cost about as much CPU as
  the rest of a token's way to the client (docs/benchmarks.md). An AI message a
  node returns without streaming it becomes one ``token`` when the node ends.
- ``custom`` items (``get_stream_writer()``): ``{"type": "progress"|"token"|"sources"|
  "tool_call", ...}`` becomes that event; any other payload becomes ``progress``. Each kind
  keeps the keys in :data:`CUSTOM_KEYS` (a ``tool_call`` payload with any other key is an
  error); the others are dropped, and a warning names each dropped key once per run.
- ``values`` items: the last top-level state gives ``final``'s sources, confidence, table and chart.
- a top-level task that ends with ``interrupts`` (a node, or a node of its subgraph, called
  ``interrupt()``): the run ends with one ``interrupt`` event instead of ``final``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage

from ..events import (
    Event,
    EventFactory,
    FinalData,
    PendingInterrupt,
    ProgressData,
    SourceData,
    ToolCallData,
)
from .threads import pending_interrupt

log = logging.getLogger(__name__)

# The keys of a get_stream_writer() payload that its event keeps, by the payload's "type"
# ("progress" also for a payload without one). A "tool_call" payload is validated whole.
CUSTOM_KEYS: dict[str, frozenset[str]] = {
    "token": frozenset({"type", "content", "message_id", "node"}),
    "sources": frozenset({"type", "sources"}),
    "progress": frozenset({"type", "node", "stage", "status", "message", "step", "total"}),
}


Namespace = tuple[str, ...]


class StreamMapper:
    """Turns (namespace, mode, payload) items of one run into events; keeps what ``final`` needs."""

    def __init__(self, events: EventFactory, stage_messages: Mapping[str, tuple[str, str]]) -> None:
        self.events = events
        self.stage_messages = stage_messages
        self.answer: list[str] = []
        self.streamed_ids: set[str] = set()
        self.sources: list[SourceData] = []
        self.usage: dict[str, int | str] = {}
        self.values: dict[str, Any] = {}
        self.current_nodes: dict[Namespace, str] = {}
        self.tool_calls: dict[str, Mapping[str, Any]] = {}
        self.tool_results: set[str] = set()
        self.steps: dict[tuple[str, ...], int] = {}
        self.subgraph_tasks: set[str] = set()
        self.interrupts: list[PendingInterrupt] = []
        self.dropped_keys: set[str] = set()  # of custom payloads, warned about once per run

    def map(self, namespace: Namespace, mode: str, payload: Any) -> Iterator[Event]:
        if namespace:
            # A namespace segment is "<node>:<task id>": that task of the parent runs a subgraph.
            self.subgraph_tasks.update(segment.rpartition(":")[2] for segment in namespace)
        if mode == "tasks":
            yield from self._task(namespace, payload)
        elif mode == "custom":
            yield from self._custom(namespace, payload)
        elif mode == "values" and not namespace and isinstance(payload, dict):
            self.values = payload

    def outcome(self) -> Event:
        """``interrupt`` when the graph is waiting for a human, else ``final``."""
        if self.interrupts:
            return self.events.interrupt(self.interrupts)
        values = self.values
        sources = values.get("sources")
        return self.events.final(
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

    def _task(self, namespace: Namespace, task: dict[str, Any]) -> Iterator[Event]:
        node = task["name"]
        if node.startswith("__"):
            return
        path = _path(namespace, node)
        started = "result" not in task and "error" not in task
        if started:
            self.current_nodes[namespace] = node
            self.steps.setdefault(path, self._step(namespace, node))
        elif task.get("interrupts"):
            # The node has not completed: it runs again, from its start, when the thread is
            # resumed. Top-level tasks carry their subgraphs' interrupts too: collected once.
            if not namespace:
                self.interrupts += [pending_interrupt(item) for item in task["interrupts"]]
            return
        messages = self.stage_messages.get(node)
        if started:
            text = messages[0] if messages else f"{node} started"
        elif task.get("error"):
            text = f"{node} failed"
        else:
            text = messages[1] if messages else f"{node} completed"
        result = task.get("result") if isinstance(task.get("result"), dict) else None
        if task.get("id") in self.subgraph_tasks:
            result = None  # the subgraph's own nodes reported what it produced
        if result is not None:
            yield from self._unstreamed_answers(node, result)
        yield self.events.progress(
            ProgressData(
                node=node,
                stage=node,
                status="in_progress" if started else "completed",
                message=text,
                step=self.steps.get(path),
                total=self._total(namespace),
                path=list(path),
            )
        )
        if result is not None:
            yield from self._task_result(result)

    def _step(self, namespace: Namespace, node: str) -> int:
        """A declared stage's position among the declared ones (also in a run that resumes
        half-way); any other node's position in the order nodes started."""
        if not namespace and node in self.stage_messages:
            return list(self.stage_messages).index(node) + 1
        return len(self.steps) + 1

    def _total(self, namespace: Namespace) -> int | None:
        """The declared stages count for the top graph's nodes; a subgraph declares none."""
        return None if namespace else len(self.stage_messages) or None

    def _task_result(self, result: dict[str, Any]) -> Iterator[Event]:
        if result.get("sources"):
            self.sources = [SourceData.model_validate(s) for s in result["sources"]]
            yield self.events.sources(self.sources)
        for message in _messages(result):
            if isinstance(message, AIMessage):
                self._add_usage(message)
                for call in message.tool_calls:
                    if call.get("id") not in self.tool_calls:
                        yield self._tool_call_started(call)
            elif isinstance(message, ToolMessage) and message.tool_call_id not in self.tool_results:
                known: Mapping[str, Any] = self.tool_calls.get(message.tool_call_id, {})
                yield self._tool_call_ended(
                    ToolCallData(
                        id=message.tool_call_id,
                        name=message.name or known.get("name", ""),
                        args=known.get("args") or {},
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

    def _tool_call_ended(self, data: ToolCallData) -> Event:
        self.tool_results.add(data.id)
        return self.events.tool_call(data)

    def _add_usage(self, message: AIMessage) -> None:
        for key, value in (message.usage_metadata or {}).items():
            if isinstance(value, int):
                previous = self.usage.get(key, 0)
                self.usage[key] = (previous if isinstance(previous, int) else 0) + value
        finish_reason = message.response_metadata.get("finish_reason")
        if isinstance(finish_reason, str):
            self.usage["finish_reason"] = finish_reason  # the last model call's

    # --- generated text ---

    def message_chunk(self, chunk: AIMessageChunk, node: str) -> Iterator[Event]:
        """A chat model's chunk, as it streams."""
        text = chunk.text
        if text:
            yield self._token(text, node, chunk.id or f"msg-{node}")

    def _unstreamed_answers(self, node: str, result: dict[str, Any]) -> Iterator[Event]:
        """AI messages a node returned without streaming them, each as one token."""
        for message in _messages(result):
            if isinstance(message, AIMessage) and message.text and message.id not in self.streamed_ids:
                yield self._token(message.text, node, message.id or f"msg-{uuid.uuid4().hex}")

    def replay(self, text: str, node: str, message_id: str) -> Event:
        """The whole answer of a graph that already ended, as one token (a restart)."""
        return self._token(text, node, message_id)

    def _token(self, text: str, node: str, message_id: str) -> Event:
        self.streamed_ids.add(message_id)
        self.answer.append(text)
        return self.events.token(text, node, message_id)

    # --- custom: payloads from get_stream_writer() ---

    def _custom(self, namespace: Namespace, payload: Any) -> Iterator[Event]:
        node = self.current_nodes.get(namespace, "")
        kind = payload.get("type") if isinstance(payload, dict) else None
        if isinstance(payload, dict):
            self._warn_dropped(payload, kind, node)
        if kind == "token":
            message_id = payload.get("message_id") or f"msg-{node}"
            yield self._token(str(payload["content"]), payload.get("node", node), message_id)
        elif kind == "sources":
            self.sources = [SourceData.model_validate(s) for s in payload["sources"]]
            yield self.events.sources(self.sources)
        elif kind == "tool_call":
            data = ToolCallData.model_validate({k: v for k, v in payload.items() if k != "type"})
            if data.status == "started":
                self.tool_calls[data.id] = data.model_dump(include={"name", "args"})
                yield self.events.tool_call(data)
            else:
                yield self._tool_call_ended(data)
        else:
            fields = payload if isinstance(payload, dict) else {"message": str(payload)}
            node = fields.get("node", node)
            path = _path(namespace, node)
            yield self.events.progress(
                ProgressData(
                    node=node,
                    stage=fields.get("stage", node),
                    status=fields.get("status", "in_progress"),
                    message=str(fields.get("message", "")),
                    step=fields.get("step", self.steps.get(path)),
                    total=fields.get("total", self._total(namespace)),
                    path=list(path),
                )
            )

    def _warn_dropped(self, payload: dict[str, Any], kind: Any, node: str) -> None:
        """Name the keys of ``payload`` its event does not keep, each once per run."""
        if kind == "tool_call":
            return  # validated whole: an unknown key fails the run instead
        known = isinstance(kind, str) and kind in CUSTOM_KEYS
        kept = CUSTOM_KEYS[kind] if known else CUSTOM_KEYS["progress"]
        if kind is not None and not known:
            kept = kept - {"type"}  # an unknown type: the payload becomes progress all the same
        dropped = sorted(str(key) for key in payload if key not in kept and str(key) not in self.dropped_keys)
        if dropped:
            self.dropped_keys.update(dropped)
            log.warning(
                "custom stream payload keys dropped: %s",
                ", ".join(dropped),
                extra={"dropped_keys": dropped, "payload_type": kind, "node": node},
            )


def _path(namespace: Namespace, node: str) -> tuple[str, ...]:
    """Node names from the top graph down: the namespace's "<node>:<task id>" segments, then ``node``."""
    return (*(segment.partition(":")[0] for segment in namespace), node)


def _messages(result: dict[str, Any]) -> list[Any]:
    messages = result.get("messages") or []
    return messages if isinstance(messages, list) else [messages]
