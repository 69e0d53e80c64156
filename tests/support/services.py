"""The machine's Redis and PostgreSQL, for the distributed mode's tests.

Each test session gets its own PostgreSQL database and its own Redis key prefix, so runs of
the suite never see each other's data. They are required, not optional: a test that needs
them fails when they are down (``scripts/test.sh`` starts them first).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import psycopg
import redis

PG_ADMIN_URL = os.environ.get("STAGECAST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("STAGECAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database; its URL. Dropped afterwards."""
    name = f"stagecast_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_prefix(url: str = REDIS_URL) -> Iterator[str]:
    """A key prefix nobody else uses; its keys are deleted afterwards."""
    prefix = f"sctest-{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


class RedisServer:
    """A redis-server of the test's own, on its own port, persisting to its own directory
    (append-only file), so a test can stop and restart it like an outage. With
    ``appendonly=False`` it keeps nothing: a restart comes back empty, like a failover to an
    empty replica."""

    def __init__(self, directory: Path, port: int, *, appendonly: bool = True) -> None:
        self.directory = directory
        self.port = port
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """``kill -9``: whatever was not yet persisted is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart_empty(self) -> None:
        """Lose every key: kill the server, delete its files, start it again."""
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.start()


def backend_settings(name: str) -> AbstractContextManager[dict[str, Any]]:
    """The settings of a backend: ``{}`` for the embedded one ("memory" or "embedded");
    for "distributed", its own fresh database and Redis key prefix, dropped afterwards."""
    return nullcontext({}) if name in ("memory", "embedded") else _distributed_settings()


@contextmanager
def _distributed_settings() -> Iterator[dict[str, Any]]:
    with postgres_database() as database_url, redis_prefix() as prefix:
        yield {"redis_url": REDIS_URL, "database_url": database_url, "redis_prefix": prefix}
