"""The distributed mode's services for the benchmark: the machine's Redis and PostgreSQL.

Each launch of a distributed contender gets an empty PostgreSQL database (the memory
contender gets an empty SQLite file in the same way) and a Redis key prefix of its own, in a
Redis db the benchmark keeps to itself. While the load runs, ``StoreSampler`` measures the
CPU of the Redis and PostgreSQL server processes and the Redis connections the contender's
workers hold (their client name is ``stagecast:<hostname>:<pid>``, see
``app/runs/backends/redis/``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil
import psycopg
import redis

from bench import procs

log = logging.getLogger("bench.stores")

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Per bench process, so two benchmarks on one machine do not drop each other's stores.
DATABASE = f"stagecast_bench_{os.getpid()}"
PREFIX_ROOT = f"stagecast-bench:{os.getpid()}:"
CLIENT_NAME = "stagecast:"  # what the app names its Redis connections, before "<hostname>:<pid>"

# A PostgreSQL client backend's process title: "postgres: [cluster: ]<user> <db> <host>(<port>) <state>".
_BACKEND_TITLE = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def fresh_stores() -> tuple[str, str]:
    """An empty database and a new Redis key prefix of this bench process: (database URL, prefix).

    What its earlier launches left (the database, keys under ``PREFIX_ROOT``) is dropped
    first, their servers being stopped by then; and again when the bench process exits.
    """
    _drop_stores(create=True)
    _drop_at_exit()
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{DATABASE}", f"{PREFIX_ROOT}{uuid.uuid4().hex[:10]}:"


@functools.cache
def _drop_at_exit() -> None:
    atexit.register(_drop_stores)


def _drop_stores(create: bool = False) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if create:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=PREFIX_ROOT + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.unlink(*keys[start : start + 500])
    finally:
        client.close()


def _store_process(process: psutil.Process, redis_port: str) -> str | None:
    """``"redis"`` or ``"postgres"`` for a server process of the stores the contender uses.

    Redis: the redis-server on the benchmark's port (tests start others on theirs).
    PostgreSQL: the postmaster, its background processes, and the client backends of the
    benchmark's database; backends of other databases serve someone else.
    """
    name = process.info["name"]
    # A retitled process keeps its old argv slots, as empty strings.
    title = " ".join(part for part in process.info["cmdline"] or () if part).strip()
    if name == "redis-server":
        return "redis" if title.endswith(f":{redis_port}") else None
    if name == "postgres":
        backend = _BACKEND_TITLE.match(title)
        return "postgres" if backend is None or backend.group(1) == DATABASE else None
    return None


@dataclass
class StoreSampler:
    """Samples, every ``interval`` s in a thread: the CPU of the store processes (each
    process's CPU since it was first seen, or since the start for those already running, so
    backends that come and go count too) and the Redis connections named after one of
    ``server_pid``'s processes, keeping the peak."""

    server_pid: int
    interval: float = 0.25
    redis_cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    connections_peak: int = 0
    _baseline: dict[int, float] = field(default_factory=dict)
    _last: dict[int, tuple[str, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _redis: redis.Redis | None = None

    def __enter__(self) -> StoreSampler:
        self._redis = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        self._port = str(urlsplit(REDIS_URL).port or 6379)
        self._sample_cpu()
        self._baseline = {pid: cpu for pid, (_, cpu) in self._last.items()}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_cpu()
            self._sample_connections()

    def _sample_cpu(self) -> None:
        for process in psutil.process_iter(["name", "cmdline"]):
            kind = _store_process(process, self._port)
            if kind is None:
                continue
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = process.cpu_times()
                self._last[process.pid] = (kind, times.user + times.system)

    def _sample_connections(self) -> None:
        assert self._redis is not None
        ours = {f"{CLIENT_NAME}{name}" for name in _worker_names(self.server_pid)}
        try:
            clients = self._redis.client_list()
        except redis.RedisError as exc:
            log.warning("CLIENT LIST failed: %s", exc)
            return
        held = sum(1 for client in clients if client.get("name") in ours)
        self.connections_peak = max(self.connections_peak, held)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._sample_cpu()
        for pid, (kind, cpu) in self._last.items():
            used = cpu - self._baseline.get(pid, 0.0)
            if kind == "redis":
                self.redis_cpu_s += used
            else:
                self.postgres_cpu_s += used
        if self._redis is not None:
            self._redis.close()


def _worker_names(server_pid: int) -> set[str]:
    """``<hostname>:<pid>`` of every process of the server (its workers name their connections)."""
    hostname = socket.gethostname()
    return {f"{hostname}:{process.pid}" for process in procs.tree(server_pid)}
