"""A local HTTP server that speaks the OpenAI chat-completions streaming format.

The request's ``model`` picks the behaviour, so one server serves every test:
``paced`` (default) streams ``tokens`` with ``token_delay_s`` between them;
``slow-first`` waits ``first_token_delay_s`` before the first chunk; ``broken`` sends two
chunks and drops the connection mid-body; ``status-<code>`` answers that HTTP error;
``flood`` sends chunks as fast as the socket takes them, until the client hangs up;
``html`` answers 200 with an HTML page; ``garbage`` streams ``data:`` lines that are not JSON;
``tools`` (and ``tools-missing``, for a part that does not exist) first asks for the
``stock_lookup`` tool, streaming its ``tool_calls`` delta in pieces as the real API does,
then answers once the request carries the tool's result; ``tools-loop`` asks for a tool
whenever tools are offered. :meth:`FakeOpenAI.fail_next` makes the next requests, whatever
their model, answer an HTTP error first (e.g. 503 twice, then the stream).
It records each request body, when a client hung up in the middle of a stream, and how many
connections it accepted (``connections``; a client that keeps its connections alive opens
fewer than it makes requests); ``keep_alive = False`` has it close each connection after its
answer, as a server whose idle timeout ran out would.
Given a certificate and its key, it speaks HTTPS (``base_url`` is then ``https://``).
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FakeOpenAI:
    def __init__(
        self,
        tokens: list[str] | None = None,
        token_delay_s: float = 0.01,
        tls: tuple[Path, Path] | None = None,  # (certificate, key), PEM
    ) -> None:
        self.tokens = tokens or ["ABC-12345 ", "재고는 ", "총 ", "1,234개", "입니다."]
        self.token_delay_s = token_delay_s
        self.first_token_delay_s = 1.0
        self.requests: list[dict[str, Any]] = []
        self.hangups: list[float] = []  # time.monotonic() when a client closed mid-stream
        self.failures: list[tuple[int, str | None]] = []  # (status, Retry-After) to answer next
        self.connections = 0  # accepted so far
        self.keep_alive = True
        self._server = _CountingServer(self, ("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            # The handshake runs in the handler's thread (on its first read), not in accept().
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def first_hangup(self, timeout_s: float = 3.0) -> float:
        """When a client first closed mid-stream (``time.monotonic()``), waiting up to
        ``timeout_s`` for it; AssertionError if none did."""
        deadline = time.monotonic() + timeout_s
        while not self.hangups and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.hangups, "the upstream never saw the connection close"
        return self.hangups[0]

    @property
    def base_url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}/v1"

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After``, if given)."""
        self.failures += [(status, retry_after)] * times

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not fake.keep_alive:
                    self.close_connection = True
                fake.requests.append(body)
                model = body.get("model", "paced")
                if fake.failures:
                    self._error(*fake.failures.pop(0))
                    return
                if model.startswith("status-"):
                    self._error(int(model.removeprefix("status-")))
                    return
                if model == "html":
                    self._html()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._stream(model, body)
                except (BrokenPipeError, ConnectionResetError):
                    fake.hangups.append(time.monotonic())

            def _stream(self, model: str, body: dict[str, Any]) -> None:
                if model == "slow-first" and self._wait_or_hangup(fake.first_token_delay_s):
                    return
                if model == "flood":
                    self._flood()
                    return
                if model == "garbage":
                    self._write(b"data: <html><body>502 Bad Gateway</body></html>\n\n")
                    self._write(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if self._wants_tool(model, body):
                    self._tool_call("NOPE-00000" if model == "tools-missing" else "ABC-12345")
                    self._end(model, body, "tool_calls")
                    return
                for index, token in enumerate(fake.tokens):
                    if model == "broken" and index == 2:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self._chunk({"role": "assistant", "content": token} if index == 0 else {"content": token})
                    if self._wait_or_hangup(fake.token_delay_s):
                        return
                self._end(model, body, "stop")

            def _wants_tool(self, model: str, body: dict[str, Any]) -> bool:
                if not model.startswith("tools") or not body.get("tools"):
                    return False
                answered = any(message["role"] == "tool" for message in body["messages"])
                return model == "tools-loop" or not answered

            def _tool_call(self, part_number: str) -> None:
                """One tool call, its arguments split over several chunks."""
                call_id = f"call_{len(fake.requests)}"
                arguments = json.dumps({"part_number": part_number})
                first = {"index": 0, "id": call_id, "type": "function"}
                self._chunk(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{**first, "function": {"name": "stock_lookup", "arguments": ""}}],
                    }
                )
                for start in range(0, len(arguments), 7):
                    piece = arguments[start : start + 7]
                    self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})

            def _end(self, model: str, body: dict[str, Any], finish_reason: str) -> None:
                self._chunk({}, finish_reason=finish_reason)
                if body.get("stream_options", {}).get("include_usage"):
                    usage = {
                        "prompt_tokens": 10,
                        "completion_tokens": len(fake.tokens),
                        "total_tokens": 10 + len(fake.tokens),
                    }
                    self._send(
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": model,
                            "choices": [],
                            "usage": usage,
                        }
                    )
                self._write(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _flood(self) -> None:
                """Valid chunks, each one token, written as fast as the client takes them."""
                choice = {"index": 0, "delta": {"content": "x"}, "finish_reason": None}
                chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [choice]}
                event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
                block = event * (64 * 1024 // len(event))
                framed = b"%x\r\n%s\r\n" % (len(block), block)
                while True:  # until the client hangs up (BrokenPipeError, counted by do_POST)
                    self.wfile.write(framed)

            def _html(self) -> None:
                page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def _wait_or_hangup(self, seconds: float) -> bool:
                """Sleep, but notice at once if the client closed the connection."""
                readable, _, _ = select.select([self.connection], [], [], seconds)
                # Over TLS (no MSG_PEEK there), anything readable mid-answer is the client
                # leaving: a close_notify or the connection's end.
                connection = self.connection
                if readable and (
                    isinstance(connection, ssl.SSLSocket) or not connection.recv(1, socket.MSG_PEEK)
                ):
                    fake.hangups.append(time.monotonic())
                    return True
                return False

            def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
                self._send(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "fake",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                    }
                )

            def _send(self, payload: dict[str, Any]) -> None:
                self._write(b"data: " + json.dumps(payload).encode() + b"\n\n")

            def _write(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _error(self, status: int, retry_after: str | None = None) -> None:
                payload = json.dumps(
                    {"error": {"message": f"fake error {status}", "type": "fake", "code": status}}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


class _CountingServer(ThreadingHTTPServer):
    """Counts the connections it accepts (each is handled in its own thread)."""

    def __init__(self, fake: FakeOpenAI, *args: Any) -> None:
        self._fake = fake
        super().__init__(*args)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._fake.connections += 1
        super().process_request(request, client_address)
