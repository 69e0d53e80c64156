"""Finding runs and their events: live in memory, followed where they execute, or replayed.

A room of :class:`~app.runs.manager.RunManager`: each function takes the manager, which
stays the one door the API uses (its methods of the same names call these).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from ..errors import ServiceError, not_found
from ..events import ErrorCode
from .log import MemoryEventLog
from .models import Run
from .store import RunPage, StoredRun

if TYPE_CHECKING:
    from .manager import RunManager

log = logging.getLogger(__name__)


class RunFinishingElsewhere(ServiceError):
    """The run lives in a worker that is shutting down (a HUP reload or SIGTERM): a client
    should come back shortly, when the run's events are on disk for any worker to replay."""

    retry_after: int

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(ErrorCode.SHUTTING_DOWN, 503, message, retry_after=retry_after)


def get(manager: RunManager, run_id: str) -> Run:
    """A live or recently finished run of this worker, or ServiceError (404/409)."""
    run = manager.runs.get(run_id)
    if run is None:
        raise missing(manager, run_id, manager.store.get(run_id))
    return run


def thread_run(manager: RunManager, thread_id: str) -> str | None:
    """The id of the run executing on ``thread_id`` (in any worker the backend knows), if any."""
    holder = manager.coordinator.thread_holder(thread_id)
    ended_here = manager.runs.get(holder) if holder is not None else None
    # Ended here, its end on its way to the shared store (see app.runs.claim): not busy.
    return None if ended_here is not None and ended_here.finished else holder


def describe(manager: RunManager, run_id: str) -> dict[str, Any]:
    """The run's summary, from memory or, once this worker forgot it, from the store."""
    run = manager.runs.get(run_id)
    if run is not None:
        return run.summary()
    stored = manager.store.get(run_id)
    if stored is None:
        raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
    return stored.summary


def page(manager: RunManager, limit: int, cursor: str | None, owner: str | None = None) -> RunPage:
    """Run summaries without answers, newest first; this worker's live runs as they are now;
    only ``owner``'s runs when given."""
    page = manager.store.page(limit, cursor, owner)
    for index, summary in enumerate(page.runs):
        run = manager.runs.get(summary["run_id"])
        if run is not None:
            page.runs[index] = {k: v for k, v in run.summary().items() if k != "result"}
    return page


def open_log(manager: RunManager, run_id: str) -> tuple[MemoryEventLog, Run | None]:
    """The run's event log: live from memory, followed from the shared log when the run
    executes elsewhere, or replayed from the store once finished. Give it back with
    ``close_log`` (or ``unwatch``)."""
    run = manager.runs.get(run_id)
    if run is not None:
        return run.log, run
    stored = manager.store.get(run_id)
    if stored is None:
        raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
    if stored.events is not None:
        return MemoryEventLog.replay(stored.events), None
    remote = manager.coordinator.open_remote(run_id) if stored.state != "interrupted" else None
    if remote is not None:
        return remote, None
    raise missing(manager, run_id, stored)


def close_log(manager: RunManager, run_id: str, log_: MemoryEventLog) -> None:
    """A log from :func:`open_log` is no longer read."""
    manager.coordinator.close_remote(run_id, log_)


def missing(manager: RunManager, run_id: str, stored: StoredRun | None) -> ServiceError:
    """Why ``run_id`` cannot be read here: unknown, interrupted, finishing elsewhere, or elsewhere."""
    if stored is None:
        return not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
    if stored.state == "interrupted" or manager.coordinator.distributed or worker_dead(stored.worker):
        return ServiceError(
            ErrorCode.INTERRUPTED,
            410,
            f"Run {run_id} was interrupted: its worker process stopped before it finished.",
        )
    if stored.state == "draining":
        return RunFinishingElsewhere(
            f"Run {run_id} is finishing on worker {stored.worker}, which is shutting down; "
            "its events can be read here once it ends.",
            retry_after=1,
        )
    return ServiceError(
        ErrorCode.RUN_ON_ANOTHER_WORKER,
        409,
        f"Run {run_id} is running in worker process {stored.worker}, and without the distributed "
        "mode runs live in the memory of the process that started them. Serve with one worker "
        "per host, or set STAGECAST_REDIS_URL and STAGECAST_DATABASE_URL.",
    )


def interrupt_runs_of_dead_workers(manager: RunManager) -> None:
    """Runs whose worker on this host died (kill -9, OOM) without recording an end."""
    dead = [run_id for run_id, worker in manager.store.unfinished() if worker_dead(worker)]
    if dead:
        manager.store.set_state(dead, "interrupted", ended_at=time.time())
        log.warning("marked %d runs of dead workers interrupted", len(dead))


def worker_dead(worker: str) -> bool:
    """Whether ``worker`` (``host:pid``) is a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
