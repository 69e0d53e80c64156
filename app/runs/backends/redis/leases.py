"""Leases and busy threads: which worker executes each unfinished run, renewed every tick;
runs whose lease lapsed are claimed and taken over; a thread is held by one run at a time.

A room of :class:`~app.runs.backends.redis.coordinator.RedisCoordinator`: each function
takes the coordinator, the one door to them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gevent
import redis

from . import epoch, flush, mirrors, signals

if TYPE_CHECKING:
    from .coordinator import RedisCoordinator

log = logging.getLogger(__name__)


def claim_thread(coordinator: RedisCoordinator, thread_id: str, run_id: str) -> str | None:
    with coordinator._unavailable_as_error():
        return coordinator._claims.call((coordinator._thread_key(thread_id), run_id))


def send_claims(coordinator: RedisCoordinator, claims: list[tuple[str, str]]) -> list[str | None]:
    """The thread claims of one hub turn, ``(thread key, run_id)``, in one round trip; for
    each, None if claimed, else the run holding the thread (app/runs/batching.py)."""
    pipe = coordinator.redis.pipeline(transaction=False)
    for key, run_id in claims:
        pipe.set(key, run_id, nx=True, px=coordinator.thread_ttl_ms)
        pipe.get(key)
    pipe.get(coordinator._epoch_key)  # in the same round trip: a lost dataset is seen at once
    *replies, dataset_epoch = pipe.execute()
    epoch.observe(coordinator, dataset_epoch)
    holders = zip(claims, replies[1::2], strict=True)
    return [None if holder == run_id else holder or None for (_, run_id), holder in holders]


def release_thread(coordinator: RedisCoordinator, thread_id: str, run_id: str) -> None:
    key = coordinator._thread_key(thread_id)
    try:
        if coordinator.redis.get(key) == run_id:
            coordinator.redis.delete(key)
    except redis.RedisError:
        log.warning("could not release thread %s; it frees itself when its key expires", thread_id)


def thread_holder(coordinator: RedisCoordinator, thread_id: str) -> str | None:
    with coordinator._unavailable_as_error():
        return coordinator.redis.get(coordinator._thread_key(thread_id)) or None


def begin(coordinator: RedisCoordinator, run_id: str, attempt: int) -> None:
    with coordinator._unavailable_as_error():
        coordinator._begins.call((run_id, attempt))


def send_begins(coordinator: RedisCoordinator, runs: list[tuple[str, int]]) -> list[None]:
    """The leases of the runs begun in one hub turn, ``(run_id, attempt)``, and their logs'
    ``start`` events, in one round trip."""
    keys = [coordinator._leases, coordinator._holders]
    args: list[str | int | bytes] = [coordinator.worker, coordinator.lease_ms]
    for run_id, attempt in runs:
        (first,) = coordinator._local_logs[run_id].committed_entries()  # a fresh run's start
        log_key, attempt_key = coordinator._key(run_id, "log"), coordinator._key(run_id, "attempt")
        keys += [attempt_key, log_key, coordinator._log_channel(run_id)]
        args += [run_id, attempt, first]
    coordinator._begin(keys=keys, args=args)
    return [None] * len(runs)


def withdraw(coordinator: RedisCoordinator, run_id: str) -> None:
    """Undo :func:`begin` for a run whose record could not be written."""
    try:
        pipe = _unlease(coordinator, run_id)
        pipe.delete(coordinator._key(run_id, "log"), coordinator._key(run_id, "attempt"))
        pipe.execute()
    except redis.RedisError:
        log.warning("could not withdraw run %s; its lease lapses and finds no record", run_id)


def _unlease(coordinator: RedisCoordinator, run_id: str) -> redis.client.Pipeline:
    """A pipeline that drops ``run_id``'s lease and holder, for the caller to add to and send."""
    pipe = coordinator.redis.pipeline(transaction=False)
    pipe.zrem(coordinator._leases, run_id)
    pipe.hdel(coordinator._holders, run_id)
    return pipe


def release_claim(coordinator: RedisCoordinator, run_id: str, attempt: int, handed_over: bool) -> None:
    """Give back a claim whose takeover could not start: the next claim does not count one more
    lost worker, and keeps the reason of this one."""
    try:
        coordinator._hand_over(
            keys=[coordinator._leases, coordinator._holders, coordinator._key(run_id, "handover")],
            args=[
                run_id,
                f"{coordinator.worker}:{attempt}",
                coordinator.ttl_ms,
                "1" if handed_over else "lost",
            ],
        )
    except redis.RedisError:
        log.warning("could not give run %s back; it is claimed again when its lease expires", run_id)


