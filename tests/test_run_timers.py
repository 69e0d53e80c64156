"""app/runs/timers.py: a run's timer fires once, in a greenlet of its own, unless cancelled."""

from __future__ import annotations

import gevent

from app.runs.timers import Later


def test_a_timer_fires_its_action_once_after_its_delay() -> None:
    fired: list[bool] = []
    # The event loop's clock moves once per loop turn; a test runs outside the loop for
    # long stretches, and a timer counts from that clock (as gevent.spawn_later's does).
    gevent.get_hub().loop.update_now()
    Later(0.05, lambda: fired.append(True))
    gevent.sleep(0.02)
    assert fired == []
    gevent.sleep(0.1)
    assert fired == [True]


def test_a_cancelled_timer_never_fires() -> None:
    fired: list[bool] = []
    timer = Later(0.05, lambda: fired.append(True))
    timer.cancel()
    gevent.sleep(0.1)
    assert fired == []


def test_cancel_ends_a_running_action_but_not_from_inside_it() -> None:
    steps: list[str] = []
    timers: list[Later] = []

    def cancels_itself() -> None:
        timers[0].cancel()  # as a run's cancel deadline releasing the run does
        gevent.sleep(0.01)
        steps.append("finished its own work")

    timers.append(Later(0, cancels_itself))
    gevent.sleep(0.05)
    assert steps == ["finished its own work"]

    def slow() -> None:
        gevent.sleep(1)
        steps.append("not reached")

    other = Later(0, slow)
    gevent.sleep(0.02)  # it fired and is running
    other.cancel()
    gevent.sleep(0.05)
    assert steps == ["finished its own work"]
