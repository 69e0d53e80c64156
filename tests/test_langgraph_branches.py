"""The LangGraph API's time travel and graph controls, driven by ``langgraph-sdk`` over gunicorn
on both backends: forks from a checkpoint (``checkpoint``/``checkpoint_id``), ``command.goto``
and ``command.update``, breakpoints (``interrupt_before``/``interrupt_after``) continued with
``input: null``, and the ``graph_id``/``assistant_id`` metadata a run gives its thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError
from langgraph_sdk.schema import StreamPart

from tests.support.server import Server, run_server
from tests.support.services import REDIS_URL, postgres_database, redis_prefix

FIRST = "How many ABC-12345 are in stock?"
EDITED = "How many XYZ-99999 are in stock?"


def backend(name: str) -> AbstractContextManager[dict[str, Any]]:
    return nullcontext({}) if name == "memory" else _distributed()


@contextmanager
def _distributed() -> Iterator[dict[str, Any]]:
    with postgres_database() as database_url, redis_prefix() as prefix:
        yield {"redis_url": REDIS_URL, "database_url": database_url, "redis_prefix": prefix}


@pytest.fixture(scope="module", params=["memory", "distributed"])
def lg_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    with (
        backend(request.param) as settings,
        run_server(tmp_path_factory.mktemp(request.param), heartbeat_s=0.5, **settings) as running,
    ):
        yield running


@pytest.fixture
def lg(lg_server: Server) -> Iterator[SyncLangGraphClient]:
    client = get_sync_client(url=lg_server.url + "/langgraph", timeout=30)
    try:
        yield client
    finally:
        client.http.client.close()


def human(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def by_event(parts: list[StreamPart], event: str) -> list[Any]:
    return [part.data for part in parts if part.event == event]


def contents(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["type"], m["content"]) for m in values["messages"]]


def test_fork_from_a_checkpoint_edit_and_regenerate(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    first = lg.runs.wait(tid, "chat", input=human(FIRST))
    old = contents(first)
    # Edit: submit(values, {checkpoint}) from the checkpoint the first message was taken in at
    # (useStream sends the parent checkpoint of the message it edits).
    history = lg.threads.get_history(tid, limit=20)
    intake = next(h for h in history if h["next"] == ["__start__"])
    fork = intake["checkpoint"]
    parts = list(lg.runs.stream(tid, "chat", input=human(EDITED), checkpoint=fork, stream_mode="values"))
    edited = by_event(parts, "values")[-1]
    assert contents(edited)[0] == ("human", EDITED) and len(edited["messages"]) == 2
    assert "XYZ-99999" in edited["messages"][1]["content"]
    state = lg.threads.get_state(tid)
    assert contents(state["values"]) == contents(edited)
    # The old branch is in the history: its tip still holds the first conversation.
    tip = history[0]["checkpoint"]["checkpoint_id"]
    assert contents(lg.threads.get_state(tid, checkpoint_id=tip)["values"]) == old
    assert state["parent_checkpoint"]["checkpoint_id"] != tip
    # Regenerate: input null from the checkpoint before the answer (time travel replays from it).
    before_answer = next(
        h
        for h in lg.threads.get_history(tid, limit=20)
        if h["next"] and h["next"] != ["__start__"] and len(h["values"].get("messages", [])) == 1
    )
    assert contents(before_answer["values"]) == [("human", EDITED)]
    again = lg.runs.wait(tid, "chat", input=None, checkpoint_id=before_answer["checkpoint"]["checkpoint_id"])
    assert contents(again)[0] == ("human", EDITED) and len(again["messages"]) == 2
    assert again["messages"][1]["id"] != edited["messages"][1]["id"]
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        lg.runs.wait(tid, "chat", input=human(FIRST), checkpoint_id="no-such-checkpoint")
    assert unknown.value.response.status_code == 404
    assert unknown.value.response.json()["error"] == "CheckpointNotFound"


def test_command_goto_runs_that_node(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    first = lg.runs.wait(tid, "chat", input=human(FIRST))
    parts = list(lg.runs.stream(tid, "chat", command={"goto": "response_generation"}, stream_mode="custom"))
    started = [c["node"] for c in by_event(parts, "custom") if c.get("status") == "in_progress"]
    assert started == ["response_generation"]
    values = lg.threads.get_state(tid)["values"]
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "ai"]
    assert values["messages"][-1]["content"] == first["messages"][-1]["content"]


def test_command_update_and_goto_together(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    lg.runs.wait(tid, "approval", input={"question": "v1"})
    # Answer the pending question and rewrite the question in one command.
    done = lg.runs.wait(tid, "approval", command={"resume": "yes", "update": {"question": "v9"}})
    assert done["messages"][-1]["content"] == "Answer was 'yes'." and done["question"] == "v9"
    assert lg.threads.get(tid)["status"] == "idle"


def test_interrupt_before_pauses_and_input_null_continues(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    paused = lg.runs.wait(tid, "chat", input=human(FIRST), interrupt_before=["response_generation"])
    assert [m["type"] for m in paused["messages"]] == ["human"]
    thread = lg.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert lg.threads.get_state(tid)["next"] == ["response_generation"]
    run = lg.runs.list(tid)[0]
    assert run["status"] == "interrupted"
    parts = list(lg.runs.stream(tid, "chat", input=None, stream_mode=["updates", "values"]))
    assert [next(iter(u)) for u in by_event(parts, "updates")] == ["response_generation"]
    assert [m["type"] for m in by_event(parts, "values")[-1]["messages"]] == ["human", "ai"]
    assert lg.threads.get(tid)["status"] == "idle"
    # interrupt_after: paused once the named node ran.
    after = lg.runs.wait(tid, "chat", input=human(FIRST), interrupt_after=["query_analysis"])
    assert [m["type"] for m in after["messages"]] == ["human", "ai", "human"]
    assert lg.threads.get_state(tid)["next"] == ["data_retrieval"]
    assert lg.threads.get(tid)["status"] == "interrupted"
    done = lg.runs.wait(tid, "chat", input=None)
    assert [m["type"] for m in done["messages"]] == ["human", "ai", "human", "ai"]


def test_a_run_gives_its_thread_graph_id_and_assistant_id(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create(metadata={"owner_note": "x"})["thread_id"]
    lg.runs.wait(tid, "tools", input=human("stock?"))
    metadata = lg.threads.get(tid)["metadata"]
    assert metadata == {"owner_note": "x", "graph_id": "tools", "assistant_id": "tools"}
    found = lg.threads.search(metadata={"graph_id": "tools"}, limit=100)
    assert tid in {t["thread_id"] for t in found}
    created = lg.runs.wait(None, "chat", input=human(FIRST))  # stateless: no thread to list
    assert created["messages"][-1]["type"] == "ai"
    fresh = lg.runs.create("made-by-a-run", "chat", input=human(FIRST), if_not_exists="create")
    lg.runs.join(fresh["thread_id"], fresh["run_id"])
    chats = {t["thread_id"] for t in lg.threads.search(metadata={"graph_id": "chat"}, limit=100)}
    assert "made-by-a-run" in chats
    with pytest.raises(NotFoundError):
        lg.threads.get("never-made")
