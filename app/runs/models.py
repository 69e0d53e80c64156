"""A run: one execution of an agent on a thread, with its event log and its state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from gevent import Greenlet
from pydantic import Field, model_validator

from ..agent.control import RunControl
from ..agent.models import AgentInput
from .log import MemoryEventLog
from .owners import ID_PATTERN, public_thread_id
from .timers import Later

RunState = Literal["pending", "running", "success", "error", "cancelled", "timeout", "interrupted", "paused"]
FINISHED_STATES = frozenset({"success", "error", "cancelled", "timeout", "interrupted", "paused"})


def outcome_in(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A run's ``result``, ``error`` and ``interrupts``, as its log (parsed events) tells them."""
    outcome: dict[str, Any] = {"result": None, "error": None, "interrupts": None}
    for event in events:
        if event["type"] == "final":
            outcome["result"] = event["data"]
        elif event["type"] == "error":
            outcome["error"] = event["data"]
        elif event["type"] == "interrupt":
            outcome["interrupts"] = event["data"]["interrupts"]
    return outcome


class RunRequest(AgentInput):
    """The body of ``POST /api/chat/stream``, ``/api/chat`` and ``/api/runs``."""

    conversation_id: str | None = Field(None, min_length=1, max_length=200, pattern=ID_PATTERN)
    agent: str | None = Field(None, min_length=1, max_length=100)
    on_disconnect: Literal["cancel", "continue"] = "cancel"

    @model_validator(mode="after")
    def _resume_names_its_thread(self) -> RunRequest:
        if self.resuming and self.conversation_id is None:
            raise ValueError("resume needs the conversation_id of the paused thread")
        if self.conversation_id is None and (self.checkpoint_id or self.proceed):
            raise ValueError("checkpoint_id and proceed need the conversation_id of a thread")
        return self


@dataclass(eq=False)
class Run:
    run_id: str
    thread_id: str
    trace_id: str
    agent: str
    request: RunRequest
    worker: str
    owner: str | None = None  # the authenticated user who started it (None: auth off)
    attempt: int = 1
    log: MemoryEventLog = field(default_factory=MemoryEventLog)
    control: RunControl = field(default_factory=RunControl)
    state: RunState = "pending"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    interrupts: list[dict[str, Any]] | None = None  # what a paused run waits for
    subscribers: int = 0
    producer: Greenlet | None = None
    timers: dict[str, Later] = field(default_factory=dict)
    # Given up by this process (fenced by a takeover, or handed over at shutdown): it writes
    # nothing more, and another worker ends it.
    relinquished: bool = False
    released: bool = False

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def summary(self) -> dict[str, Any]:
        """What ``GET /api/runs/<run_id>`` answers."""
        ended = self.ended_at
        return {
            "run_id": self.run_id,
            "thread_id": public_thread_id(self.thread_id),
            "trace_id": self.trace_id,
            "agent": self.agent,
            "owner": self.owner,
            "status": self.state,
            "attempt": self.attempt,
            "worker": self.worker,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": ended,
            "duration_ms": round((ended - self.started_at) * 1000) if ended and self.started_at else None,
            "events": self.log.appended_seq,
            "subscribers": self.subscribers,
            "result": self.result,
            "error": self.error,
            "interrupts": self.interrupts,
        }
