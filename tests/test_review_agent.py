"""The second bundled agent: a parts-request review, offline and deterministic."""

from __future__ import annotations

import httpx

from tests.support.client import StreamResult, read_stream
from tests.support.server import Server, run_server

BIG = "Request 120 x ABC-12345 for the line 3 pump overhaul"  # KRW 5,820,000: above the limit
SMALL = "ABC-12345 40개, 3라인 유압 펌프 정비용"  # 1,940,000원: within it


def review(server: Server, client: httpx.Client, **body: object) -> StreamResult:
    return read_stream(client, "POST", server.url + "/api/chat/stream", json={"agent": "review", **body})


def test_agents_are_listed(server: Server, client: httpx.Client) -> None:
    body = client.get(server.url + "/api/agents").json()
    agents = {agent["name"]: agent for agent in body["agents"]}
    assert body["default"] == "chat"
    assert agents["review"]["stages"] == [
        "classify",
        "purpose",
        "policy_check",
        "refine",
        "approval",
        "recommend",
    ]
    assert agents["chat"]["stages"] == ["query_analysis", "data_retrieval", "response_generation"]
    assert all(agent["description"] for agent in agents.values())
    assert agents["slow"]["stages"] == ["slow"]  # a served graph that declares none: its nodes


def test_policy_checks_run_in_parallel_each_with_step_and_total(server: Server, client: httpx.Client) -> None:
    result = review(server, client, message=SMALL)
    checks = [
        e["data"]
        for e in result.events
        if e["type"] == "progress" and e["data"]["stage"].startswith("policy:")
    ]
    started = [c for c in checks if c["status"] == "in_progress"]
    assert sorted(c["step"] for c in started) == [1, 2, 3, 4, 5] and {c["total"] for c in checks} == {5}
    assert {c["stage"] for c in started} == {
        "policy:approval",
        "policy:stock",
        "policy:usage",
        "policy:lead_time",
        "policy:hazardous",
    }
    assert all(c["path"] == ["policy_check"] for c in checks)
    # Parallel branches: every check starts before the first one's node has ended.
    task_ends = [
        i
        for i, e in enumerate(result.events)
        if e["type"] == "progress"
        and e["data"]["node"] == "policy_check"
        and e["data"]["stage"] == "policy_check"
        and e["data"]["status"] == "completed"
    ]
    starts = [
        i
        for i, e in enumerate(result.events)
        if e["type"] == "progress"
        and e["data"]["stage"] == "policy_check"
        and e["data"]["status"] == "in_progress"
    ]
    assert len(starts) == 5 and max(starts) < min(task_ends)
    # Within the limit: no question, a recommendation with a table.
    assert result.last("done")["data"]["status"] == "success" and "interrupt" not in result.types
    final = result.last("final")["data"]
    assert final["content"] == result.answer and "승인 한도 이내" in final["content"]
    assert final["table_data"]["rows"] == [["ABC-12345", "Hydraulic Pump Seal Kit", 40, 40, 48500, 1940000]]
    assert final["sources"]


def test_above_the_limit_it_asks_for_approval_then_recommends(server: Server, client: httpx.Client) -> None:
    thread = "review-approve"
    paused = review(server, client, message=BIG, conversation_id=thread)
    assert paused.types[-2:] == ["interrupt", "done"] and paused.last("done")["data"]["status"] == "paused"
    (question,) = paused.last("interrupt")["data"]["interrupts"]
    assert question["value"]["options"] == ["approve", "reject"]
    assert question["value"]["order_value"] == 5_820_000 and question["value"]["threshold"] == 5_000_000
    assert "KRW 5,820,000" in question["value"]["question"]

    resumed = review(
        server, client, resume={"approved": True, "note": "line 3 is down"}, conversation_id=thread
    )
    ran = [
        e["data"]["node"]
        for e in resumed.events
        if e["type"] == "progress"
        and e["data"]["status"] == "in_progress"
        and e["data"]["stage"] == e["data"]["node"]
    ]
    assert ran == ["approval", "recommend"]  # the checks are not run again
    steps = {
        e["data"]["node"]: (e["data"]["step"], e["data"]["total"])
        for e in resumed.events
        if e["type"] == "progress"
    }
    assert steps == {"approval": (5, 6), "recommend": (6, 6)}  # declared positions, even half-way
    final = resumed.last("final")["data"]
    assert "It was approved" in final["content"] and "Approver's note: line 3 is down" in final["content"]
    assert final["table_data"]["columns"][0] == "Part"


