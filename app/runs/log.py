"""The event log of one run: append-only, numbered from 1, read from any offset.

The producer appends; every subscriber reads after its own offset and waits, with a
timeout, for more. That is what lets a client rejoin with Last-Event-ID and get exactly
the events it missed, and several clients watch one run (DESIGN.md, "The run model").
Entries are the events' JSON text, serialised once however many subscribers there are.
"""

from __future__ import annotations

import sys

from gevent.event import Event as Signal


class LogClosedError(RuntimeError):
    """An append after the run's terminal event."""


class MemoryEventLog:
    """An in-process log; subscribers are greenlets of the same worker."""

    def __init__(self) -> None:
        self._entries: list[str] = []
        self._closed = False
        self._failed = False
        self._signal = Signal()

    @classmethod
    def replay(cls, entries: list[str]) -> MemoryEventLog:
        """A closed log holding the entries of a finished run."""
        log = cls()
        log._entries = list(entries)
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
        self._entries.append(entry)
        self.wake()
        return len(self._entries)

    def close(self) -> None:
        self._closed = True
        self.wake()

    def wake(self) -> None:
        """Wake every waiting subscriber (new entries, end of run, or server shutdown)."""
        # A fresh signal per wake-up: a subscriber that waits after this call must not
        # see the old, already-set one and spin.
        signal, self._signal = self._signal, Signal()
        signal.set()

    def read(self, after: int, timeout: float) -> list[str]:
        """Entries after sequence number ``after``, waiting up to ``timeout`` if there are none."""
        if after >= len(self._entries) and not self._closed:
            self._signal.wait(timeout)
        return self._entries[after:]

    def memory_bytes(self) -> int:
        """Approximate memory held by the entries (for reports and the runs monitor)."""
        return sys.getsizeof(self._entries) + sum(sys.getsizeof(e) for e in self._entries)
