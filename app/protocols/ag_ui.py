"""AG-UI (``HttpAgent``, CopilotKit): ``POST /api/ag-ui`` (the default agent) and
``POST /api/ag-ui/<agent>``, taking the ``RunAgentInput`` the client sends.

The input's ``threadId`` is the thread; the last user message is the question and the
messages before it seed the thread's history when it has none of its own. ``tools``,
``context`` and ``state`` are not used (the agent's tools run on the server). A run that
ends with the graph's ``interrupt()`` finishes with the 1.0 interrupt outcome (each interrupt's
value under ``metadata.value``, and as ``message`` when it is text); the next run's ``resume``
entries answer them and continue the thread (one answer, or several by interrupt id).

The events are the ``ag-ui-protocol`` package's models, written by its ``EventEncoder``:
``RUN_STARTED`` with the client's ``threadId`` and ``runId`` (Stagecast's run id is under
``metadata.stagecast``); a node's start and end as ``STEP_STARTED`` / ``STEP_FINISHED``, and
progress from inside a node as ``CUSTOM{name: "progress"}``; text as ``TEXT_MESSAGE_START``,
``TEXT_MESSAGE_CONTENT`` (never an empty delta) and ``TEXT_MESSAGE_END``; tool calls as
``TOOL_CALL_START/ARGS/END`` and ``TOOL_CALL_RESULT``; sources as ``CUSTOM{name: "sources"}``;
the end as ``RUN_FINISHED`` with the final answer as ``result`` (outcome ``success``,
``cancelled`` after a cancel, or ``interrupt`` with the graph's interrupts) or ``RUN_ERROR``.
The 1.0 client rejects unbalanced steps and messages and anything after the run's end, so
open messages and steps are closed before the run ends and nothing follows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ResumeEntry,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.encoder import EventEncoder
from flask import Blueprint, Response, request

from ..auth import current_owner
from ..config import Settings
from ..errors import bad_request
from ..events import ErrorCode
from ..runs.models import RunRequest
from ..state import stagecast
from ..tracing import current_trace_id
from ..transport.encoders import Parsed
from ..transport.streams import sse_headers
from ..validation import validate_body, validate_run_request
from .turns import HISTORY_ROLES, history, split_question

bp = Blueprint("ag_ui", __name__, url_prefix="/ag-ui")


@bp.post("")
@bp.post("/<agent>")
def run(agent: str | None = None) -> Response:
    state = stagecast()
    run_input = validate_body(request, RunAgentInput)
    started = state.transport.start(
        run_request_of(run_input, agent, state.settings), current_trace_id(), owner=current_owner()
    )
    encoder = Parsed(AgUiEncoder(run_input.thread_id, run_input.run_id))
    headers = sse_headers(started.run_id, started.trace_id)
    return state.transport.stream(started.run_id, started.log, started, 0, encoder, headers)


def run_request_of(run_input: RunAgentInput, agent: str | None, settings: Settings) -> RunRequest:
    """A new turn (the last user message), or, with ``resume`` entries, the answers to the
    thread's pending interrupts (the messages are then not read)."""
    data: dict[str, Any] = {"conversation_id": run_input.thread_id}
    if agent is not None:
        data["agent"] = agent
    if run_input.resume:
        return validate_run_request({**data, "resume": _resume_value(run_input.resume)}, settings)
    turns = [(m.role, _text(m.content)) for m in run_input.messages if m.role in HISTORY_ROLES]
    data["message"], earlier = split_question(turns)
    data["history"] = history(earlier)
    return validate_run_request(data, settings)


def _resume_value(entries: list[ResumeEntry]) -> Any:
    """The native ``resume``: the one answer as is, or ``{interrupt_id: answer}`` for several
    (docs/agents.md, "Resuming a paused thread")."""
    cancelled = [entry.interrupt_id for entry in entries if entry.status == "cancelled"]
    if cancelled:
        # A LangGraph interrupt waits for an answer; it cannot be withdrawn.
        raise bad_request(f"Interrupts cannot be cancelled here ({', '.join(cancelled)}); answer them.")
    if len(entries) == 1:
        return entries[0].payload
    return {entry.interrupt_id: entry.payload for entry in entries}


