"""Run records: which worker runs a run, how it ended, and a finished run's events.

The live event log is the backend's (process memory, or Redis); this store keeps what must
outlive a process or be seen from another one. One SQL schema, two engines: SQLite on the
host's disk (the embedded default) and PostgreSQL (the distributed mode). The SQL is written
once, with ``?`` placeholders, and each engine says how to execute it.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import Run

SCHEMA = """
CREATE TABLE IF NOT EXISTS run_records (
    run_id     TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL,
    worker     TEXT NOT NULL,
    state      TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    request    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    events     TEXT,
    ended_at   DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS run_records_created ON run_records (created_at DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS run_records_live ON run_records (thread_id) WHERE events IS NULL;
CREATE TABLE IF NOT EXISTS thread_owners (
    thread_id TEXT PRIMARY KEY,
    owner     TEXT NOT NULL
);
"""

_COLUMNS = "run_id, thread_id, worker, state, attempt, request, summary, events"
INSERT_STARTED = (
    "INSERT INTO run_records (run_id, thread_id, worker, state, attempt, created_at, request, summary)"
)
INSERT_ONE_STARTED = INSERT_STARTED + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # one ``started_row``
# A run that may still execute somewhere: not ended, not given up.
_LIVE = "events IS NULL AND state NOT IN ('interrupted', 'draining')"


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    thread_id: str
    worker: str
    state: str
    attempt: int
    request: dict[str, Any]
    summary: dict[str, Any]
    events: list[str] | None

    @property
    def finished(self) -> bool:
        return self.events is not None


@dataclass(frozen=True)
class RunPage:
    """One page of run summaries, newest first; ``next_cursor`` is None on the last page."""

    runs: list[dict[str, Any]]
    next_cursor: str | None


class RunStore(ABC):
    """Run records in a SQL database; subclasses only execute statements."""

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders) and return its rows, if any."""

    def started(self, run: Run) -> Callable[[], None]:
        """Record a new run; the function returned waits until the record is in (raising if
        it could not be written), so the caller can do something else meanwhile."""
        self._execute(INSERT_ONE_STARTED, started_row(run))
        return _recorded

    # Every update of a record names the attempt that makes it, and changes the row only if
    # that attempt is still the run's (the fencing token, docs/faults.md): a paused or
    # partitioned worker whose run was taken over cannot rewrite its status or its end.

    def updated(self, run: Run) -> bool:
        """The run's state or worker changed (it started); False if its attempt is stale."""
        return bool(
            self._execute(
                "UPDATE run_records SET state = ?, worker = ?, summary = ?"
                " WHERE run_id = ? AND events IS NULL AND attempt = ? RETURNING run_id",
                (run.state, run.worker, _dump(run.summary()), run.run_id, run.attempt),
            )
        )

    def take_over(self, run_id: str, attempt: int, worker: str) -> bool:
        """Make ``attempt`` (claimed by ``worker``) the run's only writer, before it reads the
        thread's checkpoint: from this commit on, every write of an older attempt is refused.
        False if the run has ended or a newer attempt holds it."""
        return bool(
            self._execute(
                "UPDATE run_records SET attempt = ?, worker = ?, state = 'running'"
                " WHERE run_id = ? AND events IS NULL AND attempt < ? RETURNING run_id",
                (attempt, worker, run_id, attempt),
            )
        )

    def finished(self, run: Run, events: list[str]) -> bool:
        """The run's end, written once, by its current attempt; False if refused."""
        return bool(
            self._execute(
                "UPDATE run_records SET state = ?, worker = ?, summary = ?, events = ?, ended_at = ?"
                " WHERE run_id = ? AND events IS NULL AND attempt = ? RETURNING run_id",
                (
                    run.state,
                    run.worker,
                    _dump(run.summary()),
                    _dump(events),
                    run.ended_at or time.time(),
                    run.run_id,
                    run.attempt,
                ),
            )
        )

    def live(self) -> list[tuple[str, str, int]]:
        """(run_id, thread_id, attempt) of every run that may still execute somewhere."""
        return [
            (row[0], row[1], row[2])
            for row in self._execute(f"SELECT run_id, thread_id, attempt FROM run_records WHERE {_LIVE}")
        ]

    def live_on_thread(self, thread_id: str, run_id: str) -> list[str]:
        """The runs other than ``run_id`` that may still execute on ``thread_id``."""
        return [
            row[0]
            for row in self._execute(
                f"SELECT run_id FROM run_records WHERE thread_id = ? AND run_id <> ? AND {_LIVE}",
                (thread_id, run_id),
            )
        ]

    def ended_in_log(self, run_id: str, attempt: int, summary: dict[str, Any], events: list[str]) -> bool:
        """Record the end of a run whose terminal event is committed in the shared log but whose
        worker never recorded it (killed between the two writes); ``summary`` as the log tells it."""
        return bool(
            self._execute(
                "UPDATE run_records SET state = ?, summary = ?, events = ?, ended_at = ?"
                " WHERE run_id = ? AND events IS NULL AND attempt = ? RETURNING run_id",
                (summary["status"], _dump(summary), _dump(events), summary["ended_at"], run_id, attempt),
            )
        )

    def age_s(self, run_id: str, created_at: float) -> float:
        """Seconds since the run was created (``created_at``: its record's, on its host's clock)."""
        return time.time() - created_at

    def mark_committed(self, marks: Sequence[tuple[str, int, int]]) -> None:  # noqa: B027
        """High-water marks of committed events (a shared log that can lose data only)."""

    def committed_seq(self, run_id: str) -> int:
        """The run's last high-water mark: a shared log shorter than it lost data."""
        return 0

    def redis_epoch(self) -> str | None:
        """The Redis dataset's epoch this store last saw (the distributed mode's store only)."""
        return None

    def advance_redis_epoch(self, seen: str | None, epoch: str) -> bool:
        """Record ``epoch`` if the store still has ``seen``; False if another host did first."""
        return False

    def forget(self, run_id: str) -> None:
        """Undo :meth:`started` for a run whose start failed half-way."""
        self._execute("DELETE FROM run_records WHERE run_id = ?", (run_id,))

    def get(self, run_id: str) -> StoredRun | None:
        rows = self._execute(f"SELECT {_COLUMNS} FROM run_records WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        row = rows[0]
        return StoredRun(
            run_id=row[0],
            thread_id=row[1],
            worker=row[2],
            state=row[3],
            attempt=row[4],
            request=json.loads(row[5]),
            summary={**json.loads(row[6]), "status": row[3], "worker": row[2], "attempt": row[4]},
            events=json.loads(row[7]) if row[7] else None,
        )

    def page(self, limit: int, cursor: str | None = None, owner: str | None = None) -> RunPage:
        """Summaries (without answers) of the newest runs, ``limit`` at a time, after ``cursor``;
        only ``owner``'s when given (a run's owner is its thread's)."""
        conditions: list[str] = []
        params: list[Any] = []
        if cursor:
            created, _, run_id = cursor.partition("|")
            conditions.append("((created_at < ?) OR (created_at = ? AND run_id < ?))")
            params += [float(created), float(created), run_id]
        if owner is not None:
            conditions.append("thread_id IN (SELECT thread_id FROM thread_owners WHERE owner = ?)")
            params.append(owner)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        rows = self._execute(
            f"SELECT run_id, state, worker, attempt, summary, created_at FROM run_records {where}"
            " ORDER BY created_at DESC, run_id DESC LIMIT ?",
            [*params, limit + 1],
        )
        runs = [
            {
                **{k: v for k, v in json.loads(row[4]).items() if k != "result"},
                "status": row[1],
                "worker": row[2],
                "attempt": row[3],
            }
            for row in rows[:limit]
        ]
        last = rows[limit - 1] if len(rows) > limit else None
        return RunPage(runs, f"{last[5]!r}|{last[0]}" if last else None)

    def claim_thread(self, thread_id: str, owner: str) -> str:
        """Make ``owner`` the owner of ``thread_id`` unless it has one; return its owner."""
        self._execute(
            "INSERT INTO thread_owners (thread_id, owner) VALUES (?, ?) ON CONFLICT (thread_id) DO NOTHING",
            (thread_id, owner),
        )
        return self.thread_owner(thread_id) or owner

    def thread_owner(self, thread_id: str) -> str | None:
        rows = self._execute("SELECT owner FROM thread_owners WHERE thread_id = ?", (thread_id,))
        return rows[0][0] if rows else None

    def unfinished(self) -> list[tuple[str, str]]:
        """(run_id, worker) of every run that never recorded its end."""
        return [
            (row[0], row[1])
            for row in self._execute("SELECT run_id, worker FROM run_records WHERE events IS NULL")
        ]

    def set_state(self, run_ids: Sequence[str], state: str, ended_at: float | None = None) -> None:
        """Mark runs that never recorded an end (``draining``, or ``interrupted`` at ``ended_at``,
        which retention counts from)."""
        for run_id in run_ids:
            self._execute(
                "UPDATE run_records SET state = ?, ended_at = COALESCE(?, ended_at)"
                " WHERE run_id = ? AND events IS NULL",
                (state, ended_at, run_id),
            )

    def forget_older_than(self, ended_before: float) -> None:
        """Drop finished runs that ended before ``ended_before`` (run at worker start)."""
        self._execute("DELETE FROM run_records WHERE ended_at IS NOT NULL AND ended_at < ?", (ended_before,))


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def started_row(run: Run) -> tuple[Any, ...]:
    """A new run's record, in ``INSERT_STARTED``'s column order."""
    return (
        run.run_id,
        run.thread_id,
        run.worker,
        run.state,
        run.attempt,
        run.created_at,
        run.request.model_dump_json(),
        _dump(run.summary()),
    )


def _recorded() -> None:
    """A record written before ``started`` returned: nothing to wait for."""
