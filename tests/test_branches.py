"""Branches of a conversation on the native API (docs/branches.md): a thread's checkpoint
history, a run that forks from a checkpoint (edit, regenerate), and reading a branch.

Over gunicorn, on both backends: the embedded default and the distributed mode (Redis +
PostgreSQL with a key prefix and database of their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.server import Server, run_server
from tests.support.services import backend_settings

FIRST = "How many ABC-12345 are in stock?"
SECOND = "And its usage?"
EDITED = "How many XYZ-99999 are in stock?"


@pytest.fixture(scope="module", params=["memory", "distributed"])
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    with (
        backend_settings(request.param) as settings,
        run_server(tmp_path_factory.mktemp(request.param), **settings) as running,
    ):
        yield running


def chat(server: Server, client: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = client.post(server.url + "/api/chat", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def messages(server: Server, client: httpx.Client, thread: str, **query: str) -> list[dict[str, Any]]:
    answer = client.get(f"{server.url}/api/threads/{thread}/messages", params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


def history(server: Server, client: httpx.Client, thread: str, **query: Any) -> list[dict[str, Any]]:
    answer = client.get(f"{server.url}/api/threads/{thread}/history", params=query)
    assert answer.status_code == 200, answer.text
    assert answer.json()["thread_id"] == thread
    return answer.json()["checkpoints"]


def intake(checkpoints: list[dict[str, Any]], message_count: int) -> dict[str, Any]:
    """The newest checkpoint where a message was taken in after ``message_count`` messages."""
    return next(c for c in checkpoints if c["next"] == ["__start__"] and c["message_count"] == message_count)


def two_turns(server: Server, client: httpx.Client, thread: str) -> list[dict[str, Any]]:
    chat(server, client, message=FIRST, conversation_id=thread)
    chat(server, client, message=SECOND, conversation_id=thread)
    before = messages(server, client, thread)
    assert [m["role"] for m in before] == ["user", "assistant", "user", "assistant"]
    return before


def test_history_is_newest_first_and_pages(server: Server, client: httpx.Client) -> None:
    thread = "branches-history"
    first = chat(server, client, message=FIRST, conversation_id=thread)
    chat(server, client, message=SECOND, conversation_id=thread)
    everything = history(server, client, thread, limit=100)
    assert set(everything[0]) == {
        "checkpoint_id",
        "parent_checkpoint_id",
        "created_at",
        "run_id",
        "message_count",
        "next",
        "interrupts",
    }
    # Newest first, each the child of the next one; the oldest has no parent.
    for newer, older in pairwise(everything):
        assert newer["parent_checkpoint_id"] == older["checkpoint_id"]
        assert newer["created_at"] >= older["created_at"]
    assert everything[-1]["parent_checkpoint_id"] is None
    assert everything[0]["message_count"] == 4 and everything[0]["next"] == []
    assert [c["message_count"] for c in everything if c["next"] == ["__start__"]] == [2, 0]
    assert first["run_id"] in {c["run_id"] for c in everything}
    assert all(c["interrupts"] == [] for c in everything)
    # Pages: limit, then before the last one seen.
    page = history(server, client, thread, limit=3)
    assert page == everything[:3]
    rest = history(server, client, thread, limit=100, before=page[-1]["checkpoint_id"])
    assert page + rest == everything


def test_edit_forks_and_the_old_branch_stays(server: Server, client: httpx.Client) -> None:
    thread = "branches-edit"
    old = two_turns(server, client, thread)
    old_tip = history(server, client, thread, limit=1)[0]
    # Edit the first question: fork from where it was taken in, with the new text.
    fork = intake(history(server, client, thread, limit=100), 0)
    edited = chat(server, client, message=EDITED, conversation_id=thread, checkpoint_id=fork["checkpoint_id"])
    now = messages(server, client, thread)
    assert [(m["role"], m["content"]) for m in now] == [("user", EDITED), ("assistant", edited["content"])]
    assert "XYZ-99999" in edited["content"]
    # The old branch is still there, by its checkpoint; the new one descends from the fork point.
    assert messages(server, client, thread, checkpoint_id=old_tip["checkpoint_id"]) == old
    checkpoints = history(server, client, thread, limit=100)
    assert old_tip["checkpoint_id"] in {c["checkpoint_id"] for c in checkpoints}
    ancestors = {checkpoints[0]["checkpoint_id"]}
    by_id = {c["checkpoint_id"]: c for c in checkpoints}
    node = checkpoints[0]
    while node["parent_checkpoint_id"] is not None:
        node = by_id[node["parent_checkpoint_id"]]
        ancestors.add(node["checkpoint_id"])
    assert fork["checkpoint_id"] in ancestors and old_tip["checkpoint_id"] not in ancestors
    # The thread continues on the new branch.
    chat(server, client, message=SECOND, conversation_id=thread)
    assert [m["content"] for m in messages(server, client, thread)][:2] == [EDITED, edited["content"]]
    assert len(messages(server, client, thread)) == 4


@pytest.mark.parametrize("endpoint", ["chat", "stream-post", "stream-get", "runs"])
def test_regenerate_from_every_run_endpoint(server: Server, client: httpx.Client, endpoint: str) -> None:
    thread = f"branches-regenerate-{endpoint}"
    old = two_turns(server, client, thread)
    # Regenerate: fork from the checkpoint before the last answer, with the same message.
    fork = intake(history(server, client, thread, limit=100), 2)
    body = {"message": SECOND, "conversation_id": thread, "checkpoint_id": fork["checkpoint_id"]}
    if endpoint == "chat":
        chat(server, client, **body)
    elif endpoint == "stream-post":
        result = read_stream(client, "POST", server.url + "/api/chat/stream", json=body)
        assert result.types[-2:] == ["final", "done"], result.types
    elif endpoint == "stream-get":
        result = read_stream(client, "GET", server.url + "/api/chat/stream", params=body)
        assert result.types[-2:] == ["final", "done"], result.types
    else:
        created = client.post(server.url + "/api/runs", json=body)
        assert created.status_code == 202, created.text
        result = read_stream(client, "GET", server.url + created.json()["stream_url"])
        assert result.types[-2:] == ["final", "done"], result.types
    now = messages(server, client, thread)
    assert [m["content"] for m in now][:3] == [m["content"] for m in old][:3]
    assert [m["id"] for m in now][:2] == [m["id"] for m in old][:2]
    assert len(now) == 4 and now[3]["role"] == "assistant" and now[3]["id"] != old[3]["id"]


def test_unknown_checkpoint_is_404(server: Server, client: httpx.Client) -> None:
    thread = "branches-unknown"
    chat(server, client, message=FIRST, conversation_id=thread)
    for method, path, kwargs in [
        (
            "POST",
            "/api/chat",
            {"json": {"message": FIRST, "conversation_id": thread, "checkpoint_id": "nope"}},
        ),
        (
            "POST",
            "/api/runs",
            {"json": {"message": FIRST, "conversation_id": thread, "checkpoint_id": "nope"}},
        ),
        ("GET", f"/api/threads/{thread}/messages", {"params": {"checkpoint_id": "nope"}}),
        ("GET", f"/api/threads/{thread}/history", {"params": {"before": "nope"}}),
    ]:
        answer = client.request(method, server.url + path, **kwargs)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json() == {**answer.json(), "success": False, "error": "CheckpointNotFound"}
    missing = client.get(f"{server.url}/api/threads/never-seen/history")
    assert missing.status_code == 404 and missing.json()["error"] == "ThreadNotFound"
    bad = client.get(f"{server.url}/api/threads/{thread}/history", params={"limit": 0})
    assert bad.status_code == 400
    # A fork needs its thread.
    lone = client.post(server.url + "/api/chat", json={"message": FIRST, "checkpoint_id": "x"})
    assert lone.status_code == 400 and lone.json()["error"] == "ValidationError"


KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc"}


def test_another_users_thread_has_no_history_nor_branches(tmp_path: Path, client: httpx.Client) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"{user}={key}\n" for user, key in KEYS.items()))
    alice = {"Authorization": f"Bearer {KEYS['alice']}"}
    bob = {"Authorization": f"Bearer {KEYS['bob']}"}
    with run_server(tmp_path / "data", api_keys=f"@{keys}") as secured:
        thread = "alices-thread"
        answer = client.post(
            secured.url + "/api/chat", json={"message": FIRST, "conversation_id": thread}, headers=alice
        )
        assert answer.status_code == 200, answer.text
        tip = client.get(f"{secured.url}/api/threads/{thread}/history", headers=alice).json()["checkpoints"][
            0
        ]
        # Bob's "alices-thread" is a thread of his own (ids are per owner, docs/security.md):
        # it has no history, and none of Alice's checkpoints.
        for method, path, kwargs, code in [
            ("GET", f"/api/threads/{thread}/history", {}, "ThreadNotFound"),
            (
                "GET",
                f"/api/threads/{thread}/messages",
                {"params": {"checkpoint_id": tip["checkpoint_id"]}},
                "ThreadNotFound",
            ),
            (
                "POST",
                "/api/chat",
                {
                    "json": {
                        "message": FIRST,
                        "conversation_id": thread,
                        "checkpoint_id": tip["checkpoint_id"],
                    }
                },
                "CheckpointNotFound",
            ),
        ]:
            refused = client.request(method, secured.url + path, headers=bob, **kwargs)
            assert refused.status_code == 404, (path, refused.text)
            assert refused.json()["error"] == code
