"""The sweeper of the distributed mode: every live worker runs one (docs/faults.md).

Every lease period, give or take a fifth (so workers started together do not sweep in step),
and the epoch once as it starts:

- it writes the high-water mark of each run executing here (the highest event seq Redis
  accepted) into PostgreSQL, in one statement: a takeover that finds a shorter log in Redis
  knows Redis lost data, and never reads that as a takeover;
- it compares the Redis dataset's epoch with the one PostgreSQL last saw: a new one means
  Redis lost its data, and new runs' threads are checked in PostgreSQL for a while
  (:mod:`app.runs.backends.redis.epoch`);
- it finds runs that PostgreSQL has as unfinished but that hold no lease in Redis (Redis
  lost its keys: a restart without AOF, a failover to an empty replica). A run found so on
  two sweeps in a row is made claimable again; the takeover then restarts it from its
  checkpoint, or ends it ``interrupted`` if its log was lost. A run whose terminal event is
  committed in Redis but whose end never reached PostgreSQL (its worker was killed between
  the two writes) gets its end written from the log.

Two sweeps in a row, not a timestamp: whether a lease is missing is read from Redis itself,
so no host's clock decides anything (docs/faults.md, "One clock"). Idempotent, and safe with
any number of workers sweeping at once: every write is guarded by the run's attempt.
"""

from __future__ import annotations

import json
import logging
import random

import gevent

from .backends.redis import RedisCoordinator
from .models import outcome_in
from .store import RunStore

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, store: RunStore, coordinator: RedisCoordinator, period_s: float) -> None:
        self.store = store
        self.coordinator = coordinator
        self.period_s = period_s
        self._suspects: set[str] = set()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _loop(self) -> None:
        # The epoch at once, not a period later: a Redis that loses its data before this
        # worker's first sweep must still be seen to have lost it (docs/faults.md).
        try:
            self._compare_epochs()
        except Exception as exc:
            log.warning("could not compare the Redis dataset's epoch: %s", exc)
        while True:
            gevent.sleep(self.period_s * random.uniform(0.8, 1.2))
            try:
                self.sweep()
            except Exception as exc:  # a store away: the next sweep tries again
                log.warning("sweep failed: %s", exc)

    def sweep(self) -> None:
        self._compare_epochs()
        self.store.mark_committed(self.coordinator.committed_marks())
        live = self.store.live()
        if not live:
            self._suspects = set()
            return
        states = self.coordinator.lease_states([run_id for run_id, _, _ in live])
        suspects: set[str] = set()
        for run_id, _thread_id, attempt in live:
            leased, ended = states[run_id]
            if leased:
                continue
            if ended:
                self._record_end(run_id, attempt)
            elif run_id in self._suspects:
                log.warning("run %s is unfinished and nobody holds it; making it claimable", run_id)
                self.coordinator.revive(run_id, attempt)
            else:
                suspects.add(run_id)
        self._suspects = suspects

    def _compare_epochs(self) -> None:
        """A Redis dataset whose epoch is not the one PostgreSQL last saw has lost its data."""
        epoch = self.coordinator.dataset_epoch()
        known = self.store.redis_epoch()
        if epoch == known:
            return
        if known is None:  # the deployment's first sweep
            self.store.advance_redis_epoch(None, epoch)
            return
        self.coordinator.dataset_lost()
        if self.store.advance_redis_epoch(known, epoch):  # one host says it
            log.error(
                "Redis lost its dataset (epoch %s, now %s): workers write back the runs they "
                "execute, and runs nobody holds are swept",
                known,
                epoch,
            )

    def _record_end(self, run_id: str, attempt: int) -> None:
        entries = self.coordinator.entries(run_id)
        events = [json.loads(entry) for entry in entries]
        stored = self.store.get(run_id)
        if not events or events[-1]["type"] != "done" or stored is None:
            return
        done = events[-1]["data"]
        # Its end on the executing host's clock, like the rest of its summary.
        started = stored.summary.get("started_at") or stored.summary["created_at"]
        ended_at = started + done["duration_ms"] / 1000
        summary = {
            **stored.summary,
            **outcome_in(events),
            "status": done["status"],
            "ended_at": ended_at,
            "duration_ms": done["duration_ms"],
            "events": len(events),
        }
        if self.store.ended_in_log(run_id, attempt, summary, entries):
            log.warning("recorded the end of run %s from its log (its worker never did)", run_id)
