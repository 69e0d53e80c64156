"""The event log of one run: append-only, numbered from 1, read from any offset.

The producer appends; every subscriber reads after its own offset and waits, with a
timeout, for more. That is what lets a client rejoin with Last-Event-ID and get exactly
the events it missed, and several clients watch one run (docs/architecture.md, "The run model").
Entries are the events' JSON text, serialised once however many subscribers there are,
and kept UTF-8 encoded: the native stream writes them as they are, and a log of Korean and
English text takes about 40% less memory than as ``str`` (one non-ASCII character makes a
whole ``str`` two bytes per character), for as long as the run is kept.

Timeouts of waiting readers are ended by one clock greenlet per process, not a timer per
wait: starting and cancelling a gevent ``Timeout`` costs about 4 µs, and every subscriber
waited once per event it was sent. A reader's wait therefore ends between ``timeout`` and
``timeout`` plus the clock's tick (a quarter of the shortest timeout asked for, at most a
second) after it began, unless an entry comes first.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable

import gevent
from gevent.event import Event as Signal

# The clock ticks at a quarter of the shortest timeout it was given, within these bounds:
# a heartbeat of 15 s comes 15 to 16 s after the last event, one of 0.2 s (tests) 0.2 to 0.25 s.
MIN_TICK_S = 0.05
MAX_TICK_S = 1.0


class LogClosedError(RuntimeError):
    """An append after the run's terminal event."""


class MemoryEventLog:
    """An in-process log; subscribers are greenlets of the same worker."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._entries: list[bytes] = [entry.encode("utf-8") for entry in entries]
        self._closed = False
        self._failed = False
        self._signal = Signal()
        self._deadline: float | None = None  # when the clock wakes this log's waiting readers

    @classmethod
    def replay(cls, entries: list[str]) -> MemoryEventLog:
        """A closed log holding the entries of a finished run."""
        log = cls(entries)
        log._closed = True
        return log

    @property
    def last_seq(self) -> int:
        return len(self._entries)

    @property
    def closed(self) -> bool:
        """True once the terminal event is in: nothing more will be appended."""
        return self._closed

    @property
    def failed(self) -> bool:
        """True once this copy of a log can no longer follow the run (its feed was lost):
        readers end their response with a ``retry:`` hint and resume elsewhere."""
        return self._failed

    def fail(self) -> None:
        self._failed = True
        self.wake()

    def append(self, entry: str) -> int:
        """Add ``entry`` and wake the subscribers; return its sequence number."""
        if self._closed:
            raise LogClosedError("the run has ended")
        self._entries.append(entry.encode("utf-8"))
        self.wake()
        return len(self._entries)

    def close(self) -> None:
        self._closed = True
        self.wake()

    def wake(self) -> None:
        """Wake every waiting subscriber (new entries, end of run, or server shutdown)."""
        if not self._signal.linkcount():
            # Nobody waits (or they were woken earlier in this turn of the hub and have not
            # run yet): the entries are there for their next read.
            return
        if self._deadline is not None:
            self._deadline = None
            _CLOCK.waiting.discard(self)
        # A fresh signal per wake-up: a subscriber that waits after this call must not see
        # the old, already-set one and spin.
        signal, self._signal = self._signal, Signal()
        signal.set()

    @property
    def appended_seq(self) -> int:
        """The seq of the last entry appended (committed or not): what the run's record counts."""
        return len(self._entries)

    def appended(self) -> list[str]:
        """Every entry appended so far, as its producer wrote them (the run's record); a shared
        log's readers may not see the last ones yet (docs/faults.md)."""
        return self.read(0, 0)

    def read(self, after: int, timeout: float) -> list[str]:
        """Entries after sequence number ``after``, waiting up to ``timeout`` if there are none."""
        return [entry.decode("utf-8") for entry in self.read_bytes(after, timeout)]

    def read_bytes(self, after: int, timeout: float) -> list[bytes]:
        """As :meth:`read`, the entries UTF-8 encoded as they are kept (for the streams)."""
        if after >= len(self._entries) and not self._closed and timeout > 0:
            signal = self._signal
            _CLOCK.wake_later(self, timeout)
            signal.wait()
        return self._entries[after:]

    def memory_bytes(self) -> int:
        """Approximate memory held by the entries (for reports and the runs monitor)."""
        return sys.getsizeof(self._entries) + sum(sys.getsizeof(e) for e in self._entries)


class _Clock:
    """Wakes the logs whose readers have waited their timeout; one greenlet, while any wait."""

    def __init__(self) -> None:
        self.waiting: set[MemoryEventLog] = set()
        self._tick_s = MAX_TICK_S
        self._greenlet: gevent.Greenlet | None = None

    def wake_later(self, log: MemoryEventLog, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if log._deadline is None or deadline < log._deadline:
            log._deadline = deadline
        self.waiting.add(log)
        if timeout / 4 < self._tick_s and self._tick_s > MIN_TICK_S:
            # A shorter timeout than any before (once or twice per process): a tick already
            # being slept at the old length would end this wait late.
            self._tick_s = max(MIN_TICK_S, timeout / 4)
            if self._greenlet is not None:
                self._greenlet.kill(block=False)
                self._greenlet = None
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while self.waiting:
            gevent.sleep(self._tick_s)
            now = time.monotonic()
            due = [log for log in self.waiting if log._deadline is None or log._deadline <= now]
            for log in due:
                self.waiting.discard(log)
                log._deadline = None
                log.wake()

    def reset(self) -> None:
        """In a forked child: the parent's greenlet and waiting readers are not this process's."""
        self.waiting = set()
        self._greenlet = None


_CLOCK = _Clock()
os.register_at_fork(after_in_child=_CLOCK.reset)
