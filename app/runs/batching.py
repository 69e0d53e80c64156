"""Group commit: what many greenlets ask of a shared store in one hub turn goes out in one
round trip.

A burst of new streams (500 in 1.5 s) each claimed its thread in Redis and inserted its run
record in PostgreSQL before its first event, one round trip each through a pool of 8 and 10
connections: on a busy hub a connection is held for a whole hub turn per round trip, so the
claims queued for the pool and the first event of a stream came 0.8 s late at the p99
(docs/benchmarks.md, "The distributed start path"). A :class:`Batcher` sends every item
waiting when its sender runs in one call, and keeps sending while the previous call was
out, so the round trips per burst fall from one per stream to one per hub turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import gevent
from gevent.event import AsyncResult

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Batcher(Generic[ItemT, ResultT]):
    """``call(item)`` returns ``send([..., item, ...])``'s answer for ``item``.

    ``send`` gets the items in the order they were called, and returns one result per item,
    in that order; a result that is an exception is raised to that item's caller only. An
    exception from ``send`` itself is raised to every caller of that batch."""

    def __init__(self, send: Callable[[list[ItemT]], Sequence[ResultT | Exception]]) -> None:
        self._send = send
        self._waiting: list[tuple[ItemT, AsyncResult]] = []
        self._sender: gevent.Greenlet | None = None

    def call(self, item: ItemT) -> ResultT:
        result: ResultT = self.submit(item).get()
        return result

    def submit(self, item: ItemT) -> AsyncResult:
        """Queue ``item`` without waiting: its answer is the returned result's ``get()``."""
        answer: AsyncResult = AsyncResult()
        self._waiting.append((item, answer))
        if self._sender is None:
            self._sender = gevent.spawn(self._drain)
        return answer

    def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = self._send([item for item, _ in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, answer), result in zip(batch, results, strict=True):
                    if isinstance(result, Exception):
                        answer.set_exception(result)
                    else:
                        answer.set(result)
        finally:
            self._sender = None
