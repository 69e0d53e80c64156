"""Encodes a run's native event log as the LangGraph Platform API's stream (``event: <mode>``).

One native event becomes zero or more stream parts (docs/architecture.md, "Adapters", LangGraph column):

- ``start``    -> ``metadata {run_id, attempt}``, always first; ``restart`` (a takeover) -> a new
  ``metadata`` with the next attempt
- ``token``    -> ``messages`` ``[AIMessageChunk, metadata]`` (messages-tuple; the chunk's id is
  the native ``message_id``, the id of the AI message the state ends up holding) and
  ``events`` ``on_chat_model_stream``
- ``progress``, ``sources``, ``tool_call`` -> ``custom`` ``{"type": <native type>, ...data}``;
  with ``stream_subgraphs``, a subgraph node's progress is ``custom|<parent nodes>``
- ``interrupt`` -> ``values``/``updates`` ``{"__interrupt__": [...]}``
- ``error``    -> ``error {error, message}`` (not for a cancel a client asked for)
- a node's end (``progress`` completed), ``final``, ``error``, ``interrupt`` and ``done`` are
  preceded by the checkpoints the run wrote before that event (all of them at ``done``): ``values``
  (the state after the step), ``updates`` (one ``{node: update}`` per task) and
  ``debug``/``checkpoints`` (the checkpoint). The agent writes checkpoints with
  ``durability="sync"``, so one written before a node ended is on disk by then; deciding by
  the event's time, not by what is on disk when the part is written, makes a replay send the
  same parts with the same ids as the live stream did.

Event ids are ``<seq>.<steps>``: the native sequence number and how many checkpoints were sent
so far (``<seq>.<steps>.<parts>`` while one checkpoint's parts are half sent), so a join with
``Last-Event-ID`` resumes both exactly; ``-1`` means from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ...errors import bad_request
from ...events import ErrorCode
from ...runs.owners import public_thread_id
from ...sse import encode_message
from .serialize import dumps, jsonable
from .state import Step, thread_state

STREAM_MODES = frozenset(
    {
        "values",
        "updates",
        "messages",
        "messages-tuple",
        "custom",
        "events",
        "debug",
        "tasks",
        "checkpoints",
        "tools",
    }
)
_STATE_MODES = frozenset({"values", "updates", "debug", "checkpoints"})
_STEP_ENDS = frozenset({"final", "error", "interrupt"})


def parse_last_event_id(value: str | None) -> tuple[int, tuple[int, int]]:
    """``Last-Event-ID`` -> (native seq, (checkpoints sent, parts of the next one sent));
    none or ``-1``: from the start."""
    if not value or value == "-1":
        return 0, (0, 0)
    fields = value.split(".")
    if len(fields) not in (2, 3) or not all(field.isdigit() for field in fields):
        raise bad_request("Last-Event-ID must be -1 or an id of this stream.", ErrorCode.BAD_REQUEST)
    numbers = [int(field) for field in fields] + [0]
    return numbers[0], (numbers[1], numbers[2])


class RunStreamEncoder:
    """The stream parts of one run, for one client's stream modes."""

    def __init__(
        self,
        modes: Iterable[str],
        run_id: str,
        thread_id: str,
        steps: Callable[[], list[Step]],
        cursor: tuple[int, int] = (0, 0),
        *,
        subgraphs: bool = False,
    ) -> None:
        self.modes = frozenset(modes)
        self.subgraphs = subgraphs
        self.run_id = run_id
        self.thread_id = thread_id
        self._steps = steps if self.modes & _STATE_MODES else None
        self.steps_sent, self.parts_sent = cursor

    def __call__(self, entries: list[bytes], first: int) -> bytes:
        parts: list[bytes] = []
        for seq, entry in enumerate(entries, first):
            event = orjson.loads(entry)
            kind, data = event["type"], event["data"]
            if kind == "token":
                parts.extend(self._token(self._id(seq), data))
                continue
            # Checkpoints go before the event that reveals them (as LangGraph sends the state
            # before an interrupt or an error), under the previous event's id: a client that
            # has them but not this event resumes after the previous one, and gets only this.
            if kind == "done":
                parts.extend(self._new_steps(seq - 1, None))
            elif kind in _STEP_ENDS or (kind == "progress" and data["status"] == "completed"):
                parts.extend(self._new_steps(seq - 1, event["ts"]))
            parts.extend(self._event(self._id(seq), kind, data))
        return b"".join(parts)

    def remaining(self, seq: int) -> bytes:
        """Checkpoints not sent yet (a client that left between an event and its state)."""
        return b"".join(self._new_steps(seq, None))

    def _part(self, mode: str, data: Any, event_id: str) -> bytes:
        return encode_message(dumps(data), event_id, mode)

    def _token(self, event_id: str, data: dict[str, Any]) -> Iterable[bytes]:
        chunk = {
            "content": data["content"],
            "additional_kwargs": {},
            "response_metadata": {},
            "type": "AIMessageChunk",
            "name": None,
            "id": data["message_id"],
            "tool_calls": [],
            "invalid_tool_calls": [],
            "tool_call_chunks": [],
            "usage_metadata": None,
        }
        metadata = {
            "run_id": self.run_id,
            "thread_id": public_thread_id(self.thread_id),
            "langgraph_node": data["node"],
        }
        if "messages-tuple" in self.modes:
            yield self._part("messages", [chunk, metadata], event_id)
        if "events" in self.modes:
            stream_event = {
                "event": "on_chat_model_stream",
                "name": data["node"],
                "run_id": data["message_id"],
                "tags": [],
                "metadata": metadata,
                "data": {"chunk": chunk},
                "parent_ids": [self.run_id],
            }
            yield self._part("events", stream_event, event_id)

    def _event(self, event_id: str, kind: str, data: Any) -> Iterable[bytes]:
        if kind == "start":
            yield self._part("metadata", {"run_id": self.run_id, "attempt": 1}, event_id)
        elif kind == "restart":
            # Another worker took the run over and runs it again (LangGraph Server announces a
            # retry the same way); the final ``values`` replace the partial messages.
            yield self._part("metadata", {"run_id": self.run_id, "attempt": data["attempt"]}, event_id)
        elif kind == "progress" and "custom" in self.modes:
            # With stream_subgraphs, a subgraph node's part is named after the nodes that
            # contain it, as LangGraph's ``custom|<namespace>`` (without task ids).
            path = data.get("path") or []
            mode = "|".join(["custom", *path[:-1]]) if self.subgraphs else "custom"
            yield self._part(mode, {"type": kind, **data}, event_id)
        elif kind == "tool_call" and "custom" in self.modes:
            yield self._part("custom", {"type": kind, **data}, event_id)
        elif kind == "sources" and "custom" in self.modes:
            yield self._part("custom", {"type": "sources", "sources": data}, event_id)
        elif kind == "interrupt":
            pending = {"__interrupt__": jsonable(data["interrupts"])}
            for mode in ("values", "updates"):
                if mode in self.modes:
                    yield self._part(mode, pending, event_id)
        elif kind == "error" and data["error"] != ErrorCode.CANCELLED:
            yield self._part("error", data, event_id)

    def _new_steps(self, seq: int, before_ms: float | None) -> Iterable[bytes]:
        """Parts of the checkpoints written by ``before_ms`` (None: all) not sent yet."""
        if self._steps is None:
            return
        for step in self._steps()[self.steps_sent :]:
            # ``ts`` is whole milliseconds: one written in the event's own millisecond waits
            # for the next event (it may have been written just after it).
            if before_ms is not None and step.created_ms >= before_ms:
                return
            parts = self._step_parts(step)
            for number, (mode, data) in enumerate(parts[self.parts_sent :], self.parts_sent + 1):
                if number == len(parts):  # the step's last part: it counts the step as sent
                    self.steps_sent, self.parts_sent = self.steps_sent + 1, 0
                else:
                    self.parts_sent = number
                yield self._part(mode, data, self._id(seq))
            if not parts:
                self.steps_sent += 1  # a step with nothing to send in these modes

    def _id(self, seq: int) -> str:
        """``<seq>.<steps sent>``, and ``.<parts sent>`` while a step's parts are half sent."""
        if self.parts_sent:
            return f"{seq}.{self.steps_sent}.{self.parts_sent}"
        return f"{seq}.{self.steps_sent}"

    def _step_parts(self, step: Step) -> list[tuple[str, Any]]:
        parts: list[tuple[str, Any]] = []
        if "values" in self.modes:
            parts.append(("values", jsonable(step.snapshot.values)))
        if "updates" in self.modes:
            parts.extend(("updates", update) for update in step.updates)
        if self.modes & {"checkpoints", "debug"}:
            state = thread_state(step.snapshot)
            if "checkpoints" in self.modes:
                parts.append(("checkpoints", state))
            if "debug" in self.modes:
                debug = {
                    "type": "checkpoint",
                    "timestamp": step.snapshot.created_at,
                    "step": (step.snapshot.metadata or {}).get("step"),
                    "payload": state,
                }
                parts.append(("debug", debug))
        return parts
