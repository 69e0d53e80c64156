"""Run records in SQLite, shared by the worker processes of one host (the embedded default)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.runs.store import SCHEMA, RunStore

log = logging.getLogger(__name__)


def connect(path: Path) -> sqlite3.Connection:
    """A connection for use by the greenlets of one process (sqlite3 calls never yield)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    # WAL: readers in other workers do not block the writer; NORMAL: no fsync per commit.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class SQLiteRunStore(RunStore):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.executescript(SCHEMA)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()
