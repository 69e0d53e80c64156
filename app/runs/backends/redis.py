"""The distributed mode's coordination, on Redis (``STAGECAST_REDIS_URL``).

Keys, under ``STAGECAST_REDIS_PREFIX``:

- ``run:<id>:log``: the run's events, a Stream whose entry ids are ``0-<seq>``. Redis refuses
  an id that is not above the last one, so a double append cannot happen silently.
- ``run:<id>:attempt``: the attempt that may write. Every append checks it in the same
  script that writes (fencing): a worker that was only paused cannot write into a run that
  another worker took over.
- ``leases`` (sorted set, score = expiry in ms of Redis time) and ``holders`` (hash): which
  worker executes each unfinished run. A live worker renews its runs' leases every tick; any
  worker claims a run whose lease has expired and continues it (DESIGN.md, "Distributed mode").
- ``run:<id>:watch`` (sorted set of workers, score = expiry): clients watching the run from
  other workers, so it is not cancelled for lack of watchers while one is watching elsewhere.
- ``thread:<id>``: the run that holds a busy thread. ``run:<id>:cancel``: a cancel request.
- Channels ``log:<id>`` (new entries, for fan-out) and ``cancel``.

Connections stay bounded however many streams are open (redis-py's pool, gevent-aware):
clients of one worker that watch a run elsewhere share one copy of its log, fed by one
pub/sub connection per worker, never one blocking read per client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import gevent
import redis
from gevent.event import Event as Signal
from redis.exceptions import NoScriptError

from app.runs.backends import Coordinator, RunHost, StoreUnavailableError
from app.runs.log import MemoryEventLog

log = logging.getLogger(__name__)

# Appends entries ARGV[6..] from seq ARGV[4] if the attempt may write; publishes them; on
# the terminal append, releases the lease and the thread and starts the log's TTL.
# Idempotent: entries already there (a retry after a lost reply) are skipped.
_APPEND = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local first = tonumber(ARGV[4])
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_seq = 0
if #newest > 0 then last_seq = tonumber(string.match(newest[1][1], '-(%d+)$')) end
local n = #ARGV - 5
local skip = last_seq - (first - 1)
if skip < 0 or skip > n then return -2 end
local parts = {}
for i = skip + 1, n do
  redis.call('XADD', KEYS[1], '0-' .. (first + i - 1), 'e', ARGV[5 + i])
  parts[#parts + 1] = ARGV[5 + i]
end
if #parts > 0 or ARGV[3] == '1' then
  redis.call('PUBLISH', KEYS[4], (first + skip) .. '\\n' .. ARGV[3] .. '\\n' .. table.concat(parts, '\\n'))
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[5])
  redis.call('HDEL', KEYS[6], ARGV[5])
  if redis.call('GET', KEYS[7]) == ARGV[5] then redis.call('DEL', KEYS[7]) end
end
return first + n - 1
"""

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# A fresh run: attempt 1, leased to this worker.
_BEGIN = (
    _NOW_MS
    + """
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
return 1
"""
)

# Renew a lease we hold; re-take one that lapsed if nobody claimed it meanwhile.
_RENEW = (
    _NOW_MS
    + """
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local holder = redis.call('HGET', KEYS[2], ARGV[1])
local me = ARGV[2] .. ':' .. ARGV[3]
if holder == me or (not holder and redis.call('GET', KEYS[3]) == ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], me)
  return 1
end
return 0
"""
)

# Claim a run whose lease expired: the next attempt is ours.
_CLAIM = (
    _NOW_MS
    + """
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) > now then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('ZREM', KEYS[1], ARGV[1]) return 0 end
local attempt = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. attempt)
return attempt
"""
)

# Let the lease lapse now, so another worker claims the run on its next tick.
_HAND_OVER = """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('ZADD', KEYS[1], 0, ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
"""


class _SharedLog(MemoryEventLog):
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


