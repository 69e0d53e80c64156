"""A paced, OpenAI-compatible streaming server: the LLM every contender talks to.

``POST /v1/chat/completions`` with ``"stream": true`` answers a fixed text, token by token,
as a real model does: the first token after ``ttft_s``, then ``tps`` tokens per second
(token ``i`` is due at ``t0 + ttft_s + i / tps``, ``t0`` being when the request arrived).
Each token's content carries its own send time, ``word@<unix-µs> ``, so a client at the end
of any chain of servers can compute the latency added on the way: ``received - sent``.

It is written on raw asyncio protocols (uvloop when installed) with one timer per stream,
and writes every token that is due in a single pass, so one process holds thousands of
streams. It measures its own lateness (actual minus scheduled send time) so a report can
show that the upstream was not the bottleneck.

Control endpoints (not OpenAI's): ``POST /_bench/profile`` ``{"ttft_s", "tps", "tokens"}``
sets the pacing of later streams; ``GET /_bench/stats`` and ``POST /_bench/reset``.

Run: ``python -m bench.upstream --port 9100``. With ``--tls-port``, ``--tls-cert`` and
``--tls-key`` it also serves HTTPS on that port (the same streams and statistics), for a
contender that reads its model over TLS, as from a real endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import time
from array import array
from dataclasses import asdict, dataclass
from typing import Any, cast

from bench.limits import raise_nofile

log = logging.getLogger("bench.upstream")

# The fixed answer, cycled: a realistic mix of Korean and ASCII, as the default agent answers.
ANSWER_TEXT = (
    "ABC-12345 부품의 현재 재고는 총 1,234개입니다. 서울 창고에 800개, 부산 창고에 434개가 "
    "있으며 최근 3개월 평균 사용량은 월 210개입니다. The reorder point is 300 units and "
    "lead time is 14 days, so no order is needed this month."
)
ANSWER_WORDS = ANSWER_TEXT.split(" ")
STAMP_SEPARATOR = "@"


def token_text(index: int, stamp_us: int) -> str:
    """Token ``index`` of the answer as sent at ``stamp_us`` (Unix time in microseconds)."""
    return f"{ANSWER_WORDS[index % len(ANSWER_WORDS)]}{STAMP_SEPARATOR}{stamp_us} "


def expected_answer(tokens: int) -> str:
    """The answer of ``tokens`` tokens with the send stamps removed (see ``strip_stamps``)."""
    return "".join(f"{ANSWER_WORDS[i % len(ANSWER_WORDS)]} " for i in range(tokens))


@dataclass(frozen=True)
class Profile:
    ttft_s: float = 0.3
    tps: float = 20.0
    tokens: int = 60


class Stats:
    """How many streams, and how late the upstream sent tokens against its schedule."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.connections = 0  # accepted: a client that reuses its connections opens fewer than requests
        self.requests = 0
        self.active = 0
        self.max_active = 0
        self.completed = 0
        self.aborted = 0
        self.tokens = 0
        self.lateness_ms = array("d")

    def summary(self) -> dict[str, Any]:
        lateness = sorted(self.lateness_ms)

        def pct(q: float) -> float | None:
            return round(lateness[min(len(lateness) - 1, int(q * len(lateness)))], 3) if lateness else None

        return {
            "connections": self.connections,
            "requests": self.requests,
            "active": self.active,
            "max_active": self.max_active,
            "completed": self.completed,
            "aborted": self.aborted,
            "tokens": self.tokens,
            "lateness_ms_p50": pct(0.50),
            "lateness_ms_p99": pct(0.99),
            "lateness_ms_max": round(lateness[-1], 3) if lateness else None,
        }


