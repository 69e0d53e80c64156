"""The OpenAI-compatible path against a local server that streams the OpenAI chunk format."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server, free_port, run_server

QUESTION = "ABC-12345 부품의 재고는?"


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


def test_connection_refused_is_an_upstream_error(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path, openai_base_url=f"http://127.0.0.1:{free_port()}/v1") as refused:
        result = ask(refused, client)
    assert result.last("error")["data"]["error"] == "UpstreamError"
