"""Noticing a client that left while its stream is silent.

gunicorn notices a closed connection only when a write to it fails (docs/architecture.md, trap 1),
so a client that leaves while its run's upstream is silent would be noticed at the next
heartbeat or two (up to ``2 * heartbeat_s``) and its run would cancel a grace period after
that: about 40 s of upstream time with the defaults, not the 10 s grace. Instead the
client's socket is watched for becoming readable while the response is streamed: a client
of an SSE stream sends nothing more, so readable means it closed.

The watch is an event-loop watcher with a callback, not a greenlet blocked in
``wait_read``: a waiting greenlet keeps its own copy of its C stack and interpreter frames
for as long as the stream is open (about 4 KB each, measured), and every open stream had
one. A greenlet is started only when the socket does become readable, once per hang-up.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import gevent


class HangupWatch:
    """Calls ``on_hangup`` once if the peer of ``sock`` closes; :meth:`stop` when the response ends."""

    def __init__(self, sock: socket.socket | None, on_hangup: Callable[[], None]) -> None:
        self.gone = False
        self.on_close: list[Callable[[], None]] = [self.stop]  # for the response to call
        self._on_hangup = on_hangup
        self._sock = sock
        self._stopped = False
        self._check: gevent.Greenlet | None = None
        self._watcher = None
        if sock is not None:
            self._watcher = gevent.get_hub().loop.io(sock.fileno(), 1)  # 1: readable
            self._watcher.start(self._readable)

    def _readable(self) -> None:
        # In the hub's own greenlet: it may neither block nor switch, so what reading the
        # socket needs happens in a greenlet of its own. Level-triggered: once is enough.
        self._close_watcher()
        if not self._stopped:
            self._check = gevent.spawn(self._peek)

    def _peek(self) -> None:
        if self._sock is None or self._stopped:
            return
        try:
            if self._sock.recv(1, socket.MSG_PEEK):
                return  # bytes, not an end: a pipelined request is gunicorn's to read
        except (OSError, ValueError):
            pass  # reset, or closed under us: gone as well
        self.gone = True
        self._on_hangup()

    def _close_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def stop(self) -> None:
        self._stopped = True
        self._close_watcher()
        if self._check is not None and self._check is not gevent.getcurrent():
            self._check.kill(block=False)
