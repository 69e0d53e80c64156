"""Run records on disk (SQLite), shared by every worker process of a host.

The live event log is in process memory; this store keeps what must outlive the process
or be seen from another one: which worker runs a run, how it ended, and the finished
run's events, so that a resume after a restart or on another worker replays them or
says plainly why it cannot.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.runs.models import Run

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL,
    worker_pid INTEGER NOT NULL,
    state      TEXT NOT NULL,
    summary    TEXT NOT NULL,
    events     TEXT,
    ended_at   REAL
)
"""


# Who owns each thread: its first run's authenticated user (README, "Security").
_THREAD_OWNERS = """
CREATE TABLE IF NOT EXISTS thread_owners (
    thread_id TEXT PRIMARY KEY,
    owner     TEXT NOT NULL
)
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection for use by the greenlets of one process (sqlite3 calls never yield)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    # WAL: readers in other workers do not block the writer; NORMAL: no fsync per commit.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    worker_pid: int
    state: str
    summary: dict[str, Any]
    events: list[str] | None


class RunStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(_SCHEMA)
        conn.execute(_THREAD_OWNERS)

    def started(self, run: Run, worker_pid: int) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO runs (run_id, thread_id, worker_pid, state, summary)"
            " VALUES (?, ?, ?, ?, ?)",
            (run.run_id, run.thread_id, worker_pid, run.state, json.dumps(run.summary())),
        )

    def finished(self, run: Run, events: list[str]) -> None:
        self._conn.execute(
            "UPDATE runs SET state = ?, summary = ?, events = ?, ended_at = ? WHERE run_id = ?",
            (
                run.state,
                json.dumps(run.summary(), ensure_ascii=False),
                json.dumps(events, ensure_ascii=False),
                run.ended_at,
                run.run_id,
            ),
        )

    def get(self, run_id: str) -> StoredRun | None:
        row = self._conn.execute(
            "SELECT run_id, worker_pid, state, summary, events FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        return StoredRun(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]) if row[4] else None)

    def claim_thread(self, thread_id: str, owner: str) -> str:
        """Make ``owner`` the owner of ``thread_id`` unless it has one; return its owner."""
        self._conn.execute(
            "INSERT OR IGNORE INTO thread_owners (thread_id, owner) VALUES (?, ?)", (thread_id, owner)
        )
        return self.thread_owner(thread_id) or owner

    def thread_owner(self, thread_id: str) -> str | None:
        row = self._conn.execute(
            "SELECT owner FROM thread_owners WHERE thread_id = ?", (thread_id,)
        ).fetchone()
        return row[0] if row else None

    def mark_draining(self, worker_pid: int) -> None:
        """``worker_pid`` is shutting down; its unfinished runs will end (or be interrupted) soon."""
        self._conn.execute(
            "UPDATE runs SET state = 'draining' WHERE worker_pid = ? AND events IS NULL", (worker_pid,)
        )

    def mark_interrupted(self, worker_pid: int) -> int:
        """Runs of ``worker_pid`` that never recorded an end: the process died under them."""
        cursor = self._conn.execute(
            "UPDATE runs SET state = 'interrupted' WHERE worker_pid = ? AND events IS NULL",
            (worker_pid,),
        )
        return cursor.rowcount

    def forget_older_than(self, ended_before: float) -> None:
        """Drop finished runs that ended before ``ended_before`` (run at worker start)."""
        self._conn.execute("DELETE FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?", (ended_before,))
