"""Run records in PostgreSQL, shared by every worker on every host (the distributed mode).

psycopg picks its wait function when it is imported, so it cooperates with gevent only if
gevent patched first: this module is imported by the app factory, inside a worker, never in
gunicorn's master (docs/architecture.md, "Distributed mode"). The pool is made after fork, per worker.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.base import id as checkpoint_ids
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..backends import StoreUnavailableError
from ..batching import Batcher
from ..models import Run
from . import INSERT_ONE_STARTED, INSERT_STARTED, SCHEMA, RunStore, started_row

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# One lock id for "creating Stagecast's tables": workers starting together do it once.
_SCHEMA_LOCK = 0x5743_0001


def open_pool(url: str, max_size: int = 10) -> ConnectionPool:
    """A pool of connections as PostgresSaver requires them (autocommit, dict rows,
    ``prepare_threshold=0``); the run store asks for tuple rows per cursor."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
        timeout=5,
    )


@contextmanager
def schema_lock(pool: ConnectionPool) -> Iterator[None]:
    """Hold an advisory lock while creating tables, so concurrent first starts do not race.

    It is polled, not waited for in a statement: LangGraph's migrations create indexes
    CONCURRENTLY, which wait for every other session's open statement, so a worker blocked
    in ``pg_advisory_lock`` would deadlock with the one holding it.
    """
    with pool.connection() as conn:
        # Rows are dicts here (the pool's row_factory), which psycopg's types cannot know.
        lock = "SELECT pg_try_advisory_lock(%s) AS ok"
        while not conn.execute(lock, (_SCHEMA_LOCK,)).fetchone()["ok"]:  # type: ignore[index, call-overload]
            time.sleep(0.1)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