def _text(content: Any) -> str:
    """A message's text: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content or [])


class AgUiEncoder:
    """Native events -> AG-UI events of one run, balanced and ending with the run."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.encoder = EventEncoder()
        self.steps: list[str] = []
        self.open_text: str | None = None
        self.text_ids: dict[str, int] = {}  # native message id -> how many messages it opened
        self.tools_started: set[str] = set()
        self.ended = False

    def encode(self, event: Mapping[str, Any]) -> bytes:
        if self.ended:
            return b""
        return "".join(self.encoder.encode(e) for e in self._events(event["type"], event["data"])).encode()

    def end(self, *, cut: bool) -> bytes:
        if self.ended:
            return b""
        message = "The server is restarting; the run goes on and can be read at /api/runs."
        events = self._ending(RunErrorEvent(message=message, code=ErrorCode.SHUTTING_DOWN))
        return "".join(self.encoder.encode(e) for e in events).encode()

    def _events(self, kind: str, data: Any) -> Iterator[BaseEvent]:
        if kind == "start":
            yield RunStartedEvent(
                thread_id=self.thread_id,
                run_id=self.run_id,
                metadata={"stagecast": {"run_id": data["run_id"], "trace_id": data["trace_id"]}},
            )
        elif kind == "progress":
            yield from self._progress(data)
        elif kind == "token":
            yield from self._token(data)
        elif kind == "tool_call":
            yield from self._tool_call(data)
        elif kind == "sources":
            yield CustomEvent(name="sources", value=data)
        elif kind == "final":
            yield from self._ending(
                RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    result=data,
                    outcome=RunFinishedSuccessOutcome(),
                    usage=_usage(data.get("usage")),
                )
            )
        elif kind == "error" and data["error"] == ErrorCode.CANCELLED:
            yield from self._finished(RunFinishedCancelledOutcome())
        elif kind == "error":
            yield from self._ending(RunErrorEvent(message=data["message"], code=data["error"]))
        elif kind == "interrupt":
            interrupts = [_interrupt(item) for item in data["interrupts"]]
            yield from self._finished(RunFinishedInterruptOutcome(interrupts=interrupts))
        elif kind == "done":
            yield from self._ending(
                RunErrorEvent(message="The run ended without a result.", code=ErrorCode.INTERNAL_ERROR)
            )

    def _progress(self, data: Mapping[str, Any]) -> Iterator[BaseEvent]:
        node = data["node"]
        if data["status"] == "in_progress" and node not in self.steps:
            self.steps.append(node)
            yield StepStartedEvent(step_name=node)
        elif data["status"] == "completed" and node in self.steps:
            yield from self._close_text()
            self.steps.remove(node)
            yield StepFinishedEvent(step_name=node)
        else:
            yield CustomEvent(name="progress", value=data)

    def _token(self, data: Mapping[str, Any]) -> Iterator[BaseEvent]:
        if not data["content"]:
            return
        native = data["message_id"]
        if self.open_text is None or self._message_id(native) != self.open_text:
            yield from self._close_text()
            # A native message reopened after a step or a tool call goes on as a new message.
            self.text_ids[native] = self.text_ids.get(native, 0) + 1
            self.open_text = self._message_id(native)
            yield TextMessageStartEvent(message_id=self.open_text, role="assistant")
        yield TextMessageContentEvent(message_id=self.open_text, delta=data["content"])

    def _message_id(self, native: str) -> str:
        count = self.text_ids.get(native, 1)
        return native if count <= 1 else f"{native}:{count}"

    def _close_text(self) -> Iterator[BaseEvent]:
        if self.open_text is not None:
            yield TextMessageEndEvent(message_id=self.open_text)
            self.open_text = None

    def _tool_call(self, call: Mapping[str, Any]) -> Iterator[BaseEvent]:
        call_id = call["id"]
        if call_id not in self.tools_started:
            self.tools_started.add(call_id)
            yield from self._close_text()
            yield ToolCallStartEvent(tool_call_id=call_id, tool_call_name=call["name"])
            yield ToolCallArgsEvent(tool_call_id=call_id, delta=json.dumps(call["args"], ensure_ascii=False))
            yield ToolCallEndEvent(tool_call_id=call_id)
        if call["status"] in {"completed", "failed"}:
            result = call.get("result")
            yield ToolCallResultEvent(
                message_id=f"tool-result-{call_id}",
                tool_call_id=call_id,
                content=result if isinstance(result, str) else json.dumps(result, ensure_ascii=False),
                role="tool",
                metadata={"status": call["status"]},
            )

    def _finished(self, outcome: Any) -> Iterator[BaseEvent]:
        finished = RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, outcome=outcome)
        yield from self._ending(finished)

    def _ending(self, last: BaseEvent) -> Iterator[BaseEvent]:
        """Close what is open, then the run's last event; nothing follows it."""
        yield from self._close_text()
        while self.steps:
            yield StepFinishedEvent(step_name=self.steps.pop())
        self.ended = True
        yield last


def _interrupt(item: Mapping[str, Any]) -> Interrupt:
    value = item.get("value")
    return Interrupt(
        id=str(item["id"]),
        reason="input_required",
        message=value if isinstance(value, str) else None,
        metadata={"value": value},
    )


def _usage(usage: Mapping[str, int] | None) -> list[TokenUsage] | None:
    if not usage:
        return None
    return [
        TokenUsage(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            total_tokens=usage.get("total_tokens"),
        )
    ]
