"""The HTTP transport to the model server: it keeps the worker's hub turning and the answer bounded.

A gevent socket that always has data never yields: ``recv`` returns at once, so a greenlet
reading an upstream that streams faster than the worker can process it runs without ever
giving the hub a turn. The worker's other streams and ``/healthz`` then freeze until
gunicorn's ``timeout`` kills the worker with every stream on it. This transport yields to
the hub once a read and its processing have held the CPU for ``SLICE_S``, and ends an
answer larger than ``max_bytes`` (a runaway or hostile upstream) as an upstream error that
fails only its own run. It also refuses, at once, a 200 answer to a streaming request that
is not an event stream (an HTML error page from a proxy, say).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import gevent
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
