"""Claiming a new run's thread: one run at a time per conversation.

A room of :class:`~app.runs.manager.RunManager`: each function takes the manager, which
stays the one door the API uses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import gevent

from ..errors import ServiceError
from ..events import ErrorCode
from . import cancel

if TYPE_CHECKING:
    from .manager import RunManager

# How long a new run on a thread waits for the end of the thread's previous run, which ended
# in this process, to reach the shared store that frees the thread (distributed mode).
RELEASE_WAIT_S = 2.0


def claim_thread(manager: RunManager, thread_id: str, run_id: str) -> None:
    """Mark ``thread_id`` busy with the new run ``run_id``, or raise ServiceError (409).

    A previous run still on the thread is waited for (it ended here, its end not yet in the
    shared store), refused (``busy_thread_policy: reject``) or cancelled and waited for."""
    holder = _claim(manager, thread_id, run_id)
    ended_here = manager.runs.get(holder) if holder is not None else None
    if ended_here is not None and ended_here.finished:
        # Its clients here read `done` from memory; the shared store frees the thread when
        # the end reaches it, a moment later. A follow-up (a resume) waits for that moment.
        deadline = time.monotonic() + RELEASE_WAIT_S
        while holder is not None and time.monotonic() < deadline:
            gevent.sleep(0.01)
            holder = _claim(manager, thread_id, run_id)
    if holder is not None and manager.coordinator.distributed and holder not in manager.runs:
        holder = _release_if_ended(manager, thread_id, run_id, holder)
    if holder is None:
        return
    if manager.settings.busy_thread_policy == "reject":
        raise ServiceError(
            ErrorCode.THREAD_BUSY,
            409,
            f"Conversation {thread_id} already has a run in progress ({holder}); "
            "wait for it to end or cancel it.",
        )
    cancel.cancel_anywhere(manager, holder, "superseded")
    deadline = time.monotonic() + cancel.CANCEL_DEADLINE_S * 2
    while time.monotonic() < deadline:
        gevent.sleep(0.05)
        if _claim(manager, thread_id, run_id) is None:
            return
    raise ServiceError(
        ErrorCode.THREAD_BUSY, 409, f"Conversation {thread_id} is still busy with run {holder}."
    )


def _release_if_ended(manager: RunManager, thread_id: str, run_id: str, holder: str) -> str | None:
    """A busy mark whose run has ended (its end reached PostgreSQL, not Redis: a worker lost
    between the two writes, or Redis away) is released by whoever finds it (docs/faults.md);
    the thread is then claimed again. The holder still holding it, or None if claimed."""
    stored = manager.store.get(holder)
    if stored is None or not (stored.finished or stored.state == "interrupted"):
        return holder
    manager.coordinator.release_thread(thread_id, holder)
    return _claim(manager, thread_id, run_id)


def _claim(manager: RunManager, thread_id: str, run_id: str) -> str | None:
    """Claim the thread's busy mark: None if claimed, else the run holding the thread.

    Shortly after Redis lost its data (a new dataset epoch), a missing mark proves nothing:
    the run holding the thread may be writing its keys back, or be waiting for the sweeper.
    PostgreSQL's unfinished runs decide then (docs/faults.md, "Store loss")."""
    holder = manager.coordinator.claim_thread(thread_id, run_id)
    if holder is not None or not manager.coordinator.recovering():
        return holder
    live = manager.store.live_on_thread(thread_id, run_id)
    if not live:
        return None
    manager.coordinator.release_thread(thread_id, run_id)  # so the holder can write its mark back
    return live[0]
