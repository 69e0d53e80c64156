"""Reading a stream over HTTP the way a browser would, with arrival times."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.server import Server
from tests.support.sse import SSEMessage, SSEParser


@dataclass
class StreamResult:
    status: int
    headers: httpx.Headers
    parser: SSEParser = field(default_factory=SSEParser)
    started: float = 0.0
    first_byte_s: float | None = None
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (seconds, "comment"|"message")
    body: bytes = b""

    @property
    def messages(self) -> list[SSEMessage]:
        return self.parser.messages

    @property
    def events(self) -> list[dict[str, Any]]:
        return [message.json() for message in self.parser.messages]

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    @property
    def answer(self) -> str:
        return "".join(e["data"]["content"] for e in self.events if e["type"] == "token")

    @property
    def kept_answer(self) -> str:
        """The tokens no ``restart`` discarded, concatenated: ``final.content`` after a takeover."""
        discarded = {
            mid for e in self.events if e["type"] == "restart" for mid in e["data"]["discard_message_ids"]
        }
        return "".join(
            e["data"]["content"]
            for e in self.events
            if e["type"] == "token" and e["data"]["message_id"] not in discarded
        )

    def last(self, type: str) -> dict[str, Any]:
        return next(e for e in reversed(self.events) if e["type"] == type)


def read_stream(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    stop_after: Callable[[StreamResult], bool] | None = None,
    **kwargs: Any,
) -> StreamResult:
    """Send the request and parse the SSE body; ``stop_after`` may hang up early."""
    started = time.monotonic()
    with client.stream(method, url, **kwargs) as response:
        result = StreamResult(response.status_code, response.headers, started=started)
        for chunk in response.iter_raw():
            now = time.monotonic() - started
            if result.first_byte_s is None:
                result.first_byte_s = now
            result.body += chunk
            comments_before = len(result.parser.comments)
            new = result.parser.feed(chunk)
            result.arrivals += [(now, "comment")] * (len(result.parser.comments) - comments_before)
            result.arrivals += [(now, "message")] * len(new)
            if stop_after is not None and stop_after(result):
                break
    return result


def start_slow_run(
    client: httpx.Client, server: Server, seconds: float = 30, events: int = 2, **body: Any
) -> StreamResult:
    """Start a run of the test agent ``slow`` (it answers for ``seconds``) with ``body``'s extra
    fields, read its first ``events`` events, and hang up; the head of the stream."""
    return read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"message": str(seconds), "agent": "slow", **body},
        stop_after=lambda r: len(r.messages) >= events,
    )


def trickling_bodies(
    stack: ExitStack, url: str, count: int, declared_length: int, timeout: float
) -> list[socket.socket]:
    """``count`` connections to ``url`` (``http://host:port``), each a ``POST /api/runs`` that
    declares ``declared_length`` bytes of body and sends one; closed with ``stack``."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=timeout))
        sock.sendall(
            b"POST /api/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n{" % declared_length
        )
        socks.append(sock)
    return socks


def wait_for_status(
    client: httpx.Client, server: Server, run_id: str, wanted: set[str], timeout: float = 10
) -> str:
    """Poll ``GET /api/runs/<run_id>`` until its status is one of ``wanted``."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = client.get(f"{server.url}/api/runs/{run_id}").json()["status"]
        if status in wanted:
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {status}, wanted {wanted}")
