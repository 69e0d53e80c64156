"""A LangGraph loop's background work in short-lived greenlets, in a gevent worker.

Each run of a graph opens a ``BackgroundExecutor`` for its checkpoint writes (and for the
tasks of a step that has several). LangGraph builds it on a fresh ``ThreadPoolExecutor``,
whose threads, greenlets under gevent, are started on the first write and then sit idle
on the pool's queue until the run ends: one parked greenlet, with its saved C stack, per
running run, and a queue hand-off for every write. :class:`GreenletExecutor` runs each
call in a greenlet of its own that ends with the call; the loop still waits for its
futures as before, so ``durability="sync"`` keeps its meaning.

:func:`install` swaps it in for LangGraph's loop only (tool nodes and LangChain's
``batch`` keep their own pools); a gevent worker calls it once at start (elsewhere it does
nothing). tests/test_inline_stream.py fails if LangGraph stops building its
loop's executor from ``get_executor_for_config``.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from gevent import monkey
from gevent.pool import Pool
from langgraph.pregel import _executor

T = TypeVar("T")


class GreenletExecutor(concurrent.futures.Executor):
    """``submit`` starts a greenlet for the call (waiting while ``max_workers`` run, if set);
    ``shutdown(wait=True)`` joins them all."""

    def __init__(self, max_workers: int | None = None) -> None:
        self._greenlets = Pool(max_workers)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # the future carries it to whoever waits
                future.set_exception(exc)
            else:
                future.set_result(result)

        self._greenlets.spawn(call)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            self._greenlets.join()


@contextmanager
def _greenlet_executor(config: Any) -> Iterator[GreenletExecutor]:
    executor = GreenletExecutor((config or {}).get("max_concurrency"))
    with executor:
        yield executor


def install() -> bool:
    """Give LangGraph's loops a :class:`GreenletExecutor`, if gevent has patched threading;
    whether it did. Unpatched (a sync worker reading this gunicorn.conf.py), a loop waiting
    on a future would block its real thread, and the greenlets would never run."""
    if not monkey.is_module_patched("threading"):
        return False
    _executor.get_executor_for_config = _greenlet_executor
    return True