def test_a_rejected_request_is_not_recommended(server: Server, client: httpx.Client) -> None:
    thread = "review-reject"
    review(server, client, message=BIG, conversation_id=thread)
    resumed = review(server, client, resume="reject", conversation_id=thread)
    assert "do not place the order" in resumed.last("final")["data"]["content"]


def test_quantities_beyond_usage_are_trimmed(server: Server, client: httpx.Client) -> None:
    result = review(server, client, message="Restock 900 units of ABC-12345")
    final_or_pause = result.events[-2]
    assert final_or_pause["type"] == "interrupt"  # 900 units is far above the limit
    resumed = review(
        server, client, resume="approve", conversation_id=result.last("start")["data"]["thread_id"]
    )
    content = resumed.last("final")["data"]["content"]
    assert "trimmed from 900 units to 259 units" in content
    assert "already has 1,234 units in stock" in content


def test_a_request_without_known_parts(server: Server, client: httpx.Client) -> None:
    result = review(server, client, message="Please send 10 units of NOPE-12345")
    assert result.last("done")["data"]["status"] == "success"
    assert "NOPE-12345" in result.last("final")["data"]["content"]
    assert not [e for e in result.events if e["type"] == "progress" and e["data"]["node"] == "policy_check"]


def test_the_approval_threshold_is_a_setting(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path / "data", review_approval_threshold=10_000_000) as raised:
        result = review(raised, client, message=BIG)
        assert "interrupt" not in result.types and result.last("done")["data"]["status"] == "success"
        assert "within the approval limit" in result.last("final")["data"]["content"]


def test_the_approval_question_is_in_langchains_hitl_format(server: Server, client: httpx.Client) -> None:
    thread = "review-hitl-format"
    paused = review(server, client, message=BIG, conversation_id=thread)
    (question,) = paused.last("interrupt")["data"]["interrupts"]
    value = question["value"]
    (action,) = value["action_requests"]
    assert action["name"] == "approve_order" and "KRW 5,820,000" in action["description"]
    assert action["args"] == {
        "lines": [{"part_number": "ABC-12345", "quantity": 120}],
        "order_value": 5_820_000,
    }
    assert value["review_configs"] == [
        {"action_name": "approve_order", "allowed_decisions": ["approve", "edit", "reject"]}
    ]
    approved = review(server, client, resume={"decisions": [{"type": "approve"}]}, conversation_id=thread)
    assert "It was approved" in approved.last("final")["data"]["content"]


def test_hitl_reject_with_a_message_and_edit(server: Server, client: httpx.Client) -> None:
    review(server, client, message=BIG, conversation_id="review-hitl-reject")
    rejected = review(
        server,
        client,
        resume={"decisions": [{"type": "reject", "message": "budget is frozen"}]},
        conversation_id="review-hitl-reject",
    )
    content = rejected.last("final")["data"]["content"]
    assert "do not place the order" in content and "budget is frozen" in content
    review(server, client, message=BIG, conversation_id="review-hitl-edit")
    edit = {
        "type": "edit",
        "edited_action": {
            "name": "approve_order",
            "args": {"lines": [{"part_number": "ABC-12345", "quantity": 60}]},
        },
    }
    edited = review(server, client, resume={"decisions": [edit]}, conversation_id="review-hitl-edit")
    final = edited.last("final")["data"]
    assert "It was approved" in final["content"]
    assert final["table_data"]["rows"][0][3] == 60  # the recommended quantity is the approver's


def test_an_unreadable_answer_is_422_and_the_question_stays(server: Server, client: httpx.Client) -> None:
    thread = "review-hitl-unreadable"
    review(server, client, message=BIG, conversation_id=thread)
    for answer in ("maybe", {"decisions": [{"type": "perhaps"}]}, {"decisions": []}, {"ok": 1}, 3):
        refused = client.post(
            server.url + "/api/chat/stream",
            json={"agent": "review", "resume": answer, "conversation_id": thread},
        )
        assert refused.status_code == 422, (answer, refused.text)
        body = refused.json()
        assert (
            body["error"] == "ValidationError" and '{"decisions": [{"type": "approve"}]}' in body["message"]
        )
    assert client.get(f"{server.url}/api/threads/{thread}").json()["status"] == "paused"
    resumed = review(server, client, resume="approve", conversation_id=thread)
    assert "It was approved" in resumed.last("final")["data"]["content"]
