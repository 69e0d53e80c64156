"""Admission: start runs only as fast as the worker's one core can serve them.

A gevent worker has one core. Past what it can serve, every run started slows every open
stream alike: tokens queue behind one another, and a new stream's first event waits behind
them all (docs/benchmarks.md). Instead, runs beyond a limit wait in a FIFO queue (their
stream is open, ``start`` already sent, status ``pending``), and the limit follows the
hub's lag, additive-increase / multiplicative-decrease like TCP's congestion window:

- every ``TICK_S`` the hub's lag is measured (how late a timer fires), minus the time the
  garbage collector ran meanwhile: a collection's pause grows with everything the worker
  holds (10,000 open streams: up to 0.6 s), not with the runs running, so cutting runs for
  it only left the core idle while thousands waited (docs/benchmarks.md, c10k);
- lag above the target: the limit drops to 90% of the runs running;
- lag below it, with runs waiting and the limit reached: the limit grows by one, or by a
  sixteenth while the worker's CPU time over the last quarter second or so is below
  ``IDLE_CPU`` of a core: runs of a slow model cost little each, so a core serves a
  thousand of them, and growing by one per tick left it a quarter idle while thousands
  waited (docs/benchmarks.md, c10k). A busy core grows by one, as before.

The measuring greenlet starts with the first run and costs 40 timer wake-ups a second.

Waiting costs a queued run no upstream tokens: its model call has not been made yet.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Hashable

import gevent

TICK_S = 0.025
MIN_LIMIT = 4
INITIAL_LIMIT = 32
IDLE_CPU = 0.85  # of one core, smoothed over ~10 ticks


class Admission:
    """Starts submitted jobs while fewer than ``limit`` run; ``release`` when one ends."""

    def __init__(self, target_lag_s: float, max_limit: int) -> None:
        self.target_lag_s = target_lag_s
        self.max_limit = max_limit
        self.limit = max_limit if target_lag_s <= 0 else min(INITIAL_LIMIT, max_limit)
        self.running = 0
        self.lag_s = 0.0
        self._queue: deque[tuple[Hashable, Callable[[], None]]] = deque()
        self._watch: gevent.Greenlet | None = None
        self._stopped = False
        self._gc_s = 0.0  # the collector's run time so far, while the watch runs
        self.cpu_busy = 1.0  # the worker's CPU time per wall second, smoothed; 1.0 until measured
        self._gc_started = 0.0

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def submit(self, key: Hashable, start: Callable[[], None]) -> None:
        """Call ``start()`` now if below the limit, else when the job reaches the queue's head."""
        if self._watch is None and self.target_lag_s > 0:
            self._watch = gevent.spawn(self._adjust)
        self._queue.append((key, start))
        self._pump()

    def withdraw(self, key: Hashable) -> bool:
        """Drop a job that has not started; False if it had (or was never submitted)."""
        for item in self._queue:
            if item[0] == key:
                self._queue.remove(item)
                return True
        return False

    def release(self) -> None:
        """A started job has ended."""
        self.running -= 1
        self._pump()

    def stop(self) -> None:
        """Start nothing more (the worker is shutting down); waiting jobs stay to be withdrawn."""
        self._stopped = True
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _pump(self) -> None:
        while self._queue and self.running < self.limit and not self._stopped:
            _, start = self._queue.popleft()
            self.running += 1
            start()

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self._gc_s += time.perf_counter() - self._gc_started

    def _adjust(self) -> None:
        """From the first submit on: measure the lag, move the limit, start what it allows."""
        gc.callbacks.append(self._on_gc)
        while True:
            before, gc_before, cpu_before = time.perf_counter(), self._gc_s, time.process_time()
            gevent.sleep(TICK_S)
            elapsed = time.perf_counter() - before
            self.lag_s = max(0.0, elapsed - TICK_S - (self._gc_s - gc_before))
            self.cpu_busy = 0.9 * self.cpu_busy + 0.1 * (time.process_time() - cpu_before) / elapsed
            if self.lag_s > self.target_lag_s:
                self.limit = min(self.max_limit, max(MIN_LIMIT, int(self.running * 0.9)))
            elif self._queue and self.running >= self.limit:
                step = max(1, self.limit // 16) if self.cpu_busy < IDLE_CPU else 1
                self.limit = min(self.max_limit, self.limit + step)
            self._pump()
