"""ChatbotAgent: drives a compiled LangGraph graph; its stream becomes Stagecast events.

The graph's items reach the mapper (:mod:`app.agent.stream_mapping`, which says what each
item becomes) as they happen, in the greenlet that runs the nodes (app/agent/inline.py:
nodes run inline, not on LangGraph's thread pool), so events keep the order in which
things happened. Chat model tokens are handed over by a LangGraph
``StreamMessagesHandler`` from the node itself, at any depth. A request with ``resume``
continues the thread with ``Command(resume=...)``; a run taken over from a lost worker
continues as :meth:`ChatbotAgent.plan_restart` plans.

This module knows nothing of Flask, SSE or the run log: it hands events to ``emit``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.pregel._messages import StreamMessagesHandler
from langgraph.types import Command, Send

from ..errors import ServiceError
from ..events import ErrorCode, Event, EventFactory, PendingInterrupt
from .control import RunControl
from .errors import classify
from .inline import StreamItem, with_inline_stream
from .models import AgentInput
from .stream_mapping import StreamMapper
from .threads import AGENT_KEY

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
    """How a run taken over from a lost worker continues (the ``restart`` event, docs/architecture.md).

    Delivered events are never retracted: the tokens of the node that was cut off are
    named in ``discard_message_ids``, and that node writes again under a new message id.
    """

    from_checkpoint: bool  # the graph continues from this run's last checkpoint
    discard_message_ids: list[str] = field(default_factory=list)
    kept_answer: list[str] = field(default_factory=list)  # delivered pieces that still count
    # (text, node, message id): the answer of a graph that ended before its worker could
    # deliver all of it, sent again whole, as one token (docs/faults.md).
    replay: tuple[str, str, str] | None = None


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
        attempt: int = 1,
    ) -> None:
        """Run the graph once on ``thread_id``; emit events up to ``final``, ``interrupt`` or ``error``.

        With ``restart``, continue an earlier attempt of the same run instead. ``attempt`` is
        the fencing token of the run's checkpoint writes (docs/faults.md).
        """
        mapper = StreamMapper(events, self.stage_messages)

        def emit_token(item: tuple[tuple[str, ...], str, tuple[BaseMessage, dict[str, Any]]]) -> None:
            _, _, (message, metadata) = item
            # Chunks as they stream, from any depth; whole messages arrive with the node's result.
            if isinstance(message, AIMessageChunk):
                for event in mapper.message_chunk(message, metadata.get("langgraph_node", "")):
                    emit(event)

        config: RunnableConfig = {
            "configurable": {
                "thread_id": thread_id,
                "user_id": request.user_id,
                "custom_prompt": request.custom_prompt,
                "llm_config": request.llm_config.model_dump(exclude_none=True),
                # The checkpointer refuses writes of an attempt that is no longer the run's.
                "stagecast_run_id": events.run_id,
                "stagecast_attempt": attempt,
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
                if restart.replay is not None:
                    emit(mapper.replay(*restart.replay))
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
                thread: RunnableConfig = {"configurable": {"thread_id": thread_id}}
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
        # Tokens an earlier restart discarded no longer count (a run may be taken over many
        # times: hand-overs do not use up its attempts).
        gone = {m for e in delivered if e["type"] == "restart" for m in e["data"]["discard_message_ids"]}
        tokens = [
            (i, e["data"])
            for i, e in enumerate(delivered)
            if e["type"] == "token" and e["data"]["message_id"] not in gone
        ]
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
        if not state.next:
            # The graph ended this run before its worker was lost, but not every token of its
            # answer was committed: the checkpoint's answer is the run's, sent again whole.
            answer = next(
                (m.text for m in reversed(state.values.get("messages", [])) if isinstance(m, AIMessage)), None
            )
            if answer is not None and "".join(kept) != answer:
                node = tokens[-1][1]["node"] if tokens else ""
                every = list(dict.fromkeys(t["message_id"] for _, t in tokens))
                return Restart(True, every, [], (answer, node, f"msg-{uuid.uuid4().hex}"))
        return Restart(True, list(dict.fromkeys(discard)), kept)

    def _graph_input(self, request: AgentInput, config: RunnableConfig) -> Any:
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

    def _input_messages(self, request: AgentInput, config: RunnableConfig) -> list[BaseMessage]:
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