def hand_over(coordinator: RedisCoordinator, run_id: str) -> None:
    flush.flush_now(coordinator)
    attempt = next((a for r, a in coordinator._local() if r == run_id), None)
    try:
        coordinator._hand_over(
            keys=[coordinator._leases, coordinator._holders, coordinator._key(run_id, "handover")],
            args=[run_id, f"{coordinator.worker}:{attempt}", coordinator.ttl_ms],
        )
    except redis.RedisError:
        log.warning("could not hand run %s over; it is taken over when its lease expires", run_id)


def keep_loop(coordinator: RedisCoordinator) -> None:
    """Every tick: renew this worker's leases, refresh its watchers, take over orphans."""
    while True:
        gevent.sleep(coordinator.tick_s)
        try:
            keep(coordinator)
        except redis.RedisError as exc:
            coordinator._went_away(exc)


def keep(coordinator: RedisCoordinator) -> None:
    local = list(coordinator._local())
    pipe = coordinator.redis.pipeline(transaction=False)
    for run_id, attempt in local:
        coordinator._renew(
            keys=[
                coordinator._leases,
                coordinator._holders,
                coordinator._key(run_id, "attempt"),
                coordinator._key(run_id, "closed"),
            ],
            args=[run_id, coordinator.worker, attempt, coordinator.lease_ms],
            client=pipe,
        )
    watch_ms = signals.watch_ms(coordinator)
    for run_id in coordinator._watch_counts:
        key = coordinator._key(run_id, "watch")
        coordinator._watch(keys=[key], args=[coordinator.worker, watch_ms, coordinator.ttl_ms], client=pipe)
    coordinator._expired(keys=[coordinator._leases], client=pipe)
    results = pipe.execute()
    coordinator._came_back()
    host = coordinator._host
    if host is None:
        return
    for (run_id, _), renewed in zip(local, results, strict=False):
        shared = coordinator._local_logs.get(run_id)
        if renewed == -3 and shared is not None and flush.restore(coordinator, shared):
            continue  # Redis lost the run's keys; they are back
        if renewed == 2 and shared is not None and shared.sealed:
            # It ended here while the renewal was on its way: its own terminal append closed
            # the log (if another attempt's did, that append is refused, and fences it).
            continue
        if renewed in (0, 2):
            host.fenced(run_id)
    for mirror_run, mirror in list(coordinator._mirrors.items()):
        if not mirror.log.closed:
            mirrors.catch_up(coordinator, mirror_run, mirror.log)
    if getattr(host, "draining", False):
        return  # a worker shutting down claims nothing: it would only hand it over again
    mine = {run_id for run_id, _ in local}
    for run_id in results[-1]:
        if run_id in mine:
            continue
        claimed = coordinator._claim(
            keys=[
                coordinator._leases,
                coordinator._holders,
                coordinator._key(run_id, "attempt"),
                coordinator._key(run_id, "closed"),
                coordinator._key(run_id, "handover"),
                coordinator._key(run_id, "lost"),
            ],
            args=[run_id, coordinator.worker, coordinator.lease_ms],
        )
        if claimed:  # [attempt, 1 if handed over]
            attempt, handed = int(claimed[0]), bool(claimed[1])
            log.info("taking over run %s (attempt %d)", run_id, attempt)
            host.take_over(run_id, attempt, handed)


def lease_states(coordinator: RedisCoordinator, run_ids: list[str]) -> dict[str, tuple[bool, bool]]:
    """For each run: (it has a lease, its log's terminal event is committed)."""
    pipe = coordinator.redis.pipeline(transaction=False)
    for run_id in run_ids:
        pipe.zscore(coordinator._leases, run_id)
        pipe.exists(coordinator._key(run_id, "closed"))
    replies = pipe.execute()
    return {
        run_id: (replies[2 * i] is not None, bool(replies[2 * i + 1])) for i, run_id in enumerate(run_ids)
    }


def revive(coordinator: RedisCoordinator, run_id: str, attempt: int) -> None:
    """An unfinished run with no lease (Redis lost it): make it claimable at once, after
    ``attempt`` (the one PostgreSQL knows), by whichever worker's next tick comes first."""
    pipe = coordinator.redis.pipeline(transaction=False)
    pipe.set(coordinator._key(run_id, "attempt"), attempt, nx=True)
    pipe.zadd(coordinator._leases, {run_id: 0}, nx=True)
    pipe.execute()


def abandon(coordinator: RedisCoordinator, run_id: str, thread_id: str | None) -> None:
    """A claimed run turned out to have nothing to run: give back its lease and its thread."""
    try:
        _unlease(coordinator, run_id).execute()
    except redis.RedisError:
        log.warning("could not release the lease of run %s", run_id)
    if thread_id is not None:
        release_thread(coordinator, thread_id, run_id)
