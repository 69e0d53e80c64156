"""app/transport/encoders.py: what the read loop writes for each kind of encoder, byte for byte."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.transport.encoders import Parsed, Resumable, native_encoder

START = b'{"type":"start","data":{}}'
DONE = b'{"type":"done","data":{"status":"success"}}'


def test_the_native_encoder_writes_entries_as_they_are_under_run_ids() -> None:
    encoder = native_encoder("run-1", 2000)
    assert encoder.head() == b"retry: 2000\n\n"
    assert encoder.encode([START, DONE], 7) == (
        b"id: run-1:7\ndata: " + START + b"\n\nid: run-1:8\ndata: " + DONE + b"\n\n"
    )
    assert encoder.end(cut=False) == b""
    assert encoder.end(cut=True) == b"retry: 2000\n\n"  # resume elsewhere


def test_resumable_frames_any_entry_encoder() -> None:
    encoder = Resumable(lambda entries, first: f"{first}:{len(entries)}".encode(), 500)
    assert encoder.head() == b"retry: 500\n\n"
    assert encoder.encode([START, DONE], 3) == b"3:2"
    assert (encoder.end(cut=False), encoder.end(cut=True)) == (b"", b"retry: 500\n\n")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []
        self.cuts: list[bool] = []

    def encode(self, event: Mapping[str, Any]) -> bytes:
        self.events.append(event)
        return event["type"].encode()

    def end(self, *, cut: bool) -> bytes:
        self.cuts.append(cut)
        return b"end"


def test_parsed_hands_an_event_encoder_each_event_parsed() -> None:
    recorder = Recorder()
    encoder = Parsed(recorder)
    assert encoder.head() == b": stagecast\n\n"
    assert encoder.encode([START, DONE], 1) == b"startdone"
    assert recorder.events == [{"type": "start", "data": {}}, {"type": "done", "data": {"status": "success"}}]
    assert encoder.end(cut=True) == b"end" and recorder.cuts == [True]
