"""The HTTP transport to the model server: it keeps the worker's hub turning and the answer bounded.

A gevent socket that always has data never yields: ``recv`` returns at once, so a greenlet
reading an upstream that streams faster than the worker can process it runs without ever
giving the hub a turn. The worker's other streams and ``/healthz`` then freeze until
gunicorn's ``timeout`` kills the worker with every stream on it. This transport yields to
the hub once a read and its processing have held the CPU for ``SLICE_S``, and ends an
answer larger than ``max_bytes`` (a runaway or hostile upstream) as an upstream error that
fails only its own run. It also refuses, at once, a 200 answer to a streaming request that
is not an event stream (an HTML error page from a proxy, say).

Below it, a worker's runs share their connections to the model server (:class:`ConnectionPool`),
each run through its own :class:`RunTransport`, which closes only that run's connections.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import gevent
import httpcore
import httpx

from .errors import UpstreamMisbehaved

# Longest stretch a model stream keeps the hub before yielding, and the pieces a large read
# is handed over in (a few dozen model chunks); measured in docs/benchmarks.md.
SLICE_S = 0.005
PIECE_BYTES = 4096


class GuardedTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, max_bytes: int) -> None:
        self._inner = inner
        self._max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.status_code == 200 and _wants_stream(request):
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("text/event-stream"):
                response.close()
                raise UpstreamMisbehaved(
                    "The language model service answered a streaming request with "
                    f"{content_type or 'no content type'}, not an event stream."
                )
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _GuardedStream(response.stream, self._max_bytes)
        return response

    def close(self) -> None:
        self._inner.close()


class _GuardedStream(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, max_bytes: int) -> None:
        self._stream = stream
        self._max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        loop = gevent.get_hub().loop
        received = 0
        iteration, turn_ends = loop.iteration, time.monotonic() + SLICE_S
        for chunk in self._stream:
            received += len(chunk)
            if received > self._max_bytes:
                raise UpstreamMisbehaved(
                    f"The language model service sent more than {self._max_bytes} bytes in one answer."
                )
            # A flooded read returns 64 KiB, hundreds of model chunks whose processing would
            # run as one stretch; handed over in pieces, the time is checked between them.
            for start in range(0, len(chunk), PIECE_BYTES):
                yield chunk[start : start + PIECE_BYTES] if len(chunk) > PIECE_BYTES else chunk
                # The consumer has processed the piece by now, so its time counts too. A read
                # that had to wait for data ran the hub's loop: the turn starts again there.
                if loop.iteration != iteration:
                    iteration, turn_ends = loop.iteration, time.monotonic() + SLICE_S
                elif time.monotonic() >= turn_ends:
                    gevent.sleep(0)
                    iteration, turn_ends = loop.iteration, time.monotonic() + SLICE_S

    def close(self) -> None:
        self._stream.close()


def _wants_stream(request: httpx.Request) -> bool:
    if request.method != "POST" or not request.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        body = json.loads(request.content)
    except (ValueError, httpx.RequestNotRead):
        return False
    return isinstance(body, dict) and body.get("stream") is True


# --- connections reused across runs ---
#
# A run used to open its own connection (and TLS handshake) to the model server and close it
# at its end. A worker now keeps the connections its runs are done with and hands them to
# later runs: one pool per worker and model server (``shared_transport`` in chat_model.py,
# made at a worker's first run, never in gunicorn's master). A run still sees only its own
# connections: its :class:`RunTransport`, closed by the run's cancel, closes the connections
# its requests hold (which wakes a read blocked on one), and nothing else.

# The key under which a request carries its claim through httpx to the pool.
_CLAIM = "stagecast.connection_claim"
# How a model server's answer ends: its last event. The chunked body's own end follows, in
# the same packet as a rule; a reader stops at the event, and a connection whose body was not
# read to its end cannot carry another request, so the pool reads that end first, waiting at
# most DRAIN_S for it (then the connection is closed, as every connection was before).
_LAST_EVENT = (b"[DONE]\n\n", b"[DONE]\r\n\r\n", b"[DONE]\r\r")
DRAIN_S = 0.5

_Origin = tuple[bytes, bytes, int | None]


class _Claim:
    """The connection one request of a run is on, until its answer is closed."""

    __slots__ = ("closed", "connection")

    def __init__(self) -> None:
        self.connection: httpcore.HTTPConnection | None = None
        self.closed = False

    def close(self) -> None:
        self.closed = True
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


class RunTransport(httpx.BaseTransport):
    """One run's way to the worker's shared transport: ``close`` closes the connections the
    run's requests still hold, not the pool, nor any other run's connection."""

    def __init__(self, shared: httpx.BaseTransport) -> None:
        self._shared = shared
        self._claims: list[_Claim] = []
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("The run's connections to the model server are closed.", request=request)
        claim = _Claim()
        self._claims = [c for c in self._claims if c.connection is not None]
        self._claims.append(claim)
        request.extensions = {**request.extensions, _CLAIM: claim}
        return self._shared.handle_request(request)

    def close(self) -> None:
        self._closed = True
        claims, self._claims = self._claims, []
        for claim in claims:
            claim.close()


class ConnectionPool:
    """A worker's keep-alive connections to the model server (HTTP/1.1). A request takes the
    connection returned last, or opens one; a connection whose answer was read to its end is
    returned, unless ``keep`` connections are idle already or its run closed it. One idle
    ``keepalive_s`` or closed by the server is closed when the pool is next used.

    httpcore's own pool walks all its connections on every request and response, and closes
    any idle one while it holds more connections (busy ones included) than its keep-alive
    bound: at hundreds of streams per worker it would cost CPU and reuse little.
    """

    def __init__(self, ssl_context: ssl.SSLContext, keep: int, keepalive_s: float) -> None:
        self.ssl_context = ssl_context
        self._keep = keep
        self._keepalive_s = keepalive_s
        self._idle: dict[_Origin, deque[tuple[float, httpcore.HTTPConnection]]] = {}
        self._lock = threading.Lock()  # gevent's in a worker; no I/O is done holding it
        self.idle = 0  # connections idle in the pool
        self.opened = 0  # connections opened since the pool was made

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        claim: _Claim | None = request.extensions.get(_CLAIM)
        url = request.url
        key = (url.scheme, url.host, url.port)
        connection = self._take(key)
        while True:
            reused = connection is not None
            if connection is None:
                self.opened += 1
                connection = httpcore.HTTPConnection(url.origin, ssl_context=self.ssl_context)
            if claim is not None:
                claim.connection = connection
            try:
                response = connection.handle_request(request)
                break
            except BaseException as exc:
                connection.close()
                if claim is not None:
                    claim.connection = None
                # The server closed an idle connection as the request went out, so it never read
                # it: once more, on a new connection (a client would see a retry as a failure).
                stale = reused and isinstance(exc, httpcore.RemoteProtocolError | httpcore.ReadError)
                if stale and (claim is None or not claim.closed):
                    connection = None
                    continue
                raise
        if claim is not None and claim.closed:
            # Cancelled while the connection was being opened, which closing cannot interrupt.
            response.close()
            connection.close()
            raise httpcore.ReadError("The run closed its connection to the model server.")
        body = _PooledBody(self, key, connection, response.stream, claim)
        return httpcore.Response(
            status=response.status, headers=response.headers, content=body, extensions=response.extensions
        )

    def close(self) -> None:
        with self._lock:
            closing = [connection for idle in self._idle.values() for _, connection in idle]
            self._idle.clear()
            self.idle = 0
        for connection in closing:
            connection.close()

    def _take(self, key: _Origin) -> httpcore.HTTPConnection | None:
        kept_since = time.monotonic() - self._keepalive_s
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                returned, connection = idle.pop()
                self.idle -= 1
            # has_expired: the server has closed it (its socket reads as ready while idle).
            if returned > kept_since and not connection.has_expired():
                return connection
            connection.close()

    def _return(self, key: _Origin, connection: httpcore.HTTPConnection, reusable: bool) -> None:
        now = time.monotonic()
        closing = []
        with self._lock:
            idle = self._idle.setdefault(key, deque())
            while idle and idle[0][0] <= now - self._keepalive_s:
                closing.append(idle.popleft()[1])
                self.idle -= 1
            if reusable and connection.is_idle() and self.idle < self._keep:
                idle.append((now, connection))
                self.idle += 1
            else:
                closing.append(connection)
        for each in closing:
            each.close()


class _PooledBody:
    """An answer's body from the pool; once closed, its connection goes back (or is closed)."""

    def __init__(
        self,
        pool: ConnectionPool,
        key: _Origin,
        connection: httpcore.HTTPConnection,
        stream: Any,  # httpcore's response stream: iterable, with close()
        claim: _Claim | None,
    ) -> None:
        self._pool = pool
        self._key = key
        self._connection = connection
        self._stream = stream
        self._claim = claim
        self._iterator: Iterator[bytes] | None = None
        self._at_end = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        self._iterator = iterator = iter(self._stream)
        try:
            for chunk in iterator:
                self._at_end = chunk.endswith(_LAST_EVENT)
                yield chunk
        except GeneratorExit:
            self.close()  # the reader stopped, at the last event if all went well
            raise
        except BaseException:
            self._at_end = False
            self.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        claim = self._claim
        reusable = claim is None or not claim.closed
        if reusable and self._at_end and self._iterator is not None:
            reusable = _read_to_end(self._iterator)
        if claim is not None:
            claim.connection = None
        try:
            self._stream.close()  # httpcore's: idle again if the body was read to its end, else closed
        finally:
            self._pool._return(self._key, self._connection, reusable)


def _read_to_end(body: Iterator[bytes]) -> bool:
    """Whether ``body`` ends, with nothing more, within DRAIN_S (a cancel meanwhile ends it)."""
    try:
        with gevent.Timeout(DRAIN_S, False):
            for _ in body:
                return False
            return True
    except Exception:  # the read failed: the connection is closed
        return False
    return False  # the time ran out


class SharedTransport(httpx.HTTPTransport):
    """httpx's transport (its requests, errors and response streams) over a :class:`ConnectionPool`."""

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(verify=pool.ssl_context)
        self._pool = pool  # type: ignore[assignment]
        self.pool = pool
