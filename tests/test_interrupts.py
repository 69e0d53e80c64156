"""Human approval: a graph that calls interrupt() pauses its run; a resume request continues it.

Every test runs on both backends: the embedded default (memory + SQLite) and the distributed
mode (Redis + PostgreSQL, each with its own key prefix and database).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.client import StreamResult, read_stream
from tests.support.server import Server, run_server
from tests.support.services import backend_settings

STREAM = "/api/chat/stream"


@pytest.fixture(scope="module", params=["memory", "distributed"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, backend_name: str) -> Iterator[Server]:
    with (
        backend_settings(backend_name) as settings,
        run_server(tmp_path_factory.mktemp(backend_name), **settings) as running,
    ):
        yield running


def stream(server: Server, client: httpx.Client, **body: object) -> StreamResult:
    # No wait between runs on one thread: a resume right after `done` must be accepted, also
    # in the distributed mode, where the thread is freed when the end reaches Redis.
    return read_stream(client, "POST", server.url + STREAM, json=body)


def nodes_started(result: StreamResult) -> list[str]:
    return [
        e["data"]["node"]
        for e in result.events
        if e["type"] == "progress" and e["data"]["status"] == "in_progress" and len(e["data"]["path"]) == 1
    ]


def assert_paused(result: StreamResult) -> list[dict[str, object]]:
    assert result.types[-2:] == ["interrupt", "done"]
    assert "final" not in result.types and "error" not in result.types
    assert result.last("done")["data"]["status"] == "paused"
    return result.last("interrupt")["data"]["interrupts"]


def test_interrupt_pauses_the_run_and_resume_continues_it(server: Server, client: httpx.Client) -> None:
    thread = "approval-1"
    paused = stream(server, client, message="the report", agent="approval", conversation_id=thread)
    interrupts = assert_paused(paused)
    assert len(interrupts) == 1 and interrupts[0]["id"]
    assert interrupts[0]["value"] == {"question": "Ship the draft?", "options": ["yes", "no"]}
    # The interrupted node did not complete: no "completed" progress for it.
    completed = [
        e["data"]["node"]
        for e in paused.events
        if e["type"] == "progress" and e["data"]["status"] == "completed"
    ]
    assert completed == ["draft"]
    run_id = paused.headers["x-run-id"]
    summary = client.get(f"{server.url}/api/runs/{run_id}").json()
    assert summary["status"] == "paused" and summary["interrupts"] == interrupts

    status = client.get(f"{server.url}/api/threads/{thread}").json()
    assert status["status"] == "paused" and status["interrupts"] == interrupts
    assert status["agent"] == "approval" and status["message_count"] == 2

    # No agent named: the resume goes back to the agent that paused the thread.
    resumed = stream(server, client, resume="yes", conversation_id=thread)
    assert resumed.last("start")["data"]["agent"] == "approval"
    assert resumed.types[-2:] == ["final", "done"] and resumed.last("done")["data"]["status"] == "success"
    assert nodes_started(resumed) == ["approve"]  # draft, which ran before the pause, does not run again
    assert resumed.last("final")["data"]["content"] == "Answer was 'yes'."
    after = client.get(f"{server.url}/api/threads/{thread}").json()
    assert after == {**after, "status": "idle", "interrupts": [], "message_count": 3}


def test_resume_on_a_thread_with_nothing_pending_is_409(server: Server, client: httpx.Client) -> None:
    done = stream(server, client, message="0", agent="slow", conversation_id="nothing-pending")
    assert done.last("done")["data"]["status"] == "success"
    for thread in ("nothing-pending", "never-seen"):
        response = client.post(server.url + STREAM, json={"resume": "yes", "conversation_id": thread})
        assert response.status_code == 409
        assert response.json() == {**response.json(), "success": False, "error": "NothingToResume"}


@pytest.mark.parametrize(
    "body",
    [
        {"resume": "yes"},  # no thread to resume
        {"message": "hi", "resume": "yes", "conversation_id": "t"},  # both
        {"conversation_id": "t"},  # neither
        {"resume": None, "conversation_id": "t"},  # LangGraph reads a null resume as no answer
    ],
)
def test_resume_request_validation(server: Server, client: httpx.Client, body: dict[str, object]) -> None:
    response = client.post(server.url + STREAM, json=body)
    assert response.status_code == 400 and response.json()["error"] == "ValidationError"


@pytest.mark.parametrize("endpoint", ["stream-get", "runs", "chat"])
def test_every_run_endpoint_resumes(server: Server, client: httpx.Client, endpoint: str) -> None:
    thread = f"endpoints-{endpoint}"
    assert_paused(stream(server, client, message="x", agent="approval", conversation_id=thread))
    if endpoint == "stream-get":
        # A query string has no types: JSON when it parses, else the text as it is.
        result = read_stream(
            client, "GET", server.url + STREAM, params={"resume": '{"ok": true}', "conversation_id": thread}
        )
        assert result.last("final")["data"]["content"] == "Answer was {'ok': True}."
    elif endpoint == "runs":
        created = client.post(server.url + "/api/runs", json={"resume": [1, 2], "conversation_id": thread})
        assert created.status_code == 202
        result = read_stream(client, "GET", server.url + created.json()["stream_url"])
        assert result.last("final")["data"]["content"] == "Answer was [1, 2]."
    else:
        answer = client.post(server.url + "/api/chat", json={"resume": 7, "conversation_id": thread}).json()
        assert answer["success"] is True and answer["content"] == "Answer was 7."


def test_blocking_chat_reports_the_pause(server: Server, client: httpx.Client) -> None:
    body = client.post(
        server.url + "/api/chat", json={"message": "x", "agent": "approval", "conversation_id": "chat-pause"}
    ).json()
    assert body["success"] is True and body["status"] == "paused"
    assert body["interrupts"][0]["value"]["question"] == "Ship the draft?"


def test_several_pending_interrupts_are_answered_by_id(server: Server, client: httpx.Client) -> None:
    thread = "two-questions"
    interrupts = assert_paused(
        stream(server, client, message="x", agent="two_questions", conversation_id=thread)
    )
    by_value = {item["value"]: item["id"] for item in interrupts}
    assert set(by_value) == {"Approve budget?", "Approve safety?"}
    answers = {by_value["Approve budget?"]: "ok", by_value["Approve safety?"]: "no"}
    resumed = stream(server, client, resume=answers, conversation_id=thread)
    assert resumed.last("done")["data"]["status"] == "success"
    assert "budget: ok" in resumed.answer
    assert "safety: no" in resumed.answer


def test_a_new_message_on_a_paused_thread_starts_a_new_turn(server: Server, client: httpx.Client) -> None:
    thread = "paused-then-message"
    first = assert_paused(stream(server, client, message="one", agent="approval", conversation_id=thread))
    again = stream(server, client, message="two", agent="approval", conversation_id=thread)
    second = assert_paused(again)
    assert nodes_started(again) == ["draft", "approve"]  # the old question was dropped
    assert second[0]["id"] != first[0]["id"]
    status = client.get(f"{server.url}/api/threads/{thread}").json()
    assert [item["id"] for item in status["interrupts"]] == [second[0]["id"]]


def test_thread_status_busy_and_unknown(server: Server, client: httpx.Client) -> None:
    run = client.post(
        server.url + "/api/runs", json={"message": "1", "agent": "slow", "conversation_id": "busy-1"}
    )
    deadline = time.monotonic() + 5
    while client.get(f"{server.url}/api/runs/{run.json()['run_id']}").json()["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    status = client.get(f"{server.url}/api/threads/busy-1").json()
    assert status["status"] == "busy" and status["run_id"] == run.json()["run_id"]
    missing = client.get(f"{server.url}/api/threads/nobody-here")
    assert missing.status_code == 404 and missing.json()["error"] == "ThreadNotFound"


def test_pause_survives_a_server_restart(tmp_path: Path, client: httpx.Client, backend_name: str) -> None:
    data_dir = tmp_path / "data"
    thread = "across-restart"
    with backend_settings(backend_name) as settings:
        with run_server(data_dir, **settings) as first:
            paused = stream(first, client, message="x", agent="approval", conversation_id=thread)
            interrupts = assert_paused(paused)
        with run_server(data_dir, **settings) as second:
            status = client.get(f"{second.url}/api/threads/{thread}").json()
            assert status["status"] == "paused" and status["interrupts"] == interrupts
            resumed = stream(second, client, resume="yes", conversation_id=thread)
            assert nodes_started(resumed) == ["approve"]
            assert resumed.last("final")["data"]["content"] == "Answer was 'yes'."
            # The paused run's record says so, after the restart too.
            summary = client.get(f"{second.url}/api/runs/{paused.headers['x-run-id']}").json()
            assert summary["status"] == "paused"
