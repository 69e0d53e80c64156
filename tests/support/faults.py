"""Faults over real processes, for the distributed mode's fault tests and ``make chaos``.

- :class:`TcpProxy`: a loopback TCP proxy that can hold bytes in both directions (a
  partition: nothing is lost, nothing arrives) and release them in order (heal), or cut
  every connection (a PostgreSQL or Redis connection reset).
- :func:`paused`: SIGSTOP a process, SIGCONT it afterwards, whatever happens.
- :func:`skewed_clock`: a ``PYTHONPATH`` directory whose ``sitecustomize`` makes
  ``time.time()`` of that process run N seconds off.
- :class:`Cluster`: one redis-server of the test's own (with or without AOF, on its own
  port), one fresh PostgreSQL database, and any number of gunicorn hosts with one worker
  each and a short lease, some of them reaching Redis through their own proxy. Everything it
  started is stopped when the ``with`` ends.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.server import Server, free_port, run_server
from tests.support.services import RedisServer, postgres_database


class _Pipe:
    """One direction of one proxied connection."""

    def __init__(self, source: socket.socket, sink: socket.socket) -> None:
        self.source = source
        self.sink = sink
        self.held: list[bytes] = []


class TcpProxy:
    """``127.0.0.1:<port>`` forwarding to ``127.0.0.1:<target>``, with a partition switch."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._partitioned = False
        self._pipes: list[_Pipe] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        self._refusing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    def partition(self) -> None:
        """From now on hold every byte, both ways, in memory: connections stay open and silent."""
        with self._lock:
            self._partitioned = True

    def heal(self) -> None:
        """Deliver what was held, in order, and forward again."""
        with self._lock:
            self._partitioned = False
            for pipe in self._pipes:
                held, pipe.held = pipe.held, []
                for chunk in held:
                    with suppress(OSError):
                        pipe.sink.sendall(chunk)

    def cut(self) -> None:
        """Reset every open connection (new ones are accepted as usual)."""
        with self._lock:
            sockets, self._sockets, self._pipes = self._sockets, [], []
        for sock in sockets:
            with suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            # Wakes the pump thread blocked in recv() on it: without this, close() leaves an
            # idle connection (a pub/sub subscriber, a pooled database connection) open in the
            # kernel, and it is never reset.
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
            with suppress(OSError):
                sock.close()

    def down(self) -> None:
        """The server is gone: every connection is reset, new ones are refused (until :meth:`up`)."""
        self._refusing = True
        self.cut()

    def up(self) -> None:
        self._refusing = False

    def close(self) -> None:
        self._closed = True
        with suppress(OSError):
            self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pipes = (_Pipe(client, upstream), _Pipe(upstream, client))
            with self._lock:
                self._sockets += [client, upstream]
                self._pipes += pipes
            for pipe in pipes:
                threading.Thread(target=self._pump, args=(pipe,), daemon=True).start()

    def _pump(self, pipe: _Pipe) -> None:
        while True:
            try:
                chunk = pipe.source.recv(65536)
            except OSError:
                chunk = b""
            with self._lock:
                if not chunk:
                    with suppress(OSError):
                        pipe.sink.shutdown(socket.SHUT_WR)
                    return
                if self._partitioned:
                    pipe.held.append(chunk)
                    continue
                try:
                    pipe.sink.sendall(chunk)
                except OSError:
                    return


@contextmanager
def paused(pid: int) -> Iterator[None]:
    """SIGSTOP ``pid`` for the ``with`` block; SIGCONT it however the block ends."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


_SITECUSTOMIZE = '''\
"""Test only: this process's wall clock runs FAULTS_CLOCK_SKEW_S seconds off."""
import os
import time

_skew = float(os.environ.get("FAULTS_CLOCK_SKEW_S", "0"))
_time, _time_ns = time.time, time.time_ns
time.time = lambda: _time() + _skew
time.time_ns = lambda: _time_ns() + int(_skew * 1e9)
'''


def skewed_clock(directory: Path, skew_s: float) -> dict[str, str]:
    """Environment for a server whose ``time.time()`` runs ``skew_s`` off (negative: behind)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    return {"PYTHONPATH": str(directory), "FAULTS_CLOCK_SKEW_S": str(skew_s)}


class Cluster:
    """A per-test distributed deployment on loopback; use as a context manager."""

    def __init__(self, root: Path, *, appendonly: bool = True, **settings: Any) -> None:
        self.root = root
        self.redis = RedisServer(root / "redis", free_port(), appendonly=appendonly)
        self.settings: dict[str, Any] = {
            "workers": 1,
            "run_lease_s": 2,
            "heartbeat_s": 0.5,
            "offline_token_delay_ms": 60,
            **settings,
        }
        self.hosts: list[Server] = []
        self.proxies: dict[str, TcpProxy] = {}
        self._stack = ExitStack()

    def __enter__(self) -> Cluster:
        try:
            self.database_url = self._stack.enter_context(postgres_database())
            self.redis.start()
            self._stack.callback(self.redis.kill)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def host(
        self,
        name: str,
        *,
        redis_proxy: bool = False,
        postgres_proxy: bool = False,
        clock_skew_s: float = 0,
        **overrides: Any,
    ) -> Server:
        """Start a gunicorn host; with ``redis_proxy`` its Redis traffic goes through
        ``self.proxies[name]``, with ``postgres_proxy`` its PostgreSQL traffic through
        ``self.proxies[name + "/pg"]``. Stopped (SIGTERM, then SIGKILL) when the cluster ends."""
        redis_port = self.redis.port
        if redis_proxy:
            proxy = self.proxies[name] = TcpProxy(self.redis.port)
            self._stack.callback(proxy.close)
            redis_port = proxy.port
        database_url = self.database_url
        if postgres_proxy:
            address = urlsplit(database_url)
            pg = self.proxies[name + "/pg"] = TcpProxy(address.port or 5432)
            self._stack.callback(pg.close)
            database_url = address._replace(netloc=f"{address.username}@127.0.0.1:{pg.port}").geturl()
        env = skewed_clock(self.root / f"clock-{name}", clock_skew_s) if clock_skew_s else None
        settings = {
            **self.settings,
            "redis_url": f"redis://127.0.0.1:{redis_port}/0",
            "database_url": database_url,
            **overrides,
        }
        server = self._stack.enter_context(run_server(self.root / name, env_extra=env, **settings))
        self._stack.callback(_kill_workers, server)  # runs first: no worker outlives the test
        self.hosts.append(server)
        return server

    def worker(self, server: Server) -> int:
        (pid,) = server.worker_pids()
        return pid


def _kill_workers(server: Server) -> None:
    """Whatever a test left paused or orphaned: SIGCONT then SIGKILL its workers if the master is gone."""
    for pid in server.worker_pids():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    if server.process.poll() is not None:
        for pid in server.worker_pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
