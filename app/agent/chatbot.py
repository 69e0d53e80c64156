"""ChatbotAgent: drives a compiled LangGraph graph and maps its stream to Stagecast events.

The graph's items reach the mapper as they happen, in the greenlet that runs the nodes
(app/agent/inline.py: nodes run inline, not on LangGraph's thread pool), so events keep
the order in which things happened. The mapping (DESIGN.md, "The default agent" and
"Round 2 additions"):
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
  "tool_call", ...}`` becomes that event; any other payload becomes ``progress``.
- ``values`` items: the last top-level state gives ``final``'s sources, confidence, table and chart.
- a top-level task that ends with ``interrupts`` (a node, or a node of its subgraph, called
  ``interrupt()``): the run ends with one ``interrupt`` event instead of ``final``. A
  request with ``resume`` continues the thread with ``Command(resume=...)``.

This module knows nothing of Flask, SSE or the run log: it hands events to ``emit``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
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
from langgraph.pregel._messages import StreamMessagesHandler
from langgraph.types import Command, Send

from app.agent.control import RunControl
from app.agent.errors import classify
from app.agent.inline import StreamItem, with_inline_stream
from app.agent.models import AgentInput
from app.agent.threads import AGENT_KEY, pending_interrupt
from app.errors import ServiceError
from app.events import (
    ErrorCode,
    Event,
    EventFactory,
    FinalData,
    PendingInterrupt,
    ProgressData,
    SourceData,
    ToolCallData,
)

log = logging.getLogger(__name__)

_HISTORY_TYPES: dict[str, type[BaseMessage]] = {
    "user": HumanMessage,
    "assistant": AIMessage,
    "system": SystemMessage,
}

ContextFactory = Callable[[AgentInput, RunControl], Any]
ResumeCheck = Callable[[Any, Any], None]  # (answer, interrupt value); raises ValueError
Emit = Callable[[Event], None]


@dataclass(frozen=True)
class Restart:
    """How a run taken over from a lost worker continues (DESIGN.md, "Round 2 additions").

    Delivered events are never retracted: the tokens of the node that was cut off are
    named in ``discard_message_ids``, and that node writes again under a new message id.
    """

    from_checkpoint: bool  # the graph continues from this run's last checkpoint
    discard_message_ids: list[str] = field(default_factory=list)
    kept_answer: list[str] = field(default_factory=list)  # delivered pieces that still count


class ChatbotAgent:
    """One servable agent: a compiled graph, its name, and how to describe its stages."""

    def __init__(
        self,
        name: str,
        graph: Pregel,
        *,
        description: str = "",
        stage_messages: Mapping[str, tuple[str, str]] | None = None,
        context_factory: ContextFactory | None = None,
        recursion_limit: int = 25,
        resume_check: ResumeCheck | None = None,
    ) -> None:
        self.name = name
        self.graph = graph
        self.description = description
        self.stage_messages = dict(stage_messages or {})
        self.context_factory = context_factory
        self.recursion_limit = recursion_limit
        self.resume_check = resume_check

    def check_resume(self, resume: Any, interrupts: list[PendingInterrupt]) -> None:
        """Raise 422 for an answer the graph says it cannot read (before a run starts on it).

        ``resume`` answers every pending question, or is ``{interrupt id: answer}``, as
        LangGraph's ``Command(resume=...)`` takes it."""
        if self.resume_check is None:
            return
        keyed = isinstance(resume, dict) and bool(resume) and set(resume) <= {i.id for i in interrupts}
        for pending in interrupts:
            if keyed and pending.id not in resume:
                continue
            try:
                self.resume_check(resume[pending.id] if keyed else resume, pending.value)
            except ValueError as exc:
                raise ServiceError(ErrorCode.VALIDATION_ERROR, 422, str(exc)) from None

    def describe(self) -> dict[str, Any]:
        """Name, description and stages (the declared ones, else the top graph's nodes)."""
        stages = list(self.stage_messages) or [node for node in self.graph.nodes if not node.startswith("__")]
        return {"name": self.name, "description": self.description, "stages": stages}

    def run(
        self,
        request: AgentInput,
        thread_id: str,
        control: RunControl,
        events: EventFactory,
        emit: Emit,
        *,
        restart: Restart | None = None,
    ) -> None:
        """Run the graph once on ``thread_id``; emit events up to ``final``, ``interrupt`` or ``error``.

        With ``restart``, continue an earlier attempt of the same run instead.
        """
        mapper = _StreamMapper(events, self.stage_messages)

        def emit_token(item: tuple[tuple[str, ...], str, tuple[BaseMessage, dict[str, Any]]]) -> None:
            _, _, (message, metadata) = item
            # Chunks as they stream, from any depth; whole messages arrive with the node's result.
            if isinstance(message, AIMessageChunk):
                for event in mapper.message_chunk(message, metadata.get("langgraph_node", "")):
                    emit(event)

        config: dict[str, Any] = {
            "configurable": {
                "thread_id": thread_id,
                "user_id": request.user_id,
                "custom_prompt": request.custom_prompt,
                "llm_config": request.llm_config.model_dump(exclude_none=True),
            },
            # The agent's name lands in the thread's checkpoints: a resume goes back to it.
            "metadata": {
                "stagecast_run_id": events.run_id,
                "trace_id": events.trace_id,
                AGENT_KEY: self.name,
            },
            "recursion_limit": self.recursion_limit,
            # subgraphs=True keeps LangGraph from dropping a handler it did not create.
            "callbacks": [StreamMessagesHandler(emit_token, subgraphs=True)],
        }

        def on_item(item: StreamItem) -> None:
            namespace, mode, payload = item
            if mode == "tasks" and "result" not in payload and "error" not in payload:
                control.raise_if_cancelled()  # before a node starts: nothing is half done
            for event in mapper.map(namespace, mode, payload):
                emit(event)

        try:
            context = self.context_factory(request, control) if self.context_factory else None
            graph_input: Any
            if restart is not None and restart.from_checkpoint:
                graph_input = None  # LangGraph continues from the checkpoint; done nodes stay done
                mapper.answer = list(restart.kept_answer)
                mapper.values = self.graph.get_state(config).values
            else:
                if request.checkpoint_id:
                    # A fork: the run's first checkpoint is a child of this one (app/agent/branches.py).
                    config["configurable"]["checkpoint_id"] = request.checkpoint_id
                graph_input = self._graph_input(request, config)
            # "sync": each step is checkpointed before the next starts, so a run taken over
            # after its worker died re-runs only the step that was cut off.
            for _ in self.graph.stream(
                graph_input,
                with_inline_stream(config, on_item, self.graph.store),
                stream_mode=[],
                context=context,
                durability="sync",
                interrupt_before=request.interrupt_before,
                interrupt_after=request.interrupt_after,
            ):
                pass  # every item went to on_item as it happened
            control.raise_if_cancelled()
            if not mapper.interrupts and (request.interrupt_before or request.interrupt_after):
                thread = {"configurable": {"thread_id": thread_id}}
                if self.graph.get_state(thread).next:
                    # Stopped at a breakpoint: paused, with no question; a run that
                    # ``proceed``s continues it.
                    emit(events.interrupt([]))
                    return
            emit(mapper.outcome())
        except Exception as exc:
            failure = classify(exc, control)
            if not failure.expected:
                log.error("agent run failed", exc_info=exc)
            else:
                log.info("agent run stopped: %s (%s)", failure.code, exc.__class__.__name__)
            emit(events.error(failure.code, failure.message))

    def plan_restart(self, thread_id: str, run_id: str, delivered: list[dict[str, Any]]) -> Restart:
        """How to continue ``run_id`` given the events its lost attempts ``delivered``.

        If the thread's last checkpoint is this run's, the graph continues from it, and only
        the tokens of the nodes it will run again, from their last start on, are discarded.
        Otherwise the run starts over and every delivered token is discarded.
        """
        state = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        tokens = [(i, e["data"]) for i, e in enumerate(delivered) if e["type"] == "token"]
        if (state.metadata or {}).get("stagecast_run_id") != run_id:
            return Restart(False, list(dict.fromkeys(t["message_id"] for _, t in tokens)))
        rerun_from: dict[str, int] = {}
        # A subgraph's node writes tokens under its own name; it runs again with its top node.
        top_of: dict[str, str] = {}
        for index, event in enumerate(delivered):
            data = event["data"]
            if event["type"] != "progress":
                continue
            path = data.get("path") or [data["node"]]
            top_of.setdefault(data["node"], path[0])
            if data["status"] == "in_progress" and len(path) == 1 and data["node"] in state.next:
                rerun_from[data["node"]] = index
        discard = [
            t["message_id"]
            for i, t in tokens
            if (top := top_of.get(t["node"], t["node"])) in rerun_from and i > rerun_from[top]
        ]
        kept = [t["content"] for _, t in tokens if t["message_id"] not in discard]
        return Restart(True, list(dict.fromkeys(discard)), kept)

    def _graph_input(self, request: AgentInput, config: dict[str, Any]) -> Any:
        """What the graph is given: a ``Command``, nothing (continue), or the new message."""
        if request.command is not None or request.resuming:
            command = request.command
            return Command(
                resume=request.resume,
                update=command.update if command else None,
                goto=_goto(command.goto) if command and command.goto is not None else (),
            )
        if request.proceed:
            return None  # LangGraph continues from the checkpoint with the nodes it names
        return {"messages": self._input_messages(request, config), "question": request.message}

    def _input_messages(self, request: AgentInput, config: dict[str, Any]) -> list[BaseMessage]:
        """The new question, after the client's ``history`` if the thread has none of its own."""
        question = HumanMessage(request.message or "")
        if not request.history:
            return [question]
        if self.graph.checkpointer is not None and self.graph.get_state(config).values.get("messages"):
            return [question]  # the server's own history of this thread wins
        prior = [_HISTORY_TYPES[item.role](item.content) for item in request.history]
        return [*prior, question]


