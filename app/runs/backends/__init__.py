"""How a run's workers coordinate: one interface, two backends.

- :mod:`app.runs.backends.memory`: everything in this process (the embedded default).
- :mod:`app.runs.backends.redis`: event logs in Redis Streams, live fan-out over pub/sub,
  cancel signals, subscriber counts, busy threads and run leases shared by every worker on
  every host (the distributed mode).

The run manager drives both the same way; the backend calls it back through
:class:`RunHost` when something happens elsewhere (a cancel, a run to take over).
"""

from __future__ import annotations

import os
import socket
from abc import ABC, abstractmethod
from typing import Protocol

from ..log import MemoryEventLog


def worker_name() -> str:
    """``<hostname>:<pid>``: which process executes a run (the runs summary's ``worker``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RunHost(Protocol):
    """What a backend may ask of the run manager of its process."""

    def cancel_local(self, run_id: str, reason: str) -> None: ...

    def take_over(self, run_id: str, attempt: int, handed_over: bool = False) -> None: ...

    def fenced(self, run_id: str) -> None: ...

    def local_runs(self) -> list[tuple[str, int]]: ...


class StoreUnavailableError(RuntimeError):
    """The shared store (Redis or PostgreSQL) cannot be reached right now."""


class Coordinator(ABC):
    """Coordination of runs between this process and the others."""

    distributed: bool = False

    def __init__(self, worker: str) -> None:
        self.worker = worker

    def start(self, host: RunHost) -> None:  # noqa: B027 - the memory backend has nothing to start
        """Begin background work (listeners, lease keeping) for ``host``."""

    def stop(self) -> None:  # noqa: B027
        """Stop background work (worker exit)."""

    @abstractmethod
    def new_log(self, run_id: str, thread_id: str, attempt: int, entries: list[str]) -> MemoryEventLog:
        """The log a run executing here appends to. ``entries`` are in it from the start: a
        taken-over run's committed log, or a fresh run's ``start`` event, which :meth:`begin`
        commits."""

    @abstractmethod
    def claim_thread(self, thread_id: str, run_id: str) -> str | None:
        """Mark ``thread_id`` busy with ``run_id``; None if claimed, else the run holding it."""

    def recovering(self) -> bool:
        """Whether busy marks may have been lost a moment ago (then PostgreSQL is asked too)."""
        return False

    @abstractmethod
    def release_thread(self, thread_id: str, run_id: str) -> None:
        """Undo :meth:`claim_thread` (the run ended, or its start failed)."""

    @abstractmethod
    def thread_holder(self, thread_id: str) -> str | None:
        """The run that holds ``thread_id`` busy, or None (read-only: claims nothing)."""

    @abstractmethod
    def begin(self, run_id: str, attempt: int) -> None:
        """A fresh run executes here from now on: it holds a lease where leases exist, and the
        entry its log was made with (its ``start`` event) is committed in the same round trip."""

    def withdraw(self, run_id: str) -> None:  # noqa: B027 - nothing to undo in memory
        """Undo :meth:`begin` for a run that could not start (its record failed): its lease,
        attempt and log go, as if it had never begun."""

    def request_cancel(self, run_id: str, reason: str) -> bool:
        """Ask the process executing ``run_id`` to cancel it; False if none can be asked."""
        return False

    def watching(self, run_id: str, delta: int) -> None:  # noqa: B027
        """A client of this process started (+1) or stopped (-1) watching ``run_id``."""

    def watched_elsewhere(self, run_id: str) -> bool:
        """Whether a client of another process is watching ``run_id``."""
        return False

    def open_remote(self, run_id: str) -> MemoryEventLog | None:
        """A live view of the log of a run executing in another process, or None."""
        return None

    def close_remote(self, run_id: str, log: MemoryEventLog) -> None:  # noqa: B027
        """A view from :meth:`open_remote` is no longer read."""

    def entries(self, run_id: str) -> list[str]:
        """Every event of ``run_id`` the shared log holds (for a takeover)."""
        return []

    def record_cancel(self, run_id: str, reason: str) -> None:  # noqa: B027
        """A cancel accepted for a run executing here: keep it where a takeover reads it."""

    def lost_workers(self, run_id: str) -> int:
        """How many times ``run_id`` lost its worker (graceful hand-overs do not count)."""
        return 0

    def cancel_reason(self, run_id: str) -> str | None:
        """A cancel requested for ``run_id`` while no process was executing it."""
        return None

    def release_claim(self, run_id: str, attempt: int, handed_over: bool) -> None:  # noqa: B027
        """A claim that could not start (a store away): let another worker claim it again."""

    def abandon(self, run_id: str, thread_id: str | None) -> None:  # noqa: B027
        """A claimed run has nothing to run (ended, or lost): release its lease and thread."""

    def hand_over(self, run_id: str) -> None:  # noqa: B027
        """Give up ``run_id`` so another process takes it over at once (graceful shutdown)."""
