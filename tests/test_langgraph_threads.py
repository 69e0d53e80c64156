"""The LangGraph API's thread and run records (app/protocols/langgraph/threads.py): one test
suite for both engines, SQLite and PostgreSQL (a fresh database of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from app.protocols.langgraph.threads import (
    LangGraphRecords,
    PostgresRecords,
    RunRecord,
    SqliteRecords,
    ThreadRecord,
)
from app.runs.store.sqlite import connect
from tests.support.services import postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LangGraphRecords]:
    if request.param == "sqlite":
        yield SqliteRecords(connect(tmp_path / "db.sqlite"))
        return
    with postgres_database() as url:
        pool = ConnectionPool(url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=True)
        try:
            yield PostgresRecords(pool)
        finally:
            pool.close()


def test_threads_and_their_runs(records: LangGraphRecords) -> None:
    records.put_thread(ThreadRecord("t1", 1.0, 1.0, {"user": "ana"}))
    records.put_thread(ThreadRecord("t2", 2.0, 2.0, {}))
    assert records.get_thread("t1") == ThreadRecord("t1", 1.0, 1.0, {"user": "ana"})
    assert records.get_thread("nope") is None
    records.put_thread(ThreadRecord("t1", 1.0, 1.5, {"user": "ana", "topic": "stock"}))
    assert records.get_thread("t1") == ThreadRecord("t1", 1.0, 1.5, {"user": "ana", "topic": "stock"})
    records.add_run(RunRecord("r1", "t1", "chat", 3.0, {"k": "v"}, {"stream_mode": ["values"]}))
    records.add_run(RunRecord("r2", "t1", "slow", 4.0, {}, {}))
    assert [r.run_id for r in records.runs_of("t1")] == ["r2", "r1"]
    assert records.get_run("r1") == RunRecord(
        "r1", "t1", "chat", 3.0, {"k": "v"}, {"stream_mode": ["values"]}
    )
    thread = records.get_thread("t1")
    assert thread is not None and thread.assistant_id == "slow" and thread.updated_at > 4.0
    records.delete_thread("t1")
    assert records.get_thread("t1") is None and records.runs_of("t1") == [] and records.get_run("r1") is None
    assert [t.thread_id for t in records.threads()] == ["t2"]
