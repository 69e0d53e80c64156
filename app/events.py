"""The events of the native protocol (docs/protocol.md, "Events"), as pydantic models.

Every event is an envelope ``{type, data, run_id, trace_id, ts}``; ``ts`` is Unix time in
milliseconds. :class:`EventFactory` stamps the envelope for one run so producers only say
what happened. Events are serialised once, when they enter the run's log.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

EventType = Literal[
    "start", "progress", "sources", "token", "tool_call", "interrupt", "final", "error", "done", "restart"
]
# "paused": the graph called ``interrupt()``; the thread waits for a ``resume`` (docs/agents.md).
RunStatus = Literal["success", "error", "cancelled", "timeout", "paused"]


class ErrorCode:
    """Stable error codes shared by HTTP error bodies and ``error`` events."""

    BAD_REQUEST = "BadRequest"
    INVALID_JSON = "InvalidJSON"
    VALIDATION_ERROR = "ValidationError"
    MESSAGE_TOO_LONG = "MessageTooLong"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    REQUEST_TIMEOUT = "RequestTimeout"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    INVALID_HOST = "InvalidHost"
    CROSS_ORIGIN = "CrossOriginRequest"
    NOT_FOUND = "NotFound"
    RUN_NOT_FOUND = "RunNotFound"
    THREAD_NOT_FOUND = "ThreadNotFound"
    CHECKPOINT_NOT_FOUND = "CheckpointNotFound"
    UNKNOWN_AGENT = "UnknownAgent"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    THREAD_BUSY = "ThreadBusy"
    NOTHING_TO_RESUME = "NothingToResume"
    RUN_ON_ANOTHER_WORKER = "RunOnAnotherWorker"
    TOO_MANY_RUNS = "TooManyRuns"
    TOO_MANY_CONNECTIONS = "TooManyConnections"
    TOO_MANY_SUBSCRIBERS = "TooManySubscribers"
    TOO_MANY_STREAMS = "TooManyStreams"
    SHUTTING_DOWN = "ShuttingDown"
    TIMEOUT = "Timeout"
    CANCELLED = "Cancelled"
    INTERRUPTED = "Interrupted"
    UPSTREAM_ERROR = "UpstreamError"
    RATE_LIMITED = "RateLimited"
    INTERNAL_ERROR = "InternalError"
    STORE_UNAVAILABLE = "StoreUnavailable"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartData(_Data):
    run_id: str
    thread_id: str
    trace_id: str
    agent: str


class ProgressData(_Data):
    node: str
    stage: str
    status: Literal["in_progress", "completed"]
    message: str
    step: int | None = None
    total: int | None = None
    path: list[str] = []
    """Node names from the top graph down to this node, e.g. ``["research", "search"]``."""


class SourceData(_Data):
    id: str
    title: str
    content: str
    metadata: dict[str, Any] = {}
    score: float | None = None


class TokenData(_Data):
    content: str
    node: str
    message_id: str


class ToolCallData(_Data):
    id: str
    name: str
    args: dict[str, Any]
    status: Literal["started", "completed", "failed"]
    result: Any = None


class PendingInterrupt(_Data):
    id: str
    value: Any
    """What the graph passed to ``interrupt()``: the question for a human."""


class InterruptData(_Data):
    interrupts: list[PendingInterrupt]


class FinalData(_Data):
    content: str
    sources: list[SourceData] = []
    confidence_score: float | None = None
    table_data: dict[str, Any] | None = None
    chart_data: dict[str, Any] | None = None
    usage: dict[str, int | str] | None = None
    """The model's token counts, plus ``finish_reason`` when the model gives one."""


class ErrorData(_Data):
    error: str
    message: str


class DoneData(_Data):
    status: RunStatus
    duration_ms: int


class RestartData(_Data):
    """A run taken over after its worker was lost (docs/protocol.md, "The takeover rule")."""

    attempt: int
    # WorkerLost: its worker stopped renewing the lease; HandedOver: its worker shut down
    # gracefully and gave it up (docs/faults.md).
    reason: Literal["WorkerLost", "HandedOver"] = "WorkerLost"
    discard_message_ids: list[str]


