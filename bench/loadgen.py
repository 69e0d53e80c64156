"""The load generator: N concurrent clients, each runs one agent request and reads its stream.

Runs in its own process (``python -m bench.loadgen SPEC.json OUT.json``) on raw asyncio
protocols (uvloop when installed), so one core holds thousands of streams. Every client
parses the HTTP response and the SSE stream to the letter (``bench.wire``) and checks it:

- ``native`` (Stagecast's protocol; contenders 2 and 3 speak it too): ids ``[<run>:]<seq>``
  must be 1..n with no gap and no repeat, ``done`` must be last, exactly one ``final``, and
  the concatenated ``token`` contents must equal ``final.content``;
- ``langgraph`` (LangGraph Server's ``messages-tuple``/``values`` modes): the AI message
  chunks concatenated must equal the last ``values`` answer;
- ``openai`` (the upstream itself, to measure the harness): chunks until ``[DONE]``.

Besides, the answer with its send stamps removed must equal the upstream's fixed answer, so
a token lost anywhere between the upstream and the client is caught.

Measured per stream: time to first event (request start to the first dispatched SSE
message), added latency per token (arrival time minus the upstream's send stamp in the
token), event counts and the whole answer's duration. The process also measures its own
event-loop lag, so a saturated load generator shows in the report instead of hiding.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from bench.limits import raise_nofile
from bench.upstream import STAMP_SEPARATOR, expected_answer, install_uvloop
from bench.wire import HTTPResponseReader, ProtocolError, SSEMessage, SSEParser

_STAMP = re.compile(re.escape(STAMP_SEPARATOR) + r"(\d{16})")


def strip_stamps(text: str) -> str:
    return _STAMP.sub("", text)


@dataclass
class LoadSpec:
    host: str
    port: int
    path: str
    method: str = "POST"
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    protocol: str = "native"  # native | langgraph | openai
    streams: int = 1
    concurrency: int = 1
    ramp_s: float = 0.0
    deadline_s: float = 60.0
    expected_tokens: int = 0
    slow_count: int = 0  # the first slow_count clients read slowly
    slow_bytes_per_s: float = 2000.0
    slow_rcvbuf: int = 4096


@dataclass
class Outcome:
    group: str
    started: float = 0.0  # perf_counter
    first_event_s: float | None = None
    ended_s: float | None = None
    events: int = 0
    comments: int = 0
    error: str | None = None
    lost: int = 0
    duplicated: int = 0
    mismatched: bool = False
    latencies_ms: list[float] = field(default_factory=list)


class _Checker:
    """Reads one protocol's messages; records tokens, the final answer and the end."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.tokens: list[str] = []
        self.final: str | None = None
        self.finals = 0
        self.ended = False
        self.error_code: str | None = None

    def on_message(self, message: SSEMessage, now_us: int) -> None:
        raise NotImplementedError

    def token(self, content: str, now_us: int) -> None:
        self.tokens.append(content)
        for stamp in _STAMP.findall(content):
            self.outcome.latencies_ms.append((now_us - int(stamp)) / 1000)

    def verdict(self, expected_tokens: int) -> str | None:
        """An error name, or None when the stream was complete and correct."""
        if self.error_code:
            return f"event:{self.error_code}"
        if not self.ended:
            return "incomplete"
        answer = "".join(self.tokens)
        if self.finals != 1 or self.final != answer:
            self.outcome.mismatched = True
            return "answer_mismatch"
        if expected_tokens and strip_stamps(answer) != expected_answer(expected_tokens):
            self.outcome.mismatched = True
            return "tokens_lost_upstream"
        return None