class _Stream:
    """One streamed answer on one connection."""

    __slots__ = ("conn", "handle", "include_usage", "next_index", "prefix", "profile", "t0")

    def __init__(self, conn: UpstreamProtocol, profile: Profile, model: str, include_usage: bool) -> None:
        self.conn = conn
        self.profile = profile
        self.include_usage = include_usage
        self.next_index = 0
        self.handle: asyncio.TimerHandle | None = None
        self.t0 = time.monotonic()  # uvloop's loop.time() has only millisecond resolution
        conn.server.counter += 1
        self.prefix = (
            f'{{"id":"chatcmpl-bench-{conn.server.counter}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{json.dumps(model)},'
            '"system_fingerprint":null,"choices":[{"index":0,"delta":'
        ).encode()

    def due(self, index: int) -> float:
        return self.t0 + self.profile.ttft_s + index / self.profile.tps

    def start(self) -> None:
        self.schedule()

    def schedule(self) -> None:
        delay = max(0.0, self.due(self.next_index) - time.monotonic())
        self.handle = self.conn.loop.call_later(delay, self.tick)

    def _chunk(self, delta: str, finish: bytes = b"null") -> bytes:
        body = b"".join(
            (b"data: ", self.prefix, delta.encode(), b',"logprobs":null,"finish_reason":', finish, b"}]}\n\n")
        )
        return b"%x\r\n%s\r\n" % (len(body), body)

    def tick(self) -> None:
        conn, stats = self.conn, self.conn.server.stats
        now = time.monotonic()
        tokens = self.profile.tokens
        parts: list[bytes] = []
        while self.next_index < tokens and self.due(self.next_index) <= now:
            index = self.next_index
            stats.lateness_ms.append((now - self.due(index)) * 1000)
            text = json.dumps(token_text(index, time.time_ns() // 1000), ensure_ascii=False)
            if index == 0:
                parts.append(self._chunk('{"role":"assistant","content":"","refusal":null}'))
            parts.append(self._chunk('{"content":' + text + "}"))
            self.next_index += 1
            stats.tokens += 1
        if self.next_index >= tokens:
            parts.append(self._chunk("{}", b'"stop"'))
            if self.include_usage:
                usage = (
                    'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
                    '"model":"bench","choices":[],"usage":{"prompt_tokens":50,'
                    f'"completion_tokens":{tokens},"total_tokens":{tokens + 50}}}}}\n\n'
                ).encode()
                parts.append(b"%x\r\n%s\r\n" % (len(usage), usage))
            done = b"data: [DONE]\n\n"
            parts.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
            conn.write(b"".join(parts))
            self.handle = None
            conn.stream_done(self)
            return
        if parts:
            conn.write(b"".join(parts))
        self.schedule()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class UpstreamServer:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.stats = Stats()
        self.counter = 0


class UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; one request at a time per connection."""

    def __init__(self, server: UpstreamServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.stream: _Stream | None = None
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None
            self.server.stats.active -= 1
            self.server.stats.aborted += 1
        self.transport = None

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.stream is None and self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path, *_ = head[0].split(" ")
            self.close_after = headers.get("connection", "").lower() == "close"
            self.route(method, path.split("?", 1)[0], body)

    def route(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path.endswith("/chat/completions"):
            request = json.loads(body or b"{}")
            if request.get("stream"):
                self.start_stream(request)
            else:
                self.respond(200, self.completion(request))
        elif method == "GET" and path == "/_bench/stats":
            self.respond(200, self.server.stats.summary())
        elif method == "POST" and path == "/_bench/reset":
            self.server.stats.reset()
            self.respond(200, {"ok": True})
        elif method == "POST" and path == "/_bench/profile":
            self.server.profile = Profile(**json.loads(body))
            self.respond(200, asdict(self.server.profile))
        elif method == "GET" and path in ("/healthz", "/v1/models"):
            self.respond(200, {"object": "list", "data": [{"id": "bench", "object": "model"}]})
        else:
            self.respond(404, {"error": {"message": f"no route {method} {path}"}})

    def completion(self, request: dict[str, Any]) -> dict[str, Any]:
        tokens = self.server.profile.tokens
        text = "".join(token_text(i, time.time_ns() // 1000) for i in range(tokens))
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "bench"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": tokens, "total_tokens": tokens + 50},
        }

    def respond(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        connection = "close" if self.close_after else "keep-alive"
        self.write(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: %s\r\n\r\n%s" % (status, len(body), connection.encode(), body)
        )
        if self.close_after and self.transport is not None:
            self.transport.close()

    def start_stream(self, request: dict[str, Any]) -> None:
        stats = self.server.stats
        stats.requests += 1
        stats.active += 1
        stats.max_active = max(stats.max_active, stats.active)
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        self.stream = _Stream(self, self.server.profile, str(request.get("model", "bench")), include_usage)
        self.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
            b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: %s\r\n\r\n"
            % (b"close" if self.close_after else b"keep-alive")
        )
        self.stream.start()

    def stream_done(self, stream: _Stream) -> None:
        stats = self.server.stats
        stats.active -= 1
        stats.completed += 1
        self.stream = None
        if self.close_after and self.transport is not None:
            self.transport.close()
        elif self.buffer:
            self.data_received(b"")


async def serve(host: str, port: int, profile: Profile, tls: tuple[int, str, str] | None = None) -> None:
    """Serve until SIGTERM; ``tls`` is (port, certificate, key) of an HTTPS listener beside."""
    loop = asyncio.get_running_loop()
    server = UpstreamServer(profile)
    listeners = [await loop.create_server(lambda: UpstreamProtocol(server), host, port, backlog=4096)]
    if tls is not None:
        tls_port, cert, key = tls
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        listeners.append(
            await loop.create_server(
                lambda: UpstreamProtocol(server), host, tls_port, backlog=4096, ssl=context
            )
        )
        log.info("paced upstream also on https://%s:%d", host, tls_port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("paced upstream on http://%s:%d (pid %d)", host, port, os.getpid())
    await stop.wait()
    for listener in listeners:
        listener.close()


def install_uvloop() -> str:
    """Use uvloop when it is installed; return the loop's name for the report."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--ttft-s", type=float, default=Profile.ttft_s)
    parser.add_argument("--tps", type=float, default=Profile.tps)
    parser.add_argument("--tokens", type=int, default=Profile.tokens)
    parser.add_argument("--tls-port", type=int, help="also serve HTTPS on this port")
    parser.add_argument("--tls-cert", help="the HTTPS listener's certificate (PEM)")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    args = parser.parse_args()
    tls = (args.tls_port, args.tls_cert, args.tls_key) if args.tls_port else None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    raise_nofile()  # one socket per stream of every contender's server
    install_uvloop()
    asyncio.run(serve(args.host, args.port, Profile(args.ttft_s, args.tps, args.tokens), tls))


if __name__ == "__main__":
    main()