class _Envelope(BaseModel):
    """What every event carries; each event type below fixes ``type`` and the shape of ``data``.

    One class per type, rather than one class with a union of data shapes: a union is
    checked member by member on every event built and written, which was half the cost of
    a token event (docs/benchmarks.md).
    """

    type: EventType
    data: Any
    run_id: str
    trace_id: str
    ts: int

    def to_json(self) -> str:
        # pydantic writes UTF-8 as is (the contract's ensure_ascii=False) on one line. Its
        # serializer directly: ``model_dump_json()`` gives the same text and spends about a
        # third of the call (0.5 of 1.7 µs for a token) passing its default options through.
        return self.__pydantic_serializer__.to_json(self).decode()


class StartEvent(_Envelope):
    type: Literal["start"] = "start"
    data: StartData


class ProgressEvent(_Envelope):
    type: Literal["progress"] = "progress"
    data: ProgressData


class SourcesEvent(_Envelope):
    type: Literal["sources"] = "sources"
    data: list[SourceData]


class TokenEvent(_Envelope):
    type: Literal["token"] = "token"
    data: TokenData


class ToolCallEvent(_Envelope):
    type: Literal["tool_call"] = "tool_call"
    data: ToolCallData


class InterruptEvent(_Envelope):
    type: Literal["interrupt"] = "interrupt"
    data: InterruptData


class FinalEvent(_Envelope):
    type: Literal["final"] = "final"
    data: FinalData


class ErrorEvent(_Envelope):
    type: Literal["error"] = "error"
    data: ErrorData


class DoneEvent(_Envelope):
    type: Literal["done"] = "done"
    data: DoneData


class RestartEvent(_Envelope):
    type: Literal["restart"] = "restart"
    data: RestartData


Event = Annotated[
    StartEvent
    | ProgressEvent
    | SourcesEvent
    | TokenEvent
    | ToolCallEvent
    | InterruptEvent
    | FinalEvent
    | ErrorEvent
    | DoneEvent
    | RestartEvent,
    Field(discriminator="type"),
]
EVENTS = TypeAdapter(Event)
"""Validates an event read back from the wire or the store: ``EVENTS.validate_python(obj)``."""


class EventFactory:
    """Builds the events of one run, stamping its ids and the time."""

    def __init__(self, run_id: str, trace_id: str) -> None:
        self.run_id = run_id
        self.trace_id = trace_id

    def _envelope(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "trace_id": self.trace_id, "ts": int(time.time() * 1000)}

    def start(self, thread_id: str, agent: str) -> StartEvent:
        data = StartData(run_id=self.run_id, thread_id=thread_id, trace_id=self.trace_id, agent=agent)
        return StartEvent(data=data, **self._envelope())

    def progress(self, data: ProgressData) -> ProgressEvent:
        return ProgressEvent(data=data, **self._envelope())

    def sources(self, sources: list[SourceData]) -> SourcesEvent:
        return SourcesEvent(data=sources, **self._envelope())

    def token(self, content: str, node: str, message_id: str) -> TokenEvent:
        data = TokenData(content=content, node=node, message_id=message_id)
        return TokenEvent(data=data, **self._envelope())

    def tool_call(self, data: ToolCallData) -> ToolCallEvent:
        return ToolCallEvent(data=data, **self._envelope())

    def interrupt(self, interrupts: list[PendingInterrupt]) -> InterruptEvent:
        return InterruptEvent(data=InterruptData(interrupts=interrupts), **self._envelope())

    def final(self, data: FinalData) -> FinalEvent:
        return FinalEvent(data=data, **self._envelope())

    def error(self, code: str, message: str) -> ErrorEvent:
        return ErrorEvent(data=ErrorData(error=code, message=message), **self._envelope())

    def done(self, status: RunStatus, duration_ms: int) -> DoneEvent:
        return DoneEvent(data=DoneData(status=status, duration_ms=duration_ms), **self._envelope())

    def restart(
        self,
        attempt: int,
        discard_message_ids: list[str],
        reason: Literal["WorkerLost", "HandedOver"] = "WorkerLost",
    ) -> RestartEvent:
        data = RestartData(attempt=attempt, reason=reason, discard_message_ids=discard_message_ids)
        return RestartEvent(data=data, **self._envelope())