class PostgresCheckpointer(PostgresSaver):
    """LangGraph's PostgresSaver, sending each checkpoint and each task's writes as one statement.

    The library writes a step's checkpoint as an ``executemany`` of its blobs plus an INSERT
    of the checkpoint, and a task's writes as an ``executemany``, each in psycopg's pipeline
    mode and under one lock per saver: several sends and waits per write, and every run of
    the worker queued behind that lock (it guards a single shared connection; a pool has
    none). Here the INSERTs LangGraph's own ``put``/``put_writes`` issue are collected and
    sent as one statement on a connection of the pool: rows of an ``executemany`` become one
    multi-row VALUES, and the blobs become a CTE of the checkpoint's INSERT, so they still
    land in the same transaction. Reads and every other write are the library's, unchanged.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(pool)  # type: ignore[arg-type]
        self.pool = pool
        # Told the run id of a write refused as stale (the run manager stops that run here).
        self.on_stale: Callable[[str], None] = lambda run_id: None

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        found = _reconnecting(self.pool, lambda: super(PostgresCheckpointer, self).get_tuple(config))
        if found is not None:
            _ids_after(found.checkpoint["id"])
        return found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        with self._as_one_statement(_fence_of(config)):
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        with self._as_one_statement(_fence_of(config)):
            super().put_writes(config, writes, task_id, task_path)

    @contextmanager
    def _as_one_statement(self, fence: tuple[str, int] | None) -> Iterator[None]:
        batch = _Batch()
        token = _BATCH.set(batch)
        try:
            yield
        finally:
            _BATCH.reset(token)
        if fence is not None:
            try:
                _reconnecting(self.pool, lambda: self._write_fenced(batch, *fence))
            except StaleAttemptError as exc:
                log.warning("%s", exc)
                self.on_stale(fence[0])  # that attempt stops here, quietly (docs/faults.md)
                raise
            return
        _reconnecting(self.pool, lambda: self._write(batch))

    def _write(self, batch: _Batch) -> None:
        merged = batch.merged()
        if merged is None:
            # Not mergeable (see _Batch.merged): the statements as the library sends them.
            with super()._cursor(pipeline=True) as cur:
                for sql, rows in batch.statements:
                    cur.executemany(sql, rows)
        elif merged[0]:
            with self.pool.connection() as conn:
                conn.execute(merged[0], merged[1], binary=True)

    def _write_fenced(self, batch: _Batch, run_id: str, attempt: int) -> None:
        """The batch, committed only if ``attempt`` is still ``run_id``'s: in one statement
        (one round trip), or in one transaction when the writes cannot be merged.

        ``FOR SHARE`` locks the run's row until the commit: a takeover's attempt bump
        (:meth:`RunStore.take_over`) waits for a write that passed the check, and a write that
        comes after the bump finds the new attempt and is refused. So a stale attempt's write
        either lands before the new attempt reads the thread, or never (docs/faults.md)."""
        merged = batch.merged(fence=(run_id, attempt))
        if merged is not None:
            with self.pool.connection() as conn:
                try:
                    conn.execute(merged[0], merged[1], binary=True)
                except psycopg.errors.DivisionByZero:  # the fence's signal (_merge)
                    raise StaleAttemptError(run_id, attempt) from None
            return
        with self.pool.connection() as conn, conn.transaction():
            current = conn.execute(_FENCE_ROW, (run_id, attempt)).fetchone()
            if current is None:
                raise StaleAttemptError(run_id, attempt)
            with conn.cursor() as cur:
                for sql, rows in batch.statements:
                    cur.executemany(sql, rows)

    @contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[Any]:
        batch = _BATCH.get()
        if pipeline and batch is not None:
            yield batch
            return
        with super()._cursor(pipeline=pipeline) as cur:
            yield cur


class StaleAttemptError(RuntimeError):
    """A checkpoint write of an attempt that is no longer the run's (it was taken over, or has
    ended): refused, nothing written."""

    def __init__(self, run_id: str, attempt: int) -> None:
        super().__init__(f"attempt {attempt} of run {run_id} is no longer the run's; its write was refused")
        self.run_id = run_id
        self.attempt = attempt


def _ids_after(checkpoint_id: str) -> None:
    """Make the checkpoint ids this process creates from now on sort after ``checkpoint_id``.

    LangGraph names a checkpoint with a uuid6 made from the writing host's clock and takes a
    thread's newest checkpoint by id. A turn written by a host whose clock is behind the
    previous turn's host would sort before it, and the thread's head would go back to the
    older turn (one clock: docs/faults.md). Every run reads its thread's head before it
    writes, so raising LangGraph's own monotonic floor here keeps a thread's ids growing."""
    try:
        stamp = checkpoint_ids.UUID(checkpoint_id).time
    except ValueError:
        return
    floor: int | None = checkpoint_ids._last_v6_timestamp
    if floor is None or stamp > floor:
        # Module state that LangGraph initialises to None, hence its inferred type.
        checkpoint_ids._last_v6_timestamp = stamp  # type: ignore[assignment]


def _reconnecting(pool: ConnectionPool, action: Callable[[], _T]) -> _T:
    """``action()``, once more if a connection turned out to be lost (a failover, a proxy or a
    server restart): the pool then replaces every broken idle connection first, so a burst of
    them costs one retry, not one failed run each. Safe to repeat: the checkpoint writes are
    upserts and the record updates are guarded (docs/faults.md)."""
    try:
        return action()
    except psycopg.OperationalError as exc:
        log.warning("a PostgreSQL connection was lost (%s); trying once more", str(exc).strip())
        pool.check()
        return action()


def _fence_of(config: RunnableConfig) -> tuple[str, int] | None:
    """(run id, attempt) of the run writing, carried in its config by the agent; None for a
    write outside a run (a thread edited through the API, tests)."""
    configurable = config.get("configurable") or {}
    run_id, attempt = configurable.get("stagecast_run_id"), configurable.get("stagecast_attempt")
    return (run_id, int(attempt)) if run_id and attempt else None


# The batch of the put/put_writes running in this greenlet (each greenlet has its own context).
_BATCH: ContextVar[_Batch | None] = ContextVar("stagecast_checkpoint_batch", default=None)

# The protocol's limit: a statement's parameter count is a 16-bit field.
_MAX_PARAMS = 65535

_ROW = re.compile(r"VALUES\s*(\((?:\s*%s\s*,)*\s*%s\s*\))", re.IGNORECASE)


class _Batch:
    """Stands in for the cursor of LangGraph's writes: records each INSERT and its rows."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[Sequence[Any]]]] = []

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        self.statements.append((sql, [params]))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if rows := list(rows):
            self.statements.append((sql, rows))

    def merged(self, fence: tuple[str, int] | None = None) -> tuple[str, list[Any]] | None:
        """The recorded statements as one (SQL, parameters); None if they cannot be merged:
        a statement without a one-row VALUES, an upsert given several rows, which one
        statement cannot apply one after the other as the library does, or more parameters
        than one statement may carry. With a ``fence`` (run id, attempt), the statement
        fails, writing nothing, unless that attempt is still the run's (``_merge``)."""
        shape = tuple((sql, len(rows)) for sql, rows in self.statements)
        params = [value for _, rows in self.statements for row in rows for value in row]
        if fence is not None:
            params = [*fence, *params]
        if len(params) > _MAX_PARAMS:
            return None
        try:
            return _merge(shape, fence is not None), params
        except ValueError:
            return None


# A fenced write as one statement, in one round trip: the run's row is locked FOR SHARE
# until the statement commits, as the transaction of ``_write_fenced`` does, and a stale
# attempt (no row) divides by zero, which fails the whole statement, its writes with it.
_FENCE_ROW = "SELECT 1 FROM run_records WHERE run_id = %s AND attempt = %s AND events IS NULL FOR SHARE"
_FENCE_CHECK = "SELECT 1 / count(*) FROM fence"


