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

from app.runs.backends.redis import scripts
from app.runs.log import MemoryEventLog

if TYPE_CHECKING:
    from app.runs.backends.redis.coordinator import RedisCoordinator

log = logging.getLogger(__name__)


class SharedLog(MemoryEventLog):
    """The log of a run executing here: read from memory by this worker's clients, and sent
    to Redis in order, batched per hub turn, by the coordinator's flusher."""

    def __init__(
        self, coordinator: RedisCoordinator, run_id: str, thread_id: str, attempt: int, entries: list[str]
    ) -> None:
        super().__init__()
        self._entries = [entry.encode("utf-8") for entry in entries]
        self.sent = len(entries)
        self.run_id = run_id
        self.thread_id = thread_id
        self.attempt = attempt
        self._coordinator = coordinator
        # The append script's keys, made once: every flush of this run sends them.
        self.keys = coordinator.append_keys(run_id, thread_id)

    def append(self, entry: str) -> int:
        seq = super().append(entry)
        self._coordinator.schedule_flush(self)
        return seq

    def close(self) -> None:
        super().close()
        self._coordinator.schedule_flush(self)

    def unsent(self) -> list[bytes]:
        return self._entries[self.sent :]  # UTF-8, as Redis keeps them


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
            closed = "1" if shared.closed else "0"
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
                shared.sent = result
                continue
            if not isinstance(result, int) or result != -1:
                log.error("append to run %s refused: %r", shared.run_id, result)
            if coordinator._host is not None:
                coordinator._host.fenced(shared.run_id)
    return True
