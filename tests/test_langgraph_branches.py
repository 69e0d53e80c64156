"""The LangGraph API's time travel and graph controls, driven by ``langgraph-sdk`` over gunicorn
on both backends: forks from a checkpoint (``checkpoint``/``checkpoint_id``), ``command.goto``
and ``command.update``, breakpoints (``interrupt_before``/``interrupt_after``) continued with
``input: null``, and the ``graph_id``/``assistant_id`` metadata a run gives its thread."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.support.langgraph import by_event, human, langgraph_client
from tests.support.server import Server, run_server
from tests.support.services import backend_settings

FIRST = "How many ABC-12345 are in stock?"
EDITED = "How many XYZ-99999 are in stock?"


@pytest.fixture(scope="module", params=["memory", "distributed"])
def lg_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    with (
        backend_settings(request.param) as settings,
        run_server(
            tmp_path_factory.mktemp(request.param), heartbeat_s=0.5, webhook_hosts="127.0.0.1", **settings
        ) as running,
    ):
        yield running


@pytest.fixture
def lg(lg_server: Server) -> Iterator[SyncLangGraphClient]:
    with langgraph_client(lg_server) as client:
        yield client


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


# --- threads: update state, copy, count, prune, join ---


def test_update_state_then_continue(lg: SyncLangGraphClient, lg_server: Server) -> None:
    tid = lg.threads.create()["thread_id"]
    lg.runs.wait(tid, "chat", input=human(FIRST), interrupt_before=["response_generation"])
    # A person writes the answer instead of the node: the graph goes on after that node (to END).
    written = {"messages": [{"type": "ai", "content": "Written by a person."}]}
    answer = lg.threads.update_state(tid, written, as_node="response_generation")
    assert answer["checkpoint"]["checkpoint_id"]
    state = lg.threads.get_state(tid)
    assert state["next"] == [] and state["checkpoint"] == answer["checkpoint"]
    assert contents(state["values"])[-1] == ("ai", "Written by a person.")
    assert lg.threads.get(tid)["status"] == "idle"
    # The native API sees the update, and the thread's agent is still the chat agent.
    native = httpx.get(f"{lg_server.url}/api/threads/{tid}").json()
    assert native["agent"] == "chat" and native["message_count"] == 2
    done = lg.runs.wait(tid, "chat", input=human(FIRST))
    assert [m["type"] for m in done["messages"]] == ["human", "ai", "human", "ai"]
    # With a checkpoint: a fork of an older state.
    first_turn = answer["checkpoint"]["checkpoint_id"]
    forked = lg.threads.update_state(
        tid, {"question": "rewritten"}, as_node="response_generation", checkpoint_id=first_turn
    )
    values = lg.threads.get_state(tid)["values"]
    assert values["question"] == "rewritten" and len(values["messages"]) == 2
    assert lg.threads.get_state(tid)["parent_checkpoint"]["checkpoint_id"] == first_turn
    assert forked["checkpoint"]["checkpoint_id"] != first_turn
    with pytest.raises(NotFoundError):
        lg.threads.update_state(tid, {"question": "x"}, as_node="query_analysis", checkpoint_id="nope")
    with pytest.raises(NotFoundError):
        lg.threads.update_state("no-such-thread", {"question": "x"})


def test_threads_copy_count_and_prune(lg: SyncLangGraphClient) -> None:
    tag = {"suite": f"copy-{id(lg)}"}
    tid = lg.threads.create(metadata=tag)["thread_id"]
    lg.runs.wait(tid, "chat", input=human(FIRST))
    copied = lg.threads.copy(tid)
    assert isinstance(copied, dict) and copied["thread_id"] != tid
    copy_id = copied["thread_id"]
    assert lg.threads.get_state(copy_id)["values"] == lg.threads.get_state(tid)["values"]
    original = [h["checkpoint"]["checkpoint_id"] for h in lg.threads.get_history(tid, limit=50)]
    assert [h["checkpoint"]["checkpoint_id"] for h in lg.threads.get_history(copy_id, limit=50)] == original
    # The copy goes its own way.
    lg.runs.wait(copy_id, "chat", input=human(EDITED))
    assert len(lg.threads.get_state(copy_id)["values"]["messages"]) == 4
    assert len(lg.threads.get_state(tid)["values"]["messages"]) == 2
    assert lg.threads.count(metadata=tag) == 2
    assert lg.threads.count(metadata=tag, status="idle") == 2
    assert lg.threads.count(metadata={**tag, "graph_id": "nope"}) == 0
    # keep_latest: one checkpoint left, the same state; delete: gone.
    assert lg.threads.prune([copy_id], strategy="keep_latest") == {"pruned_count": 1}
    assert len(lg.threads.get_history(copy_id, limit=50)) == 1
    assert len(lg.threads.get_state(copy_id)["values"]["messages"]) == 4
    lg.runs.wait(copy_id, "chat", input=human(FIRST))  # and it goes on
    assert lg.threads.prune([tid, "never-made"]) == {"pruned_count": 1}
    with pytest.raises(NotFoundError):
        lg.threads.get(tid)
    assert lg.threads.count(metadata=tag) == 1


def test_join_the_threads_current_run(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    assert list(lg.threads.join_stream(tid)) == []  # nothing in progress
    run = lg.runs.create(tid, "slow", input={"question": "1"}, stream_mode=["values", "custom"])
    parts = list(lg.threads.join_stream(tid))
    assert parts[0].event == "metadata" and parts[0].data["run_id"] == run["run_id"]
    assert by_event(parts, "values")[-1]["messages"][-1]["content"] == "slept 1.0s"
    assert any(c.get("message") == "sleeping 1.0s" for c in by_event(parts, "custom"))
    with pytest.raises(NotFoundError):
        list(lg.threads.join_stream("no-such-thread"))


# --- runs: stateless, batch, delete ---


def test_stateless_background_run_batch_and_delete(lg: SyncLangGraphClient) -> None:
    stateless = lg.runs.create(None, "tools", input=human("stock?"))
    assert stateless["status"] in ("pending", "running", "success")
    tid = lg.threads.create()["thread_id"]
    batch = lg.runs.create_batch(
        [
            {"assistant_id": "tools", "input": human("stock?"), "thread_id": tid},
            {"assistant_id": "tools", "input": human("stock?")},
        ]
    )
    assert len(batch) == 2 and batch[0]["thread_id"] == tid
    done = lg.runs.join(tid, batch[0]["run_id"])
    assert done["messages"][-1]["content"] == "There are 1234 in stock."
    assert [r["run_id"] for r in lg.runs.list(tid)] == [batch[0]["run_id"]]
    lg.runs.delete(tid, batch[0]["run_id"])
    assert lg.runs.list(tid) == []
    assert lg.threads.get_state(tid)["values"]["messages"][-1]["content"] == "There are 1234 in stock."
    with pytest.raises(NotFoundError):
        lg.runs.delete(tid, batch[0]["run_id"])
    busy = lg.runs.create(tid, "slow", input={"question": "5"})
    with pytest.raises(ConflictError):
        lg.runs.delete(tid, busy["run_id"])
    lg.runs.cancel(tid, busy["run_id"], wait=True)
    lg.runs.delete(tid, busy["run_id"])


def test_the_new_routes_keep_ownership(tmp_path: Path) -> None:
    """Another user's thread or run answers 404 on every new route; prune and count skip it."""
    keys = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc"}
    with run_server(tmp_path, api_keys=",".join(f"{u}={k}" for u, k in keys.items())) as server:
        url = server.url + "/langgraph"
        alice, bob = (
            get_sync_client(url=url, api_key=None, headers={"Authorization": f"Bearer {key}"})
            for key in keys.values()
        )
        try:
            tid = alice.threads.create(metadata={"who": "alice"})["thread_id"]
            alice.runs.wait(tid, "chat", input=human(FIRST))
            run_id = alice.runs.list(tid)[0]["run_id"]
            tip = alice.threads.get_state(tid)["checkpoint"]
            copy_id = alice.threads.copy(tid)["thread_id"]
            for attempt in (
                lambda: bob.threads.update_state(tid, {"question": "x"}, as_node="query_analysis"),
                lambda: bob.threads.copy(tid),
                lambda: list(bob.threads.join_stream(tid)),
                lambda: bob.runs.delete(tid, run_id),
                lambda: bob.runs.wait(tid, "chat", input=human(FIRST), checkpoint=tip),
                lambda: bob.threads.get(copy_id),
            ):
                with pytest.raises(httpx.HTTPStatusError) as refused:
                    attempt()
                assert refused.value.response.status_code == 404
            assert bob.threads.count(metadata={"who": "alice"}) == 0
            assert alice.threads.count(metadata={"who": "alice"}) == 2
            assert bob.threads.prune([tid, copy_id]) == {"pruned_count": 0}
            assert alice.threads.get(tid)["thread_id"] == tid
            # The store: a user's namespaces are their own, in the API and in their runs' nodes.
            alice.store.put_item(["notes"], "k", {"text": "alice's"})
            with pytest.raises(NotFoundError):
                bob.store.get_item(["notes"], "k")
            assert bob.store.search_items(["notes"])["items"] == []
            assert bob.store.list_namespaces()["namespaces"] == []
            bob.store.put_item(["notes"], "k", {"text": "bob's"})
            assert alice.store.get_item(["notes"], "k")["value"] == {"text": "alice's"}
            alice.runs.wait(None, "remember", input={"question": "alice remembers"})
            assert bob.runs.wait(None, "remember", input={"question": "bob"})["messages"][-1]["content"] == (
                "before: None"
            )
            assert alice.store.get_item(["memories"], "last")["value"] == {"text": "alice remembers"}
            assert alice.store.list_namespaces()["namespaces"] == [["memories"], ["notes"]]
            # Crons: another user's is not found, not listed, not deletable; a thread cron needs
            # a thread the caller may see.
            cron = alice.crons.create_for_thread(tid, "chat", schedule="0 0 1 1 *", input=human(FIRST))
            assert bob.crons.search() == [] and [c["cron_id"] for c in alice.crons.search()] == [
                cron["cron_id"]
            ]
            for attempt in (
                lambda: bob.crons.delete(cron["cron_id"]),
                lambda: bob.crons.create_for_thread(tid, "chat", schedule="0 0 1 1 *", input=human(FIRST)),
            ):
                with pytest.raises(httpx.HTTPStatusError) as refused:
                    attempt()
                assert refused.value.response.status_code == 404
            alice.crons.delete(cron["cron_id"])
        finally:
            alice.http.client.close()
            bob.http.client.close()


