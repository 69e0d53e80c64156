"""RedisCoordinator: the distributed mode's coordination, the one door to its rooms.

What lives where in Redis is in the docstring of :mod:`app.runs.backends.redis`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import gevent
import redis
from gevent.event import Event as Signal

from ...batching import Batcher
from ...log import MemoryEventLog
from .. import Coordinator, RunHost, StoreUnavailableError
from . import epoch, flush, leases, mirrors, scripts, signals
from .flush import SharedLog
from .mirrors import Mirror

log = logging.getLogger(__name__)


class RedisCoordinator(Coordinator):
    distributed = True

    def __init__(
        self,
        worker: str,
        url: str,
        *,
        prefix: str,
        lease_s: float,
        ttl_s: float,
        max_connections: int,
        thread_ttl_s: float,
    ) -> None:
        super().__init__(worker)
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=5,
            # redis-py 8 would default to RESP3 replies and a 5 s read timeout; both stated.
            protocol=2,
            socket_timeout=5,
            socket_connect_timeout=2,
            decode_responses=True,
            health_check_interval=30,
            client_name=f"stagecast:{worker}",  # CLIENT LIST shows whose connections these are
        )
        # redis-py types the results of its sync and asyncio clients as one union
        # (Awaitable[Any] | Any); this sync client's are read as the values they are.
        self.redis: Any = redis.Redis(connection_pool=pool)
        self.prefix = prefix
        self.lease_ms = int(lease_s * 1000)
        self.ttl_ms = max(1000, int(ttl_s * 1000))
        self.thread_ttl_ms = int(thread_ttl_s * 1000)
        self.tick_s = min(1.0, lease_s / 3)
        self._append = self.redis.register_script(scripts.APPEND)
        self._begin = self.redis.register_script(scripts.BEGIN)
        self._renew = self.redis.register_script(scripts.RENEW)
        self._claim = self.redis.register_script(scripts.CLAIM)
        self._hand_over = self.redis.register_script(scripts.HAND_OVER)
        self._reseed = self.redis.register_script(scripts.RESEED)
        self._expired = self.redis.register_script(scripts.EXPIRED)
        self._watch = self.redis.register_script(scripts.WATCH)
        self._watchers = self.redis.register_script(scripts.WATCHERS)
        # The start path's round trips, one per hub turn for a burst of new runs (app/runs/batching.py).
        self._claims: Batcher[tuple[str, str], str | None] = Batcher(partial(leases.send_claims, self))
        self._begins: Batcher[tuple[str, int], None] = Batcher(partial(leases.send_begins, self))
        self._local_logs: weakref.WeakValueDictionary[str, SharedLog] = weakref.WeakValueDictionary()
        self._host: RunHost | None = None
        self._dirty: dict[str, SharedLog] = {}
        self._flush_signal = Signal()
        self._mirrors: dict[str, Mirror] = {}
        self._watch_counts: dict[str, int] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._local: Callable[[], Iterable[tuple[str, int]]] = lambda: ()
        self.available = True
        self.epoch: str | None = None  # the Redis dataset's epoch, as this worker last saw it
        self.recovering_until = 0.0  # time.monotonic() until which threads are checked in PostgreSQL

    # --- keys ---

    def _key(self, run_id: str, name: str) -> str:
        return f"{self.prefix}run:{run_id}:{name}"

    def _thread_key(self, thread_id: str) -> str:
        return f"{self.prefix}thread:{thread_id}"

    def _log_channel(self, run_id: str) -> str:
        return f"{self.prefix}log:{run_id}"

    @property
    def _leases(self) -> str:
        return self.prefix + "leases"

    @property
    def _holders(self) -> str:
        return self.prefix + "holders"

    @property
    def _cancel_channel(self) -> str:
        return self.prefix + "cancel"

    @property
    def _epoch_key(self) -> str:
        return self.prefix + "epoch"

    # --- lifecycle ---

    def start(self, host: RunHost) -> None:
        self._host = host
        self._local = host.local_runs
        try:
            epoch.current(self)
        except redis.RedisError as exc:  # read on the first claim or sweep instead
            self._went_away(exc)
        self._greenlets = [
            gevent.spawn(loop, self) for loop in (flush.flush_loop, mirrors.listen_loop, leases.keep_loop)
        ]

    def stop(self) -> None:
        flush.flush_now(self)
        gevent.killall(self._greenlets, block=False)

    # --- the rooms: each job in its own module, behind the Coordinator interface ---

    def new_log(self, run_id: str, thread_id: str, attempt: int, entries: list[str]) -> MemoryEventLog:
        shared = self._local_logs[run_id] = SharedLog(self, run_id, thread_id, attempt, entries)
        return shared

    def append_keys(self, run_id: str, thread_id: str) -> tuple[str, ...]:
        """The keys of the append script (``scripts.APPEND``'s KEYS[1..7]) for one run."""
        return (
            self._key(run_id, "log"),
            self._key(run_id, "attempt"),
            self._key(run_id, "closed"),
            self._log_channel(run_id),
            self._leases,
            self._holders,
            self._thread_key(thread_id),
        )

    # batched flush (flush.py)

    def schedule_flush(self, shared: SharedLog) -> None:
        flush.schedule_flush(self, shared)

    def _flush_now(self) -> bool:
        """Send every unsent entry in one round trip; False if Redis could not be reached."""
        return flush.flush_now(self)

    # leases and busy threads (leases.py)

    def claim_thread(self, thread_id: str, run_id: str) -> str | None:
        return leases.claim_thread(self, thread_id, run_id)

    def release_thread(self, thread_id: str, run_id: str) -> None:
        leases.release_thread(self, thread_id, run_id)

    def thread_holder(self, thread_id: str) -> str | None:
        return leases.thread_holder(self, thread_id)

    def begin(self, run_id: str, attempt: int) -> None:
        leases.begin(self, run_id, attempt)

    def withdraw(self, run_id: str) -> None:
        leases.withdraw(self, run_id)

    def hand_over(self, run_id: str) -> None:
        leases.hand_over(self, run_id)

    # cancels and watchers (signals.py)

    def request_cancel(self, run_id: str, reason: str) -> bool:
        return signals.request_cancel(self, run_id, reason)

    def cancel_reason(self, run_id: str) -> str | None:
        return signals.cancel_reason(self, run_id)

    def record_cancel(self, run_id: str, reason: str) -> None:
        signals.record_cancel(self, run_id, reason)

    def lost_workers(self, run_id: str) -> int:
        return signals.lost_workers(self, run_id)

    def watching(self, run_id: str, delta: int) -> None:
        signals.watching(self, run_id, delta)

    def watched_elsewhere(self, run_id: str) -> bool:
        return signals.watched_elsewhere(self, run_id)

    # reading runs executing elsewhere (mirrors.py)

    def open_remote(self, run_id: str) -> MemoryEventLog | None:
        return mirrors.open_remote(self, run_id)

    def close_remote(self, run_id: str, log_: MemoryEventLog) -> None:
        mirrors.close_remote(self, run_id, log_)

    def entries(self, run_id: str) -> list[str]:
        return mirrors.entries(self, run_id)

    # the dataset's epoch (epoch.py)

    def dataset_epoch(self) -> str:
        return epoch.current(self)

    def dataset_lost(self) -> None:
        """The sweeper found the dataset is not the one PostgreSQL knew: check threads there."""
        epoch.begin_recovery(self)

    def recovering(self) -> bool:
        return epoch.recovering(self)

    # sweeping (app.runs.sweeper)

    def committed_marks(self) -> list[tuple[str, int, int]]:
        """(run_id, attempt, committed seq) of the runs executing here."""
        return [(run_id, shared.attempt, shared.sent) for run_id, shared in list(self._local_logs.items())]

    def lease_states(self, run_ids: list[str]) -> dict[str, tuple[bool, bool]]:
        return leases.lease_states(self, run_ids)

    def revive(self, run_id: str, attempt: int) -> None:
        leases.revive(self, run_id, attempt)

    def release_claim(self, run_id: str, attempt: int, handed_over: bool) -> None:
        leases.release_claim(self, run_id, attempt, handed_over)

    def abandon(self, run_id: str, thread_id: str | None) -> None:
        leases.abandon(self, run_id, thread_id)

    # --- availability ---

    def _went_away(self, exc: Exception) -> None:
        if self.available:
            log.error("Redis is unavailable: %s", exc)
        self.available = False
        for run_id, mirror in list(self._mirrors.items()):
            mirror.log.fail()
            del self._mirrors[run_id]

    def _came_back(self) -> None:
        if not self.available:
            log.warning("Redis is available again")
        self.available = True

    def _unavailable_as_error(self) -> _RedisErrors:
        return _RedisErrors(self)


class _RedisErrors:
    """``with``: a Redis failure becomes StoreUnavailableError (a 503 for the client)."""

    def __init__(self, coordinator: RedisCoordinator) -> None:
        self.coordinator = coordinator

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, redis.RedisError):
            self.coordinator._went_away(exc)
            raise StoreUnavailableError("Redis is unavailable") from exc
