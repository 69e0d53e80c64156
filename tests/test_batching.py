"""Group commit on the distributed start path (app/runs/batching.py): the thread claims, run
records and leases asked for in one hub turn go out in one round trip, against the real
Redis and PostgreSQL, and each caller still gets its own answer."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest

from app.runs.backends.redis import RedisCoordinator
from app.runs.batching import Batcher
from app.runs.models import Run, RunRequest
from app.runs.store.postgres import PostgresRunStore, open_pool
from tests.support.services import REDIS_URL, postgres_database, redis_prefix


def test_calls_of_one_turn_go_out_together_and_each_gets_its_answer() -> None:
    sent: list[list[int]] = []

    def send(items: list[int]) -> list[int | Exception]:
        sent.append(items)
        gevent.sleep(0.01)  # a round trip: calls made meanwhile form the next batch
        return [ValueError(item) if item == 7 else item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(send)

    def call(item: int) -> int | str:
        try:
            return batcher.call(item)
        except ValueError:
            return "refused"

    first = [gevent.spawn(call, item) for item in range(10)]
    gevent.sleep(0.005)
    later = [gevent.spawn(call, item) for item in range(10, 15)]
    gevent.joinall(first + later, raise_error=True)
    expected: list[int | str] = [item * 10 for item in range(15)]
    expected[7] = "refused"
    assert [g.value for g in first + later] == expected
    assert sent == [list(range(10)), list(range(10, 15))]
    # Idle again: the next call starts a new sender.
    assert batcher.call(3) == 30 and sent[-1] == [3]


def test_a_failed_send_is_raised_to_every_caller_of_its_batch() -> None:
    def send(items: list[int]) -> list[int | Exception]:
        if 0 in items:
            raise ConnectionError("store away")
        return items

    batcher: Batcher[int, int] = Batcher(send)
    calls = [gevent.spawn(batcher.call, item) for item in range(3)]
    gevent.joinall(calls)
    assert all(isinstance(call.exception, ConnectionError) for call in calls)
    assert batcher.call(5) == 5


@pytest.fixture
def coordinator() -> Iterator[RedisCoordinator]:
    with redis_prefix() as prefix:
        coordinator = RedisCoordinator(
            "test:1", REDIS_URL, prefix=prefix, lease_s=10, ttl_s=60, max_connections=2, thread_ttl_s=60
        )
        yield coordinator
        coordinator.redis.close()


def test_claims_and_leases_of_a_burst_share_round_trips(
    coordinator: RedisCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_trips: list[str] = []
    pipeline, begin = coordinator.redis.pipeline, coordinator._begin
    monkeypatch.setattr(
        coordinator.redis, "pipeline", lambda **kw: round_trips.append("claims") or pipeline(**kw)
    )
    monkeypatch.setattr(coordinator, "_begin", lambda **kw: round_trips.append("leases") or begin(**kw))
    claims = [gevent.spawn(coordinator.claim_thread, f"thread-{i % 20}", f"run-{i}") for i in range(40)]
    gevent.joinall(claims, raise_error=True)
    # One run per thread, even for two claims of one thread in the same round trip.
    assert [claim.value for claim in claims] == [None] * 20 + [f"run-{i}" for i in range(20)]
    logs = [coordinator.new_log(f"run-{i}", f"thread-{i}", 1, [f"start {i}"]) for i in range(20)]
    feed = coordinator.redis.pubsub()
    feed.subscribe(coordinator._log_channel("run-3"))
    begins = [gevent.spawn(coordinator.begin, f"run-{i}", 1) for i in range(20)]
    gevent.joinall(begins, raise_error=True)
    holders = coordinator.redis.hgetall(coordinator._holders)
    assert holders == {f"run-{i}": "test:1:1" for i in range(20)}
    assert coordinator.redis.zcard(coordinator._leases) == 20
    assert coordinator.redis.get(coordinator._key("run-3", "attempt")) == "1"
    # Each run's start event is committed with its lease, and published as an append is.
    assert [coordinator.entries(f"run-{i}") for i in range(20)] == [[f"start {i}"] for i in range(20)]
    published = [feed.get_message(timeout=1) for _ in range(2)][-1]
    assert published is not None and published["data"] == "1\n0\nstart 3"
    # 60 calls from 60 greenlets in one hub turn: one round trip for the claims, one for the leases.
    assert round_trips == ["claims", "leases"]
    # The next append goes on from seq 2, fenced by the attempt the lease wrote.
    logs[3].append("token")
    assert coordinator._flush_now() and coordinator.entries("run-3") == ["start 3", "token"]
    feed.close()


def test_a_run_withdrawn_leaves_no_lease_attempt_or_log(coordinator: RedisCoordinator) -> None:
    log_ = coordinator.new_log("run-1", "thread-1", 1, ["start"])
    coordinator.begin("run-1", 1)
    assert coordinator.entries("run-1") == ["start"] and log_.read(0, 0) == ["start"]
    coordinator.withdraw("run-1")
    assert coordinator.redis.zscore(coordinator._leases, "run-1") is None
    assert not coordinator.redis.hexists(coordinator._holders, "run-1")
    assert not coordinator.redis.exists(coordinator._key("run-1", "log"))
    assert not coordinator.redis.exists(coordinator._key("run-1", "attempt"))


@pytest.fixture
def run_store() -> Iterator[PostgresRunStore]:
    with postgres_database() as url:
        pool = open_pool(url, 2)
        try:
            yield PostgresRunStore(pool)
        finally:
            pool.close()


def _run(run_id: str) -> Run:
    return Run(
        run_id=run_id,
        thread_id=f"t-{run_id}",
        trace_id="trace",
        agent="default",
        request=RunRequest(message="hi"),
        worker="test:1",
    )


def test_run_records_of_a_burst_go_in_together_and_a_bad_one_fails_alone(run_store: PostgresRunStore) -> None:
    run_store.started(_run("taken"))()
    def record(run_id: str) -> None:
        run_store.started(_run(run_id))()  # returns at once; the call waits for the record

    starts = [gevent.spawn(record, run_id) for run_id in ("a", "b", "taken", "c")]
    gevent.joinall(starts)
    failed = [start for start in starts if start.exception is not None]
    assert failed == [starts[2]]  # the id given twice fails; the others of its batch are in
    for run_id in ("a", "b", "c", "taken"):
        stored = run_store.get(run_id)
        assert stored is not None and stored.thread_id == f"t-{run_id}" and stored.state == "pending"
