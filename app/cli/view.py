"""What a run looks like so far, accumulated from its events (no I/O, no rendering).

The Python twin of the JS client's reducer (``clients/js/state.js``): a ``progress`` event
opens a stage (``in_progress``), updates it, or closes it (``completed``); timings are the
server's ``ts`` (ms), so a resumed stream keeps the real timings. A ``restart`` event (the
run was taken over after its worker was lost) drops the tokens of the message ids it
discards, so the kept tokens concatenate to ``final.content`` (docs/protocol.md, "The takeover rule").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# "paused": the graph asked a question (an ``interrupt`` event); a new run answers it.
TERMINAL = frozenset({"success", "error", "cancelled", "timeout", "paused"})


@dataclass
class Stage:
    name: str
    node: str
    status: str
    message: str = ""
    step: int | None = None
    total: int | None = None
    started_ts: int | None = None
    ended_ts: int | None = None

    @property
    def done(self) -> bool:
        return self.status == "completed"

    def elapsed_ms(self, now_ts: int | None = None) -> int | None:
        """Duration once completed; time so far while running (given ``now_ts``)."""
        if self.started_ts is None:
            return None
        end = self.ended_ts if self.ended_ts is not None else now_ts
        return None if end is None else max(0, end - self.started_ts)


@dataclass
class RunView:
    status: str = "connecting"
    """``connecting``, ``streaming``, ``reconnecting``, then one of :data:`TERMINAL`."""
    run_id: str | None = None
    thread_id: str | None = None
    trace_id: str | None = None
    agent: str | None = None
    stages: list[Stage] = field(default_factory=list)
    answer: str = ""
    """The concatenation of the ``token`` contents, as streamed, less those a restart discarded."""
    tokens: list[tuple[str, str]] = field(default_factory=list)
    """``(message_id, content)`` of each token in ``answer``."""
    attempt: int = 1
    """1, then ``restart.attempt`` after each takeover by another worker."""
    discarded: set[str] = field(default_factory=set)
    """The message ids restarts discarded: their tokens are not part of the answer."""
    sources: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    """The questions of a paused run: ``[{id, value}]`` from the ``interrupt`` event."""
    final: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    duration_ms: int | None = None
    started_ts: int | None = None
    last_ts: int | None = None
    events: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        data = event.get("data")
        ts = event.get("ts")
        self.events += 1
        self.run_id = self.run_id or event.get("run_id")
        self.trace_id = self.trace_id or event.get("trace_id")
        if isinstance(ts, int):
            self.last_ts = ts
        if kind == "start" and isinstance(data, dict):
            self.status = "streaming"
            self.thread_id = data.get("thread_id")
            self.agent = data.get("agent")
            self.started_ts = ts if isinstance(ts, int) else None
        elif kind == "progress" and isinstance(data, dict):
            self._progress(data, ts if isinstance(ts, int) else None)
        elif kind == "sources" and isinstance(data, list):
            self.sources = data
        elif kind == "token" and isinstance(data, dict):
            self._token(data)
        elif kind == "restart" and isinstance(data, dict):
            self._restart(data)
        elif kind == "tool_call" and isinstance(data, dict):
            self._tool_call(data)
        elif kind == "interrupt" and isinstance(data, dict):
            self.interrupts = list(data.get("interrupts") or [])
        elif kind == "final" and isinstance(data, dict):
            self.final = data
            if data.get("sources"):
                self.sources = data["sources"]
        elif kind == "error" and isinstance(data, dict):
            self.error = data
        elif kind == "done" and isinstance(data, dict):
            self.status = str(data.get("status", "error"))
            self.duration_ms = data.get("duration_ms")

    @property
    def restarted(self) -> bool:
        """Whether the run resumed on another worker after its own was lost."""
        return self.attempt > 1

    def _token(self, data: dict[str, Any]) -> None:
        message_id = str(data.get("message_id", ""))
        if message_id in self.discarded:
            return
        content = str(data.get("content", ""))
        self.tokens.append((message_id, content))
        self.answer += content

    def _restart(self, data: dict[str, Any]) -> None:
        self.attempt = int(data.get("attempt", self.attempt + 1))
        self.discarded.update(str(m) for m in data.get("discard_message_ids", []))
        self.tokens = [(m, content) for m, content in self.tokens if m not in self.discarded]
        self.answer = "".join(content for _, content in self.tokens)

    def _progress(self, data: dict[str, Any], ts: int | None) -> None:
        name = str(data.get("stage") or data.get("node") or "?")
        completed = data.get("status") == "completed"
        open_stage = next(
            (s for s in reversed(self.stages) if s.name == name and s.status == "in_progress"), None
        )
        if open_stage is None:
            self.stages.append(
                Stage(
                    name=name,
                    node=str(data.get("node", name)),
                    status=str(data.get("status")),
                    message=str(data.get("message", "")),
                    step=data.get("step"),
                    total=data.get("total"),
                    started_ts=None if completed else ts,
                    ended_ts=ts if completed else None,
                )
            )
            return
        open_stage.status = str(data.get("status"))
        open_stage.message = str(data.get("message") or open_stage.message)
        open_stage.step = data.get("step", open_stage.step)
        open_stage.total = data.get("total", open_stage.total)
        if completed:
            open_stage.ended_ts = ts

    def _tool_call(self, data: dict[str, Any]) -> None:
        for index, call in enumerate(self.tool_calls):
            if call.get("id") == data.get("id"):
                self.tool_calls[index] = {**call, **data}
                return
        self.tool_calls.append(data)
