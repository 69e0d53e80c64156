"""The LangGraph Platform API (/langgraph) driven by LangGraph's own Python SDK over gunicorn.

``langgraph-sdk`` runs here, in the test process (its sync client is httpx), never inside the
gevent server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import BadRequestError, ConflictError, NotFoundError, UnprocessableEntityError
from langgraph_sdk.schema import Command, StreamPart

from tests.support.langgraph import by_event, human, langgraph_client
from tests.support.server import Server, run_server

QUESTION = "How many ABC-12345 are in stock?"


@pytest.fixture(scope="module")
def lg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("langgraph"), heartbeat_s=0.5, disconnect_grace_s=1) as running:
        yield running


@pytest.fixture
def lg(lg_server: Server) -> Iterator[SyncLangGraphClient]:
    with langgraph_client(lg_server) as client:
        yield client


def test_assistants_and_info(lg: SyncLangGraphClient) -> None:
    assistants = lg.assistants.search()
    assert {"chat", "slow"} <= {a["assistant_id"] for a in assistants}
    assert lg.assistants.get("chat")["graph_id"] == "chat"
    assert [a["assistant_id"] for a in lg.assistants.search(graph_id="tools")] == ["tools"]
    with pytest.raises(NotFoundError):
        lg.assistants.get("nope")
    assert lg.http.get("/info")["flags"]["assistants"] is True


def test_threads_create_get_search_delete(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create(metadata={"user": "ana"})
    assert thread["status"] == "idle" and thread["metadata"] == {"user": "ana"}
    assert lg.threads.get(thread["thread_id"])["thread_id"] == thread["thread_id"]
    same = lg.threads.create(thread_id=thread["thread_id"], if_exists="do_nothing")
    assert same["metadata"] == {"user": "ana"}
    with pytest.raises(ConflictError):
        lg.threads.create(thread_id=thread["thread_id"])
    found = lg.threads.search(metadata={"user": "ana"})
    assert [t["thread_id"] for t in found] == [thread["thread_id"]]
    lg.threads.delete(thread["thread_id"])
    with pytest.raises(NotFoundError):
        lg.threads.get(thread["thread_id"])


def test_stream_values_messages_updates_custom(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    runs: list[dict[str, Any]] = []
    parts = list(
        lg.runs.stream(
            thread["thread_id"],
            "chat",
            input=human(QUESTION),
            stream_mode=["values", "messages-tuple", "updates", "custom"],
            on_run_created=runs.append,
        )
    )
    assert parts[0].event == "metadata"
    run_id = parts[0].data["run_id"]
    assert parts[0].data["attempt"] == 1
    assert runs == [{"run_id": run_id, "thread_id": thread["thread_id"]}]
    # messages-tuple: AI chunks with one stable id; their text is the answer.
    chunks = by_event(parts, "messages")
    assert chunks
    ids = {chunk["id"] for chunk, _ in chunks}
    assert len(ids) == 1 and None not in ids
    assert {meta["langgraph_node"] for _, meta in chunks} == {"response_generation"}
    answer = "".join(chunk["content"] for chunk, _ in chunks)
    # values: the first is the input, the last holds the same AI message id and text.
    values = by_event(parts, "values")
    assert values[0]["messages"][-1]["type"] == "human"
    assert values[0]["messages"][-1]["content"] == QUESTION
    final = values[-1]["messages"][-1]
    assert final["type"] == "ai" and final["id"] in ids and final["content"] == answer
    assert "1,234" in answer
    # updates: one per node, in graph order.
    updates = by_event(parts, "updates")
    assert [next(iter(u)) for u in updates] == ["query_analysis", "data_retrieval", "response_generation"]
    assert updates[1]["data_retrieval"]["sources"]
    # custom: Stagecast's progress and sources events.
    custom = by_event(parts, "custom")
    assert {"progress", "sources"} <= {c["type"] for c in custom}
    assert any(c["type"] == "progress" and c["message"].startswith("Looking up") for c in custom)
    assert not by_event(parts, "error")
    # The thread is the checkpointer's: the native API reads the same conversation.
    native = httpx.get(
        f"{lg.http.client.base_url}".rsplit("/langgraph", 1)[0]
        + f"/api/threads/{thread['thread_id']}/messages"
    )
    assert [m["role"] for m in native.json()["messages"]] == ["user", "assistant"]
    run = lg.runs.get(thread["thread_id"], run_id)
    assert run["status"] == "success" and run["assistant_id"] == "chat"
    assert [r["run_id"] for r in lg.runs.list(thread["thread_id"])] == [run_id]


def test_state_and_history(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    result = lg.runs.wait(thread["thread_id"], "chat", input=human(QUESTION))
    assert result["messages"][-1]["type"] == "ai"
    state = lg.threads.get_state(thread["thread_id"])
    assert state["next"] == [] and state["tasks"] == []
    assert state["values"]["messages"][-1]["id"] == result["messages"][-1]["id"]
    assert state["checkpoint"]["thread_id"] == thread["thread_id"]
    history = lg.threads.get_history(thread["thread_id"], limit=10)
    assert history[0]["checkpoint"] == state["checkpoint"]
    assert [h["metadata"]["step"] for h in history] == [3, 2, 1, 0, -1]
    assert history[-1]["next"] == ["__start__"]
    older = lg.threads.get_history(thread["thread_id"], limit=2, before=history[1]["checkpoint"])
    assert [h["metadata"]["step"] for h in older] == [1, 0]
    assert lg.threads.get(thread["thread_id"])["values"]["messages"][-1]["type"] == "ai"


def test_stateless_stream_and_wait(lg: SyncLangGraphClient) -> None:
    parts = list(lg.runs.stream(None, "tools", input=human("stock?"), stream_mode="values"))
    assert parts[0].event == "metadata"
    last = by_event(parts, "values")[-1]["messages"]
    assert [m["type"] for m in last] == ["human", "ai", "tool", "ai"]
    assert last[1]["tool_calls"][0]["name"] == "stock_lookup"
    waited = lg.runs.wait(None, "tools", input={"messages": [{"type": "human", "content": "stock?"}]})
    assert waited["messages"][-1]["content"] == "There are 1234 in stock."


def test_background_run_join_and_rejoin_after_drop(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    run = lg.runs.create(
        thread["thread_id"], "slow", input={"question": "1.5"}, stream_mode=["values", "custom"]
    )
    assert run["status"] in ("pending", "running")
    seen: list[StreamPart] = []
    for part in lg.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1"):
        seen.append(part)
        if part.event == "custom":
            break  # the connection drops mid-run
    assert [p.event for p in seen][:2] == ["metadata", "custom"]
    rest = list(lg.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id=seen[-1].id))
    assert rest and rest[0].event != "metadata"
    events = [p.event for p in seen + rest]
    ids = [p.id for p in seen + rest]
    assert len(ids) == len(set(ids)), "no part twice"
    assert events.count("metadata") == 1
    assert by_event(rest, "values")[-1]["messages"][-1]["content"] == "slept 1.5s"
    assert lg.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"
    # From the start again, after the end: the whole run once more.
    replay = list(lg.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1"))
    assert [p.event for p in replay] == events
    assert lg.runs.join(thread["thread_id"], run["run_id"])["messages"][-1]["content"] == "slept 1.5s"


def test_cancel(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    run = lg.runs.create(thread["thread_id"], "slow", input={"question": "30"})
    lg.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    assert lg.runs.get(thread["thread_id"], run["run_id"])["status"] == "interrupted"
    assert lg.threads.get(thread["thread_id"])["status"] == "idle"


def test_multitask_reject_gives_409_and_interrupt_replaces(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    first = lg.runs.create(thread["thread_id"], "slow", input={"question": "30"})
    assert lg.threads.get(thread["thread_id"])["status"] == "busy"
    with pytest.raises(ConflictError):
        lg.runs.create(thread["thread_id"], "slow", input={"question": "0"}, multitask_strategy="reject")
    second = lg.runs.wait(
        thread["thread_id"], "slow", input={"question": "0"}, multitask_strategy="interrupt"
    )
    assert second["messages"][-1]["content"] == "slept 0.0s"
    assert lg.runs.get(thread["thread_id"], first["run_id"])["status"] == "interrupted"


def test_wait_reports_a_failed_run(lg: SyncLangGraphClient) -> None:
    with pytest.raises(Exception, match="InternalError"):
        lg.runs.wait(None, "failing", input=human("boom"))
    parts = list(lg.runs.stream(None, "failing", input=human("boom")))
    assert by_event(parts, "error") == [
        {"error": "InternalError", "message": by_event(parts, "error")[0]["message"]}
    ]
    assert "hunter2" not in str(parts)


def test_errors_are_the_sdk_exceptions(lg: SyncLangGraphClient) -> None:
    with pytest.raises(NotFoundError):
        lg.threads.get_state("no-such-thread")
    with pytest.raises(NotFoundError):
        list(lg.runs.stream("no-such-thread", "chat", input=human("hi")))
    # runs.wait raises httpx's own error (the SDK's request_reconnect), with the JSON body.
    with pytest.raises(httpx.HTTPStatusError) as failed:
        lg.runs.wait(None, "nope", input=human("hi"))
    assert failed.value.response.status_code == 404
    created = lg.runs.wait("fresh-thread-1", "tools", input=human("hi"), if_not_exists="create")
    assert created["messages"][-1]["type"] == "ai"


def test_limits_apply(lg: SyncLangGraphClient) -> None:
    with pytest.raises(BadRequestError, match="limit is 8000"):
        list(lg.runs.stream(None, "chat", input=human("x" * 9000)))
    with pytest.raises(UnprocessableEntityError, match="webhook"):
        list(lg.runs.stream(None, "chat", input=human("hi"), webhook="http://127.0.0.1:9/hook"))
    with pytest.raises(BadRequestError, match="no user message"):
        list(lg.runs.stream(None, "chat", input={"messages": [{"role": "ai", "content": "hi"}]}))


def test_interrupt_and_resume_with_command(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    tid = thread["thread_id"]
    parts = list(lg.runs.stream(tid, "approval", input={"question": "v2"}, stream_mode=["values", "updates"]))
    pending = by_event(parts, "values")[-1]["__interrupt__"]
    assert pending[0]["value"] == {"question": "Ship the draft?", "options": ["yes", "no"]}
    assert by_event(parts, "updates")[-1] == {"__interrupt__": pending}
    assert by_event(parts, "values")[-2]["messages"][-1]["id"] == "msg-draft"
    state = lg.threads.get_state(tid)
    assert state["next"] == ["approve"]
    assert state["tasks"][0]["interrupts"] == pending and state["interrupts"] == pending
    paused = lg.threads.get(tid)
    assert paused["status"] == "interrupted"
    assert list(paused["interrupts"].values()) == [pending]
    run_id = parts[0].data["run_id"]
    assert lg.runs.get(tid, run_id)["status"] == "interrupted"
    # Resume with LangGraph's Command: the same thread goes on from the pending interrupt.
    resumed = lg.runs.wait(tid, "approval", command=Command(resume="yes"))
    assert resumed["messages"][-1]["content"] == "Answer was 'yes'."
    assert [m["type"] for m in resumed["messages"]] == ["human", "ai", "ai"]
    assert lg.threads.get(tid)["status"] == "idle"
    # Nothing is pending now: a resume is refused.
    with pytest.raises(ConflictError):
        list(lg.runs.stream(tid, "approval", command=Command(resume="again")))


def test_update_thread_metadata(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create(metadata={"user": "ana"})
    updated = lg.threads.update(thread["thread_id"], metadata={"topic": "stock"})
    assert updated["metadata"] == {"user": "ana", "topic": "stock"}
    assert lg.threads.search(metadata={"topic": "stock"})[0]["thread_id"] == thread["thread_id"]


def test_multitask_enqueue_waits_for_the_run_in_progress(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    first = lg.runs.create(thread["thread_id"], "slow", input={"question": "1"})
    second = lg.runs.wait(thread["thread_id"], "slow", input={"question": "0"}, multitask_strategy="enqueue")
    assert [m["content"] for m in second["messages"] if m["type"] == "ai"] == ["slept 1.0s", "slept 0.0s"]
    assert lg.runs.get(thread["thread_id"], first["run_id"])["status"] == "success"


def test_on_disconnect_continue_keeps_the_run_and_cancel_stops_it(lg: SyncLangGraphClient) -> None:
    outcomes = {}
    for mode in ("continue", "cancel"):
        thread = lg.threads.create()
        stream = lg.runs.stream(
            thread["thread_id"], "slow", input={"question": "2"}, stream_mode="custom", on_disconnect=mode
        )
        run_id = next(stream).data["run_id"]
        next(stream)  # the node's custom progress: it is sleeping now
        stream.close()  # the client goes away
        # Watched by nobody (a join would count as a watcher): the status only.
        deadline = time.monotonic() + 10
        while (status := lg.runs.get(thread["thread_id"], run_id)["status"]) == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        outcomes[mode] = status
    assert outcomes == {"continue": "success", "cancel": "interrupted"}


def test_events_debug_and_checkpoints_modes(lg: SyncLangGraphClient) -> None:
    parts = list(
        lg.runs.stream(None, "chat", input=human(QUESTION), stream_mode=["events", "debug", "checkpoints"])
    )
    events = by_event(parts, "events")
    assert events and {e["event"] for e in events} == {"on_chat_model_stream"}
    assert all(e["data"]["chunk"]["id"] for e in events)
    debug = by_event(parts, "debug")
    assert [d["step"] for d in debug] == [0, 1, 2, 3]
    assert by_event(parts, "checkpoints")[-1]["values"]["messages"][-1]["type"] == "ai"


def test_stream_subgraphs_names_the_parts_of_subgraph_nodes(lg: SyncLangGraphClient) -> None:
    thread = lg.threads.create()
    parts = list(
        lg.runs.stream(
            thread["thread_id"],
            "nested",
            input={"question": "pumps"},
            stream_mode=["custom", "messages-tuple", "values"],
            stream_subgraphs=True,
        )
    )
    searching = [
        p for p in parts if p.event.startswith("custom") and p.data["message"] == "searching for pumps"
    ]
    assert [p.event for p in searching] == ["custom|research"]
    assert {p.event for p in parts if p.event.startswith("custom") and p.data["node"] == "plan"} == {"custom"}
    answer = "".join(chunk["content"] for chunk, _ in by_event(parts, "messages"))
    assert answer == "Summary of the findings."
    assert by_event(parts, "values")[-1]["__interrupt__"][0]["value"]["question"] == "Ship the draft?"
    # The same run joined later keeps its stream_subgraphs.
    joined = list(lg.runs.join_stream(thread["thread_id"], parts[0].data["run_id"], last_event_id="-1"))
    assert [p.event for p in joined] == [p.event for p in parts]


def test_model_tokens_and_final_values_share_the_message_id(llm_server: Server) -> None:
    """On the OpenAI path (the local fake upstream) the chunks' id is the model message's id."""
    client = get_sync_client(url=llm_server.url + "/langgraph", timeout=30)
    try:
        parts = list(
            client.runs.stream(None, "chat", input=human(QUESTION), stream_mode=["messages-tuple", "values"])
        )
    finally:
        client.http.client.close()
    chunks = by_event(parts, "messages")
    assert len(chunks) > 1 and all(chunk["id"] for chunk, _ in chunks)
    final = by_event(parts, "values")[-1]["messages"][-1]
    assert final["type"] == "ai"
    streamed = "".join(chunk["content"] for chunk, _ in chunks if chunk["id"] == final["id"])
    assert streamed == final["content"] and streamed


def test_users_cannot_reach_each_others_threads_and_runs(tmp_path: Path) -> None:
    """With authentication on, the LangGraph API keeps Stagecast's ownership: another user's
    thread or run answers 404 (langgraph-sdk's NotFoundError), as on /api; admins see all."""
    keys = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc", "root": "root-key-0123456789ab"}
    with run_server(
        tmp_path, heartbeat_s=0.5, api_keys=",".join(f"{u}={k}" for u, k in keys.items()), admins="root"
    ) as server:
        clients = {
            user: get_sync_client(
                url=server.url + "/langgraph", api_key=None, headers={"Authorization": f"Bearer {key}"}
            )
            for user, key in keys.items()
        }
        try:
            alice, bob, root = clients["alice"], clients["bob"], clients["root"]
            thread = alice.threads.create()
            run = alice.runs.wait(thread["thread_id"], "chat", input=human(QUESTION))
            assert "1,234" in run["messages"][-1]["content"]
            runs = alice.runs.list(thread["thread_id"])
            run_id = runs[0]["run_id"]
            for attempt in (
                lambda: bob.threads.get(thread["thread_id"]),
                lambda: bob.threads.get_state(thread["thread_id"]),
                lambda: bob.runs.get(thread["thread_id"], run_id),
                lambda: bob.runs.list(thread["thread_id"]),
                lambda: bob.runs.cancel(thread["thread_id"], run_id),
                lambda: bob.runs.wait(thread["thread_id"], "chat", input=human("hi")),
            ):
                with pytest.raises(httpx.HTTPStatusError) as refused:
                    attempt()
                assert refused.value.response.status_code == 404
            # Thread ids are per owner: bob creating alice's id makes a thread of his own.
            own = bob.threads.create(thread_id=thread["thread_id"], if_exists="raise")
            assert own["thread_id"] == thread["thread_id"] and own["values"] is None
            assert alice.threads.get(thread["thread_id"])["values"]["messages"]
            bob.threads.delete(thread["thread_id"])
            assert thread["thread_id"] not in [t["thread_id"] for t in bob.threads.search()]
            assert thread["thread_id"] in [t["thread_id"] for t in root.threads.search()]
            assert root.runs.get(thread["thread_id"], run_id)["run_id"] == run_id
        finally:
            for client in clients.values():
                client.http.client.close()
