"""The OpenAI-compatible path against a local server that streams the OpenAI chunk format."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server, free_port, run_server
from tests.support.services import REDIS_URL, postgres_database, redis_prefix

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module", params=["fast", "stock"])
def llm_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI
) -> Iterator[Server]:
    """The OpenAI-compatible path, against the local fake upstream, with each chat model
    (``STAGECAST_CHAT_MODEL``): every test here runs on both."""
    with run_server(
        tmp_path_factory.mktemp(f"llm-{request.param}"),
        heartbeat_s=0.3,
        openai_base_url=fake_openai.base_url,
        llm_retry_backoff_s=0.05,
        chat_model=request.param,
    ) as running:
        yield running


def ask(server: Server, client: httpx.Client, **body: object):
    return read_stream(client, "POST", server.url + "/api/chat/stream", json={"message": QUESTION, **body})


def test_tokens_come_from_the_model(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    before = len(fake_openai.requests)
    result = ask(llm_server, client)
    tokens = [e["data"] for e in result.events if e["type"] == "token"]
    assert [t["content"] for t in tokens] == fake_openai.tokens
    assert {t["node"] for t in tokens} == {"response_generation"}
    final = result.last("final")["data"]
    assert final["content"] == "".join(fake_openai.tokens)
    assert final["usage"]["output_tokens"] == len(fake_openai.tokens)
    assert final["sources"]
    request = fake_openai.requests[before]
    assert request["stream"] is True
    system = request["messages"][0]["content"]
    assert request["messages"][0]["role"] == "system" and "ABC-12345" in system  # retrieved context
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}


def test_runs_reuse_the_workers_connections_to_the_model(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    """One gevent worker: one run after another, on the connection the first one opened (or on
    one an earlier test left idle), not a connection each."""
    before = fake_openai.connections
    for _ in range(4):
        result = ask(llm_server, client)
        assert result.last("done")["data"]["status"] == "success"
        assert result.answer == "".join(fake_openai.tokens)
    assert fake_openai.connections - before <= 1


def test_llm_config_is_honoured_within_bounds(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    before = len(fake_openai.requests)
    ask(llm_server, client, llm_config={"model": "paced", "temperature": 0.7, "max_tokens": 999_999})
    request = fake_openai.requests[before]
    assert request["model"] == "paced"
    assert request["temperature"] == 0.7
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 1024  # the configured cap


@pytest.mark.parametrize(
    ("model", "code"),
    [
        ("status-401", "UpstreamError"),
        ("status-429", "RateLimited"),
        ("status-500", "UpstreamError"),
        ("broken", "UpstreamError"),
    ],
)
def test_upstream_failures_become_error_events(
    llm_server: Server, client: httpx.Client, model: str, code: str
) -> None:
    started = time.monotonic()
    result = ask(llm_server, client, llm_config={"model": model})
    assert time.monotonic() - started < 10
    assert result.last("error")["data"]["error"] == code
    assert result.last("done")["data"]["status"] == "error"
    assert result.types[-2:] == ["error", "done"]


def test_heartbeats_while_the_upstream_is_slow(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    # slow-first waits 1 s before its first chunk; this server's heartbeat is 0.3 s.
    result = ask(llm_server, client, llm_config={"model": "slow-first"})
    token_times = [t for (t, kind) in result.arrivals if kind == "message"]
    token_index = result.types.index("token")
    first_token = token_times[token_index]
    beats_before = [t for t, kind in result.arrivals if kind == "comment" and t < first_token]
    assert len(beats_before) >= 2
    assert result.last("final")["data"]["content"] == "".join(fake_openai.tokens)


def retry_messages(result) -> list[str]:
    return [
        e["data"]["message"]
        for e in result.events
        if e["type"] == "progress" and "retrying" in e["data"]["message"]
    ]


def test_a_model_server_that_answers_503_twice_then_streams(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    before = len(fake_openai.requests)
    fake_openai.fail_next(503, times=2)
    result = ask(llm_server, client)
    assert len(fake_openai.requests) - before == 3
    assert result.last("done")["data"]["status"] == "success"
    assert result.answer == "".join(fake_openai.tokens) == result.last("final")["data"]["content"]
    retries = retry_messages(result)
    assert len(retries) == 2 and "status 503" in retries[0] and "retry 1 of 2" in retries[0]
    retry_progress = next(
        e["data"] for e in result.events if e["type"] == "progress" and "retrying" in e["data"]["message"]
    )
    assert retry_progress["path"] == ["response_generation"]
    assert result.types.index("token") > max(
        i
        for i, e in enumerate(result.events)
        if e["type"] == "progress" and "retrying" in e["data"]["message"]
    )
    usage = result.last("final")["data"]["usage"]
    assert usage["finish_reason"] == "stop" and usage["output_tokens"] == len(fake_openai.tokens)


def test_retries_run_out(llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client) -> None:
    before = len(fake_openai.requests)
    fake_openai.fail_next(500, times=3)
    result = ask(llm_server, client)
    assert len(fake_openai.requests) - before == 3  # the call and STAGECAST_LLM_MAX_RETRIES=2 retries
    assert len(retry_messages(result)) == 2
    assert result.types[-2:] == ["error", "done"] and result.last("error")["data"]["error"] == "UpstreamError"


def test_retry_after_is_honoured(llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client) -> None:
    fake_openai.fail_next(429, times=1, retry_after="1")
    started = time.monotonic()
    result = ask(llm_server, client)
    assert time.monotonic() - started >= 1.0
    assert retry_messages(result) == [
        "The model service failed (status 429); retrying in 1.0 s (retry 1 of 2)"
    ]
    assert result.last("done")["data"]["status"] == "success"


def test_no_retry_after_the_first_token(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    before = len(fake_openai.requests)
    result = ask(llm_server, client, llm_config={"model": "broken"})
    assert len(fake_openai.requests) - before == 1  # two tokens went out: a retry would repeat them
    assert result.last("error")["data"]["error"] == "UpstreamError" and not retry_messages(result)


def test_no_retries_when_set_to_zero(tmp_path, fake_openai: FakeOpenAI, client: httpx.Client) -> None:
    with run_server(tmp_path / "data", openai_base_url=fake_openai.base_url, llm_max_retries=0) as server:
        before = len(fake_openai.requests)
        fake_openai.fail_next(503, times=1)
        result = ask(server, client)
        assert len(fake_openai.requests) - before == 1
        assert result.last("error")["data"]["error"] == "UpstreamError"


def tool_calls(result) -> list[dict]:
    return [e["data"] for e in result.events if e["type"] == "tool_call"]


def test_the_default_agent_calls_knowledge_base_tools(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    before = len(fake_openai.requests)
    result = ask(llm_server, client, llm_config={"model": "tools"})
    calls = tool_calls(result)
    assert [c["status"] for c in calls] == ["started", "completed"]
    assert calls[0]["name"] == "stock_lookup" and calls[0]["args"] == {"part_number": "ABC-12345"}
    assert calls[1]["id"] == calls[0]["id"]
    stock = json.loads(calls[1]["result"])
    assert stock["total"] == 1234 and stock["by_warehouse"]["WH-SEL"] == 500
    # Reported as it happened: the call ends before the model's answer starts streaming.
    assert result.types.index("tool_call") < result.types.index("token")
    assert result.last("final")["data"]["content"] == "".join(fake_openai.tokens)
    first, second = fake_openai.requests[before:]
    assert {tool["function"]["name"] for tool in first["tools"]} == {
        "stock_lookup",
        "usage_history",
        "document_search",
    }
    assert second["messages"][-1]["role"] == "tool" and json.loads(second["messages"][-1]["content"]) == stock
    assert second["messages"][-2]["tool_calls"][0]["function"]["arguments"] == '{"part_number": "ABC-12345"}'


def test_a_failing_tool_call_is_reported_and_the_model_answers(
    llm_server: Server, client: httpx.Client
) -> None:
    result = ask(llm_server, client, llm_config={"model": "tools-missing"})
    calls = tool_calls(result)
    assert [c["status"] for c in calls] == ["started", "failed"]
    assert "No part NOPE-00000" in calls[1]["result"]
    assert result.last("done")["data"]["status"] == "success"


def test_tool_rounds_are_limited(llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client) -> None:
    before = len(fake_openai.requests)
    result = ask(llm_server, client, llm_config={"model": "tools-loop"})
    requests = fake_openai.requests[before:]
    assert len(requests) == 5  # STAGECAST_LLM_MAX_TOOL_ROUNDS=4 rounds of calls, then an answer
    assert all(r.get("tools") for r in requests[:4]) and not requests[4].get("tools")
    assert [c["status"] for c in tool_calls(result)] == ["started", "completed"] * 4
    assert result.last("final")["data"]["content"] == "".join(fake_openai.tokens)


def test_a_retry_after_beyond_the_longest_wait_fails_at_once(
    llm_server: Server, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    before = len(fake_openai.requests)
    fake_openai.fail_next(429, times=1, retry_after="120")  # above STAGECAST_LLM_RETRY_MAX_WAIT_S (20)
    started = time.monotonic()
    result = ask(llm_server, client)
    assert time.monotonic() - started < 5 and len(fake_openai.requests) - before == 1
    assert result.last("error")["data"]["error"] == "RateLimited" and not retry_messages(result)


def test_connection_refused_is_retried_then_an_upstream_error(tmp_path, client: httpx.Client) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    with run_server(tmp_path / "data", openai_base_url=nobody, llm_retry_backoff_s=0.01) as server:
        result = ask(server, client)
    assert [m.split(";")[0] for m in retry_messages(result)] == [
        "The model service failed (connection failed)"
    ] * 2
    assert result.last("error")["data"]["error"] == "UpstreamError"


def test_retries_and_tool_calls_in_the_distributed_mode(
    tmp_path, fake_openai: FakeOpenAI, client: httpx.Client
) -> None:
    with (
        postgres_database() as database_url,
        redis_prefix() as prefix,
        run_server(
            tmp_path / "data",
            openai_base_url=fake_openai.base_url,
            llm_retry_backoff_s=0.05,
            redis_url=REDIS_URL,
            database_url=database_url,
            redis_prefix=prefix,
        ) as server,
    ):
        fake_openai.fail_next(503, times=2)
        result = ask(server, client, llm_config={"model": "tools"})
    assert len(retry_messages(result)) == 2
    assert [c["status"] for c in tool_calls(result)] == ["started", "completed"]
    assert result.last("final")["data"]["content"] == "".join(fake_openai.tokens)
