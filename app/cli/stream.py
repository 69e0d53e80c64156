"""Following one run's event stream over HTTP: start it or join it, resume it after a drop.

This module reads the wire and nothing else: it knows neither rich nor how a run is shown.
It is the Python counterpart of ``clients/js/stagecast.js``:

- A run lives on the server, not in the connection (docs/architecture.md, "The run model"). When the
  connection drops before the run's ``done`` event, the follower rejoins
  ``/api/runs/<run_id>/stream`` with ``Last-Event-ID`` and gets exactly the events it missed;
  the question is never sent twice.
- Event ids are ``<run_id>:<seq>`` with ``seq`` increasing, so an event at or below the last
  delivered ``seq`` was delivered already and is skipped.
- A refused request (4xx/5xx) carries the contract's JSON body
  ``{"success": false, "error": <ErrorCode>, "message": <text>}``; it becomes :class:`HttpError`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import SSEError, connect_sse

__all__ = [
    "ConnectionLost",
    "HttpError",
    "Reconnect",
    "RunFollower",
    "StreamError",
    "WireEvent",
]


@dataclass(frozen=True)
class WireEvent:
    """One event as it came off the wire."""

    id: str
    """``<run_id>:<seq>``, the SSE ``id`` field."""
    seq: int
    raw: str
    """The SSE ``data`` field exactly as sent: one line of JSON."""
    event: dict[str, Any]
    """``raw`` parsed: ``{type, data, run_id, trace_id, ts}``."""

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))

    @property
    def data(self) -> Any:
        return self.event.get("data")


@dataclass(frozen=True)
class Reconnect:
    """Why and when the follower is about to rejoin the run."""

    attempt: int
    delay_s: float
    reason: str


class StreamError(Exception):
    """The run's stream could not be followed to its end."""


