"""app/runs/store/sqlite_checkpoints.py: LangGraph's SQLite saver with one transaction per call."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from app.runs.store.sqlite import connect
from app.runs.store.sqlite_checkpoints import SqliteCheckpointer

CONFIG: Any = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c1"}}


def checkpointer(path: Path) -> SqliteCheckpointer:
    saver = SqliteCheckpointer(connect(path))
    saver.setup()
    return saver


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as other:  # another connection: another worker's view
        return other.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_call_is_one_transaction_committed_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    saver = checkpointer(path)
    statements: list[str] = []
    saver.conn.set_trace_callback(statements.append)
    saver.put_writes(CONFIG, [("a", 1), ("b", 2), ("c", 3)], "task")
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
    assert sum(s.startswith("INSERT") for s in statements) == 3 and len(statements) == 5
    assert count(path, "writes") == 3


def test_a_failing_call_writes_none_of_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    saver = checkpointer(path)
    saver.conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON writes WHEN NEW.channel = 'b' "
        "BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        saver.put_writes(CONFIG, [("a", 1), ("b", 2)], "task")
    assert count(path, "writes") == 0
    assert not saver.conn.in_transaction
    saver.put_writes(CONFIG, [("a", 1)], "task")  # the connection is usable again
    assert count(path, "writes") == 1


class State(TypedDict):
    seen: list[int]


def test_each_step_is_committed_before_the_next_runs(tmp_path: Path) -> None:
    """durability="sync": a worker that dies in a node leaves the steps before it readable."""
    path = tmp_path / "c.sqlite"

    def step(state: State) -> dict[str, Any]:
        return {"seen": [*state["seen"], count(path, "checkpoints")]}

    builder = StateGraph(State)
    builder.add_node("one", step)
    builder.add_node("two", step)
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", END)
    graph = builder.compile(checkpointer=checkpointer(path))
    result = graph.invoke({"seen": []}, {"configurable": {"thread_id": "t"}}, durability="sync")
    # The input's two checkpoints before "one"; one more, with one's writes, before "two".
    assert result["seen"] == [2, 3]
    assert count(path, "checkpoints") == 4
