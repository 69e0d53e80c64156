"""The LangGraph API's stream encoder (app/protocols/langgraph/stream.py), byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from langgraph.types import StateSnapshot

from app.errors import ServiceError
from app.events import EventFactory, ProgressData
from app.protocols.langgraph.state import Step
from app.protocols.langgraph.stream import RunStreamEncoder, parse_last_event_id
from tests.support.sse import SSEParser

T0 = 1_800_000_000_000  # ms


def _step(step: int, at_ms: float, values: dict[str, Any], updates: list[dict[str, Any]]) -> Step:
    created = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": f"c{step}"}}
    snapshot = StateSnapshot(values, (), config, {"step": step, "source": "loop"}, created, None, (), ())
    return Step(snapshot, updates)


STEPS = [
    _step(0, T0 + 1.5, {"messages": ["q"]}, []),
    _step(1, T0 + 10.5, {"messages": ["q", "a"]}, [{"answer": {"messages": ["a"]}}]),
]


def _log() -> list[str]:
    """A run's native log: start, node started, custom progress, a token, node ended, final, done."""
    events = EventFactory("r1", "trace")
    stamped = []
    for ts, event in [
        (T0, events.start("t", "chat")),
        (
            T0 + 2,
            events.progress(ProgressData(node="answer", stage="answer", status="in_progress", message="go")),
        ),
        (T0 + 3, events.token("Hel", "answer", "msg-1")),
        (T0 + 4, events.token("lo", "answer", "msg-1")),
        (
            T0 + 11,
            events.progress(ProgressData(node="answer", stage="answer", status="completed", message="ok")),
        ),
        (T0 + 12, events.error("Timeout", "too slow")),
        (T0 + 13, events.done("timeout", 13)),
    ]:
        event.ts = ts
        stamped.append(event.to_json())
    return stamped


def _encoder(modes: list[str], cursor: tuple[int, int] = (0, 0)) -> RunStreamEncoder:
    return RunStreamEncoder(modes, "r1", "t", lambda: STEPS, cursor)


def _parts(body: bytes) -> list[tuple[str, str | None, Any]]:
    parser = SSEParser()
    parser.feed(body)
    return [(m.event, m.id, m.json()) for m in parser.messages]


def test_modes_map_native_events() -> None:
    parts = _parts(_encoder(["values", "updates", "messages-tuple", "custom"])(_log(), 1))
    assert [(event, event_id) for event, event_id, _ in parts] == [
        ("metadata", "1.0"),
        ("custom", "2.0"),
        ("messages", "3.0"),
        ("messages", "4.0"),
        # The checkpoints written before the node ended, under the previous event's id.
        ("values", "4.1"),
        ("values", "4.1.1"),
        ("updates", "4.2"),
        ("custom", "5.2"),
        ("error", "6.2"),
    ]
    assert parts[0][2] == {"run_id": "r1", "attempt": 1}
    chunk, metadata = parts[2][2]
    assert chunk["type"] == "AIMessageChunk" and chunk["id"] == "msg-1" and chunk["content"] == "Hel"
    assert metadata["langgraph_node"] == "answer"
    assert parts[1][2]["type"] == "progress" and parts[1][2]["message"] == "go"
    assert parts[6][2] == {"answer": {"messages": ["a"]}}
    assert parts[-1][2] == {"error": "Timeout", "message": "too slow"}


def test_a_stream_resumed_after_any_part_continues_exactly() -> None:
    log = _log()
    modes = ["values", "updates", "messages-tuple", "custom", "checkpoints"]
    whole = _parts(_encoder(modes)(log, 1))
    for cut in range(len(whole)):
        seq, cursor = parse_last_event_id(whole[cut][1])
        rest = _parts(_encoder(modes, cursor)(log[seq:], seq + 1))
        assert whole[: cut + 1] + rest == whole, f"resumed after part {cut} ({whole[cut][1]})"


def test_cancel_sends_no_error_and_modes_not_asked_send_nothing() -> None:
    events = EventFactory("r1", "trace")
    log = [events.start("t", "chat").to_json(), events.error("Cancelled", "stop").to_json()]
    assert [e for e, _, _ in _parts(_encoder(["custom"])(log, 1))] == ["metadata"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, (0, (0, 0))), ("-1", (0, (0, 0))), ("7.2", (7, (2, 0))), ("7.2.1", (7, (2, 1)))],
)
def test_last_event_id(header: str | None, expected: tuple[int, tuple[int, int]]) -> None:
    assert parse_last_event_id(header) == expected


@pytest.mark.parametrize("header", ["7", "run:7", "a.b", "1.2.3.4"])
def test_last_event_id_not_of_this_stream(header: str) -> None:
    with pytest.raises(ServiceError):
        parse_last_event_id(header)
