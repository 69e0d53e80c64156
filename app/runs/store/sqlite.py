"""Run records in SQLite, shared by the worker processes of one host (the embedded default)."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..models import Run
from . import SCHEMA, RunStore

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
        self._path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
        self._identity = _identity(self._path)
        self._lost = False

    def started(self, run: Run) -> Callable[[], None]:
        self._check_file()
        return super().started(run)

    def finished(self, run: Run, events: list[str]) -> bool:
        self._check_file()
        return super().finished(run, events)

    def _check_file(self) -> None:
        """Log once when the file under the connection was deleted or replaced: SQLite keeps
        writing to the unlinked file without a word, and those records are lost."""
        lost = _identity(self._path) != self._identity
        if lost and not self._lost:
            log.error(
                "the run store's file %s was deleted or replaced while in use; run records written "
                "from now on are lost (restart the service to open a new file)",
                self._path,
            )
        self._lost = lost

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
