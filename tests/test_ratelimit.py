"""STAGECAST_RATE_LIMIT over real HTTP: per address, and per user across two hosts in the
distributed mode (Redis + PostgreSQL), where ownership must hold as well."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

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


# --- every route that starts a run (or makes a thread) is inside the one limit ---

WALK_KEYS = {
    "alice": "alice-key-0123456789",
    "spent": "spent-key-0123456789",
    "root": "root-key-0123456789ab",
}
# Open by design (docs/security.md); everything else needs credentials when auth is on.
PUBLIC = {"/", "/runs", "/docs", "/openapi.json", "/healthz"}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {WALK_KEYS[user]}"}


def run_bodies(thread: str) -> list[dict[str, Any]]:
    """A request that starts a run in each surface's own shape."""
    text = {"role": "user", "content": "0"}
    return [
        {"message": "0", "agent": "slow", "conversation_id": thread},
        {"model": "slow", "messages": [text]},
        {"id": thread, "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "0"}]}]},
        {"threadId": thread, "runId": "r1", "messages": [{**text, "id": "u1"}]},
        {"assistant_id": "slow", "input": {"messages": [text]}, "if_not_exists": "create"},
        {"thread_id": thread},
    ]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("walk"),
        rate_limit="6/hour",
        api_keys=",".join(f"{user}={key}" for user, key in WALK_KEYS.items()),
        admins="root",
    ) as running:
        yield running


def operations(client: httpx.Client, server: Server) -> list[tuple[str, str]]:
    """(method, path template) of every route, from the URL map as /openapi.json lists it."""
    paths = client.get(server.url + "/openapi.json").json()["paths"]
    found = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    found += [("HEAD", path) for method, path in list(found) if method == "GET"]
    return sorted(found, key=lambda op: (op[0] == "DELETE", op[1], op[0]))  # deletes last


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x"), path)


def started_runs(client: httpx.Client, server: Server) -> set[str]:
    runs = client.get(server.url + "/api/runs", params={"limit": 500}, headers=bearer("root")).json()
    return {run["run_id"] for run in runs["runs"]}


def threads_of(client: httpx.Client, server: Server, user: str) -> set[str]:
    found = client.post(server.url + "/langgraph/threads/search", json={"limit": 1000}, headers=bearer(user))
    return {thread["thread_id"] for thread in found.json()}


def test_every_run_starting_route_is_inside_the_limit(limited: Server, client: httpx.Client) -> None:
    """A user who has used up the limit starts nothing anywhere: each route either answers
    429 or is shown, by calling it with every surface's run request, to start no run and make
    no thread. Routes come from the URL map, so a route added later is walked too."""
    first = [start(client, limited, bearer("spent"), conversation_id=f"spent-{n}") for n in range(6)]
    assert [answer.status_code for answer in first] == [202] * 6
    run = first[0].json()
    values = {
        "run_id": run["run_id"],
        "thread_id": run["thread_id"],
        "chat_id": run["thread_id"],
        "agent": "slow",
        "assistant_id": "slow",
        "name": "slow",
    }
    limited_routes, outside = [], []
    for method, template in operations(client, limited):
        if template in PUBLIC or not template.startswith(("/api", "/v1", "/langgraph")):
            continue
        path = fill(template, values)
        before, threads = started_runs(client, limited), threads_of(client, limited, "spent")
        answers = []
        for body in run_bodies(f"walk-{uuid.uuid4().hex[:8]}"):
            kwargs: dict[str, Any] = (
                {"params": {"message": "0", "agent": "slow"}}
                if method in ("GET", "HEAD", "DELETE")
                else {"json": body}
            )
            answers.append(client.request(method, limited.url + path, headers=bearer("spent"), **kwargs))
        if all(answer.status_code == 429 for answer in answers):
            limited_routes.append((method, template))
            continue
        outside.append((method, template))
        assert started_runs(client, limited) == before, f"{method} {template} started a run over the limit"
        # (The thread in the path may get a Platform API record: it existed already.)
        made = threads_of(client, limited, "spent") - threads - {run["thread_id"]}
        assert not made, f"{method} {template} made a thread"
    # The run starters of every surface are among the limited routes.
    assert {
        ("POST", "/api/runs"),
        ("POST", "/api/chat"),
        ("POST", "/api/chat/stream"),
        ("GET", "/api/chat/stream"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/api/ai-sdk/chat"),
        ("POST", "/api/ag-ui"),
        ("POST", "/api/ag-ui/{agent}"),
        ("POST", "/langgraph/threads"),
        ("POST", "/langgraph/runs/wait"),
        ("POST", "/langgraph/threads/{thread_id}/runs/stream"),
    } <= set(limited_routes)
    assert ("GET", "/api/runs") in outside and ("POST", "/api/runs/{run_id}/cancel") in outside


def test_the_limit_is_shared_across_surfaces(limited: Server, client: httpx.Client) -> None:
    url, headers = limited.url, bearer("alice")
    thread = f"t-{uuid.uuid4().hex[:8]}"
    native, openai, ai_sdk, ag_ui, langgraph, _ = run_bodies(thread)
    for path, body in [
        ("/api/runs", native),
        ("/v1/chat/completions", openai),
        ("/api/ai-sdk/chat", {**ai_sdk, "id": f"{thread}-sdk"}),
        ("/api/ag-ui", {**ag_ui, "threadId": f"{thread}-agui"}),
        ("/api/ag-ui/slow", {**ag_ui, "threadId": f"{thread}-agui-slow"}),
        ("/langgraph/runs/wait", langgraph),
    ]:
        answer = client.post(url + path, json=body, headers=headers)
        assert answer.status_code in (200, 202), (path, answer.text)
    for path, body in [
        ("/api/ag-ui/chat", {**ag_ui, "threadId": f"{thread}-late"}),
        ("/api/ag-ui", {**ag_ui, "threadId": f"{thread}-late"}),
        ("/langgraph/threads", {"thread_id": f"{thread}-squat"}),
        ("/api/chat", native),
        ("/v1/chat/completions", openai),
    ]:
        assert client.post(url + path, json=body, headers=headers).status_code == 429, path


def test_non_public_routes_need_credentials(limited: Server, client: httpx.Client) -> None:
    values = {"agent": "slow", "assistant_id": "slow", "name": "slow"}
    for method, template in operations(client, limited):
        if template in PUBLIC:
            continue
        answer = client.request(method, limited.url + fill(template, values), json={"message": "0"})
        assert answer.status_code == 401, (method, template, answer.status_code)
