"""The LangGraph API in the distributed mode: two gunicorn "hosts" on the machine's Redis and
PostgreSQL (a database and key prefix of their own), driven by ``langgraph-sdk``. A thread, its
records and its runs are the same from either host."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError

from tests.support.langgraph import human
from tests.support.server import run_server
from tests.support.services import REDIS_URL, postgres_database, redis_prefix

QUESTION = "How many ABC-12345 are in stock?"


@pytest.fixture(scope="module")
def clients(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SyncLangGraphClient, SyncLangGraphClient]]:
    with postgres_database() as database_url, redis_prefix() as prefix:
        settings = {
            "redis_url": REDIS_URL,
            "database_url": database_url,
            "redis_prefix": prefix,
            "workers": 2,
            "heartbeat_s": 0.5,
            "offline_token_delay_ms": 10,
        }
        with (
            run_server(tmp_path_factory.mktemp("lg-host-a"), **settings) as a,
            run_server(tmp_path_factory.mktemp("lg-host-b"), **settings) as b,
        ):
            ca = get_sync_client(url=a.url + "/langgraph", timeout=30)
            cb = get_sync_client(url=b.url + "/langgraph", timeout=30)
            try:
                yield ca, cb
            finally:
                ca.http.client.close()
                cb.http.client.close()




def test_a_thread_and_its_runs_from_either_host(
    clients: tuple[SyncLangGraphClient, SyncLangGraphClient],
) -> None:
    a, b = clients
    thread = a.threads.create(metadata={"user": "ana"})
    tid = thread["thread_id"]
    assert b.threads.get(tid)["metadata"] == {"user": "ana"}
    run = a.runs.create(tid, "chat", input=human(QUESTION), stream_mode=["values", "messages-tuple"])
    # Joined on the other host, from the start: the whole run, message ids matching the state.
    parts = list(b.runs.join_stream(tid, run["run_id"], last_event_id="-1"))
    assert parts[0].event == "metadata" and parts[0].data["run_id"] == run["run_id"]
    chunks = [p.data[0] for p in parts if p.event == "messages"]
    final = [p.data for p in parts if p.event == "values"][-1]["messages"][-1]
    assert final["type"] == "ai" and {c["id"] for c in chunks} == {final["id"]}
    assert "".join(c["content"] for c in chunks) == final["content"]
    assert b.runs.get(tid, run["run_id"])["status"] == "success"
    assert b.threads.get_state(tid)["values"]["messages"][-1]["id"] == final["id"]
    assert [r["run_id"] for r in b.runs.list(tid)] == [run["run_id"]]


def test_busy_threads_and_cancel_across_hosts(
    clients: tuple[SyncLangGraphClient, SyncLangGraphClient],
) -> None:
    a, b = clients
    tid = a.threads.create()["thread_id"]
    slow = a.runs.create(tid, "slow", input={"question": "30"})
    assert b.threads.get(tid)["status"] == "busy"
    with pytest.raises(ConflictError):
        b.runs.create(tid, "slow", input={"question": "0"}, multitask_strategy="reject")
    b.runs.cancel(tid, slow["run_id"], wait=True)
    assert a.runs.get(tid, slow["run_id"])["status"] == "interrupted"
    waited = b.runs.wait(tid, "slow", input={"question": "0"})
    assert waited["messages"][-1]["content"] == "slept 0.0s"


def test_a_cron_tick_runs_once_across_hosts(
    clients: tuple[SyncLangGraphClient, SyncLangGraphClient],
) -> None:
    """Four workers on two hosts poll the same crons; each tick starts one run, not several."""
    a, b = clients
    tid = a.threads.create()["thread_id"]
    cron = a.crons.create_for_thread(tid, "tools", schedule="* * * * * */2", input=human("stock?"))
    time.sleep(7)
    b.crons.delete(cron["cron_id"])
    time.sleep(1.5)  # a run of the last tick may still be starting
    runs = sorted(a.runs.list(tid, limit=100), key=lambda r: r["created_at"])
    assert 2 <= len(runs) <= 5, runs
    starts = [datetime.fromisoformat(r["created_at"]).timestamp() for r in runs]
    # One run per tick: ticks are 2 s apart, so no two runs start within a second of each other.
    assert all(later - earlier > 1.0 for earlier, later in pairwise(starts)), starts
    time.sleep(2.5)
    assert len(b.runs.list(tid, limit=100)) == len(runs)  # deleted: no more ticks