@lru_cache(maxsize=64)
def _merge(shape: tuple[tuple[str, int], ...], fenced: bool = False) -> str:
    parts = []
    for sql, count in shape:
        match = _ROW.search(sql)
        if match is None or (count > 1 and "DO UPDATE" in sql.upper()):
            raise ValueError(sql)
        rows = ", ".join([match.group(1)] * count)
        parts.append((sql[: match.start(1)] + rows + sql[match.end(1) :]).strip().rstrip(";"))
    # Data-modifying CTEs always run to completion, in the same snapshot and transaction.
    if fenced:
        ctes = ", ".join([f"fence AS ({_FENCE_ROW})", *(f"w{i} AS ({part})" for i, part in enumerate(parts))])
        return f"WITH {ctes} {_FENCE_CHECK}"
    if not parts:
        return ""
    *first, last = parts
    ctes = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(first))
    return f"WITH {ctes} {last}" if ctes else last


# One statement shape for any number of rows: prepared once per connection.
_INSERT_STARTED_ARRAYS = (
    f"{INSERT_STARTED} SELECT * FROM unnest("
    "?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::float8[], ?::text[], ?::text[])"
)


class PostgresRunStore(RunStore):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        # A burst of new runs: their records go in one statement per hub turn (app/runs/batching.py).
        self._starts: Batcher[tuple[Any, ...], None] = Batcher(self._insert_started)
        with schema_lock(pool), pool.connection() as conn:
            for statement in filter(str.strip, SCHEMA.split(";")):  # prepared: one at a time
                conn.execute(statement)
            # The highest event seq each live run committed in Redis (docs/faults.md, "Store loss").
            conn.execute(
                "ALTER TABLE run_records ADD COLUMN IF NOT EXISTS committed_seq INTEGER NOT NULL DEFAULT 0"
            )
            # When the run was created, on PostgreSQL's clock (shared deadlines: docs/faults.md).
            conn.execute(
                "ALTER TABLE run_records"
                " ADD COLUMN IF NOT EXISTS created_db TIMESTAMPTZ NOT NULL DEFAULT now()"
            )
            # The Redis dataset's epoch, as last seen (docs/faults.md, "Store loss").
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stagecast_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def started(self, run: Run) -> Callable[[], None]:
        return self._starts.submit(started_row(run)).get

    def _insert_started(self, rows: list[tuple[Any, ...]]) -> list[Exception | None]:
        if len(rows) > 1:
            try:
                self._execute(_INSERT_STARTED_ARRAYS, [list(column) for column in zip(*rows, strict=True)])
                return [None] * len(rows)
            except psycopg.Error:
                pass  # a bad row (a run id given twice) fails alone: the others go in one by one
        return [self._insert_one(row) for row in rows]

    def _insert_one(self, row: tuple[Any, ...]) -> Exception | None:
        try:
            self._execute(INSERT_ONE_STARTED, row)
        except Exception as exc:  # its own start's error, raised to that start only
            return exc
        return None

    def age_s(self, run_id: str, created_at: float) -> float:
        rows = self._execute(
            "SELECT EXTRACT(EPOCH FROM now() - created_db)::float8 FROM run_records WHERE run_id = ?",
            (run_id,),
        )
        return float(rows[0][0]) if rows else 0.0

    def mark_committed(self, marks: Sequence[tuple[str, int, int]]) -> None:
        """Raise the high-water marks of (run_id, attempt, committed seq), in one statement;
        a stale attempt's mark is ignored."""
        if not marks:
            return
        rows = ", ".join(["(?, ?::int, ?::int)"] * len(marks))
        self._execute(
            "UPDATE run_records AS r SET committed_seq = v.seq"
            f" FROM (VALUES {rows}) AS v(run_id, attempt, seq)"
            " WHERE r.run_id = v.run_id AND r.attempt = v.attempt AND r.events IS NULL"
            " AND r.committed_seq < v.seq",
            [value for mark in marks for value in mark],
        )

    def committed_seq(self, run_id: str) -> int:
        rows = self._execute("SELECT committed_seq FROM run_records WHERE run_id = ?", (run_id,))
        return int(rows[0][0]) if rows else 0

    def redis_epoch(self) -> str | None:
        rows = self._execute("SELECT value FROM stagecast_meta WHERE name = 'redis_epoch'")
        return str(rows[0][0]) if rows else None

    def advance_redis_epoch(self, seen: str | None, epoch: str) -> bool:
        if seen is None:
            sql = "INSERT INTO stagecast_meta VALUES ('redis_epoch', ?) ON CONFLICT DO NOTHING RETURNING name"
            return bool(self._execute(sql, (epoch,)))
        sql = "UPDATE stagecast_meta SET value = ? WHERE name = 'redis_epoch' AND value = ? RETURNING name"
        return bool(self._execute(sql, (epoch, seen)))

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def execute() -> list[tuple[Any, ...]]:
            with self._pool.connection() as conn:
                cursor = conn.cursor(row_factory=tuple_row)
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []

        try:
            return _reconnecting(self._pool, execute)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"PostgreSQL is unavailable: {exc}") from exc