class HttpError(StreamError):
    """The server refused a request; ``code`` and ``message`` come from its JSON error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message} (HTTP {status})")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_response(cls, response: httpx.Response) -> HttpError:
        response.read()
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return cls(response.status_code, body["error"], str(body.get("message", "")))
        text = response.text.strip()[:200] or response.reason_phrase
        return cls(response.status_code, "HttpError", text)


class ConnectionLost(StreamError):
    """The connection failed and could not be resumed (no run id yet, or retries exhausted)."""


class RunFollower:
    """Starts (:meth:`ask`) or joins (:meth:`join`) one run and yields its events once each.

    ``run_id`` is known after the response headers (``X-Run-ID``) or the first event.
    """

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        *,
        max_retries: int = 5,
        retry_delay_s: float = 1.0,
        max_retry_delay_s: float = 30.0,
        on_reconnect: Callable[[Reconnect], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_retry_delay_s = max_retry_delay_s
        self.on_reconnect = on_reconnect
        self.run_id: str | None = None
        self.last_event_id: str | None = None
        self.finished = False
        """True once the run's ``done`` event (or a 204 on a rejoin) was seen."""
        self._last_seq = 0
        # The reconnection time: the server's ``retry:`` field replaces it, as the spec says.
        self._retry_s = retry_delay_s
        self._sleep = sleep

    # --- public API ---

    def ask(self, body: dict[str, Any]) -> Iterator[WireEvent]:
        """``POST /api/chat/stream`` with ``body``: a new run, followed to its end."""
        return self._follow(("POST", "/api/chat/stream", body, {}))

    def join(self, run_id: str, last_event_id: str | None = None) -> Iterator[WireEvent]:
        """``GET /api/runs/<run_id>/stream``: an existing run, from its first event or after one."""
        self.run_id = run_id
        self.last_event_id = last_event_id
        if last_event_id:
            self._last_seq = _seq_of(last_event_id) or 0
        return self._follow(self._resume_request())

    def cancel(self) -> bool:
        """Ask the server to cancel the run; True when it accepted (False if it had ended)."""
        if self.run_id is None:
            return False
        url = f"{self.base_url}/api/runs/{quote(self.run_id, safe='')}/cancel"
        try:
            response = self.client.post(url)
        except httpx.HTTPError:
            return False
        return response.status_code == 202

    # --- the loop ---

    def _follow(self, request: tuple[str, str, dict[str, Any] | None, dict[str, str]]) -> Iterator[WireEvent]:
        attempt = 0
        while True:
            progressed = False
            retry_after_s = 0.0
            try:
                for item in self._exchange(request):
                    progressed = True
                    yield item
                if self.finished:
                    return
                reason = "the stream ended before the run was done"
            except _Retryable as exc:
                reason, retry_after_s = str(exc), exc.retry_after_s
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if self.run_id is None:
                # Nothing to rejoin, and a question is never sent twice.
                raise ConnectionLost(f"Could not reach {self.base_url}: {reason}")
            attempt = 1 if progressed else attempt + 1
            if attempt > self.max_retries:
                raise ConnectionLost(f"Lost the stream of run {self.run_id}: {reason}")
            delay = max(self._backoff(attempt), retry_after_s)
            if self.on_reconnect is not None:
                self.on_reconnect(Reconnect(attempt, delay, reason))
            self._sleep(delay)
            request = self._resume_request()

    def _exchange(
        self, request: tuple[str, str, dict[str, Any] | None, dict[str, str]]
    ) -> Iterator[WireEvent]:
        """One HTTP request: yields new events; returns at ``done`` or the end of the body."""
        method, path, body, headers = request
        url = self.base_url + path
        with connect_sse(self.client, method, url, json=body, headers=dict(headers)) as source:
            response = source.response
            if response.status_code == 204:
                # A rejoin of a run that ended and was fully delivered (docs/protocol.md, "Resuming").
                self.finished = True
                return
            if response.status_code >= 400:
                error = HttpError.from_response(response)
                if method == "GET" and (response.status_code == 429 or response.status_code >= 500):
                    raise _Retryable(str(error), _retry_after_s(response))
                raise error
            self.run_id = self.run_id or response.headers.get("X-Run-ID")
            try:
                for sse in source.iter_sse():
                    if sse.retry is not None:
                        # "set the event stream's reconnection time to that integer"
                        self._retry_s = sse.retry / 1000
                    if not sse.data:
                        continue  # a retry-only message: no data, nothing to dispatch
                    seq = _seq_of(sse.id)
                    if seq is not None:
                        if seq <= self._last_seq:
                            continue  # delivered before the drop
                        self._last_seq = seq
                    self.last_event_id = sse.id or self.last_event_id
                    event = _parse(sse.data, sse.id)
                    self.run_id = self.run_id or event.get("run_id")
                    if event.get("type") == "done":
                        self.finished = True
                    yield WireEvent(id=sse.id, seq=seq or 0, raw=sse.data, event=event)
                    if self.finished:
                        return
            except SSEError as exc:
                raise StreamError(f"Not an event stream: {exc}") from None

    def _resume_request(self) -> tuple[str, str, None, dict[str, str]]:
        assert self.run_id is not None
        headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        return ("GET", f"/api/runs/{quote(self.run_id, safe='')}/stream", None, headers)

    def _backoff(self, attempt: int) -> float:
        """Exponential from the reconnection time, capped, plus up to 50% jitter."""
        base = self._retry_s
        delay = max(base, min(self.max_retry_delay_s, base * 2 ** (attempt - 1)))
        return delay + random.random() * delay * 0.5


class _Retryable(Exception):
    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _seq_of(event_id: str) -> int | None:
    _, sep, seq = event_id.rpartition(":")
    return int(seq) if sep and seq.isdigit() else None


def _parse(data: str, event_id: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise StreamError(f"Event {event_id or '?'} is not JSON: {data[:80]!r}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise StreamError(f"Event {event_id or '?'} has no type: {data[:80]!r}")
    return event


def _retry_after_s(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else 0.0
