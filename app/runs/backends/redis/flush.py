"""Batched flush: the logs of runs executing here, sent to Redis in order, one round trip
per hub turn, through the append script (fenced by the run's attempt).

A room of :class:`~app.runs.backends.redis.coordinator.RedisCoordinator`: each function
takes the coordinator, the one door to them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gevent
import redis
from redis.exceptions import NoScriptError

from ...log import MemoryEventLog
from . import scripts

if TYPE_CHECKING:
    from .coordinator import RedisCoordinator

log = logging.getLogger(__name__)


class SharedLog(MemoryEventLog):
    """The log of a run executing here. Appends wait in memory, in order, until the
    coordinator's flusher (batched per hub turn) has them accepted by the fenced append in
    Redis: only then do this worker's readers see them. The fenced append is the commit
    point, so no client sees an event that a takeover could later replace (docs/faults.md)."""

    def __init__(
        self, coordinator: RedisCoordinator, run_id: str, thread_id: str, attempt: int, entries: list[str]
    ) -> None:
        super().__init__(entries)  # committed: what readers see
        self._pending: list[bytes] = []  # appended, not yet accepted by Redis
        self._sealed = False  # the terminal event is appended (maybe not yet committed)
        self.run_id = run_id
        self.thread_id = thread_id
        self.attempt = attempt
        self._coordinator = coordinator
        # The append script's keys, made once: every flush of this run sends them.
        self.keys = coordinator.append_keys(run_id, thread_id)

    @property
    def sent(self) -> int:
        return len(self._entries)

    @property
    def sealed(self) -> bool:
        return self._sealed

    def append(self, entry: str) -> int:
        if self._sealed:  # a late event of a run already ended (a cancel deadline): dropped
            return len(self._entries) + len(self._pending)
        self._pending.append(entry.encode("utf-8"))
        self._coordinator.schedule_flush(self)
        return len(self._entries) + len(self._pending)

    def close(self) -> None:
        self._sealed = True
        self._coordinator.schedule_flush(self)

    def unsent(self) -> list[bytes]:
        return self._pending  # UTF-8, as Redis keeps them

    def committed(self, last_seq: int) -> None:
        """Redis accepted every entry up to ``last_seq``: readers here may see them now."""
        count = last_seq - len(self._entries)
        if count > 0:
            accepted, self._pending = self._pending[:count], self._pending[count:]
            self._entries.extend(accepted)
        if self._sealed and not self._pending and not self.closed:
            super().close()  # wakes the readers
        elif count > 0:
            self.wake()

    @property
    def appended_seq(self) -> int:
        return len(self._entries) + len(self._pending)

    def appended(self) -> list[str]:
        return [entry.decode("utf-8") for entry in self._entries + self._pending]

    def committed_entries(self) -> list[bytes]:
        return self._entries


def schedule_flush(coordinator: RedisCoordinator, shared: SharedLog) -> None:
    coordinator._dirty[shared.run_id] = shared
    coordinator._flush_signal.set()


def flush_loop(coordinator: RedisCoordinator) -> None:
    while True:
        coordinator._flush_signal.wait()
        coordinator._flush_signal.clear()
        if not flush_now(coordinator):
            gevent.sleep(0.5)  # Redis is away: entries wait in memory, in order
            coordinator._flush_signal.set()


def flush_now(coordinator: RedisCoordinator) -> bool:
    """Send every unsent entry in one round trip; False if Redis could not be reached."""
    reloaded = False
    while coordinator._dirty:
        logs = list(coordinator._dirty.values())
        coordinator._dirty.clear()
        pipe = coordinator.redis.pipeline(transaction=False)
        # EVALSHA straight on the pipeline: through redis-py's Script object, every
        # execute() would first send SCRIPT EXISTS, a second round trip per flush.
        sha = coordinator._append.sha
        for shared in logs:
            closed = "1" if shared.sealed else "0"
            args = (shared.attempt, coordinator.ttl_ms, closed, shared.sent + 1, shared.run_id)
            pipe.evalsha(sha, len(shared.keys), *shared.keys, *args, *shared.unsent())
        try:
            results = pipe.execute(raise_on_error=False)
            if any(isinstance(result, NoScriptError) for result in results):
                if reloaded:  # loaded a moment ago and gone again: retry later, not in a spin
                    raise NoScriptError("the append script keeps disappearing")
                # Redis lost its scripts (a restart): load it again; those logs are sent
                # again below, and the script skips entries already in.
                coordinator._append.sha = coordinator.redis.script_load(scripts.APPEND)
                reloaded = True
        except redis.RedisError as exc:
            coordinator._went_away(exc)
            for shared in logs:
                coordinator._dirty.setdefault(shared.run_id, shared)
            return False
        coordinator._came_back()
        for shared, result in zip(logs, results, strict=True):
            if isinstance(result, NoScriptError):
                coordinator._dirty.setdefault(shared.run_id, shared)
                continue
            if isinstance(result, int) and result >= 0:
                shared.committed(result)
                continue
            if result == -3 or (result == -2 and log_length(coordinator, shared.run_id) < shared.sent):
                if restore(coordinator, shared):
                    coordinator._dirty.setdefault(shared.run_id, shared)
                    continue
            elif result != -1:
                log.error("append to run %s refused: %r", shared.run_id, result)
            if coordinator._host is not None:
                coordinator._host.fenced(shared.run_id)
    return True


def log_length(coordinator: RedisCoordinator, run_id: str) -> int:
    return int(coordinator.redis.xlen(coordinator._key(run_id, "log")))


def restore(coordinator: RedisCoordinator, shared: SharedLog) -> bool:
    """Redis lost (part of) a run executing here: write back what this worker committed;
    False if another attempt holds the run now (then it is fenced)."""
    log.error(
        "Redis lost the log of run %s (store loss, not a takeover); restoring its %d committed events",
        shared.run_id,
        shared.sent,
    )
    restored = coordinator._reseed(
        keys=list(shared.keys),
        args=[
            shared.attempt,
            coordinator.lease_ms,
            shared.run_id,
            coordinator.worker,
            coordinator.thread_ttl_ms,
            *shared.committed_entries(),
        ],
    )
    return int(restored) >= 0
