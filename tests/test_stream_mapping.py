"""app/agent/stream_mapping.py: keys of a get_stream_writer() payload that its event drops are
named in a warning, each once per run."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from app.agent.stream_mapping import StreamMapper
from app.events import EventFactory


def custom(mapper: StreamMapper, payload: Any) -> list[dict[str, Any]]:
    return [json.loads(event.to_json()) for event in mapper.map((), "custom", payload)]


def dropped(caplog: pytest.LogCaptureFixture) -> list[list[str]]:
    return [
        record.dropped_keys  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "app.agent.stream_mapping" and record.levelno == logging.WARNING
    ]


@pytest.mark.parametrize(
    ("payload", "keys"),
    [
        ({"type": "progress", "message": "half way", "percent": 50}, ["percent"]),
        ({"message": "no type", "stage": "s", "colour": "red", "eta": 3}, ["colour", "eta"]),
        ({"type": "token", "content": "hi", "node": "n", "message_id": "m", "lang": "en"}, ["lang"]),
        ({"type": "sources", "sources": [], "note": "x"}, ["note"]),
        ({"type": "chart", "message": "unknown type"}, ["type"]),  # becomes progress
    ],
)
def test_dropped_keys_are_named(
    caplog: pytest.LogCaptureFixture, payload: dict[str, Any], keys: list[str]
) -> None:
    mapper = StreamMapper(EventFactory("run-1", "trace-1"), {})
    with caplog.at_level(logging.WARNING, logger="app.agent.stream_mapping"):
        events = custom(mapper, payload)
    assert len(events) == 1  # the payload still becomes its event
    assert dropped(caplog) == [keys]
    record = next(r for r in caplog.records if r.name == "app.agent.stream_mapping")
    assert record.payload_type == payload.get("type")  # type: ignore[attr-defined]


def test_each_dropped_key_is_named_once_per_run(caplog: pytest.LogCaptureFixture) -> None:
    mapper = StreamMapper(EventFactory("run-1", "trace-1"), {})
    with caplog.at_level(logging.WARNING, logger="app.agent.stream_mapping"):
        for _ in range(3):
            custom(mapper, {"message": "tick", "percent": 1})
        custom(mapper, {"message": "tick", "percent": 2, "eta": 4})
        StreamMapper(EventFactory("run-2", "trace-2"), {}).map((), "custom", {"percent": 3}).__next__()
    assert dropped(caplog) == [["percent"], ["eta"], ["percent"]]  # the last: another run


def test_payloads_that_keep_every_key_warn_nothing(caplog: pytest.LogCaptureFixture) -> None:
    mapper = StreamMapper(EventFactory("run-1", "trace-1"), {})
    with caplog.at_level(logging.WARNING, logger="app.agent.stream_mapping"):
        custom(mapper, {"type": "progress", "node": "n", "stage": "s", "status": "completed", "message": "m"})
        custom(mapper, {"step": 2, "total": 3})
        custom(mapper, "a plain string")
        custom(mapper, {"type": "token", "content": "hi"})
        custom(mapper, {"type": "tool_call", "id": "c1", "name": "search", "args": {}, "status": "started"})
    assert dropped(caplog) == []
