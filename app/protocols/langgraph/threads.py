"""What the LangGraph Platform API keeps besides the checkpointer: thread and run records.

A thread's state lives in the checkpointer, shared with ``/api/threads``; these tables only
hold what the Platform API adds to it (metadata, the assistant that ran it, timestamps) and
which runs were started through the API, with the options they were started with.

One SQL text (``?`` placeholders), two engines, as for the run store: SQLite next to the run
store (the embedded default) and PostgreSQL (the distributed mode, ``STAGECAST_DATABASE_URL``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg is imported by the worker only, after gevent patched (trap 6)
    from psycopg_pool import ConnectionPool

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS langgraph_threads (
        thread_id    TEXT PRIMARY KEY,
        created_at   DOUBLE PRECISION NOT NULL,
        updated_at   DOUBLE PRECISION NOT NULL,
        metadata     TEXT NOT NULL,
        assistant_id TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS langgraph_runs (
        run_id       TEXT PRIMARY KEY,
        thread_id    TEXT NOT NULL,
        assistant_id TEXT NOT NULL,
        created_at   DOUBLE PRECISION NOT NULL,
        metadata     TEXT NOT NULL,
        kwargs       TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS langgraph_runs_thread ON langgraph_runs (thread_id, created_at)",
    # Crons (app/protocols/langgraph/crons.py): next_run_at is claimed by compare-and-set.
    """
    CREATE TABLE IF NOT EXISTS langgraph_crons (
        cron_id      TEXT PRIMARY KEY,
        thread_id    TEXT,
        assistant_id TEXT NOT NULL,
        schedule     TEXT NOT NULL,
        payload      TEXT NOT NULL,
        metadata     TEXT NOT NULL,
        owner        TEXT,
        created_at   DOUBLE PRECISION NOT NULL,
        updated_at   DOUBLE PRECISION NOT NULL,
        next_run_at  DOUBLE PRECISION NOT NULL,
        end_time     DOUBLE PRECISION
    )
    """,
)
_THREAD = "thread_id, created_at, updated_at, metadata, assistant_id"
_RUN = "run_id, thread_id, assistant_id, created_at, metadata, kwargs"
# One lock id for "creating the LangGraph API's tables": workers starting together do it once.
_SCHEMA_LOCK = 0x5743_0002


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


class LangGraphRecords(ABC):
    """The Platform API's thread and run records; an engine only says how to execute SQL."""

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        rows = self._execute(f"SELECT {_THREAD} FROM langgraph_threads WHERE thread_id = ?", (thread_id,))
        return _thread(rows[0]) if rows else None

    def put_thread(self, record: ThreadRecord) -> None:
        """Insert ``record``, or replace the thread's."""
        self._execute(
            f"INSERT INTO langgraph_threads ({_THREAD}) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (thread_id) DO UPDATE SET created_at = excluded.created_at,"
            " updated_at = excluded.updated_at, metadata = excluded.metadata,"
            " assistant_id = excluded.assistant_id",
            (
                record.thread_id,
                record.created_at,
                record.updated_at,
                json.dumps(record.metadata, ensure_ascii=False),
                record.assistant_id,
            ),
        )

    def delete_thread(self, thread_id: str) -> None:
        """Forget the thread and its run records."""
        self._execute("DELETE FROM langgraph_runs WHERE thread_id = ?", (thread_id,))
        self._execute("DELETE FROM langgraph_threads WHERE thread_id = ?", (thread_id,))

    def threads(self) -> list[ThreadRecord]:
        return [_thread(row) for row in self._execute(f"SELECT {_THREAD} FROM langgraph_threads")]

    def add_run(self, record: RunRecord) -> None:
        """Record a run, and that its thread was run by ``record.assistant_id`` just now."""
        self._execute(
            f"INSERT INTO langgraph_runs ({_RUN}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.run_id,
                record.thread_id,
                record.assistant_id,
                record.created_at,
                json.dumps(record.metadata, ensure_ascii=False),
                json.dumps(record.kwargs, ensure_ascii=False),
            ),
        )
        self._execute(
            "UPDATE langgraph_threads SET updated_at = ?, assistant_id = ? WHERE thread_id = ?",
            (time.time(), record.assistant_id, record.thread_id),
        )

    def delete_run(self, run_id: str) -> None:
        self._execute("DELETE FROM langgraph_runs WHERE run_id = ?", (run_id,))

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._execute(f"SELECT {_RUN} FROM langgraph_runs WHERE run_id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def runs_of(self, thread_id: str) -> list[RunRecord]:
        """The thread's runs, newest first."""
        rows = self._execute(
            f"SELECT {_RUN} FROM langgraph_runs WHERE thread_id = ? ORDER BY created_at DESC", (thread_id,)
        )
        return [_run(row) for row in rows]


class SqliteRecords(LangGraphRecords):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        for statement in SCHEMA:
            conn.execute(statement)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()


class PostgresRecords(LangGraphRecords):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in SCHEMA:
                conn.execute(statement)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def _thread(row: Sequence[Any]) -> ThreadRecord:
    return ThreadRecord(row[0], row[1], row[2], json.loads(row[3]), row[4])


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]))
