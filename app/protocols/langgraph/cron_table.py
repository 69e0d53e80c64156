"""The rows of ``langgraph_crons``: crons, and the one-shot starts of runs with ``after_seconds``
(a row with an empty schedule whose payload names the run id). The scheduler and the routes
are in app/protocols/langgraph/crons.py; this module knows no Flask.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .serialize import iso
from .threads import LangGraphRecords, PostgresRecords

_COLUMNS = (
    "cron_id, thread_id, assistant_id, schedule, payload, metadata, owner, created_at, updated_at,"
    " next_run_at, end_time"
)


@dataclass(frozen=True)
class CronRecord:
    cron_id: str
    thread_id: str | None
    assistant_id: str
    schedule: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    owner: str | None
    created_at: float
    updated_at: float
    next_run_at: float
    end_time: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "cron_id": self.cron_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "schedule": self.schedule,
            "payload": self.payload,
            "metadata": self.metadata,
            "user_id": self.owner,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "next_run_date": iso(self.next_run_at),
            "end_time": iso(self.end_time) if self.end_time is not None else None,
        }


# Schedulers of this process that wait for a first row (the embedded mode): told on an add.
_WAITING: list[Callable[[], None]] = []


def when_added(start: Callable[[], None]) -> None:
    """Call ``start`` once, at the next row this process adds."""
    _WAITING.append(start)


class Crons:
    """The cron rows, on the engine of the API's records."""

    def __init__(self, records: LangGraphRecords) -> None:
        self._records = records

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._records._execute(sql, params)

    def now(self) -> float:
        """The database's clock in the distributed mode (one clock for every host), else this one."""
        if isinstance(self._records, PostgresRecords):
            return float(self._execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")[0][0])
        return time.time()

    def any(self) -> bool:
        return bool(self._execute("SELECT 1 FROM langgraph_crons LIMIT 1"))

    def add(self, cron: CronRecord) -> None:
        self._execute(
            f"INSERT INTO langgraph_crons ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cron.cron_id,
                cron.thread_id,
                cron.assistant_id,
                cron.schedule,
                json.dumps(cron.payload, ensure_ascii=False),
                json.dumps(cron.metadata, ensure_ascii=False),
                cron.owner,
                cron.created_at,
                cron.updated_at,
                cron.next_run_at,
                cron.end_time,
            ),
        )
        while _WAITING:  # a scheduler of this process that waited for a first row
            _WAITING.pop()()

    def get(self, cron_id: str) -> CronRecord | None:
        rows = self._execute(f"SELECT {_COLUMNS} FROM langgraph_crons WHERE cron_id = ?", (cron_id,))
        return _cron(rows[0]) if rows else None

    def all(self) -> list[CronRecord]:
        """The crons (not the one-shot starts)."""
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM langgraph_crons WHERE schedule <> '' ORDER BY created_at"
        )
        return [_cron(row) for row in rows]

    def due(self, now: float) -> list[CronRecord]:
        rows = self._execute(f"SELECT {_COLUMNS} FROM langgraph_crons WHERE next_run_at <= ?", (now,))
        return [_cron(row) for row in rows]

    def claim(self, cron: CronRecord, next_run_at: float, now: float) -> bool:
        """Move the cron from its due time to ``next_run_at``; True for the one caller that did."""
        rows = self._execute(
            "UPDATE langgraph_crons SET next_run_at = ?, updated_at = ?"
            " WHERE cron_id = ? AND next_run_at = ? RETURNING cron_id",
            (next_run_at, now, cron.cron_id, cron.next_run_at),
        )
        return bool(rows)

    def take(self, cron: CronRecord) -> bool:
        """Remove a one-shot row; True for the one caller that did (it starts the run)."""
        return self.take_id(cron.cron_id)

    def take_id(self, cron_id: str) -> bool:
        rows = self._execute("DELETE FROM langgraph_crons WHERE cron_id = ? RETURNING cron_id", (cron_id,))
        return bool(rows)

    def delete(self, cron_id: str) -> None:
        self._execute("DELETE FROM langgraph_crons WHERE cron_id = ?", (cron_id,))


def _cron(row: Sequence[Any]) -> CronRecord:
    return CronRecord(
        row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]), row[6], *row[7:11]
    )


# The payload key naming the run a one-shot row starts (RunCreate ignores it).
RUN_ID_KEY = "stagecast_run_id"


def one_shot(
    run_id: str, thread_id: str | None, payload: dict[str, Any], owner: str | None, at: float, now: float
) -> CronRecord:
    """The row that starts ``run_id`` at ``at`` (``after_seconds``)."""
    return CronRecord(
        f"once-{run_id}",
        thread_id,
        payload["assistant_id"],
        "",
        {**payload, RUN_ID_KEY: run_id},
        {},
        owner,
        now,
        now,
        at,
        None,
    )
