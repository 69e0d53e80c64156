"""Request bodies read within limits: at most ``max_body_bytes``, and within ``body_timeout_s``.

A WSGI middleware wraps ``wsgi.input`` so that whatever reads a body (Flask's ``get_data``,
``get_json``) is held to both limits:

- Size. Flask checks ``Content-Length`` before reading, but a chunked body has none, and
  werkzeug then stops reading at the limit and hands over the truncated prefix, which a
  valid JSON prefix turns into an accepted request. Here the stream itself refuses the
  byte past the limit with 413, chunked or not.
- Time. gunicorn's gevent worker has no timeout on a body, so a client that trickles one
  byte every few seconds holds its connection (one of ``worker_connections``) forever.
  Every read waits under one deadline counted from the request's start; past it, 408,
  and the connection is closed instead of being drained for a next request.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _GuardedInput:
    """``wsgi.input`` with a size limit and a read deadline."""

    def __init__(self, stream: Any, max_bytes: int, deadline: float, on_timeout: Callable[[], None]) -> None:
        self._stream = stream
        self._left = max_bytes
        self._deadline = deadline
        self._on_timeout = on_timeout

    def read(self, size: int = -1) -> bytes:
        return self._guarded(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._guarded(self._stream.readline, size)

    def _guarded(self, read: Callable[[int], bytes], size: int) -> bytes:
        # One byte past the limit is asked for, so that a body of exactly the limit passes
        # and a longer one is told apart from it.
        size = self._left + 1 if size < 0 else max(0, min(size, self._left + 1))
        with gevent.Timeout(max(0.0, self._deadline - time.monotonic()), False):
            data = read(size)
            self._left -= len(data)
            if self._left < 0:
                raise RequestEntityTooLarge()
            return data
        self._on_timeout()
        raise RequestTimeout("The request body did not arrive in time.")


class BodyGuard:
    """The middleware: wraps each request's ``wsgi.input`` in a :class:`_GuardedInput`."""

    def __init__(self, app: WSGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        deadline = time.monotonic() + self.timeout_s
        declared = environ.get("CONTENT_LENGTH", "")
        # A declared length over the limit is refused at the first read, before any byte is read.
        allowed = -1 if declared.isdigit() and int(declared) > self.max_bytes else self.max_bytes
        environ["wsgi.input"] = _GuardedInput(
            environ["wsgi.input"], allowed, deadline, lambda: _close_after_response(environ)
        )
        return self.app(environ, start_response)


def _close_after_response(environ: dict[str, Any]) -> None:
    """Stop reading from a client whose body stalled: gunicorn would otherwise drain the rest
    of it, just as slowly, before reading a next request on the connection."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already gone
            sock.shutdown(socket.SHUT_RD)
