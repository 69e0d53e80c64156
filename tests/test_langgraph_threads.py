"""The LangGraph API's thread and run records (app/protocols/langgraph/threads.py)."""

from __future__ import annotations

from pathlib import Path

from app.protocols.langgraph.threads import RunRecord, SqliteRecords, ThreadRecord
from app.runs.store import connect


def test_threads_and_their_runs(tmp_path: Path) -> None:
    records = SqliteRecords(connect(tmp_path / "db.sqlite"))
    records.put_thread(ThreadRecord("t1", 1.0, 1.0, {"user": "ana"}))
    records.put_thread(ThreadRecord("t2", 2.0, 2.0, {}))
    assert records.get_thread("t1") == ThreadRecord("t1", 1.0, 1.0, {"user": "ana"})
    assert records.get_thread("nope") is None
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
