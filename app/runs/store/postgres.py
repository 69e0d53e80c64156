"""Run records in PostgreSQL, shared by every worker on every host (the distributed mode).

psycopg picks its wait function when it is imported, so it cooperates with gevent only if
gevent patched first: this module is imported by the app factory, inside a worker, never in
gunicorn's master (DESIGN.md, "Distributed mode"). The pool is made after fork, per worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.runs.backends import StoreUnavailableError
from app.runs.store import SCHEMA, RunStore

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
        while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_SCHEMA_LOCK,)).fetchone()["ok"]:
            time.sleep(0.1)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


class PostgresRunStore(RunStore):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        with schema_lock(pool), pool.connection() as conn:
            for statement in filter(str.strip, SCHEMA.split(";")):  # prepared: one at a time
                conn.execute(statement)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                cursor = conn.cursor(row_factory=tuple_row)
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"PostgreSQL is unavailable: {exc}") from exc
