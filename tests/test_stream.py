"""The wire contract over real HTTP: gunicorn + gevent, parsed by a spec-correct SSE parser."""

from __future__ import annotations

import re

import httpx
import pytest

from app.events import EVENTS
from tests.support.client import read_stream
from tests.support.inventory import true_stock
from tests.support.server import Server, run_server

QUESTION = "ABC-12345 부품의 재고는?"


def assert_contract(result, run_id: str) -> None:
    """Every rule of the wire contract (docs/protocol.md) that holds for any run."""
    events = result.events
    for message, event in zip(result.messages, events, strict=True):
        EVENTS.validate_python(event)
        assert event["run_id"] == run_id
        assert message.event == "message"  # no event: field
    seqs = [int(m.id.rpartition(":")[2]) for m in result.messages]
    assert [m.id.rpartition(":")[0] for m in result.messages] == [run_id] * len(seqs)
    assert seqs == list(range(1, len(seqs) + 1))
    assert result.types[0] == "start" and result.types[-1] == "done"
    terminal = [t for t in result.types if t in ("final", "error")]
    assert len(terminal) == 1 and result.types[-2] == terminal[0]
    if terminal == ["final"]:
        assert result.last("final")["data"]["content"] == result.answer
    assert len({e["trace_id"] for e in events}) == 1


def test_default_agent_streams_the_contract(server: Server, client: httpx.Client) -> None:
    result = read_stream(client, "POST", server.url + "/api/chat/stream", json={"message": QUESTION})
    assert result.status == 200
    assert result.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in result.headers
    run_id = result.headers["x-run-id"]
    assert result.headers["x-trace-id"] == result.events[0]["trace_id"]
    assert result.body.startswith(b"retry: ")
    assert_contract(result, run_id)

    stages = [
        (e["data"]["stage"], e["data"]["status"])
        for e in result.events
        if e["type"] == "progress"
        and e["data"]["message"]
        in (
            "Analysing the question",
            "Question analysed",
            "Searching stock records and documents",
            "Records and documents found",
            "Writing the answer",
            "Answer written",
        )
    ]
    assert stages == [
        ("query_analysis", "in_progress"),
        ("query_analysis", "completed"),
        ("data_retrieval", "in_progress"),
        ("data_retrieval", "completed"),
        ("response_generation", "in_progress"),
        ("response_generation", "completed"),
    ]
    types = result.types
    assert types.index("sources") < types.index("token")
    assert result.events[0]["data"]["agent"] == "chat"

    final = result.last("final")["data"]
    figure = f"{true_stock('ABC-12345'):,}"
    assert figure in final["content"]
    assert re.search("[가-힣]", final["content"])  # answered in Korean, UTF-8 intact
    assert "재고" in result.body.decode("utf-8")
    assert final["sources"] and 0 < final["confidence_score"] <= 1
    assert final["table_data"]["rows"]
    assert result.last("done")["data"]["status"] == "success"


def test_unknown_part_is_not_invented(server: Server, client: httpx.Client) -> None:
    result = read_stream(
        client, "POST", server.url + "/api/chat/stream", json={"message": "ZZZ-99999 부품의 재고는?"}
    )
    answer = result.last("final")["data"]["content"]
    assert "ZZZ-99999" in answer
    assert not re.search(r"\d+개", answer.replace("ZZZ-99999", ""))


def test_eventsource_get_and_english(server: Server, client: httpx.Client) -> None:
    result = read_stream(
        client, "GET", server.url + "/api/chat/stream", params={"message": "How many ABC-12345 are in stock?"}
    )
    assert result.status == 200
    assert_contract(result, result.headers["x-run-id"])
    assert f"{true_stock('ABC-12345'):,}" in result.answer
    assert not re.search("[가-힣]", result.answer.replace("서울", ""))


def test_blocking_endpoint_answers_one_json(server: Server, client: httpx.Client) -> None:
    response = client.post(server.url + "/api/chat", json={"message": QUESTION})
    body = response.json()
    assert response.status_code == 200 and body["success"] is True
    assert f"{true_stock('ABC-12345'):,}" in body["content"]
    assert body["run_id"] and body["thread_id"] and body["sources"]


def test_first_byte_leaves_before_the_node_and_heartbeats_flow(server: Server, client: httpx.Client) -> None:
    # The slow graph's only node blocks for 2 s; heartbeat_s is 0.5 on this server.
    result = read_stream(
        client, "POST", server.url + "/api/chat/stream", json={"message": "2", "agent": "slow"}
    )
    assert result.first_byte_s is not None and result.first_byte_s < 1.0
    progress_at = next(t for ((t, kind),) in zip(result.arrivals) if kind == "message")
    beats = [t for t, kind in result.arrivals if kind == "comment"]
    final_at = result.arrivals[-1][0]
    assert result.parser.comments.count("heartbeat") >= 2
    assert any(progress_at < t < final_at for t in beats), "heartbeats must arrive while the node blocks"
    assert result.answer == "slept 2.0s"


def test_tool_calls_become_events(server: Server, client: httpx.Client) -> None:
    result = read_stream(
        client, "POST", server.url + "/api/chat/stream", json={"message": "x", "agent": "tools"}
    )
    calls = [e["data"] for e in result.events if e["type"] == "tool_call"]
    assert [(c["name"], c["status"]) for c in calls] == [
        ("stock_lookup", "started"),
        ("stock_lookup", "completed"),
    ]
    assert calls[1]["args"] == {"part": "ABC-12345"} and calls[1]["result"] == "1234"
    assert result.last("final")["data"]["content"] == "There are 1234 in stock."


def test_internal_errors_stay_in_the_log(server: Server, client: httpx.Client) -> None:
    result = read_stream(
        client, "POST", server.url + "/api/chat/stream", json={"message": "x", "agent": "failing"}
    )
    assert_contract(result, result.headers["x-run-id"])
    error = result.last("error")["data"]
    assert error["error"] == "InternalError"
    assert "hunter2" not in result.body.decode()
    assert result.last("done")["data"]["status"] == "error"
    trace_id = result.headers["x-trace-id"]
    assert any(trace_id in line and "hunter2" in line for line in server.log().splitlines())


def test_run_timeout_ends_with_timeout(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path, run_timeout_s=0.5) as short:
        result = read_stream(
            client, "POST", short.url + "/api/chat/stream", json={"message": "5", "agent": "slow"}
        )
    assert result.last("error")["data"]["error"] == "Timeout"
    assert result.last("done")["data"]["status"] == "timeout"
    assert result.last("done")["data"]["duration_ms"] < 3000


@pytest.mark.parametrize("trace_id", ["my-trace-123"])
def test_caller_trace_id_is_kept(server: Server, client: httpx.Client, trace_id: str) -> None:
    result = read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"message": "0", "agent": "slow"},
        headers={"X-Trace-ID": trace_id},
    )
    assert result.headers["x-trace-id"] == trace_id
    assert {e["trace_id"] for e in result.events} == {trace_id}
