"""The sweeper against the real Redis and PostgreSQL (docs/faults.md, "Store loss")."""

from __future__ import annotations

import gevent

from app.runs.backends.redis import RedisCoordinator
from app.runs.store.postgres import PostgresRunStore, open_pool
from app.runs.sweeper import Sweeper
from tests.support.services import REDIS_URL, postgres_database, redis_prefix


def test_a_starting_sweeper_records_the_dataset_epoch_at_once() -> None:
    """Not a lease period later: a Redis that loses its data before the first sweep would
    otherwise pass for the deployment's first dataset."""
    with redis_prefix() as prefix, postgres_database() as url:
        pool = open_pool(url, 2)
        coordinator = RedisCoordinator(
            "test:1", REDIS_URL, prefix=prefix, lease_s=10, ttl_s=60, max_connections=2, thread_ttl_s=60
        )
        store = PostgresRunStore(pool)
        sweeper = Sweeper(store, coordinator, period_s=30)
        try:
            sweeper.start()
            gevent.sleep(0.5)
            assert store.redis_epoch() is not None
            assert store.redis_epoch() == coordinator.dataset_epoch()
        finally:
            sweeper.stop()
            coordinator.redis.close()
            pool.close()
