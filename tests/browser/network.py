"""A TCP proxy in front of the test server whose connections a test can cut mid-stream.

A real network drop, not a simulated one: ``cut()`` closes both sockets of every open
connection, so the client sees its response body end before the chunked encoding's last
chunk (browsers: a network error), and the server notices on its next write. While
``blocked``, new connections are accepted and closed at once, so reconnect attempts fail
the way they do while a network is down.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit


class CuttableProxy:
    def __init__(self, upstream_url: str) -> None:
        target = urlsplit(upstream_url)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._blocked_until = 0.0
        self._closed = False
        self.accepted = 0
        self.refused = 0
        self.cuts = 0
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    # --- what tests call ---

    def cut(self, block_s: float = 0.0) -> int:
        """Drop every open connection; refuse new ones for ``block_s``. Returns how many."""
        with self._lock:
            self._blocked_until = time.monotonic() + block_s
            victims = list(self._open)
            self._open.clear()
            self.cuts += 1
        for sock in victims:
            _close(sock)
        return len(victims) // 2

    @property
    def blocked(self) -> bool:
        return time.monotonic() < self._blocked_until

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.cut()

    # --- the relay ---

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.blocked:
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self.accepted += 1
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def cuttable_proxy(upstream_url: str) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(upstream_url)
    try:
        yield proxy
    finally:
        proxy.close()
