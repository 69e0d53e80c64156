"""app/sse.py: byte-exact framing (the contract's field order and LF line ends)."""

from __future__ import annotations

import json

import pytest

from app.sse import HEARTBEAT, encode_comment, encode_line_message, encode_message, encode_retry
from tests.support.sse import parse


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(data="foo"), b"data: foo\n\n"),
        (dict(data="foo", id="run:1"), b"id: run:1\ndata: foo\n\n"),
        (dict(data="a\nb"), b"data: a\ndata: b\n\n"),
        (dict(data="a\r\nb\rc"), b"data: a\ndata: b\ndata: c\n\n"),
        (dict(data="", id="x"), b"id: x\ndata: \n\n"),
        (dict(data="x", id="bad\r\nid"), b"id: badid\ndata: x\n\n"),
        (dict(data="x", id="nul\0id"), b"data: x\n\n"),
        (dict(data='{"t":"재고"}', id="r:2"), 'id: r:2\ndata: {"t":"재고"}\n\n'.encode()),
        (dict(data="{}", id="3.1", event="values"), b"event: values\nid: 3.1\ndata: {}\n\n"),
        (dict(data="x", event="custom|a\nb"), b"event: custom|ab\ndata: x\n\n"),
    ],
)
def test_encode_message(kwargs: dict[str, str], expected: bytes) -> None:
    assert encode_message(**kwargs) == expected


@pytest.mark.parametrize(
    ("data", "id"),
    [
        ('{"type":"token","data":{"content":"재고 "}}', "run:12"),
        ("", "x"),
        ("a\nb", "r:1"),  # not one line after all: framed line by line all the same
        ("a\r\nb\rc", "r:2"),
        ("x", "bad\r\nid"),
        ("x", "nul\0id"),
    ],
)
def test_encode_line_message_is_encode_message_of_the_decoded_text(data: str, id: str) -> None:
    assert encode_line_message(data.encode(), id) == encode_message(data, id)


def test_retry_comment_and_heartbeat() -> None:
    assert encode_retry(2000) == b"retry: 2000\n\n"
    assert encode_comment("hi\nthere") == b": hi\n: there\n\n"
    assert HEARTBEAT == b": heartbeat\n\n"


def test_round_trip_through_a_spec_parser() -> None:
    payload = json.dumps({"type": "token", "data": {"content": "부품\n재고"}}, ensure_ascii=False)
    stream = (
        encode_retry(10) + encode_message(payload, "r:1") + HEARTBEAT + encode_message("two\nlines", "r:2")
    )
    parser = parse([stream[i : i + 3] for i in range(0, len(stream), 3)])
    assert [m.data for m in parser.messages] == [payload, "two\nlines"]
    assert [m.id for m in parser.messages] == ["r:1", "r:2"]
    assert parser.retry == 10
    assert parser.comments == ["heartbeat"]