class NativeChecker(_Checker):
    """Stagecast's wire contract: ``id: [<run>:]<seq>``, ``data: {type, data, ...}``."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.next_seq = 1

    def on_message(self, message: SSEMessage, now_us: int) -> None:
        seq_text = message.id.rpartition(":")[2]
        if seq_text.isdigit():
            seq = int(seq_text)
            if seq > self.next_seq:
                self.outcome.lost += seq - self.next_seq
            elif seq < self.next_seq:
                self.outcome.duplicated += 1
                return
            self.next_seq = seq + 1
        else:
            self.outcome.lost += 0 if message.id else 1  # every native event must carry an id
        event = orjson.loads(message.data)
        kind = event.get("type")
        if self.ended:
            self.outcome.error = self.outcome.error or "event_after_done"
        if kind == "token":
            self.token(event["data"]["content"], now_us)
        elif kind == "final":
            self.finals += 1
            self.final = event["data"]["content"]
        elif kind == "error":
            self.error_code = str(event["data"].get("error"))
        elif kind == "done":
            self.ended = True


class LangGraphChecker(_Checker):
    """LangGraph Server: ``metadata``, ``messages`` ([chunk, metadata]), ``updates``, ``custom``.

    The answer is the AI message in the last node update (or ``values`` state) that has one.
    """

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.last_id = -1
        self.message_id: str | None = None

    def on_message(self, message: SSEMessage, now_us: int) -> None:
        if message.id.isdigit():  # langgraph-api numbers events when it sends ids
            seq = int(message.id)
            if seq <= self.last_id:
                self.outcome.duplicated += 1
            self.last_id = seq
        kind = message.event
        if kind == "messages":
            chunk, _meta = orjson.loads(message.data)
            if chunk.get("type") in ("AIMessageChunk", "ai") and isinstance(chunk.get("content"), str):
                if chunk.get("type") == "ai" and chunk.get("id") == self.message_id:
                    return  # the whole message repeated after its chunks
                self.message_id = chunk.get("id")
                if chunk["content"]:
                    self.token(chunk["content"], now_us)
        elif kind in ("updates", "values"):
            payload = orjson.loads(message.data)
            states = payload.values() if kind == "updates" else [payload]
            for state in states:
                messages = (state or {}).get("messages") or [] if isinstance(state, dict) else []
                if messages and messages[-1].get("type") == "ai":
                    self.final = messages[-1].get("content")
                    self.finals = 1
        elif kind == "error":
            self.error_code = "error"
        elif kind == "end":
            self.ended = True

    def verdict(self, expected_tokens: int) -> str | None:
        self.ended = True  # called once the response completed; LangGraph sends no done event
        return super().verdict(expected_tokens)


class OpenAIChecker(_Checker):
    """The upstream itself: ``data: {chunk}`` until ``data: [DONE]``."""

    def on_message(self, message: SSEMessage, now_us: int) -> None:
        if message.data == "[DONE]":
            self.ended = True
            self.finals = 1
            self.final = "".join(self.tokens)
            return
        chunk = orjson.loads(message.data)
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.token(content, now_us)


CHECKERS: dict[str, Callable[[Outcome], _Checker]] = {
    "native": NativeChecker,
    "langgraph": LangGraphChecker,
    "openai": OpenAIChecker,
}


class StreamClient(asyncio.Protocol):
    def __init__(self, spec: LoadSpec, request: bytes, outcome: Outcome, slow: bool) -> None:
        self.spec = spec
        self.request = request
        self.outcome = outcome
        self.checker = CHECKERS[spec.protocol](outcome)
        self.reader = HTTPResponseReader()
        self.parser = SSEParser()
        self.slow = slow
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        now_us = time.time_ns() // 1000
        try:
            body = self.reader.feed(data)
            head = self.reader.head
            if head is not None and head.status != 200:
                self._finish(f"http_{head.status}")
                return
            messages = self.parser.feed(body) if body else []
        except (ProtocolError, ValueError) as exc:
            self._finish(f"protocol:{exc.__class__.__name__}")
            return
        outcome = self.outcome
        if messages and outcome.first_event_s is None:
            outcome.first_event_s = now - outcome.started
        for message in messages:
            outcome.events += 1
            try:
                self.checker.on_message(message, now_us)
            except (ValueError, KeyError, TypeError, AttributeError):
                outcome.error = outcome.error or "bad_event"
        if self.reader.complete:
            self._finish(None)
        elif self.slow and self.transport is not None:
            self.transport.pause_reading()
            self.loop.call_later(len(data) / self.spec.slow_bytes_per_s, self._resume)

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.connection_closed()
        if not self.done.done():
            self._finish(None if self.reader.complete else "connection_closed")

    def _finish(self, error: str | None) -> None:
        if self.done.done():
            return
        outcome = self.outcome
        outcome.ended_s = time.perf_counter() - outcome.started
        outcome.comments = self.parser.comments
        if error is None and outcome.error is None:
            error = self.checker.verdict(self.spec.expected_tokens)
        outcome.error = outcome.error or error
        if outcome.error == "connection_closed" and self.checker.ended:
            outcome.error = None  # a close right after the last event, before the chunk terminator
        self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def abort(self, reason: str) -> None:
        if not self.done.done():
            self.outcome.error = reason
            self._finish(reason)
        if self.transport is not None:
            self.transport.abort()


def build_request(spec: LoadSpec) -> bytes:
    body = b"" if spec.body is None else json.dumps(spec.body, ensure_ascii=False).encode()
    headers = {
        "Host": f"{spec.host}:{spec.port}",
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "Connection": "close",
        **spec.headers,
    }
    if spec.body is not None:
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body))
    head = f"{spec.method} {spec.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class LoadGenerator:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.request = build_request(spec)
        self.outcomes: list[Outcome] = []
        self.clients: list[StreamClient] = []
        self.open = 0
        self.max_open = 0
        self.loop_lag_ms: list[float] = []

    async def run(self) -> dict[str, Any]:
        spec = self.spec
        started = time.perf_counter()
        deadline = started + spec.deadline_s
        semaphore = asyncio.Semaphore(spec.concurrency)
        monitor = asyncio.create_task(self._monitor_lag())
        tasks = [
            asyncio.create_task(self._client(i, started, deadline, semaphore)) for i in range(spec.streams)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=spec.deadline_s + 10)
        except TimeoutError:
            for task in tasks:
                task.cancel()
        monitor.cancel()
        wall = time.perf_counter() - started
        return summarise(self.outcomes, wall, self.max_open, self.loop_lag_ms)

    async def _client(self, index: int, t0: float, deadline: float, semaphore: asyncio.Semaphore) -> None:
        spec = self.spec
        slow = index < spec.slow_count
        outcome = Outcome(group="slow" if slow else "normal")
        self.outcomes.append(outcome)
        if spec.ramp_s and spec.streams > 1:
            await asyncio.sleep(max(0.0, t0 + spec.ramp_s * index / spec.streams - time.perf_counter()))
        async with semaphore:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                outcome.error = "not_started"
                return
            loop = asyncio.get_running_loop()
            outcome.started = time.perf_counter()
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                if slow:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, spec.slow_rcvbuf)
                await asyncio.wait_for(loop.sock_connect(sock, (spec.host, spec.port)), remaining)
                _, client = await loop.create_connection(
                    lambda: StreamClient(spec, self.request, outcome, slow), sock=sock
                )
                self.clients.append(client)
                try:
                    await asyncio.wait_for(asyncio.shield(client.done), deadline - time.perf_counter())
                except TimeoutError:
                    client.abort("timeout")
            except (OSError, TimeoutError) as exc:
                outcome.error = "timeout" if isinstance(exc, TimeoutError) else f"connect:{exc.errno}"
                outcome.ended_s = time.perf_counter() - outcome.started
            finally:
                self.open -= 1

    async def _monitor_lag(self) -> None:
        interval = 0.05
        while True:
            before = time.perf_counter()
            await asyncio.sleep(interval)
            self.loop_lag_ms.append((time.perf_counter() - before - interval) * 1000)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _group_summary(outcomes: list[Outcome]) -> dict[str, Any]:
    ttfe = [o.first_event_s * 1000 for o in outcomes if o.first_event_s is not None]
    latencies = [latency for o in outcomes for latency in o.latencies_ms]
    durations = [o.ended_s for o in outcomes if o.ended_s is not None and o.error is None]
    errors = Counter(o.error for o in outcomes if o.error)
    return {
        "streams": len(outcomes),
        "ok": sum(1 for o in outcomes if o.error is None),
        "errors": dict(errors),
        "lost": sum(o.lost for o in outcomes),
        "duplicated": sum(o.duplicated for o in outcomes),
        "mismatched": sum(1 for o in outcomes if o.mismatched),
        "events": sum(o.events for o in outcomes),
        "comments": sum(o.comments for o in outcomes),
        "ttfe_ms_p50": percentile(ttfe, 0.5),
        "ttfe_ms_p99": percentile(ttfe, 0.99),
        "ttfe_ms_max": max(ttfe) if ttfe else None,
        "added_ms_p50": percentile(latencies, 0.5),
        "added_ms_p99": percentile(latencies, 0.99),
        "added_ms_max": max(latencies) if latencies else None,
        "token_samples": len(latencies),
        "stream_s_p50": percentile(durations, 0.5),
        "stream_s_p99": percentile(durations, 0.99),
    }


def summarise(outcomes: list[Outcome], wall_s: float, max_open: int, lag_ms: list[float]) -> dict[str, Any]:
    summary = _group_summary(outcomes)
    summary.update(
        {
            "wall_s": wall_s,
            "events_per_s": summary["events"] / wall_s if wall_s else 0.0,
            "max_open": max_open,
            "loadgen_lag_ms_p99": percentile(lag_ms, 0.99),
            "loadgen_lag_ms_max": max(lag_ms) if lag_ms else None,
        }
    )
    groups = {o.group for o in outcomes}
    if len(groups) > 1:
        summary["groups"] = {g: _group_summary([o for o in outcomes if o.group == g]) for g in sorted(groups)}
    return summary


def main() -> None:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    spec = LoadSpec(**json.loads(Path(spec_path).read_text()))
    raise_nofile(spec.concurrency + 64)  # one socket per stream
    install_uvloop()
    result = asyncio.run(LoadGenerator(spec).run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["loadgen_cpu_s"] = usage.ru_utime + usage.ru_stime
    Path(out_path).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
