"""The Redis coordinator's flusher against a redis-server of the test's own: it sends the
append script by its SHA, so a Redis that lost its scripts (a restart) must get it again
without losing, repeating or reordering an entry, and fencing still holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runs.backends.redis import RedisCoordinator, leases
from tests.support.server import free_port
from tests.support.services import RedisServer


class Host:
    def __init__(self) -> None:
        self.fenced_runs: list[str] = []

    def cancel_local(self, run_id: str, reason: str) -> None: ...

    def take_over(self, run_id: str, attempt: int) -> None: ...

    def fenced(self, run_id: str) -> None:
        self.fenced_runs.append(run_id)


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[RedisCoordinator]:
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        yield RedisCoordinator(
            "test:1", server.url, prefix="t:", lease_s=10, ttl_s=60, max_connections=4, thread_ttl_s=60
        )
    finally:
        server.stop()


def test_a_redis_that_lost_its_scripts_gets_them_again(coordinator: RedisCoordinator) -> None:
    host = Host()
    coordinator._host = host
    log_ = coordinator.new_log("run-1", "thread-1", 1, ["s"])  # its start event
    coordinator.begin("run-1", 1)
    for entry in ("a", "b"):
        log_.append(entry)
    assert coordinator._flush_now()
    coordinator.redis.script_flush()
    for entry in ("c", "d"):
        log_.append(entry)
    log_.close()
    assert coordinator._flush_now()
    assert coordinator.entries("run-1") == ["s", "a", "b", "c", "d"]
    assert coordinator.redis.exists("t:run:run-1:closed") and not host.fenced_runs


def test_an_append_of_a_run_taken_over_is_fenced(coordinator: RedisCoordinator) -> None:
    host = Host()
    coordinator._host = host
    log_ = coordinator.new_log("run-2", "thread-2", 1, ["s"])  # its start event
    coordinator.begin("run-2", 1)
    log_.append("a")
    assert coordinator._flush_now()
    coordinator.redis.set("t:run:run-2:attempt", 2)  # another worker claimed it
    log_.append("b")
    assert coordinator._flush_now()
    assert coordinator.entries("run-2") == ["s", "a"] and host.fenced_runs == ["run-2"]


def test_readers_see_only_what_redis_accepted(coordinator: RedisCoordinator) -> None:
    """The fenced append is the commit point (docs/faults.md): nothing before it is readable."""
    coordinator._host = Host()
    log_ = coordinator.new_log("run-3", "thread-3", 1, ["s"])  # its start event
    coordinator.begin("run-3", 1)
    log_.append("a")
    log_.append("b")
    log_.close()
    assert log_.read(0, 0) == ["s"] and not log_.closed and log_.appended() == ["s", "a", "b"]
    assert coordinator._flush_now()
    assert log_.read(0, 0) == ["s", "a", "b"] and log_.closed


def test_a_redis_that_lost_a_live_run_gets_it_back_not_fenced(coordinator: RedisCoordinator) -> None:
    """Redis restarted empty (no AOF): store loss, not a takeover; the executing worker
    writes back what it had committed, then goes on."""
    host = Host()
    coordinator._host = host
    log_ = coordinator.new_log("run-4", "thread-4", 1, ["s"])  # its start event
    coordinator.begin("run-4", 1)
    log_.append("a")
    log_.append("b")
    assert coordinator._flush_now()
    coordinator.redis.flushall()
    log_.append("c")
    assert coordinator._flush_now()
    assert coordinator.entries("run-4") == ["s", "a", "b", "c"] and not host.fenced_runs
    assert coordinator.redis.get("t:run:run-4:attempt") == "1"
    assert coordinator.redis.zscore("t:leases", "run-4") is not None


def test_a_run_that_ended_while_its_lease_was_renewed_is_not_fenced(coordinator: RedisCoordinator) -> None:
    """The lease tick listed the run as live, then its terminal append closed the log before
    the renewal reached Redis: its own end, not a takeover (its readers keep their stream)."""
    host = Host()
    coordinator._host = host
    coordinator._local = lambda: [("run-5", 1)]  # listed before it ended
    log_ = coordinator.new_log("run-5", "thread-5", 1, ["s"])  # its start event
    coordinator.begin("run-5", 1)
    log_.append("a")
    log_.close()
    assert coordinator._flush_now() and log_.closed
    leases.keep(coordinator)
    assert not host.fenced_runs


def test_a_run_another_attempt_ended_is_fenced_by_the_lease_tick(coordinator: RedisCoordinator) -> None:
    host = Host()
    coordinator._host = host
    coordinator._local = lambda: [("run-6", 1)]
    log_ = coordinator.new_log("run-6", "thread-6", 1, ["s"])  # its start event
    coordinator.begin("run-6", 1)
    log_.append("a")
    assert coordinator._flush_now()
    coordinator.redis.set("t:run:run-6:closed", "1")  # attempt 2, elsewhere, ended it
    leases.keep(coordinator)
    assert host.fenced_runs == ["run-6"]
