"""The distributed mode's coordination, on Redis (``STAGECAST_REDIS_URL``).

Keys, under ``STAGECAST_REDIS_PREFIX``:

- ``run:<id>:log``: the run's events, a Stream whose entry ids are ``0-<seq>``. Redis refuses
  an id that is not above the last one, so a double append cannot happen silently.
- ``run:<id>:attempt``: the attempt that may write. Every append checks it in the same
  script that writes (fencing): a worker that was only paused cannot write into a run that
  another worker took over.
- ``leases`` (sorted set, score = expiry in ms of Redis time) and ``holders`` (hash): which
  worker executes each unfinished run. A live worker renews its runs' leases every tick; any
  worker claims a run whose lease has expired and continues it (docs/architecture.md).
- ``run:<id>:watch`` (sorted set of workers, score = expiry): clients watching the run from
  other workers, so it is not cancelled for lack of watchers while one is watching elsewhere.
- ``thread:<id>``: the run that holds a busy thread. ``run:<id>:cancel``: a cancel request.
- Channels ``log:<id>`` (new entries, for fan-out) and ``cancel``.
- ``epoch``: the dataset's epoch, a random id written when a worker finds none; a new one
  means Redis lost its data (:mod:`.epoch`).

The coordinator (:mod:`.coordinator`) is the backend's one door; its jobs have rooms beside
it: :mod:`.scripts` (the Lua scripts), :mod:`.flush` (batched appends), :mod:`.mirrors`
(pub/sub mirrors of runs executing elsewhere), :mod:`.signals` (cancels and watchers),
:mod:`.leases` (leases, takeovers, busy threads) and :mod:`.epoch` (the dataset's epoch).

Connections stay bounded however many streams are open (redis-py's pool, gevent-aware):
clients of one worker that watch a run elsewhere share one copy of its log, fed by one
pub/sub connection per worker, never one blocking read per client.
"""

from .coordinator import RedisCoordinator

__all__ = ["RedisCoordinator"]
