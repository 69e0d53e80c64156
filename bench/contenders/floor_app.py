"""The floor: the cheapest relay of a model's tokens on Stagecast's stack, as a bare WSGI app.

One gunicorn gevent worker; per request, one gevent socket to the upstream, its chunked body
and event stream read by hand (only what the paced upstream sends: one ``data:`` line an
event, LF line ends), each token written to the client as one native SSE event as it
arrives: ``start``, ``token``..., ``final``, ``done``. Nothing of Stagecast is imported: no
LangGraph, no LangChain, no Flask, no run manager, no event log. What is left is the cost per
token of gunicorn, gevent, the sockets and JSON: ``Stagecast ÷ floor`` is the distance to the
limit of this stack.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson

_UPSTREAM = urlsplit(os.environ["OPENAI_BASE_URL"])
_ADDRESS = (_UPSTREAM.hostname or "127.0.0.1", _UPSTREAM.port or 80)
_PATH = _UPSTREAM.path.rstrip("/") + "/chat/completions"
_REQUEST_BODY = orjson.dumps(
    {
        "model": "bench",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "ABC-12345 부품의 재고는?"}],
    }
)
_REQUEST = (
    f"POST {_PATH} HTTP/1.1\r\nHost: {_UPSTREAM.netloc}\r\nContent-Type: application/json\r\n"
    f"Accept: text/event-stream\r\nConnection: close\r\nContent-Length: {len(_REQUEST_BODY)}\r\n\r\n"
).encode() + _REQUEST_BODY


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    environ["wsgi.input"].read()
    start_response(
        "200 OK",
        [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")],
    )
    return _relay()


def _relay() -> Iterator[bytes]:
    run_id = uuid.uuid4().hex
    seq = 0

    def event(kind: str, data: dict[str, Any]) -> bytes:
        nonlocal seq
        seq += 1
        payload = {"type": kind, "data": data, "run_id": run_id, "ts": int(time.time() * 1000)}
        return b"id: %d\ndata: %s\n\n" % (seq, orjson.dumps(payload))

    yield event("start", {"run_id": run_id})
    answer: list[str] = []
    with socket.create_connection(_ADDRESS) as upstream:
        upstream.sendall(_REQUEST)
        for data in _event_data(_chunked_body(upstream)):
            if data == b"[DONE]":
                break
            choices = orjson.loads(data).get("choices")
            content = choices[0]["delta"].get("content") if choices else None
            if content:
                answer.append(content)
                yield event("token", {"content": content, "node": "relay", "message_id": run_id})
    yield event("final", {"content": "".join(answer)})
    yield event("done", {"status": "success"})


def _event_data(body: Iterator[bytes]) -> Iterator[bytes]:
    """The data of each ``data: <json>\\n\\n`` event in the upstream's body."""
    buffer = b""
    for piece in body:
        buffer += piece
        *events, buffer = buffer.split(b"\n\n")
        for block in events:
            yield block.removeprefix(b"data: ")


def _chunked_body(sock: socket.socket) -> Iterator[bytes]:
    """The body of a chunked HTTP/1.1 response, read from ``sock`` as it arrives."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += _read(sock)
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"upstream answered {head.splitlines()[0]!r}")
    while True:
        while b"\r\n" not in buffer:
            buffer += _read(sock)
        size_line, _, buffer = buffer.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return
        while len(buffer) < size + 2:
            buffer += _read(sock)
        yield buffer[:size]
        buffer = buffer[size + 2 :]


def _read(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("the upstream closed the connection mid-answer")
    return data
