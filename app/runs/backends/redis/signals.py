"""Cancels and watchers: cancel requests for runs executing elsewhere, and the clients that
watch a run from other workers (so it is not cancelled for lack of watchers).

A room of :class:`~app.runs.backends.redis.coordinator.RedisCoordinator`: each function
takes the coordinator, the one door to them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from .coordinator import RedisCoordinator

log = logging.getLogger(__name__)


def request_cancel(coordinator: RedisCoordinator, run_id: str, reason: str) -> bool:
    with coordinator._unavailable_as_error():
        pipe = coordinator.redis.pipeline(transaction=False)
        pipe.set(coordinator._key(run_id, "cancel"), reason, px=coordinator.ttl_ms)
        pipe.publish(coordinator._cancel_channel, f"{run_id}\n{reason}")
        pipe.execute()
    return True


def cancel_reason(coordinator: RedisCoordinator, run_id: str) -> str | None:
    return coordinator.redis.get(coordinator._key(run_id, "cancel"))


def record_cancel(coordinator: RedisCoordinator, run_id: str, reason: str) -> None:
    """A cancel accepted here for a run executing here, kept where a takeover reads it,
    before the API answers (docs/faults.md, "Durable cancel")."""
    try:
        coordinator.redis.set(coordinator._key(run_id, "cancel"), reason, px=coordinator.ttl_ms)
    except redis.RedisError:
        log.warning("could not record the cancel of run %s in Redis", run_id)


def reread_cancels(coordinator: RedisCoordinator) -> None:
    """After a pub/sub (re)connect: cancels published while this worker was not listening."""
    local = [run_id for run_id, _ in coordinator._local()]
    if not local or coordinator._host is None:
        return
    reasons = coordinator.redis.mget([coordinator._key(run_id, "cancel") for run_id in local])
    for run_id, reason in zip(local, reasons, strict=True):
        if reason:
            coordinator._host.cancel_local(run_id, reason)


def lost_workers(coordinator: RedisCoordinator, run_id: str) -> int:
    """How many times ``run_id`` lost its worker (hand-overs do not count)."""
    return int(coordinator.redis.get(coordinator._key(run_id, "lost")) or 0)


def watching(coordinator: RedisCoordinator, run_id: str, delta: int) -> None:
    count = coordinator._watch_counts.get(run_id, 0) + delta
    key = coordinator._key(run_id, "watch")
    try:
        if count > 0:
            coordinator._watch_counts[run_id] = count
            if count == delta:  # the first here: tell the executing worker at once
                coordinator._watch(
                    keys=[key], args=[coordinator.worker, watch_ms(coordinator), coordinator.ttl_ms]
                )
        else:
            coordinator._watch_counts.pop(run_id, None)
            coordinator.redis.zrem(key, coordinator.worker)
    except redis.RedisError:
        pass  # the next tick refreshes it; a stale entry expires by its score


def watched_elsewhere(coordinator: RedisCoordinator, run_id: str) -> bool:
    try:
        watchers = coordinator._watchers(keys=[coordinator._key(run_id, "watch")])
    except redis.RedisError:
        return True  # unknown: do not cancel a run someone may be watching
    return any(worker != coordinator.worker for worker in watchers)


def watch_ms(coordinator: RedisCoordinator) -> int:
    """How long a watcher entry lives, from Redis TIME: it outlives two missed ticks."""
    return int(3 * coordinator.tick_s * 1000)
