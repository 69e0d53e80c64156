"""The embedded default: a run's log and its thread's busy mark live in this process only."""

from __future__ import annotations

from ..log import MemoryEventLog
from . import Coordinator


class MemoryCoordinator(Coordinator):
    def __init__(self, worker: str) -> None:
        super().__init__(worker)
        self._busy_threads: dict[str, str] = {}

    def new_log(self, run_id: str, thread_id: str, attempt: int, entries: list[str]) -> MemoryEventLog:
        return MemoryEventLog(entries)

    def claim_thread(self, thread_id: str, run_id: str) -> str | None:
        holder = self._busy_threads.setdefault(thread_id, run_id)
        return None if holder == run_id else holder

    def release_thread(self, thread_id: str, run_id: str) -> None:
        if self._busy_threads.get(thread_id) == run_id:
            del self._busy_threads[thread_id]

    def thread_holder(self, thread_id: str) -> str | None:
        return self._busy_threads.get(thread_id)

    def begin(self, run_id: str, attempt: int) -> None:
        pass
