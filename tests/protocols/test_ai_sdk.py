"""The Vercel AI SDK UI message stream, read by the real ``ai`` package (6.x, 5.0.0 with its
strict part validation, and the latest 5.x) in Node against real gunicorn."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.protocols.conftest import abandon_slow_run, run_node
from tests.support.client import read_stream
from tests.support.inventory import true_stock
from tests.support.server import Server

QUESTION = "ABC-12345 부품의 재고는?"
STOCK = f"{true_stock('ABC-12345'):,}"
PACKAGES = ["ai", "ai5", "ai5latest"]


def ask(
    server: Server,
    package: str,
    question: str = QUESTION,
    *extra: str,
    agent: str = "",
    chat_id: str = "",
    resume: str = "",
) -> dict[str, Any]:
    chat_id = chat_id or f"chat-{uuid.uuid4().hex[:8]}"
    env = {"AGENT": agent, "RESUME": resume}
    out = run_node("ai_sdk.mjs", package, server.url, chat_id, question, *extra, env=env)
    out["chat_id"] = chat_id
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_use_chat_answer_with_stages_sources_table(
    node_clients: Path, protocol_server: Server, package: str
) -> None:
    out = ask(protocol_server, package)
    types, message = out["types"], out["message"]
    assert types[:2] == ["start", "start-step"] and types[-2:] == ["finish-step", "finish"]
    assert out["errors"] == []
    run_id = message["metadata"]["run_id"]
    assert message["id"] == f"msg-{run_id}"
    run = httpx.get(f"{protocol_server.url}/api/runs/{run_id}").json()
    assert run["status"] == "success" and run["thread_id"] == out["chat_id"]
    assert out["text"] == run["result"]["content"] and STOCK in out["text"]
    parts = message["parts"]
    progress = {p["id"]: p["data"]["status"] for p in parts if p["type"] == "data-progress"}
    assert progress == dict.fromkeys(["query_analysis", "data_retrieval", "response_generation"], "completed")
    assert [p["type"] for p in parts].count("data-progress") == 3  # updated in place, by node
    sources = [p for p in parts if p["type"] == "source-document"]
    assert sources and all(p["providerMetadata"]["stagecast"]["content"] for p in sources)
    table = next(p for p in parts if p["type"] == "data-table")
    assert table["data"] == run["result"]["table_data"]
    assert message["metadata"]["status"] == "success"
    history = httpx.get(f"{protocol_server.url}/api/threads/{out['chat_id']}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]


@pytest.mark.parametrize("package", ["ai", "ai5"])
def test_reload_mid_answer_then_reconnect(node_clients: Path, protocol_server: Server, package: str) -> None:
    out = ask(protocol_server, package, QUESTION, "3")
    assert out["before"]["types"].count("text-delta") >= 3 and "finish" not in out["before"]["types"]
    # The replay starts over with the same message id, and the answer is whole.
    assert out["message"]["id"] == out["before"]["messageId"]
    assert out["text"].startswith(out["before"]["text"])
    run_id = out["message"]["metadata"]["run_id"]
    run = httpx.get(f"{protocol_server.url}/api/runs/{run_id}").json()
    assert run["status"] == "success" and out["text"] == run["result"]["content"]
    assert out["after"] is None  # nothing live any more: 204


def test_tool_calls_are_server_side_tool_parts(node_clients: Path, protocol_server: Server) -> None:
    out = ask(protocol_server, "ai5", "stock?", agent="tools")
    tools = [p for p in out["message"]["parts"] if p["type"] == "dynamic-tool"]
    assert tools == [
        {
            "type": "dynamic-tool",
            "toolName": "stock_lookup",
            "toolCallId": "call-1",
            "state": "output-available",
            "input": {"part": "ABC-12345"},
            "output": "1234",
        }
    ]
    assert out["text"] == "There are 1234 in stock."


def test_failure_is_an_error_part(node_clients: Path, protocol_server: Server) -> None:
    out = ask(protocol_server, "ai5", "x", agent="failing")
    assert "error" in out["types"] and out["types"][-1] == "finish"
    assert out["errors"] and "hunter2" not in out["errors"][0]
    assert out["message"]["metadata"]["error"] == "InternalError"


def test_interrupt_part_then_resume_answers_it(node_clients: Path, protocol_server: Server) -> None:
    paused = ask(protocol_server, "ai5", "the pump", agent="approval")
    (part,) = [p for p in paused["message"]["parts"] if p["type"] == "data-interrupt"]
    assert part["data"]["interrupts"][0]["value"] == {"question": "Ship the draft?", "options": ["yes", "no"]}
    assert paused["message"]["metadata"]["status"] == "paused"
    resumed = ask(protocol_server, "ai5", "yes", chat_id=paused["chat_id"], resume='"yes"')
    assert resumed["text"] == "Answer was 'yes'." and resumed["message"]["metadata"]["status"] == "success"


def test_resume_of_a_chat_with_nothing_live_is_204(protocol_server: Server) -> None:
    response = httpx.get(f"{protocol_server.url}/api/ai-sdk/chat/no-such-chat/stream")
    assert response.status_code == 204


def _body(text: str = QUESTION, **extra: Any) -> dict[str, Any]:
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": f"chat-{uuid.uuid4().hex[:8]}", "messages": [message], "trigger": "submit-message", **extra}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"id": "c", "messages": [{"id": "a", "role": "assistant", "parts": []}]}, 400, "ValidationError"),
        (_body(colour="blue"), 400, "ValidationError"),
        (_body(" "), 400, "ValidationError"),
        (_body(agent="nope"), 400, "UnknownAgent"),
        (_body("x" * 9000), 400, "MessageTooLong"),
    ],
)
def test_errors_before_the_stream_are_json(
    protocol_server: Server, body: dict, status: int, code: str
) -> None:
    response = httpx.post(f"{protocol_server.url}/api/ai-sdk/chat", json=body)
    assert response.status_code == status
    assert response.json() == {"success": False, "error": code, "message": response.json()["message"]}


def test_stream_headers_heartbeats_and_cancel_on_disconnect(protocol_server: Server) -> None:
    result = abandon_slow_run(protocol_server, "/api/ai-sdk/chat", _body("5", agent="slow"))
    assert result.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert result.headers["content-type"].startswith("text/event-stream")
    lines = result.body.decode().splitlines()
    assert all(line.startswith(("data: ", ": ")) or not line for line in lines)  # data: lines only
    assert [m.json()["type"] for m in result.messages[:2]] == ["start", "start-step"]


def test_a_chat_run_is_watched_on_the_native_stream(protocol_server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        head = read_stream(
            client,
            "POST",
            f"{protocol_server.url}/api/ai-sdk/chat",
            json=_body(),
            stop_after=lambda r: len(r.messages) >= 3,
        )
        run_id = head.headers["x-run-id"]
        native = read_stream(client, "GET", f"{protocol_server.url}/api/runs/{run_id}/stream")
    assert native.types[0] == "start" and native.types[-1] == "done"
    started = head.messages[0].json()["messageMetadata"]
    assert native.last("start")["data"]["thread_id"] == started["thread_id"]
