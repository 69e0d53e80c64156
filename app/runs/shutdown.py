"""Shutting a worker down: drain its streams, let its runs finish, then hand over or interrupt.

A room of :class:`~app.runs.manager.RunManager`: each function takes the manager, which
stays the one door the API uses (its methods of the same names call these).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import cancel, takeover

if TYPE_CHECKING:
    from .manager import RunManager


def drain(manager: RunManager) -> None:
    """Stop taking runs and end every open stream (they reconnect elsewhere)."""
    if manager.draining:
        return
    manager.draining = True
    manager.admission.stop()  # runs still waiting are ended by shutdown()
    for run in manager.runs.values():
        timer = run.timers.pop("grace", None)
        if timer is not None:
            timer.cancel()
    if not manager.coordinator.distributed:
        _set_state_of_unfinished(manager, "draining")
    for run in list(manager.runs.values()):
        run.log.wake()


def shutdown(manager: RunManager, budget: float) -> None:
    """At worker exit: let runs finish in half of ``budget``; then, in the distributed mode,
    hand the rest to other workers, else end them as interrupted."""
    manager.drain()
    deadline = time.monotonic() + budget
    for run in list(manager.runs.values()):
        if run.producer is not None:
            run.producer.join(max(0.0, deadline - budget / 2 - time.monotonic()))
    for run in list(manager.runs.values()):
        if run.finished or run.released:
            continue
        if manager.coordinator.distributed:
            manager.coordinator.hand_over(run.run_id)
            takeover.relinquish(manager, run, "handover")
            continue
        if manager.cancel(run, "shutdown") and run.producer is not None:
            run.producer.join(max(0.0, min(cancel.CANCEL_DEADLINE_S, deadline - time.monotonic())))
        cancel.abandon(manager, run)
    if not manager.coordinator.distributed:
        _set_state_of_unfinished(manager, "interrupted", ended_at=time.time())
    manager.coordinator.stop()


def _set_state_of_unfinished(manager: RunManager, state: str, ended_at: float | None = None) -> None:
    mine = [run_id for run_id, worker in manager.store.unfinished() if worker == manager.worker]
    manager.store.set_state(mine, state, ended_at)
