"""Graphs built from compiled subgraphs: nested nodes report their own stages, with ``path``."""

from __future__ import annotations

import httpx

from tests.support.client import read_stream
from tests.support.server import Server


def test_subgraph_nodes_stream_progress_with_their_path(server: Server, client: httpx.Client) -> None:
    result = read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"message": "pumps", "agent": "nested", "conversation_id": "nested-1"},
    )
    progress = [e["data"] for e in result.events if e["type"] == "progress"]
    assert all("path" in p and p["path"][-1] == p["node"] for p in progress)  # every progress has path
    assert [(p["path"], p["status"]) for p in progress if not p["message"].startswith("searching")] == [
        (["plan"], "in_progress"),
        (["plan"], "completed"),
        (["research"], "in_progress"),
        (["research", "search"], "in_progress"),
        (["research", "search"], "completed"),
        (["research", "summarize"], "in_progress"),
        (["research", "summarize"], "completed"),
        (["research"], "completed"),
        (["review"], "in_progress"),
    ]
    custom = next(p for p in progress if p["message"].startswith("searching"))
    assert custom["path"] == ["research", "search"] and custom["message"] == "searching for pumps"
    # The chat model inside the subgraph streamed its tokens, once each (not again with the
    # parent node's result, which carries the subgraph's messages).
    tokens = [e["data"] for e in result.events if e["type"] == "token"]
    assert len(tokens) > 1 and {t["node"] for t in tokens} == {"summarize"}
    assert result.answer == "Summary of the findings."
    assert result.last("done")["data"]["status"] == "paused"  # review asks, at the top level

    resumed = read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"resume": "yes", "conversation_id": "nested-1"},
    )
    assert resumed.last("final")["data"]["content"] == "Answer was 'yes'."


def test_a_question_asked_inside_a_subgraph_pauses_and_resumes(server: Server, client: httpx.Client) -> None:
    body = {"message": "x", "agent": "inner_question", "conversation_id": "inner-1"}
    paused = read_stream(client, "POST", server.url + "/api/chat/stream", json=body)
    assert paused.types[-2:] == ["interrupt", "done"] and paused.last("done")["data"]["status"] == "paused"
    (question,) = paused.last("interrupt")["data"]["interrupts"]
    assert question["value"]["question"] == "Ship the draft?"
    # Neither the asking node nor the subgraph node that runs it completed.
    completed = [
        tuple(e["data"]["path"])
        for e in paused.events
        if e["type"] == "progress" and e["data"]["status"] == "completed"
    ]
    assert completed == [("prepare",)]
    status = client.get(f"{server.url}/api/threads/inner-1").json()
    assert status["status"] == "paused" and status["interrupts"] == [question]

    resumed = read_stream(
        client, "POST", server.url + "/api/chat/stream", json={"resume": "yes", "conversation_id": "inner-1"}
    )
    started = [
        tuple(e["data"]["path"])
        for e in resumed.events
        if e["type"] == "progress" and e["data"]["status"] == "in_progress"
    ]
    assert started == [("vetting",), ("vetting", "ask")]
    assert resumed.last("final")["data"]["content"] == "Answer was 'yes'."


def test_a_takeover_discards_the_tokens_of_a_subgraph_that_runs_again() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from app.agent.chatbot import ChatbotAgent
    from tests.graphs import nested

    graph = nested.copy({"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "t"}, "metadata": {"stagecast_run_id": "run-1"}}
    # The worker died while the subgraph node "research" ran: the checkpoint's next is research.
    list(graph.stream({"question": "q"}, config, interrupt_before=["research"]))

    def progress(path: list[str]) -> dict[str, object]:
        data = {"node": path[-1], "stage": path[-1], "status": "in_progress", "path": path}
        return {"type": "progress", "data": data}

    def token(node: str, message_id: str) -> dict[str, object]:
        return {"type": "token", "data": {"content": f"{node} ", "node": node, "message_id": message_id}}

    delivered = [
        progress(["plan"]),
        token("plan", "m-plan"),
        progress(["research"]),
        progress(["research", "summarize"]),
        token("summarize", "m-summary"),
    ]
    plan = ChatbotAgent("nested", graph).plan_restart("t", "run-1", delivered)
    assert plan.from_checkpoint
    assert plan.discard_message_ids == ["m-summary"] and plan.kept_answer == ["plan "]
