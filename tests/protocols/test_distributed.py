"""The protocols in the distributed mode: two gunicorn hosts on the machine's Redis and
PostgreSQL (each test module with its own database and key prefix); a run started through
a protocol on one host is found, resumed and watched from the other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.protocols.conftest import run_node
from tests.support.client import read_stream
from tests.support.server import Server, run_server
from tests.support.services import REDIS_URL, postgres_database, redis_prefix

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    with postgres_database() as database_url, redis_prefix() as prefix:
        settings: dict[str, Any] = {
            "redis_url": REDIS_URL,
            "database_url": database_url,
            "redis_prefix": prefix,
            "heartbeat_s": 0.5,
            "offline_token_delay_ms": 25,
        }
        with (
            run_server(tmp_path_factory.mktemp("proto-a"), **settings) as a,
            run_server(tmp_path_factory.mktemp("proto-b"), **settings) as b,
        ):
            yield a, b


def test_ai_sdk_reload_on_one_host_resumes_on_the_other(
    node_clients: Path, hosts: tuple[Server, Server]
) -> None:
    a, b = hosts
    chat_id = f"chat-{uuid.uuid4().hex[:8]}"
    out = run_node("ai_sdk.mjs", "ai5", a.url, chat_id, QUESTION, "3", env={"RESUME_BASE": b.url})
    assert out["message"]["id"] == out["before"]["messageId"]
    run = httpx.get(f"{b.url}/api/runs/{out['message']['metadata']['run_id']}").json()
    assert run["status"] == "success" and out["text"] == run["result"]["content"]
    assert out["after"] is None
    assert httpx.get(f"{b.url}/api/ai-sdk/chat/{chat_id}/stream").status_code == 204


def test_openai_and_ag_ui_runs_are_runs_of_every_host(
    node_clients: Path, hosts: tuple[Server, Server]
) -> None:
    a, b = hosts
    sdk = openai.OpenAI(base_url=b.url + "/v1", api_key="not-needed", max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert httpx.get(f"{a.url}/api/runs/{raw.headers['x-run-id']}").json()["result"]["content"] == text
    thread_id = f"thread-{uuid.uuid4().hex[:8]}"
    agui = run_node("ag_ui.mjs", a.url + "/api/ag-ui", thread_id, QUESTION)
    run_id = agui["started"]["metadata"]["stagecast"]["run_id"]
    with httpx.Client(timeout=30) as client:
        native = read_stream(client, "GET", f"{b.url}/api/runs/{run_id}/stream")
    assert native.last("final")["data"]["content"] == agui["messages"][-1]["content"]
