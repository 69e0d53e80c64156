"""Pub/sub mirrors: this worker's one copy of the log of a run executing elsewhere, shared by
its clients here and fed by one pub/sub connection per worker (which also hears cancels).

A room of :class:`~app.runs.backends.redis.coordinator.RedisCoordinator`: each function
takes the coordinator, the one door to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import redis

from ...log import MemoryEventLog
from .. import StoreUnavailableError
from . import signals

if TYPE_CHECKING:
    from .coordinator import RedisCoordinator


@dataclass
class Mirror:
    """This worker's copy of a run executing elsewhere, shared by its clients here."""

    log: MemoryEventLog
    readers: int = 0


def open_remote(coordinator: RedisCoordinator, run_id: str) -> MemoryEventLog | None:
    mirror = coordinator._mirrors.get(run_id)
    if mirror is None:
        # Registered before the first read yields, so concurrent openers share this one
        # copy (the listener subscribes to its channel and catches up once subscribed).
        mirror = coordinator._mirrors[run_id] = Mirror(MemoryEventLog())
        try:
            with coordinator._unavailable_as_error():
                if not coordinator.redis.exists(
                    coordinator._key(run_id, "log"), coordinator._key(run_id, "attempt")
                ):
                    raise LookupError(run_id)
                catch_up(coordinator, run_id, mirror.log)
        except (LookupError, StoreUnavailableError) as exc:
            if coordinator._mirrors.get(run_id) is mirror:
                del coordinator._mirrors[run_id]
            mirror.log.fail()  # anyone who joined it meanwhile retries
            if isinstance(exc, LookupError):
                return None
            raise
    mirror.readers += 1
    return mirror.log


def close_remote(coordinator: RedisCoordinator, run_id: str, log_: MemoryEventLog) -> None:
    mirror = coordinator._mirrors.get(run_id)
    if mirror is None or mirror.log is not log_:
        return
    mirror.readers -= 1
    if mirror.readers <= 0:
        del coordinator._mirrors[run_id]


def entries(coordinator: RedisCoordinator, run_id: str) -> list[str]:
    return [fields["e"] for _, fields in coordinator.redis.xrange(coordinator._key(run_id, "log"))]


def catch_up(coordinator: RedisCoordinator, run_id: str, mirror: MemoryEventLog) -> None:
    start = f"(0-{mirror.last_seq}" if mirror.last_seq else "-"
    pipe = coordinator.redis.pipeline(transaction=False)
    pipe.xrange(coordinator._key(run_id, "log"), start, "+")
    pipe.exists(coordinator._key(run_id, "closed"))
    rows, closed = pipe.execute()
    for entry_id, fields in rows:
        if int(entry_id.partition("-")[2]) == mirror.last_seq + 1:
            mirror.append(fields["e"])
    if closed and not mirror.closed:
        mirror.close()


def listen_loop(coordinator: RedisCoordinator) -> None:
    """One pub/sub connection per worker: cancel requests, and the logs it mirrors."""
    while True:
        pubsub = coordinator.redis.pubsub()
        try:
            pubsub.subscribe(coordinator._cancel_channel)
            signals.reread_cancels(coordinator)
            subscribed: set[str] = set()
            while True:
                wanted = set(coordinator._mirrors)
                for run_id in wanted - subscribed:
                    pubsub.subscribe(coordinator._log_channel(run_id))
                for run_id in subscribed - wanted:
                    pubsub.unsubscribe(coordinator._log_channel(run_id))
                subscribed = wanted
                message = pubsub.get_message(timeout=0.05)
                while message is not None:
                    dispatch(coordinator, message)
                    message = pubsub.get_message(timeout=0)
        except redis.RedisError as exc:
            coordinator._went_away(exc)
            gevent.sleep(0.5)
        finally:
            pubsub.reset()


def dispatch(coordinator: RedisCoordinator, message: dict[str, Any]) -> None:
    channel: str = message["channel"]
    if channel == coordinator._cancel_channel:
        if message["type"] == "message" and coordinator._host is not None:
            run_id, _, reason = message["data"].partition("\n")
            coordinator._host.cancel_local(run_id, reason or "cancelled")
        return
    run_id = channel.removeprefix(coordinator.prefix + "log:")
    mirror = coordinator._mirrors.get(run_id)
    if mirror is None:
        return
    if message["type"] == "subscribe":
        # Live from here on; what came between the first read and now is read again.
        catch_up(coordinator, run_id, mirror.log)
    elif message["type"] == "message":
        first, terminal, body = message["data"].split("\n", 2)
        ingest(coordinator, run_id, mirror.log, int(first), body.split("\n") if body else [], terminal == "1")


def ingest(
    coordinator: RedisCoordinator,
    run_id: str,
    mirror: MemoryEventLog,
    first: int,
    entries: list[str],
    terminal: bool,
) -> None:
    if first > mirror.last_seq + 1:
        catch_up(coordinator, run_id, mirror)  # a gap: read it from the stream
        return
    for seq, entry in enumerate(entries, first):
        if seq == mirror.last_seq + 1:
            mirror.append(entry)
    if terminal and not mirror.closed:
        mirror.close()
