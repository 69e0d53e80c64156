"""The tests' own SSE parser must itself follow the spec, or the stream tests prove nothing."""

from __future__ import annotations

import pytest

from tests.support.sse import SSEParser, parse

STREAM = "\ufeffretry: 1500\n: hello\nid: a:1\ndata: one\n\nid: a:2\ndata: two\ndata: lines\n\ndata: 재고\n\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(newline: str) -> None:
    parser = parse([STREAM.replace("\n", newline).encode()])
    assert [m.data for m in parser.messages] == ["one", "two\nlines", "재고"]
    assert [m.id for m in parser.messages] == ["a:1", "a:2", "a:2"]  # id persists
    assert parser.retry == 1500
    assert parser.comments == ["hello"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_split_point(newline: str) -> None:
    raw = STREAM.replace("\n", newline).encode()
    whole = [m.data for m in parse([raw]).messages]
    for split in range(len(raw) + 1):
        assert [m.data for m in parse([raw[:split], raw[split:]]).messages] == whole, split


def test_incomplete_final_event_is_discarded_and_fields_are_spec_exact() -> None:
    parser = SSEParser()
    parser.feed(b"data:no-space\nretry: soon\nid: x\0y\nevent: custom\n\ndata: cut off")
    assert [(m.data, m.event, m.id) for m in parser.messages] == [("no-space", "custom", "")]
    assert parser.retry is None
