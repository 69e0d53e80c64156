"""app/runs/log.py: readers get what is appended, wait no longer than their timeout (plus the
clock's tick), and do not spin."""

from __future__ import annotations

import time

import gevent

from app.runs import log as log_module
from app.runs.log import MemoryEventLog


def test_a_reader_gets_the_entries_after_its_offset_at_once() -> None:
    log = MemoryEventLog()
    log.append("a")
    log.append("b")
    started = time.monotonic()
    assert log.read(0, 5.0) == ["a", "b"]
    assert log.read(1, 5.0) == ["b"]
    assert time.monotonic() - started < 0.1


def test_a_waiting_reader_is_woken_by_an_append() -> None:
    log = MemoryEventLog()
    reader = gevent.spawn(log.read, 0, 5.0)
    gevent.sleep(0.05)
    started = time.monotonic()
    log.append("a")
    assert reader.get(timeout=1) == ["a"]
    assert time.monotonic() - started < 0.1


def test_a_reader_waits_its_timeout_and_not_much_longer() -> None:
    timeout = 0.2
    logs = [MemoryEventLog() for _ in range(50)]
    started = time.monotonic()
    readers = [gevent.spawn(log.read, 0, timeout) for log in logs]
    gevent.joinall(readers, timeout=5)
    elapsed = time.monotonic() - started
    assert all(reader.value == [] for reader in readers)
    # The clock's tick is a quarter of the timeout: the wait ends within timeout + tick.
    assert timeout <= elapsed < timeout * 1.25 + 0.1


def test_readers_that_were_woken_wait_again_instead_of_spinning() -> None:
    log = MemoryEventLog()
    log.wake()  # nobody waiting: must not leave a set signal behind
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not log.read(0, 0.2):
            reads += 1

    greenlet = gevent.spawn(reader)
    gevent.sleep(0.5)
    log.append("a")
    greenlet.join(timeout=1)
    assert 1 <= reads <= 3  # one empty read per timeout, not thousands


def test_a_closed_log_is_read_without_waiting() -> None:
    log = MemoryEventLog()
    log.append("a")
    log.close()
    started = time.monotonic()
    assert log.read(1, 5.0) == []
    assert time.monotonic() - started < 0.1


def test_the_clock_stops_when_nobody_waits() -> None:
    log = MemoryEventLog()
    assert log.read(0, 0.1) == []
    gevent.sleep(0.3)
    clock = log_module._CLOCK
    assert not clock.waiting
    assert clock._greenlet is None or clock._greenlet.dead


def test_entries_are_kept_utf8_and_read_back_as_appended() -> None:
    log = MemoryEventLog()
    log.append('{"type":"token","data":{"content":"재고"}}')
    assert log.read(0, 0) == ['{"type":"token","data":{"content":"재고"}}']
    assert log.read_bytes(0, 0) == ['{"type":"token","data":{"content":"재고"}}'.encode()]
    replayed = MemoryEventLog.replay(log.read(0, 0))
    assert replayed.closed and replayed.read_bytes(0, 0) == log.read_bytes(0, 0)
