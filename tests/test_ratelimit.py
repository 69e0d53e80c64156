"""STAGECAST_RATE_LIMIT over real HTTP: per address, and per user across two hosts in the
distributed mode (Redis + PostgreSQL), where ownership must hold as well."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.server import Server, run_server
from tests.support.services import postgres_database

REDIS_DB = 10  # this test's own database; flushed before and after
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
KEYS = "alice=alice-key-0123456789,bob=bob-key-0123456789abc,root=root-key-0123456789ab"


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dict(p.split('=') for p in KEYS.split(','))[user]}"}


def start(
    client: httpx.Client, server: Server, headers: dict[str, str] | None = None, **body: str
) -> httpx.Response:
    return client.post(
        server.url + "/api/runs", json={"message": "0", "agent": "slow", **body}, headers=headers or {}
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


def test_limit_per_user_and_ownership_hold_across_two_hosts(
    tmp_path: Path, client: httpx.Client, shared_redis: None
) -> None:
    with ExitStack() as stack:
        settings = {
            "rate_limit": "3/minute",
            "api_keys": KEYS,
            "admins": "root",
            "redis_url": REDIS_URL,
            "database_url": stack.enter_context(postgres_database()),
        }
        one = stack.enter_context(run_server(tmp_path / "one", **settings))
        two = stack.enter_context(run_server(tmp_path / "two", **settings))
        first = start(client, one, auth("alice"), conversation_id="alice-thread")
        statuses = [first.status_code] + [
            start(client, host, auth("alice")).status_code for host in (two, one)
        ]
        assert statuses == [202, 202, 202]
        # Ownership holds across hosts: the run and thread are alice's on the other host too.
        run_id = first.json()["run_id"]
        assert client.get(f"{two.url}/api/runs/{run_id}", headers=auth("alice")).json()["owner"] == "alice"
        assert client.get(f"{two.url}/api/runs/{run_id}", headers=auth("bob")).status_code == 404
        assert client.get(f"{two.url}/api/runs/{run_id}/stream", headers=auth("bob")).status_code == 404
        assert client.post(f"{two.url}/api/runs/{run_id}/cancel", headers=auth("bob")).status_code == 404
        assert client.get(f"{two.url}/api/runs/{run_id}", headers=auth("root")).status_code == 200
        thread = f"{two.url}/api/threads/alice-thread/messages"
        assert client.get(thread, headers=auth("bob")).json()["error"] == "ThreadNotFound"
        listed = client.get(f"{two.url}/api/runs", headers=auth("bob")).json()["runs"]
        assert run_id not in {r["run_id"] for r in listed}
        # The fourth, on either host, is over alice's limit; bob has his own count.
        over = start(client, two, auth("alice"))
        assert over.status_code == 429 and over.json()["error"] == "RateLimited"
        assert int(over.headers["Retry-After"]) >= 1
        assert start(client, one, auth("alice")).status_code == 429
        assert start(client, one, auth("bob")).status_code == 202
        # Admins are exempt.
        assert all(start(client, host, auth("root")).status_code == 202 for host in (one, two) * 3)
        assert redis.Redis.from_url(REDIS_URL).keys("*stagecast:ratelimit*")
