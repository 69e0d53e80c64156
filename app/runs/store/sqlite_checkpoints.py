"""Thread checkpoints in SQLite (the embedded default): LangGraph's saver, one transaction per write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from langgraph.checkpoint.sqlite import SqliteSaver


class SqliteCheckpointer(SqliteSaver):
    """``SqliteSaver`` whose writing calls each run as one transaction.

    On a connection from :func:`app.runs.store.sqlite.connect` (autocommit, WAL,
    ``synchronous=NORMAL``) the saver's ``commit()`` does nothing and every row is a
    transaction of its own: ``put_writes`` stores one row per channel a node wrote, so a
    default-agent run made 17 write transactions, each with its own WAL frames and lock
    round. Here each call (``put``, ``put_writes``, ``delete_thread``) is one transaction,
    committed before the call returns, so a step is as durable as before, at the same moment;
    a call that fails writes nothing instead of some of its rows.
    """

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        if not transaction:
            with super().cursor(transaction=False) as cur:
                yield cur
            return
        with self.lock:
            self.setup()
            cur = self.conn.cursor()
            try:
                # IMMEDIATE: the write lock is taken (or waited for, busy_timeout) up front,
                # so a transaction never fails halfway for another worker's writer.
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    self.conn.rollback()
                    raise
                self.conn.commit()
            finally:
                cur.close()
