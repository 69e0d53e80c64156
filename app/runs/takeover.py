"""Taking over runs of lost workers (distributed mode), and giving runs up when fenced.

A worker that claims the lease of a run whose worker was lost continues it here: an outcome
already written ends it, too many attempts end it as interrupted, otherwise the agent plans
a restart and the run is scheduled again. A worker whose run was taken over stops it
without writing anything more.

A room of :class:`~app.runs.manager.RunManager`: each function takes the manager, which
stays the one door the API uses (its methods of the same names call these).
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from typing import TYPE_CHECKING, Literal

import gevent

from ..agent.control import RunControl
from ..agent.errors import RunFailure, cancellation
from ..events import ErrorCode, EventFactory
from ..logs import bind_log_context
from .models import Run, RunRequest, outcome_in

if TYPE_CHECKING:
    from .manager import RunManager

log = logging.getLogger(__name__)


def local_runs(manager: RunManager) -> list[tuple[str, int]]:
    """(run_id, attempt) of the unfinished runs this process executes (it holds their leases),
    and of the runs it is taking over: their leases are kept, and they are not claimed again."""
    runs = [
        (run.run_id, run.attempt)
        for run in manager.runs.values()
        if not run.finished and not run.relinquished and not run.released
    ]
    return runs + [item for item in manager.claiming.items() if item[0] not in manager.runs]


def fenced(manager: RunManager, run_id: str) -> None:
    """Another worker took ``run_id`` over: stop it here without writing anything more."""
    run = manager.runs.get(run_id)
    if run is not None and not run.finished and not run.released:
        log.warning("run was taken over by another worker; stopping it here", extra={"run_id": run_id})
        relinquish(manager, run, "fenced")
    elif run is not None:
        # Ended here but never committed: its readers here follow the committed log instead.
        log.warning("run was taken over by another worker; dropping its end", extra={"run_id": run_id})
        manager._forget(run)
        run.log.fail()


def relinquish(manager: RunManager, run: Run, reason: str) -> None:
    """Give ``run`` up in this process (fenced, or handed over at shutdown); another worker ends it."""
    run.relinquished = True
    run.control.cancel(reason)
    manager._forget(run)
    run.log.fail()  # its readers here reconnect and follow the run where it continues
    if run.producer is None or run.producer.dead:
        manager._release(run)


def take_over(manager: RunManager, run_id: str, attempt: int, handed_over: bool = False) -> None:
    """This worker claimed ``run_id`` after its worker was lost (or handed it over): continue it here."""
    context = contextvars.copy_context()
    manager.claiming[run_id] = attempt
    gevent.spawn(context.run, _claimed, manager, run_id, attempt, handed_over)


def _claimed(manager: RunManager, run_id: str, attempt: int, handed_over: bool) -> None:
    try:
        _take_over(manager, run_id, attempt, handed_over)
    finally:
        if manager.claiming.get(run_id) == attempt:
            del manager.claiming[run_id]


def _take_over(manager: RunManager, run_id: str, attempt: int, handed_over: bool = False) -> None:
    try:
        stored = manager.store.get(run_id)
        # The attempt becomes the run's only writer before the thread is read (docs/faults.md).
        claimed = (
            stored is not None
            and not stored.finished
            and manager.store.take_over(run_id, attempt, manager.worker)
        )
        entries = manager.coordinator.entries(run_id) if claimed else []
        high_water = manager.store.committed_seq(run_id) if claimed else 0
    except Exception as exc:
        # A store is away for a moment: give the claim back, as a hand-over, so the next
        # claim does not count as one more lost worker (docs/faults.md, "Attempts").
        log.warning("could not take over run %s (%s); giving it back", run_id, exc)
        manager.coordinator.release_claim(run_id, attempt, handed_over)
        return
    if stored is None or not claimed:
        log.warning("claimed run %s has no unfinished record; releasing it", run_id)
        manager.coordinator.abandon(run_id, stored.thread_id if stored else None)
        return
    if not entries or len(entries) < high_water:
        # Redis lost events clients may have seen (docs/faults.md, "Store loss"): ids
        # cannot be reused for other events, so the run ends here, interrupted.
        log.error("run %s lost its log in Redis (store loss); ending it interrupted", run_id)
        manager.store.set_state([run_id], "interrupted", ended_at=time.time())
        manager.coordinator.abandon(run_id, stored.thread_id)
        return
    summary = stored.summary
    run = Run(
        run_id=run_id,
        thread_id=stored.thread_id,
        trace_id=summary["trace_id"],
        agent=summary["agent"],
        request=RunRequest.model_validate(stored.request),
        owner=summary.get("owner"),
        worker=manager.worker,
        attempt=attempt,
        log=manager.coordinator.new_log(run_id, stored.thread_id, attempt, entries),
        control=RunControl(manager.metrics),
        created_at=summary["created_at"],
        started_at=summary.get("started_at"),
    )
    bind_log_context(run_id=run_id, trace_id=run.trace_id)
    manager.runs[run_id] = run
    manager.active += 1
    events = EventFactory(run_id, run.trace_id)
    delivered = [json.loads(entry) for entry in entries]
    outcome = outcome_in(delivered)  # an outcome already written ends it
    run.result, run.error = outcome["result"], outcome["error"]
    cancel_reason = manager.coordinator.cancel_reason(run_id)
    if run.result is not None or run.error is not None or cancel_reason:
        if cancel_reason:
            run.control.cancel(cancel_reason)
            manager._fail(run, events, cancellation(cancel_reason))
        manager._finish(run, events)
        return
    lost = manager.coordinator.lost_workers(run_id)  # hand-overs do not count (docs/faults.md)
    if lost >= manager.settings.run_max_attempts:
        manager._fail(
            run,
            events,
            RunFailure(
                ErrorCode.INTERRUPTED,
                "error",
                f"The run was interrupted: its worker was lost {lost} times.",
                True,
            ),
        )
        manager._finish(run, events)
        return
    restart = manager.agents.get(run.agent).plan_restart(run.thread_id, run_id, delivered)
    reason: Literal["WorkerLost", "HandedOver"] = "HandedOver" if handed_over else "WorkerLost"
    manager._append(run, events.restart(attempt, restart.discard_message_ids, reason))
    manager._record_progress(run)
    log.info("run taken over", extra={"attempt": attempt, "discarded": restart.discard_message_ids})
    # Its age on the store's clock, not on the clocks of two hosts (docs/faults.md).
    remaining = manager.settings.run_timeout_s - manager.store.age_s(run_id, run.created_at)
    manager._schedule(run, max(1.0, remaining), restart)