def _goto(goto: Any) -> Any:
    """``command.goto`` as LangGraph takes it: ``{"node", "arg"}`` objects become ``Send``."""
    items = goto if isinstance(goto, list) else [goto]
    sends = [Send(item["node"], item.get("arg")) if isinstance(item, dict) else item for item in items]
    return sends if isinstance(goto, list) else sends[0]


Namespace = tuple[str, ...]


class _StreamMapper:
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
                call = self.tool_calls.get(message.tool_call_id, {})
                yield self._tool_call_ended(
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

    def _token(self, text: str, node: str, message_id: str) -> Event:
        self.streamed_ids.add(message_id)
        self.answer.append(text)
        return self.events.token(text, node, message_id)

    # --- custom: payloads from get_stream_writer() ---

    def _custom(self, namespace: Namespace, payload: Any) -> Iterator[Event]:
        node = self.current_nodes.get(namespace, "")
        kind = payload.get("type") if isinstance(payload, dict) else None
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


def _path(namespace: Namespace, node: str) -> tuple[str, ...]:
    """Node names from the top graph down: the namespace's "<node>:<task id>" segments, then ``node``."""
    return (*(segment.partition(":")[0] for segment in namespace), node)


def _messages(result: dict[str, Any]) -> list[Any]:
    messages = result.get("messages") or []
    return messages if isinstance(messages, list) else [messages]
