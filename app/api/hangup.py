"""Noticing a client that left while its stream is silent.

gunicorn notices a closed connection only when a write to it fails (DESIGN.md, trap 1),
so a client that leaves while its run's upstream is silent would be noticed at the next
heartbeat or two (up to ``2 * heartbeat_s``) and its run would cancel a grace period after
that: about 40 s of upstream time with the defaults, not the 10 s grace. Instead a
greenlet waits for the client's socket to become readable while the response is
streamed: a client of an SSE stream sends nothing more, so readable means it closed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import gevent
from gevent.socket import wait_read


class HangupWatch:
    """Calls ``on_hangup`` once if the peer of ``sock`` closes; :meth:`stop` when the response ends."""

    def __init__(self, sock: socket.socket | None, on_hangup: Callable[[], None]) -> None:
        self.gone = False
        self.on_close: list[Callable[[], None]] = [self.stop]  # for the response to call
        self._on_hangup = on_hangup
        self._greenlet = gevent.spawn(self._watch, sock) if sock is not None else None

    def _watch(self, sock: socket.socket) -> None:
        try:
            wait_read(sock.fileno())
            if sock.recv(1, socket.MSG_PEEK):
                return  # bytes, not an end: a pipelined request is gunicorn's to read
        except (OSError, ValueError):
            pass  # reset, or closed under us: gone as well
        self.gone = True
        self._on_hangup()

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
