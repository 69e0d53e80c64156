"""AG-UI, driven by ``@ag-ui/client`` 1.0's ``HttpAgent.runAgent`` in Node (which validates
every event and the order of events) against real gunicorn."""

from __future__ import annotations

import json
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


def run_agent(server: Server, path: str, question: str, thread_id: str | None = None) -> dict[str, Any]:
    thread_id = thread_id or f"thread-{uuid.uuid4().hex[:8]}"
    out = run_node("ag_ui.mjs", server.url + path, thread_id, question)
    out["thread_id"] = thread_id
    return out


def test_run_agent_steps_text_sources_and_result(node_clients: Path, protocol_server: Server) -> None:
    out = run_agent(protocol_server, "/api/ag-ui", QUESTION)
    assert "error" not in out and "runError" not in out
    assert out["types"][0] == "RUN_STARTED" and out["types"][-1] == "RUN_FINISHED"
    assert out["started"]["threadId"] == out["thread_id"] and out["started"]["runId"] == out["clientRunId"]
    assert out["steps"] == ["query_analysis", "data_retrieval", "response_generation"]
    assert out["types"].count("STEP_STARTED") == out["types"].count("STEP_FINISHED") == 3
    assert "sources" in out["custom"]
    assert out["outcome"] == {"type": "success"}
    run_id = out["started"]["metadata"]["stagecast"]["run_id"]
    run = httpx.get(f"{protocol_server.url}/api/runs/{run_id}").json()
    assert run["status"] == "success" and run["thread_id"] == out["thread_id"]
    answer = out["messages"][-1]
    assert answer["role"] == "assistant" and answer["content"] == run["result"]["content"]
    assert STOCK in answer["content"] and out["result"]["table_data"] == run["result"]["table_data"]


def test_same_thread_keeps_its_history(node_clients: Path, protocol_server: Server) -> None:
    first = run_agent(protocol_server, "/api/ag-ui", QUESTION)
    run_agent(protocol_server, "/api/ag-ui", "Which warehouse has the most?", first["thread_id"])
    history = httpx.get(f"{protocol_server.url}/api/threads/{first['thread_id']}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]


def test_tool_calls_with_results(node_clients: Path, protocol_server: Server) -> None:
    out = run_agent(protocol_server, "/api/ag-ui/tools", "stock?")
    assert [t for t in out["types"] if t.startswith("TOOL_CALL")] == [
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
    ]
    call = next(m for m in out["messages"] if m.get("toolCalls"))["toolCalls"][0]
    assert call["id"] == "call-1" and call["function"]["name"] == "stock_lookup"
    assert json.loads(call["function"]["arguments"]) == {"part": "ABC-12345"}
    result = next(m for m in out["messages"] if m["role"] == "tool")
    assert result == {"role": "tool", "content": "1234", "toolCallId": "call-1"}


def test_failure_is_run_error(node_clients: Path, protocol_server: Server) -> None:
    out = run_agent(protocol_server, "/api/ag-ui/failing", "x")
    assert out["types"][-1] == "RUN_ERROR"
    assert out["runError"]["code"] == "InternalError" and "hunter2" not in out["runError"]["message"]


def _input(text: str = QUESTION, **extra: Any) -> dict[str, Any]:
    message = {"id": "m1", "role": "user", "content": text}
    return {"threadId": f"t-{uuid.uuid4().hex[:8]}", "runId": "r1", "messages": [message], **extra}


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/api/ag-ui", {"runId": "r", "messages": []}, "ValidationError"),
        ("/api/ag-ui", {**_input(), "messages": []}, "ValidationError"),
        ("/api/ag-ui", _input(" "), "ValidationError"),
        ("/api/ag-ui", _input("x" * 9000), "MessageTooLong"),
        ("/api/ag-ui/nope", _input(), "UnknownAgent"),
    ],
)
def test_errors_before_the_stream_are_json(protocol_server: Server, path: str, body: dict, code: str) -> None:
    response = httpx.post(protocol_server.url + path, json=body)
    assert response.status_code == 400 and response.json()["error"] == code


def test_cancel_is_a_cancelled_outcome(protocol_server: Server) -> None:
    cancelled: list[str] = []

    def cancel_once_started(result: Any) -> bool:
        if not cancelled and result.messages:
            run_id = result.headers["x-run-id"]
            httpx.post(f"{protocol_server.url}/api/runs/{run_id}/cancel")
            cancelled.append(run_id)
        return False

    with httpx.Client(timeout=30) as client:
        result = read_stream(
            client,
            "POST",
            protocol_server.url + "/api/ag-ui/slow",
            json=_input("5"),
            stop_after=cancel_once_started,
        )
    events = result.events
    assert events[-1]["type"] == "RUN_FINISHED" and events[-1]["outcome"] == {"type": "cancelled"}
    types = [e["type"] for e in events]
    assert types.count("STEP_STARTED") == types.count("STEP_FINISHED")


def test_heartbeats_and_cancel_on_disconnect(protocol_server: Server) -> None:
    result = abandon_slow_run(protocol_server, "/api/ag-ui/slow", _input("5"))
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.events[0]["type"] == "RUN_STARTED"


def test_interrupt_outcome_then_resume_continues(node_clients: Path, protocol_server: Server) -> None:
    thread_id = f"thread-{uuid.uuid4().hex[:8]}"
    out = run_node("ag_ui.mjs", f"{protocol_server.url}/api/ag-ui/approval", thread_id, "the pump", "yes")
    assert out["types"][-1] == "RUN_FINISHED" and "error" not in out
    (interrupt,) = out["outcome"]["interrupts"]
    assert out["outcome"]["type"] == "interrupt" and interrupt["reason"] == "input_required"
    assert interrupt["metadata"]["value"] == {"question": "Ship the draft?", "options": ["yes", "no"]}
    resumed = out["resumed"]
    assert "error" not in resumed and resumed["outcome"] == {"type": "success"}
    assert resumed["started"]["threadId"] == thread_id
    assert resumed["messages"][-1] == {"role": "assistant", "content": "Answer was 'yes'."}


def test_cancelling_an_interrupt_is_refused(protocol_server: Server) -> None:
    entry = {"interruptId": "i1", "status": "cancelled"}
    response = httpx.post(protocol_server.url + "/api/ag-ui", json=_input(resume=[entry]))
    assert response.status_code == 400 and "cancelled" in response.json()["message"]
