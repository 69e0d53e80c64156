"""STAGECAST_RATE_LIMIT over real HTTP: per address, per user across two servers sharing Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.server import Server, run_server

REDIS_DB = 10  # this test's own database; flushed before and after
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
KEYS = "alice=alice-key-0123456789,bob=bob-key-0123456789abc,root=root-key-0123456789ab"


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dict(p.split('=') for p in KEYS.split(','))[user]}"}


def start(client: httpx.Client, server: Server, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(
        server.url + "/api/runs", json={"message": "0", "agent": "slow"}, headers=headers or {}
    )


def test_limit_per_address_when_auth_is_off(data_dir: Path, client: httpx.Client) -> None:
    with run_server(data_dir, rate_limit="2/minute") as server:
        assert [start(client, server).status_code for _ in range(2)] == [202, 202]
        # Reading runs is not limited.
        assert all(client.get(server.url + "/api/runs").status_code == 200 for _ in range(5))
        refused = client.get(server.url + "/api/chat/stream", params={"message": "hi"})
        assert refused.status_code == 429
        assert refused.json() == {
            "success": False,
            "error": "RateLimited",
            "message": "Too many runs started: the limit is 2 per 1 minute.",
        }
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


@pytest.fixture
def shared_redis() -> Iterator[None]:
    db = redis.Redis.from_url(REDIS_URL)
    db.flushdb()
    yield
    db.flushdb()
    db.close()


def test_limit_per_user_is_shared_by_two_servers(
    tmp_path: Path, client: httpx.Client, shared_redis: None
) -> None:
    settings = {
        "rate_limit": "3/minute",
        "api_keys": KEYS,
        "admins": "root",
        "redis_url": REDIS_URL,
        # Set with the Redis URL (the distributed mode takes both).
        "database_url": "postgresql://postgres@127.0.0.1:5432/test",
    }
    with ExitStack() as stack:
        one = stack.enter_context(run_server(tmp_path / "one", **settings))
        two = stack.enter_context(run_server(tmp_path / "two", **settings))
        statuses = [start(client, host, auth("alice")).status_code for host in (one, two, one)]
        assert statuses == [202, 202, 202]
        # The fourth, on either host, is over alice's limit; bob has his own count.
        over = start(client, two, auth("alice"))
        assert over.status_code == 429 and over.json()["error"] == "RateLimited"
        assert int(over.headers["Retry-After"]) >= 1
        assert start(client, one, auth("alice")).status_code == 429
        assert start(client, one, auth("bob")).status_code == 202
        # Admins are exempt.
        assert all(start(client, host, auth("root")).status_code == 202 for host in (one, two) * 3)
        assert redis.Redis.from_url(REDIS_URL).keys("*stagecast*")
