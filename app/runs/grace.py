"""Who watches a run, and the disconnect grace: a run nobody watches cancels itself.

When the last subscriber leaves, the run waits ``disconnect_grace_s`` for a rejoin (here,
or on another worker the coordinator knows of), then cancels itself, unless it was started
with ``on_disconnect: "continue"``.

A room of :class:`~app.runs.manager.RunManager`: each function takes the manager, which
stays the one door the API uses (its methods of the same names call these).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .log import MemoryEventLog
from .models import Run

if TYPE_CHECKING:
    from .manager import RunManager


def attach(manager: RunManager, run: Run) -> None:
    run.subscribers += 1
    timer = run.timers.pop("grace", None)
    if timer is not None:
        timer.cancel()


def detach(manager: RunManager, run: Run) -> None:
    run.subscribers -= 1
    arm_grace(manager, run)


def watch(manager: RunManager, run_id: str, run: Run | None) -> None:
    """A client starts reading ``run_id``'s stream (``run``: None if it executes elsewhere)."""
    if run is not None:
        manager.attach(run)
    else:
        manager.coordinator.watching(run_id, +1)


def unwatch(manager: RunManager, run_id: str, run: Run | None, log_: MemoryEventLog) -> None:
    if run is not None:
        manager.detach(run)
    else:
        manager.coordinator.watching(run_id, -1)
        manager.close_log(run_id, log_)


def arm_grace(manager: RunManager, run: Run) -> None:
    # During shutdown, shutdown owns the ending: no run is cancelled for lack of watchers.
    if run.subscribers or run.finished or manager.draining or run.request.on_disconnect == "continue":
        return
    # A timer even for a grace of 0: a run just started is watched by the request that
    # started it before that request yields, and only then may the timer fire.
    manager._later(run, "grace", manager.settings.disconnect_grace_s, lambda: grace_over(manager, run))


def grace_over(manager: RunManager, run: Run) -> None:
    if run.subscribers or run.finished or manager.draining:
        return
    if manager.coordinator.watched_elsewhere(run.run_id):
        arm_grace(manager, run)  # a client on another worker still watches it
    else:
        manager.cancel(run, "disconnected")
