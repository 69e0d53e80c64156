"""Cancels and watchers: cancel requests for runs executing elsewhere, and the clients that
watch a run from other workers (so it is not cancelled for lack of watchers).

A room of :class:`~app.runs.backends.redis.coordinator.RedisCoordinator`: each function
takes the coordinator, the one door to them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from app.runs.backends.redis.coordinator import RedisCoordinator


def request_cancel(coordinator: RedisCoordinator, run_id: str, reason: str) -> bool:
    with coordinator._unavailable_as_error():
        pipe = coordinator.redis.pipeline(transaction=False)
        pipe.set(coordinator._key(run_id, "cancel"), reason, px=coordinator.ttl_ms)
        pipe.publish(coordinator._cancel_channel, f"{run_id}\n{reason}")
        pipe.execute()
    return True


def cancel_reason(coordinator: RedisCoordinator, run_id: str) -> str | None:
    return coordinator.redis.get(coordinator._key(run_id, "cancel"))


def watching(coordinator: RedisCoordinator, run_id: str, delta: int) -> None:
    count = coordinator._watch_counts.get(run_id, 0) + delta
    key = coordinator._key(run_id, "watch")
    try:
        if count > 0:
            coordinator._watch_counts[run_id] = count
            if count == delta:  # the first here: tell the executing worker at once
                coordinator.redis.zadd(key, {coordinator.worker: watch_expiry(coordinator)})
        else:
            coordinator._watch_counts.pop(run_id, None)
            coordinator.redis.zrem(key, coordinator.worker)
    except redis.RedisError:
        pass  # the next tick refreshes it; a stale entry expires by its score


def watched_elsewhere(coordinator: RedisCoordinator, run_id: str) -> bool:
    try:
        watchers = coordinator.redis.zrangebyscore(
            coordinator._key(run_id, "watch"), time.time() * 1000, "+inf"
        )
    except redis.RedisError:
        return True  # unknown: do not cancel a run someone may be watching
    return any(worker != coordinator.worker for worker in watchers)


def watch_expiry(coordinator: RedisCoordinator) -> float:
    return time.time() * 1000 + 3 * coordinator.tick_s * 1000