@dataclass
class _Mirror:
    """This worker's copy of a run executing elsewhere, shared by its clients here."""

    log: MemoryEventLog
    readers: int = 0


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
        self.redis = redis.Redis(connection_pool=pool)
        self.prefix = prefix
        self.lease_ms = int(lease_s * 1000)
        self.ttl_ms = max(1000, int(ttl_s * 1000))
        self.thread_ttl_ms = int(thread_ttl_s * 1000)
        self.tick_s = min(1.0, lease_s / 3)
        self._append = self.redis.register_script(_APPEND)
        self._begin = self.redis.register_script(_BEGIN)
        self._renew = self.redis.register_script(_RENEW)
        self._claim = self.redis.register_script(_CLAIM)
        self._hand_over = self.redis.register_script(_HAND_OVER)
        self._host: RunHost | None = None
        self._dirty: dict[str, _SharedLog] = {}
        self._flush_signal = Signal()
        self._mirrors: dict[str, _Mirror] = {}
        self._watch_counts: dict[str, int] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._local: Callable[[], Iterable[tuple[str, int]]] = lambda: ()
        self.available = True

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

    # --- lifecycle ---

    def start(self, host: RunHost) -> None:
        self._host = host
        self._local = host.local_runs
        self._greenlets = [
            gevent.spawn(loop) for loop in (self._flush_loop, self._listen_loop, self._keep_loop)
        ]

    def stop(self) -> None:
        self._flush_now()
        gevent.killall(self._greenlets, block=False)

    # --- runs executing here ---

    def new_log(self, run_id: str, thread_id: str, attempt: int, entries: list[str]) -> MemoryEventLog:
        return _SharedLog(self, run_id, thread_id, attempt, entries)

    def claim_thread(self, thread_id: str, run_id: str) -> str | None:
        key = self._thread_key(thread_id)
        with self._unavailable_as_error():
            if self.redis.set(key, run_id, nx=True, px=self.thread_ttl_ms):
                return None
            holder = self.redis.get(key)
        return None if holder == run_id else holder or None

    def release_thread(self, thread_id: str, run_id: str) -> None:
        key = self._thread_key(thread_id)
        try:
            if self.redis.get(key) == run_id:
                self.redis.delete(key)
        except redis.RedisError:
            log.warning("could not release thread %s; it frees itself when its key expires", thread_id)

    def thread_holder(self, thread_id: str) -> str | None:
        with self._unavailable_as_error():
            return self.redis.get(self._thread_key(thread_id)) or None

    def begin(self, run_id: str, attempt: int) -> None:
        with self._unavailable_as_error():
            self._begin(
                keys=[self._leases, self._holders, self._key(run_id, "attempt")],
                args=[run_id, self.worker, attempt, self.lease_ms],
            )

    def hand_over(self, run_id: str) -> None:
        self._flush_now()
        attempt = next((a for r, a in self._local() if r == run_id), None)
        try:
            self._hand_over(keys=[self._leases, self._holders], args=[run_id, f"{self.worker}:{attempt}"])
        except redis.RedisError:
            log.warning("could not hand run %s over; it is taken over when its lease expires", run_id)

    def schedule_flush(self, shared: _SharedLog) -> None:
        self._dirty[shared.run_id] = shared
        self._flush_signal.set()

    def _flush_loop(self) -> None:
        while True:
            self._flush_signal.wait()
            self._flush_signal.clear()
            if not self._flush_now():
                gevent.sleep(0.5)  # Redis is away: entries wait in memory, in order
                self._flush_signal.set()

    def append_keys(self, run_id: str, thread_id: str) -> tuple[str, ...]:
        """The keys of the append script (``_APPEND``'s KEYS[1..7]) for one run."""
        return (
            self._key(run_id, "log"),
            self._key(run_id, "attempt"),
            self._key(run_id, "closed"),
            self._log_channel(run_id),
            self._leases,
            self._holders,
            self._thread_key(thread_id),
        )

    def _flush_now(self) -> bool:
        """Send every unsent entry in one round trip; False if Redis could not be reached."""
        reloaded = False
        while self._dirty:
            logs = list(self._dirty.values())
            self._dirty.clear()
            pipe = self.redis.pipeline(transaction=False)
            # EVALSHA straight on the pipeline: through redis-py's Script object, every
            # execute() would first send SCRIPT EXISTS, a second round trip per flush.
            sha = self._append.sha
            for shared in logs:
                closed = "1" if shared.closed else "0"
                args = (shared.attempt, self.ttl_ms, closed, shared.sent + 1, shared.run_id)
                pipe.evalsha(sha, len(shared.keys), *shared.keys, *args, *shared.unsent())
            try:
                results = pipe.execute(raise_on_error=False)
                if any(isinstance(result, NoScriptError) for result in results):
                    if reloaded:  # loaded a moment ago and gone again: retry later, not in a spin
                        raise NoScriptError("the append script keeps disappearing")
                    # Redis lost its scripts (a restart): load it again; those logs are sent
                    # again below, and the script skips entries already in.
                    self._append.sha = self.redis.script_load(_APPEND)
                    reloaded = True
            except redis.RedisError as exc:
                self._went_away(exc)
                for shared in logs:
                    self._dirty.setdefault(shared.run_id, shared)
                return False
            self._came_back()
            for shared, result in zip(logs, results, strict=True):
                if isinstance(result, NoScriptError):
                    self._dirty.setdefault(shared.run_id, shared)
                    continue
                if isinstance(result, int) and result >= 0:
                    shared.sent = result
                    continue
                if not isinstance(result, int) or result != -1:
                    log.error("append to run %s refused: %r", shared.run_id, result)
                if self._host is not None:
                    self._host.fenced(shared.run_id)
        return True

    # --- cancel ---

    def request_cancel(self, run_id: str, reason: str) -> bool:
        with self._unavailable_as_error():
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(self._key(run_id, "cancel"), reason, px=self.ttl_ms)
            pipe.publish(self._cancel_channel, f"{run_id}\n{reason}")
            pipe.execute()
        return True

    def cancel_reason(self, run_id: str) -> str | None:
        return self.redis.get(self._key(run_id, "cancel"))

    # --- watchers ---

    def watching(self, run_id: str, delta: int) -> None:
        count = self._watch_counts.get(run_id, 0) + delta
        key = self._key(run_id, "watch")
        try:
            if count > 0:
                self._watch_counts[run_id] = count
                if count == delta:  # the first here: tell the executing worker at once
                    self.redis.zadd(key, {self.worker: self._watch_expiry()})
            else:
                self._watch_counts.pop(run_id, None)
                self.redis.zrem(key, self.worker)
        except redis.RedisError:
            pass  # the next tick refreshes it; a stale entry expires by its score

    def watched_elsewhere(self, run_id: str) -> bool:
        try:
            watchers = self.redis.zrangebyscore(self._key(run_id, "watch"), time.time() * 1000, "+inf")
        except redis.RedisError:
            return True  # unknown: do not cancel a run someone may be watching
        return any(worker != self.worker for worker in watchers)

    def _watch_expiry(self) -> float:
        return time.time() * 1000 + 3 * self.tick_s * 1000

    # --- reading runs executing elsewhere ---

    def open_remote(self, run_id: str) -> MemoryEventLog | None:
        mirror = self._mirrors.get(run_id)
        if mirror is None:
            # Registered before the first read yields, so concurrent openers share this one
            # copy (the listener subscribes to its channel and catches up once subscribed).
            mirror = self._mirrors[run_id] = _Mirror(MemoryEventLog())
            try:
                with self._unavailable_as_error():
                    if not self.redis.exists(self._key(run_id, "log"), self._key(run_id, "attempt")):
                        raise LookupError(run_id)
                    self._catch_up(run_id, mirror.log)
            except (LookupError, StoreUnavailableError) as exc:
                if self._mirrors.get(run_id) is mirror:
                    del self._mirrors[run_id]
                mirror.log.fail()  # anyone who joined it meanwhile retries
                if isinstance(exc, LookupError):
                    return None
                raise
        mirror.readers += 1
        return mirror.log

    def close_remote(self, run_id: str, log_: MemoryEventLog) -> None:
        mirror = self._mirrors.get(run_id)
        if mirror is None or mirror.log is not log_:
            return
        mirror.readers -= 1
        if mirror.readers <= 0:
            del self._mirrors[run_id]

    def entries(self, run_id: str) -> list[str]:
        return [fields["e"] for _, fields in self.redis.xrange(self._key(run_id, "log"))]

    def _catch_up(self, run_id: str, mirror: MemoryEventLog) -> None:
        start = f"(0-{mirror.last_seq}" if mirror.last_seq else "-"
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrange(self._key(run_id, "log"), start, "+")
        pipe.exists(self._key(run_id, "closed"))
        rows, closed = pipe.execute()
        for entry_id, fields in rows:
            if int(entry_id.partition("-")[2]) == mirror.last_seq + 1:
                mirror.append(fields["e"])
        if closed and not mirror.closed:
            mirror.close()

    def _listen_loop(self) -> None:
        """One pub/sub connection per worker: cancel requests, and the logs it mirrors."""
        while True:
            pubsub = self.redis.pubsub()
            try:
                pubsub.subscribe(self._cancel_channel)
                subscribed: set[str] = set()
                while True:
                    wanted = set(self._mirrors)
                    for run_id in wanted - subscribed:
                        pubsub.subscribe(self._log_channel(run_id))
                    for run_id in subscribed - wanted:
                        pubsub.unsubscribe(self._log_channel(run_id))
                    subscribed = wanted
                    message = pubsub.get_message(timeout=0.05)
                    while message is not None:
                        self._dispatch(message)
                        message = pubsub.get_message(timeout=0)
            except redis.RedisError as exc:
                self._went_away(exc)
                gevent.sleep(0.5)
            finally:
                pubsub.reset()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel: str = message["channel"]
        if channel == self._cancel_channel:
            if message["type"] == "message" and self._host is not None:
                run_id, _, reason = message["data"].partition("\n")
                self._host.cancel_local(run_id, reason or "cancelled")
            return
        run_id = channel.removeprefix(self.prefix + "log:")
        mirror = self._mirrors.get(run_id)
        if mirror is None:
            return
        if message["type"] == "subscribe":
            # Live from here on; what came between the first read and now is read again.
            self._catch_up(run_id, mirror.log)
        elif message["type"] == "message":
            first, terminal, body = message["data"].split("\n", 2)
            self._ingest(run_id, mirror.log, int(first), body.split("\n") if body else [], terminal == "1")

    def _ingest(
        self, run_id: str, mirror: MemoryEventLog, first: int, entries: list[str], terminal: bool
    ) -> None:
        if first > mirror.last_seq + 1:
            self._catch_up(run_id, mirror)  # a gap: read it from the stream
            return
        for seq, entry in enumerate(entries, first):
            if seq == mirror.last_seq + 1:
                mirror.append(entry)
        if terminal and not mirror.closed:
            mirror.close()

    # --- leases ---

    def _keep_loop(self) -> None:
        """Every tick: renew this worker's leases, refresh its watchers, take over orphans."""
        while True:
            gevent.sleep(self.tick_s)
            try:
                self._keep()
            except redis.RedisError as exc:
                self._went_away(exc)

    def _keep(self) -> None:
        local = list(self._local())
        pipe = self.redis.pipeline(transaction=False)
        for run_id, attempt in local:
            self._renew(
                keys=[self._leases, self._holders, self._key(run_id, "attempt"), self._key(run_id, "closed")],
                args=[run_id, self.worker, attempt, self.lease_ms],
                client=pipe,
            )
        expiry = self._watch_expiry()
        for run_id in self._watch_counts:
            pipe.zadd(self._key(run_id, "watch"), {self.worker: expiry})
            pipe.pexpire(self._key(run_id, "watch"), self.ttl_ms)
        pipe.zrangebyscore(self._leases, "-inf", time.time() * 1000)
        results = pipe.execute()
        self._came_back()
        host = self._host
        if host is None:
            return
        for (run_id, _), renewed in zip(local, results, strict=False):
            if not renewed:
                host.fenced(run_id)
        for mirror_run, mirror in list(self._mirrors.items()):
            if not mirror.log.closed:
                self._catch_up(mirror_run, mirror.log)
        mine = {run_id for run_id, _ in local}
        for run_id in results[-1]:
            if run_id in mine:
                continue
            attempt = self._claim(
                keys=[self._leases, self._holders, self._key(run_id, "attempt"), self._key(run_id, "closed")],
                args=[run_id, self.worker, self.lease_ms],
            )
            if attempt:
                log.info("taking over run %s (attempt %d)", run_id, attempt)
                host.take_over(run_id, int(attempt))

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

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, redis.RedisError):
            self.coordinator._went_away(exc)
            raise StoreUnavailableError("Redis is unavailable") from exc
        return False
