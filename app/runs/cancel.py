"""Cancelling runs: here, wherever they execute, and ending one that does not stop in time.

A room of :class:`~app.runs.manager.RunManager`: each function takes the manager, which
stays the one door the API uses (its methods of the same names call these).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..agent.errors import cancellation
from ..errors import not_found
from ..events import ErrorCode, EventFactory
from . import lookup
from .models import Run

if TYPE_CHECKING:
    from .manager import RunManager

log = logging.getLogger(__name__)

# After a cancel, how long the producer may take to stop before the run is ended without
# it. Cooperative nodes stop well within this; a node stuck in foreign code does not, and
# LangGraph waits for a running node even when its stream is closed (docs/architecture.md, trap 3).
CANCEL_DEADLINE_S = 2.0


def cancel(manager: RunManager, run: Run, reason: str = "cancelled") -> bool:
    """Stop ``run``; its subscribers get ``error`` and ``done``. False if it had ended."""
    if run.finished or run.relinquished or not run.control.cancel(reason):
        return False
    log.info("run cancel requested", extra={"run_id": run.run_id, "reason": reason})
    if reason != "shutdown":
        # Durable before the API answers: a takeover after this worker dies reads it.
        manager.coordinator.record_cancel(run.run_id, reason)
    if manager.admission.withdraw(run):
        abandon(manager, run)  # it was waiting to start: nothing to stop
    else:
        manager._later(run, "deadline", CANCEL_DEADLINE_S, lambda: abandon(manager, run))
    return True


def cancel_local(manager: RunManager, run_id: str, reason: str) -> None:
    """A cancel requested on another worker for a run that may execute here."""
    run = manager.runs.get(run_id)
    if run is not None:
        manager.cancel(run, reason)


def cancel_by_id(manager: RunManager, run_id: str) -> dict[str, Any]:
    """Cancel ``run_id`` wherever it executes; what ``POST /api/runs/<id>/cancel`` answers."""
    run = manager.runs.get(run_id)
    if run is not None and not run.relinquished:
        cancelled = manager.cancel(run)
        return {"run_id": run_id, "cancelled": cancelled, "status": run.state}
    stored = manager.store.get(run_id)
    if stored is None:
        raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
    if stored.finished or stored.state == "interrupted":
        return {"run_id": run_id, "cancelled": False, "status": stored.state}
    if not manager.coordinator.request_cancel(run_id, "cancelled"):
        raise lookup.missing(manager, run_id, stored)
    return {"run_id": run_id, "cancelled": True, "status": stored.state}


def cancel_anywhere(manager: RunManager, run_id: str, reason: str) -> None:
    """Cancel ``run_id`` here if it executes here, else ask the worker that executes it."""
    run = manager.runs.get(run_id)
    if run is not None and not run.relinquished:
        manager.cancel(run, reason)
    else:
        manager.coordinator.request_cancel(run_id, reason)


def abandon(manager: RunManager, run: Run) -> None:
    """End a cancelled run that has not stopped (or never started); a producer still
    running finishes on its own."""
    if run.log.closed or run.released:
        return
    if run.producer is not None and not run.producer.dead:
        log.warning("run did not stop in time; ending it without its node", extra={"run_id": run.run_id})
    events = EventFactory(run.run_id, run.trace_id)
    manager._fail(run, events, cancellation(run.control.reason or "cancelled"))
    manager._finish(run, events)
