"""The OpenAI-compatible API, driven by the ``openai`` Python SDK against real gunicorn."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.protocols.conftest import abandon_slow_run
from tests.support.client import read_stream
from tests.support.inventory import true_stock
from tests.support.server import Server

QUESTION = "How many ABC-12345 are in stock?"
STOCK = f"{true_stock('ABC-12345'):,}"


@pytest.fixture
def sdk(protocol_server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=protocol_server.url + "/v1", api_key="not-needed", max_retries=0)


def test_models_are_the_agents(sdk: openai.OpenAI) -> None:
    names = {model.id for model in sdk.models.list()}
    assert {"chat", "slow", "tools", "failing"} <= names
    assert sdk.models.retrieve("chat").id == "chat"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-4o")


def test_non_streaming_answer_is_a_normal_run(sdk: openai.OpenAI, protocol_server: Server) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": QUESTION}]
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    assert STOCK in completion.choices[0].message.content
    run_id = raw.headers["x-run-id"]
    run = httpx.get(f"{protocol_server.url}/api/runs/{run_id}").json()
    assert run["status"] == "success" and run["agent"] == "chat"
    assert run["result"]["content"] == completion.choices[0].message.content
    assert run_id in {r["run_id"] for r in httpx.get(f"{protocol_server.url}/api/runs").json()["runs"]}


def test_stream_role_first_content_stop_usage_done(sdk: openai.OpenAI, protocol_server: Server) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["stop"] and finish[0] is chunks[-2]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len({c.id for c in chunks}) == 1
    run = httpx.get(f"{protocol_server.url}/api/runs/{raw.headers['x-run-id']}").json()
    assert text == run["result"]["content"] and STOCK in text


def test_stream_without_usage_ends_with_stop_and_done(protocol_server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        result = read_stream(
            client,
            "POST",
            protocol_server.url + "/v1/chat/completions",
            json={"model": "chat", "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
        )
    data = [m.data for m in result.messages]
    assert result.headers["content-type"].startswith("text/event-stream")
    assert data[-1] == "[DONE]"
    assert '"finish_reason":"stop"' in data[-2]
    assert all('"usage"' not in d for d in data)
    assert any(c.startswith("query_analysis") for c in result.parser.comments)  # stages as comments


def test_earlier_messages_seed_the_thread_history(sdk: openai.OpenAI, protocol_server: Server) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi, ask me about parts."},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        ],
    )
    run = httpx.get(f"{protocol_server.url}/api/runs/{raw.headers['x-run-id']}").json()
    history = httpx.get(f"{protocol_server.url}/api/threads/{run['thread_id']}/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in history[:3]] == [
        ("user", "Hello"),
        ("assistant", "Hi, ask me about parts."),
        ("user", QUESTION),
    ]
    assert history[3]["role"] == "assistant" and STOCK in history[3]["content"]


def test_error_mid_stream_is_an_error_object(sdk: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "x"}]
    stream = sdk.chat.completions.create(model="failing", messages=messages, stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert caught.value.body["code"] == "InternalError"
    assert "hunter2" not in str(caught.value)


def test_failed_run_without_streaming_is_a_500(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="failing", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["code"] == "InternalError"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, 404, "model_not_found"),
        ({"model": "chat", "messages": []}, 400, "ValidationError"),
        ({"model": "chat", "messages": [{"role": "assistant", "content": "x"}]}, 400, "ValidationError"),
        ({"model": "chat", "messages": [{"role": "user", "content": "x" * 9000}]}, 400, "MessageTooLong"),
        ({"model": "chat", "n": 2, "messages": [{"role": "user", "content": "x"}]}, 400, "ValidationError"),
    ],
)
def test_errors_before_the_stream_are_openai_json(
    protocol_server: Server, body: dict, status: int, code: str
) -> None:
    response = httpx.post(protocol_server.url + "/v1/chat/completions", json={**body, "stream": True})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]


def test_sdk_raises_typed_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": " "}])


def test_not_json_and_too_large(protocol_server: Server) -> None:
    url = protocol_server.url + "/v1/chat/completions"
    response = httpx.post(url, content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json()["error"]["code"]
    huge = b"{" + b" " * 70_000 + b"}"
    response = httpx.post(url, content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"]


def test_heartbeats_and_cancel_on_disconnect(protocol_server: Server) -> None:
    body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "5"}]}
    result = abandon_slow_run(protocol_server, "/v1/chat/completions", body)
    assert result.messages[0].json()["choices"][0]["delta"]["role"] == "assistant"
