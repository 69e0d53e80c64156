"""The Redis dataset's epoch: one random id, written by the first worker that finds none.

A Redis that restarts empty (no AOF) or fails over to an empty replica loses the epoch with
every other key, so a new epoch means its data was lost. The sweeper compares it with the
epoch PostgreSQL last saw (docs/faults.md, "Store loss"); and every thread claim reads it in
the same round trip, so a worker that sees it change knows at once that busy marks may be
missing. For a while after (``RECOVERY_LEASES`` lease periods: until the workers executing
runs have written their keys back, and the sweeper has dealt with runs nobody holds), a new
run's thread is checked against PostgreSQL's unfinished runs too.

A room of :class:`~app.runs.backends.redis.coordinator.RedisCoordinator`: each function
takes the coordinator, the one door to them.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .coordinator import RedisCoordinator

log = logging.getLogger(__name__)

# The sweeper makes an orphan claimable within about three lease periods (docs/faults.md).
RECOVERY_LEASES = 3.5


def current(coordinator: RedisCoordinator) -> str:
    """The dataset's epoch, written first if Redis has none (a first start, or data lost)."""
    pipe = coordinator.redis.pipeline(transaction=False)
    pipe.set(coordinator._epoch_key, uuid.uuid4().hex, nx=True)
    pipe.get(coordinator._epoch_key)
    epoch: str = pipe.execute()[1]
    observe(coordinator, epoch)
    return epoch


def observe(coordinator: RedisCoordinator, epoch: str | None) -> None:
    """``epoch`` was read from Redis just now (None: the key is missing)."""
    if epoch == coordinator.epoch:
        return
    first_look = coordinator.epoch is None and epoch is not None
    if not first_look:
        log.error("the Redis dataset changed (epoch %s -> %s): it lost its data", coordinator.epoch, epoch)
        begin_recovery(coordinator)
    coordinator.epoch = epoch


def begin_recovery(coordinator: RedisCoordinator) -> None:
    """Busy marks may be missing: check new runs' threads in PostgreSQL for a while."""
    coordinator.recovering_until = time.monotonic() + RECOVERY_LEASES * coordinator.lease_ms / 1000


def recovering(coordinator: RedisCoordinator) -> bool:
    return time.monotonic() < coordinator.recovering_until