# --- human approval in LangChain's format ---

BIG_ORDER = "Request 120 x ABC-12345 for the line 3 pump overhaul"  # above the approval limit


@pytest.mark.parametrize(
    ("decision", "approved"),
    [({"type": "approve"}, True), ({"type": "reject", "message": "budget is frozen"}, False)],
)
def test_review_approval_with_decisions(
    lg: SyncLangGraphClient, decision: dict[str, Any], approved: bool
) -> None:
    tid = lg.threads.create()["thread_id"]
    paused = lg.runs.wait(tid, "review", input=human(BIG_ORDER))
    (pending,) = paused["__interrupt__"]
    assert {"action_requests", "review_configs"} <= set(pending["value"])
    assert pending["value"]["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    thread = lg.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert thread["metadata"] == {"graph_id": "review", "assistant_id": "review"}
    # An answer the agent cannot read is refused, not taken as a rejection.
    with pytest.raises(UnprocessableEntityError, match="decisions"):
        list(lg.runs.stream(tid, "review", command={"resume": {"decisions": [{"type": "ok"}]}}))
    done = lg.runs.wait(tid, "review", command={"resume": {"decisions": [decision]}})
    assert done["decision"] == {"by": "human", "approved": approved, "note": decision.get("message")}
    assert ("do not place the order" in done["messages"][-1]["content"]) is not approved
    assert lg.threads.get(tid)["status"] == "idle"


# --- store ---


def test_store_round_trip_and_get_store_in_a_node(lg: SyncLangGraphClient) -> None:
    lg.store.put_item(["prefs", "ana"], "theme", {"color": "teal"})
    lg.store.put_item(["prefs", "ana"], "lang", {"code": "ko"})
    lg.store.put_item(["prefs", "bo"], "theme", {"color": "red"})
    item = lg.store.get_item(["prefs", "ana"], "theme")
    assert item["value"] == {"color": "teal"} and item["namespace"] == ["prefs", "ana"]
    found = lg.store.search_items(["prefs"], filter={"color": "teal"})
    assert [(i["namespace"], i["key"]) for i in found["items"]] == [(["prefs", "ana"], "theme")]
    assert len(lg.store.search_items(["prefs", "ana"])["items"]) == 2
    namespaces = lg.store.list_namespaces(prefix=["prefs"])["namespaces"]
    assert sorted(namespaces) == [["prefs", "ana"], ["prefs", "bo"]]
    lg.store.delete_item(["prefs", "ana"], "theme")
    with pytest.raises(NotFoundError):
        lg.store.get_item(["prefs", "ana"], "theme")
    # A node's get_store() is the same store.
    first = lg.runs.wait(None, "remember", input={"question": "blue"})
    assert first["messages"][-1]["content"] in ("before: None", "before: green")
    second = lg.runs.wait(None, "remember", input={"question": "green"})
    assert second["messages"][-1]["content"] == "before: blue"
    assert lg.store.get_item(["memories"], "last")["value"] == {"text": "green"}


# --- webhooks ---


class Hooks:
    """A local HTTP server that records the webhooks it is sent; ``/flaky`` fails once with 500."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.failed: set[str] = set()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.startswith("/flaky") and self.path not in hooks.failed:
                    hooks.failed.add(self.path)
                    self.send_response(500)
                else:
                    hooks.received.append((self.path, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, path: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for got, body in self.received:
                if got == path:
                    return body
            time.sleep(0.05)
        raise AssertionError(f"no webhook at {path}; got {[p for p, _ in self.received]}")


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    running = Hooks()
    yield running
    running.server.shutdown()


def test_a_webhook_gets_the_final_state(lg: SyncLangGraphClient, hooks: Hooks) -> None:
    tid = lg.threads.create()["thread_id"]
    path = f"/done/{tid}"
    run = lg.runs.create(tid, "tools", input=human("stock?"), webhook=hooks.url + path)
    body = hooks.wait_for(path)
    assert body["run_id"] == run["run_id"] and body["thread_id"] == tid
    assert body["status"] == "success" and body["webhook_sent_at"]
    assert body["values"]["messages"][-1]["content"] == "There are 1234 in stock."
    # A 500 is tried again (with backoff); a stateless run sends one too.
    flaky = f"/flaky/{tid}"
    lg.runs.wait(None, "tools", input=human("stock?"), webhook=hooks.url + flaky)
    assert hooks.wait_for(flaky)["values"]["messages"][-1]["type"] == "ai"
    assert flaky in hooks.failed


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9/hook",  # not on the allowlist (only 127.0.0.1 is)
        "http://example.com/hook",
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "http://127.0.0.1:notaport/hook",
    ],
)
def test_a_webhook_to_a_host_not_allowed_is_refused(lg: SyncLangGraphClient, url: str) -> None:
    with pytest.raises(UnprocessableEntityError, match="webhook"):
        list(lg.runs.stream(None, "tools", input=human("stock?"), webhook=url))


# --- crons ---


def wait_for_runs(lg: SyncLangGraphClient, tid: str, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = lg.runs.list(tid, limit=100)
        if len(runs) >= count:
            return runs
        time.sleep(0.2)
    raise AssertionError(f"{count} runs did not start on {tid}")


def test_a_cron_runs_once_then_ends(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    cron = lg.crons.create_for_thread(tid, "tools", schedule="* * * * * */5", input=human("stock?"))
    # It ends a second after its first tick: exactly one run.
    first = datetime.fromisoformat(cron["next_run_date"])
    lg.crons.delete(cron["cron_id"])
    cron = lg.crons.create_for_thread(
        tid,
        "tools",
        schedule="* * * * * */5",
        input=human("stock?"),
        end_time=first + timedelta(seconds=1),
    )
    assert cron["schedule"] == "* * * * * */5" and cron["thread_id"] == tid
    assert [c["cron_id"] for c in lg.crons.search(thread_id=tid)] == [cron["cron_id"]]
    (run,) = wait_for_runs(lg, tid, 1)
    lg.runs.join(tid, run["run_id"])
    assert lg.threads.get_state(tid)["values"]["messages"][-1]["content"] == "There are 1234 in stock."
    time.sleep(max(0.0, first.timestamp() + 6.5 - time.time()))
    assert len(lg.runs.list(tid, limit=100)) == 1
    assert lg.crons.search(thread_id=tid) == []  # past its end: gone


def test_a_stateless_cron_and_deleting_it(lg: SyncLangGraphClient) -> None:
    marker = f"cron-{uuid.uuid4().hex[:8]}"
    cron = lg.crons.create("remember", schedule="* * * * * */2", input={"question": marker})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(NotFoundError):
            if lg.store.get_item(["memories"], "last")["value"] == {"text": marker}:
                break
        time.sleep(0.2)
    else:
        raise AssertionError("the stateless cron did not run")
    assert cron["cron_id"] in {c["cron_id"] for c in lg.crons.search(assistant_id="remember")}
    lg.crons.delete(cron["cron_id"])
    with pytest.raises(NotFoundError):
        lg.crons.delete(cron["cron_id"])
    with pytest.raises(UnprocessableEntityError, match="schedule"):
        lg.crons.create("tools", schedule="every minute", input=human("x"))
    with pytest.raises(NotFoundError):
        lg.crons.create("nope", schedule="* * * * *", input=human("x"))


def test_after_seconds_delays_a_background_run(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    asked = time.time()
    run = lg.runs.create(tid, "tools", input=human("stock?"), after_seconds=2)
    assert run["status"] == "pending" and run["thread_id"] == tid
    assert lg.runs.get(tid, run["run_id"])["status"] == "pending"
    assert not lg.threads.get_state(tid)["values"]  # nothing ran yet
    done = lg.runs.join(tid, run["run_id"])  # waits for the start, then for the end
    assert time.time() - asked >= 1.5
    assert done["messages"][-1]["content"] == "There are 1234 in stock."
    assert lg.runs.get(tid, run["run_id"])["status"] == "success"
    # Called off before it starts: it never runs.
    later = lg.runs.create(tid, "tools", input=human("again?"), after_seconds=2)
    lg.runs.cancel(tid, later["run_id"])
    assert lg.runs.get(tid, later["run_id"])["status"] == "interrupted"
    time.sleep(3)
    assert len(lg.threads.get_state(tid)["values"]["messages"]) == 4  # one turn: no second one
    stateless = lg.runs.create(None, "tools", input=human("stock?"), after_seconds=1)
    assert stateless["status"] == "pending"
    with pytest.raises(UnprocessableEntityError, match="after_seconds"):
        list(lg.runs.stream(tid, "tools", input=human("x"), after_seconds=1))


def test_cancel_many_and_search_by_values(lg: SyncLangGraphClient) -> None:
    tid = lg.threads.create()["thread_id"]
    slow = lg.runs.create(tid, "slow", input={"question": "30"})
    lg.runs.cancel_many(thread_id=tid, run_ids=[slow["run_id"]])
    deadline = time.monotonic() + 10
    while lg.runs.get(tid, slow["run_id"])["status"] != "interrupted":
        assert time.monotonic() < deadline, "the run was not cancelled"
        time.sleep(0.1)
    other = lg.threads.create()["thread_id"]
    again = lg.runs.create(other, "slow", input={"question": "30"})
    lg.runs.cancel_many(status="all")  # pending or running
    deadline = time.monotonic() + 10
    while lg.runs.get(other, again["run_id"])["status"] != "interrupted":
        assert time.monotonic() < deadline, "the running run was not cancelled"
        time.sleep(0.1)
    with pytest.raises(UnprocessableEntityError):
        lg.runs.cancel_many(run_ids=[again["run_id"]])
    # Thread search by state values.
    asked = lg.threads.create()["thread_id"]
    question = f"stock of {uuid.uuid4().hex[:8]}?"
    lg.runs.wait(asked, "tools", input=human(question))
    found = lg.threads.search(values={"question": question}, limit=100)
    assert [t["thread_id"] for t in found] == [asked]
