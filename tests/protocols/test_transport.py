"""The protocols' streams go through the native stream's transport, over real gunicorn: each
counts in ``stagecast_open_streams`` while it is open, and a stream refused for the stream
slots is refused before a run is started for it (it costs no run). The native stream is the
yardstick; the LangGraph Platform API's stream is checked alongside."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.metrics import scrape, value
from tests.support.server import Server, run_server


def _native(question: str) -> dict[str, Any]:
    return {"message": question, "agent": "slow"}


def _openai(question: str) -> dict[str, Any]:
    return {"model": "slow", "stream": True, "messages": [{"role": "user", "content": question}]}


def _ai_sdk(question: str) -> dict[str, Any]:
    message = {"id": "u", "role": "user", "parts": [{"type": "text", "text": question}]}
    return {"id": f"chat-{uuid.uuid4().hex[:8]}", "messages": [message], "agent": "slow"}


def _ag_ui(question: str) -> dict[str, Any]:
    message = {"id": "u", "role": "user", "content": question}
    return {"threadId": f"thread-{uuid.uuid4().hex[:8]}", "runId": "r", "messages": [message]}


def _langgraph(question: str) -> dict[str, Any]:
    return {"assistant_id": "slow", "input": {"messages": [{"role": "user", "content": question}]}}


SURFACES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "native": ("/api/chat/stream", _native),
    "openai": ("/v1/chat/completions", _openai),
    "ai_sdk": ("/api/ai-sdk/chat", _ai_sdk),
    "ag_ui": ("/api/ag-ui/slow", _ag_ui),
    "langgraph": ("/langgraph/runs/stream", _langgraph),
}


@pytest.fixture(scope="module")
def one_stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One open stream per client address."""
    with run_server(
        tmp_path_factory.mktemp("one-stream"), max_streams_per_client=1, heartbeat_s=0.3
    ) as running:
        yield running


def open_streams(client: httpx.Client, server: Server) -> float:
    return value(scrape(client, server), "stagecast_open_streams")


def wait_for_open_streams(client: httpx.Client, server: Server, wanted: float) -> None:
    deadline = time.monotonic() + 10
    while (count := open_streams(client, server)) != wanted:
        assert time.monotonic() < deadline, f"{count} open streams, wanted {wanted}"
        time.sleep(0.05)


def run_count(client: httpx.Client, server: Server) -> int:
    return len(client.get(server.url + "/api/runs", params={"limit": 500}).json()["runs"])


@pytest.mark.parametrize("surface", SURFACES)
def test_an_open_protocol_stream_counts_in_open_streams(
    one_stream_server: Server, client: httpx.Client, surface: str
) -> None:
    path, body = SURFACES[surface]
    wait_for_open_streams(client, one_stream_server, 0)
    with client.stream("POST", one_stream_server.url + path, json=body("5")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.iter_raw()  # kept: a dropped iterator closes the response
        next(chunks)  # the stream is being written
        assert open_streams(client, one_stream_server) == 1
        client.post(f"{one_stream_server.url}/api/runs/{response.headers['x-run-id']}/cancel")
    wait_for_open_streams(client, one_stream_server, 0)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_protocol_stream_refused_for_the_stream_slots_starts_no_run(
    one_stream_server: Server, client: httpx.Client, surface: str
) -> None:
    path, body = SURFACES[surface]
    url = one_stream_server.url
    wait_for_open_streams(client, one_stream_server, 0)
    busy = client.post(url + "/api/runs", json={"message": "5", "agent": "slow"}).json()
    try:
        # The client's one stream slot is taken by a native stream.
        with client.stream("GET", f"{url}/api/runs/{busy['run_id']}/stream") as held:
            assert held.status_code == 200
            chunks = held.iter_raw()  # kept: a dropped iterator closes the response
            next(chunks)
            before = run_count(client, one_stream_server)
            refused = client.post(url + path, json=body("0"))
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            error = refused.json()["error"]
            assert (error["code"] if surface == "openai" else error) == "TooManyStreams"
            assert run_count(client, one_stream_server) == before
    finally:
        client.post(f"{url}/api/runs/{busy['run_id']}/cancel")
    wait_for_open_streams(client, one_stream_server, 0)
