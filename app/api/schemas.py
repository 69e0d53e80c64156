"""The shapes of the API's JSON answers, for ``/openapi.json`` (the request and event models
live with the code that uses them: ``RunRequest``, ``app.events``).

Answers may carry more fields than listed (later additions such as a run's ``worker``), so
these models allow extra fields; requests never do.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..events import FinalData
from .runs import MAX_PAGE


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Answer):
    """Every error answer, whatever the status."""

    success: Literal[False]
    error: str = Field(description="A stable code, e.g. ValidationError, RunNotFound, Unauthorized")
    message: str = Field(description="For people; may change")


class RunCreated(_Answer):
    run_id: str
    thread_id: str
    trace_id: str
    stream_url: str = Field(
        description="GET it for the run's events; with auth on it carries an access_token"
    )


class RunListed(_Answer):
    """A run in ``GET /api/runs``: its summary without the answer."""

    run_id: str
    thread_id: str
    trace_id: str
    agent: str
    owner: str | None = Field(description="The user who started it; null with authentication off")
    status: Literal[
        "pending", "running", "success", "error", "cancelled", "timeout", "interrupted", "draining"
    ]
    created_at: float | None = None
    started_at: float | None
    ended_at: float | None
    duration_ms: int | None
    attempt: int | None = Field(None, description="1, or more after takeovers of a lost worker's run")
    worker: str | None = Field(None, description="<hostname>:<pid> of the process executing it")
    events: int
    subscribers: int
    error: dict[str, Any] | None


class RunSummary(RunListed):
    """``GET /api/runs/<run_id>``: with the answer once finished."""

    result: dict[str, Any] | None


class RunList(_Answer):
    runs: list[RunListed]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class RunListQuery(BaseModel):
    """The query of ``GET /api/runs``."""

    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class CancelResult(_Answer):
    run_id: str
    cancelled: bool = Field(description="True if this call cancelled the run; false if it had ended")
    status: str


class ThreadMessage(_Answer):
    id: str | None
    role: str
    content: str


class ThreadMessages(_Answer):
    thread_id: str
    checkpoint_id: str | None = Field(None, description="The branch read, as asked; null: the latest")
    messages: list[ThreadMessage]


class ThreadOwner(_Answer):
    thread_id: str
    owner: str


class MessagesQuery(BaseModel):
    """The query of ``GET /api/threads/<id>/messages``."""

    checkpoint_id: str | None = Field(None, description="Read the conversation as it was there")


class HistoryQuery(BaseModel):
    """The query of ``GET /api/threads/<id>/history``."""

    limit: int = Field(20, ge=1, le=200)
    before: str | None = Field(None, description="A checkpoint id: the page of checkpoints older than it")


class CheckpointSummary(_Answer):
    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: str | None
    run_id: str | None = Field(description="The run that wrote it")
    message_count: int
    next: list[str] = Field(description='The nodes that run from here; ["__start__"]: a message was taken in')
    interrupts: list[dict[str, Any]]


class ThreadHistory(_Answer):
    thread_id: str
    checkpoints: list[CheckpointSummary] = Field(description="Newest first")


class ChatResult(FinalData):
    """``POST /api/chat``: the run's ``final`` data, with its ids."""

    model_config = ConfigDict(extra="allow")

    success: Literal[True]
    run_id: str
    thread_id: str
    trace_id: str
    duration_ms: int | None


class Health(_Answer):
    status: Literal["ok", "draining"]
    active_runs: int
    waiting_runs: int
    running_limit: int
    hub_lag_ms: float
    pid: int
    writer: str
