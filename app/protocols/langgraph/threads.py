"""What the LangGraph Platform API keeps besides the checkpointer: thread and run records.

A thread's state lives in the checkpointer, shared with ``/api/threads``; this table only
holds what the Platform API adds to it (metadata, the assistant that ran it, timestamps) and
which runs were started through the API, with the options they were started with.

The views use :class:`LangGraphRecords` only, so a PostgreSQL implementation (the
distributed mode) is one more class with these methods; :class:`SqliteRecords` is the
embedded default and sits in the same SQLite file as the run store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS langgraph_threads (
        thread_id    TEXT PRIMARY KEY,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL,
        metadata     TEXT NOT NULL,
        assistant_id TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS langgraph_runs (
        run_id       TEXT PRIMARY KEY,
        thread_id    TEXT NOT NULL,
        assistant_id TEXT NOT NULL,
        created_at   REAL NOT NULL,
        metadata     TEXT NOT NULL,
        kwargs       TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS langgraph_runs_thread ON langgraph_runs (thread_id, created_at)",
)


@dataclass(frozen=True)
class ThreadRecord:
    thread_id: str
    created_at: float
    updated_at: float
    metadata: dict[str, Any]
    assistant_id: str | None = None


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    thread_id: str
    assistant_id: str
    created_at: float
    metadata: dict[str, Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    """The run's options as the client sent them (stream_mode, multitask_strategy, ...)."""


class LangGraphRecords(Protocol):
    """Storage of the Platform API's thread and run records."""

    def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    def put_thread(self, record: ThreadRecord) -> None:
        """Insert or replace ``record``."""

    def delete_thread(self, thread_id: str) -> None:
        """Forget the thread and its run records."""

    def threads(self) -> list[ThreadRecord]: ...

    def add_run(self, record: RunRecord) -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def runs_of(self, thread_id: str) -> list[RunRecord]:
        """The thread's runs, newest first."""


class SqliteRecords:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        for statement in _SCHEMA:
            conn.execute(statement)

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        row = self._conn.execute(
            "SELECT thread_id, created_at, updated_at, metadata, assistant_id"
            " FROM langgraph_threads WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
        return _thread(row) if row else None

    def put_thread(self, record: ThreadRecord) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO langgraph_threads"
            " (thread_id, created_at, updated_at, metadata, assistant_id) VALUES (?, ?, ?, ?, ?)",
            (
                record.thread_id,
                record.created_at,
                record.updated_at,
                json.dumps(record.metadata, ensure_ascii=False),
                record.assistant_id,
            ),
        )

    def delete_thread(self, thread_id: str) -> None:
        self._conn.execute("DELETE FROM langgraph_threads WHERE thread_id = ?", (thread_id,))
        self._conn.execute("DELETE FROM langgraph_runs WHERE thread_id = ?", (thread_id,))

    def threads(self) -> list[ThreadRecord]:
        rows = self._conn.execute(
            "SELECT thread_id, created_at, updated_at, metadata, assistant_id FROM langgraph_threads"
        ).fetchall()
        return [_thread(row) for row in rows]

    def add_run(self, record: RunRecord) -> None:
        self._conn.execute(
            "INSERT INTO langgraph_runs (run_id, thread_id, assistant_id, created_at, metadata, kwargs)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.run_id,
                record.thread_id,
                record.assistant_id,
                record.created_at,
                json.dumps(record.metadata, ensure_ascii=False),
                json.dumps(record.kwargs, ensure_ascii=False),
            ),
        )
        self._conn.execute(
            "UPDATE langgraph_threads SET updated_at = ?, assistant_id = ? WHERE thread_id = ?",
            (time.time(), record.assistant_id, record.thread_id),
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._conn.execute(
            "SELECT run_id, thread_id, assistant_id, created_at, metadata, kwargs"
            " FROM langgraph_runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return _run(row) if row else None

    def runs_of(self, thread_id: str) -> list[RunRecord]:
        rows = self._conn.execute(
            "SELECT run_id, thread_id, assistant_id, created_at, metadata, kwargs"
            " FROM langgraph_runs WHERE thread_id = ? ORDER BY created_at DESC",
            (thread_id,),
        ).fetchall()
        return [_run(row) for row in rows]


def _thread(row: tuple[Any, ...]) -> ThreadRecord:
    return ThreadRecord(row[0], row[1], row[2], json.loads(row[3]), row[4])


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]))
