"""Bad input gets the contract's JSON error body and status, and never hurts the worker."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.server import Server, run_server

STREAM = "/api/chat/stream"


def _json(body: Any) -> dict[str, Any]:
    return {"content": json.dumps(body), "headers": {"Content-Type": "application/json"}}


JSON = {"Content-Type": "application/json"}
LONE_SURROGATE = '{"message": "hi", "history": [{"role": "user", "content": "a\\ud800b"}]}'
NUL_IN_MESSAGE = '{"message": "a\\u0000b"}'

CASES = [
    (
        "POST",
        STREAM,
        {"content": "{not json", "headers": {"Content-Type": "application/json"}},
        400,
        "InvalidJSON",
    ),
    (
        "POST",
        STREAM,
        {"content": "message=hi", "headers": {"Content-Type": "text/plain"}},
        415,
        "UnsupportedMediaType",
    ),
    ("POST", STREAM, _json({}), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": ""}), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": "   "}), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": 5}), 400, "ValidationError"),
    ("POST", STREAM, _json(["message"]), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": "hi", "surprise": 1}), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": "hi", "llm_config": {"temperature": 9}}), 400, "ValidationError"),
    (
        "POST",
        STREAM,
        _json({"message": "hi", "history": [{"role": "robot", "content": "x"}]}),
        400,
        "ValidationError",
    ),
    ("POST", STREAM, _json({"message": "x" * 2001}), 400, "MessageTooLong"),
    (
        "POST",
        STREAM,
        _json({"message": "hi", "history": [{"role": "user", "content": "a"}] * 6}),
        400,
        "ValidationError",
    ),
    ("POST", STREAM, _json({"message": "hi", "agent": "nope"}), 400, "UnknownAgent"),
    ("POST", STREAM, _json({"message": "x" * 5000}), 413, "PayloadTooLarge"),
    ("GET", STREAM, {"params": {}}, 400, "ValidationError"),
    ("GET", STREAM, {"params": {"message": "hi", "bogus": "1"}}, 400, "ValidationError"),
    ("GET", STREAM, {"params": {"message": "hi", "history": "[oops"}}, 400, "InvalidJSON"),
    ("GET", STREAM, {"headers": {"Last-Event-ID": "garbage"}}, 400, "BadRequest"),
    ("GET", STREAM, {"headers": {"Last-Event-ID": "no-such-run:3"}}, 404, "RunNotFound"),
    ("PUT", STREAM, {}, 405, "MethodNotAllowed"),
    ("GET", "/api/nowhere", {}, 404, "NotFound"),
    ("GET", "/api/runs/does-not-exist", {}, 404, "RunNotFound"),
    ("POST", "/api/runs/does-not-exist/cancel", {}, 404, "RunNotFound"),
    ("GET", "/api/threads/does-not-exist/messages", {}, 404, "ThreadNotFound"),
    # Text no store can keep (a lone surrogate, NUL): 400, never a 503 a client retries.
    ("POST", STREAM, {"content": LONE_SURROGATE, "headers": JSON}, 400, "ValidationError"),
    ("POST", STREAM, {"content": NUL_IN_MESSAGE, "headers": JSON}, 400, "ValidationError"),
    # Ids outside the documented character set (app/runs/owners.py ID_PATTERN).
    ("POST", STREAM, _json({"message": "hi", "conversation_id": "a\u0000b"}), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": "hi", "conversation_id": "a#b"}), 400, "ValidationError"),
    ("POST", STREAM, _json({"message": "hi", "conversation_id": "../x"}), 400, "ValidationError"),
    ("GET", "/api/threads/a%00b/messages", {}, 404, "ThreadNotFound"),
    ("GET", "/api/threads/a%23b", {}, 404, "ThreadNotFound"),
    ("GET", "/api/runs/a%00b/stream", {}, 404, "RunNotFound"),
    # A %2F is a slash in the path: no route, and a JSON 404 rather than an HTML redirect.
    ("GET", "/api/runs/%2F/stream", {}, 404, "NotFound"),
    ("GET", "/api/threads/%2F/messages", {}, 404, "NotFound"),
    ("GET", "/api/runs//stream", {}, 404, "NotFound"),
]


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory):
    with run_server(
        tmp_path_factory.mktemp("strict"), max_body_bytes=4096, max_message_chars=2000, max_history_messages=5
    ) as running:
        yield running


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), CASES)
def test_bad_input(strict_server: Server, client: httpx.Client, method, path, kwargs, status, code) -> None:
    response = client.request(method, strict_server.url + path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["error"] == code and body["message"]
    assert "Traceback" not in response.text and "<html" not in response.text.lower()
    assert response.headers["X-Trace-ID"]


def test_worker_survives_bad_input(strict_server: Server, client: httpx.Client) -> None:
    pid_before = client.get(strict_server.url + "/healthz").json()["pid"]
    for method, path, kwargs, _, _ in CASES:
        client.request(method, strict_server.url + path, **kwargs)
    health = client.get(strict_server.url + "/healthz").json()
    assert health["pid"] == pid_before and health["status"] == "ok"
    ok = read_stream(client, "POST", strict_server.url + STREAM, json={"message": "0", "agent": "slow"})
    assert ok.types[-1] == "done"


def test_concurrency_limit_answers_429_with_retry_after(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path, max_concurrent_runs=1) as limited:
        run = client.post(limited.url + "/api/runs", json={"message": "3", "agent": "slow"}).json()
        refused = client.post(limited.url + STREAM, json={"message": "0", "agent": "slow"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "TooManyRuns"
        assert int(refused.headers["Retry-After"]) >= 1
        client.post(limited.url + f"/api/runs/{run['run_id']}/cancel")


def test_unstorable_text_names_its_field(strict_server: Server, client: httpx.Client) -> None:
    answer = client.post(strict_server.url + STREAM, content=LONE_SURROGATE, headers=JSON)
    assert answer.status_code == 400 and "Retry-After" not in answer.headers
    assert answer.json()["message"].startswith("Invalid request: history.0.content: ")
