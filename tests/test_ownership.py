"""Thread ownership over real HTTP, on both backends: ids per owner (no squatting, no
existence oracle), and threads made while authentication was off belong to admins until an
admin hands one to a user."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.server import run_server
from tests.support.services import REDIS_URL, postgres_database, redis_prefix

KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc", "root": "root-key-0123456789ab"}
AUTH = {"api_keys": ",".join(f"{user}={key}" for user, key in KEYS.items()), "admins": "root"}
SECRET = "confidential: the merger closes on Friday"


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[user]}"}


@pytest.fixture(params=["embedded", "distributed"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings that put runs and threads on one backend; the data outlives a server."""
    settings: dict[str, Any] = {"data_dir": tmp_path / "data"}
    with ExitStack() as stack:
        if request.param == "distributed":
            settings["database_url"] = stack.enter_context(postgres_database())
            settings["redis_url"] = REDIS_URL
            settings["redis_prefix"] = stack.enter_context(redis_prefix())
        yield settings


def serve(settings: dict[str, Any], **more: Any) -> Any:
    data_dir = settings["data_dir"]
    return run_server(data_dir, **{k: v for k, v in settings.items() if k != "data_dir"}, **more)


def messages(client: httpx.Client, url: str, thread: str, user: str, **params: str) -> httpx.Response:
    return client.get(f"{url}/api/threads/{thread}/messages", headers=bearer(user), params=params)


def texts(answer: httpx.Response) -> str:
    return " ".join(m["content"] for m in answer.json()["messages"])


def test_threads_made_without_auth_belong_to_admins(backend: dict[str, Any], client: httpx.Client) -> None:
    with serve(backend) as open_server:
        made = client.post(
            open_server.url + "/api/chat", json={"message": SECRET, "conversation_id": "legacy-1"}
        )
        assert made.status_code == 200, made.text
        legacy_run = made.json()["run_id"]
    with serve(backend, **AUTH) as server:
        url = server.url
        # Bob's run on the same id is a run on a thread of his own, as if the id were free.
        bobs = client.post(
            url + "/api/chat", json={"message": "hello", "conversation_id": "legacy-1"}, headers=bearer("bob")
        )
        assert bobs.status_code == 200 and bobs.json()["thread_id"] == "legacy-1"
        mine = messages(client, url, "legacy-1", "bob")
        assert mine.status_code == 200 and "hello" in texts(mine) and SECRET not in texts(mine)
        assert messages(client, url, "legacy-1", "alice").status_code == 404
        for user in ("alice", "bob"):
            listed = client.get(url + "/api/runs", headers=bearer(user)).json()["runs"]
            assert legacy_run not in {run["run_id"] for run in listed}
            assert client.get(f"{url}/api/runs/{legacy_run}", headers=bearer(user)).status_code == 404
        # Admins read it (and its run), and hand it to a user.
        assert SECRET in texts(messages(client, url, "legacy-1", "root"))
        assert client.get(f"{url}/api/runs/{legacy_run}", headers=bearer("root")).status_code == 200
        hand_over = f"{url}/api/threads/legacy-1/owner"
        assert client.post(hand_over, json={"owner": "bob"}, headers=bearer("bob")).status_code == 403
        # Bob already has a legacy-1 of his own: handing him the other would hide it.
        assert client.post(hand_over, json={"owner": "bob"}, headers=bearer("root")).status_code == 409
        given = client.post(hand_over, json={"owner": "alice"}, headers=bearer("root"))
        assert given.status_code == 200 and given.json() == {"thread_id": "legacy-1", "owner": "alice"}
        assert SECRET in texts(messages(client, url, "legacy-1", "alice"))
        assert SECRET not in texts(messages(client, url, "legacy-1", "bob"))
        follow_up = client.post(
            url + "/api/chat",
            json={"message": "and then?", "conversation_id": "legacy-1"},
            headers=bearer("alice"),
        )
        assert follow_up.status_code == 200
        assert "and then?" in texts(messages(client, url, "legacy-1", "alice"))
        # Once someone's, it is no longer an admin's to give.
        assert client.post(hand_over, json={"owner": "bob"}, headers=bearer("root")).status_code == 404
        # The admin reads a user's thread by naming its owner.
        assert "and then?" in texts(messages(client, url, "legacy-1", "root", owner="alice"))
        assert "hello" in texts(messages(client, url, "legacy-1", "root", owner="bob"))


def ai_sdk_chat(chat_id: str, text: str) -> dict[str, Any]:
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": chat_id, "messages": [message]}


def test_thread_ids_are_per_owner(backend: dict[str, Any], client: httpx.Client) -> None:
    with serve(backend, **AUTH) as server:
        url = server.url
        # Bob squats a name Alice will use.
        squat = client.post(
            url + "/langgraph/threads", json={"thread_id": "alice-future"}, headers=bearer("bob")
        )
        assert squat.status_code == 200 and squat.json()["thread_id"] == "alice-future"
        # Bob's resume on a fresh id fails, and claims nothing either.
        resumed = client.post(
            url + "/api/runs", json={"conversation_id": "alice-2", "resume": "yes"}, headers=bearer("bob")
        )
        assert resumed.status_code == 409
        # Alice uses both names as if they were free.
        streamed = read_stream(
            client,
            "POST",
            url + "/api/ai-sdk/chat",
            json=ai_sdk_chat("alice-future", SECRET),
            headers=bearer("alice"),
        )
        assert streamed.status == 200
        started = client.post(
            url + "/api/runs",
            json={"message": "0", "agent": "slow", "conversation_id": "alice-2"},
            headers=bearer("alice"),
        )
        assert started.status_code == 202 and started.json()["thread_id"] == "alice-2"
        assert SECRET in texts(messages(client, url, "alice-future", "alice"))
        # Bob's alice-future is his own empty thread: nothing of Alice's reaches him.
        assert messages(client, url, "alice-future", "bob").status_code == 404
        bobs = client.get(url + "/langgraph/threads/alice-future", headers=bearer("bob"))
        assert bobs.status_code == 200 and bobs.json()["values"] is None
        alices = client.get(url + "/langgraph/threads/alice-future", headers=bearer("alice"))
        assert alices.status_code == 200 and alices.json()["thread_id"] == "alice-future"
        assert SECRET in str(alices.json()["values"])
        # No existence oracle: creating Alice's id answers what a never-used id answers.
        fresh = f"never-{uuid.uuid4().hex[:8]}"
        for thread in ("alice-2", fresh):
            made = client.post(
                url + "/langgraph/threads",
                json={"thread_id": thread, "if_exists": "raise"},
                headers=bearer("bob"),
            )
            assert made.status_code == 200 and made.json()["thread_id"] == thread, made.text
        # Each lists only their own threads, under the ids they chose.
        search = client.post(url + "/langgraph/threads/search", json={}, headers=bearer("bob")).json()
        assert sorted(t["thread_id"] for t in search) == sorted(["alice-future", "alice-2", fresh])
        assert all(t["values"] is None for t in search)
        # Bob's PATCH and DELETE reach only his own thread of that name.
        assert (
            client.delete(url + "/langgraph/threads/alice-future", headers=bearer("bob")).status_code == 204
        )
        assert SECRET in texts(messages(client, url, "alice-future", "alice"))
