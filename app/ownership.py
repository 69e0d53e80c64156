"""Runs and threads belong to the user who created them; to anyone else they do not exist.

Someone else's run or thread answers exactly what an unknown id answers (``404`` with the
same code and message), so guessing ids tells nothing. Admins see everything; with
authentication off, everyone does (README, "Security").
"""

from __future__ import annotations

from typing import Any

from app.auth import current_principal
from app.errors import ServiceError, not_found
from app.events import ErrorCode
from app.extension import stagecast


def _no_run(run_id: str) -> ServiceError:
    return not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")


def _sees_all() -> bool:
    principal = current_principal()
    return principal.open or principal.admin


def visible_run(run_id: str) -> dict[str, Any]:
    """The run's summary, if the caller may see the run."""
    summary = stagecast().manager.describe(run_id)
    if not current_principal().can_see(summary.get("owner")):
        raise _no_run(run_id)
    return summary


def check_run(run_id: str) -> None:
    """Raise 404 unless the caller may see the run (no lookup when the caller sees everything)."""
    if not _sees_all():
        visible_run(run_id)


def visible_thread(thread_id: str) -> bool:
    """Whether the caller may see the thread: its owner is whoever first ran on it."""
    if _sees_all():
        return True
    return current_principal().can_see(stagecast().manager.store.thread_owner(thread_id))


def check_thread(thread_id: str) -> None:
    """Raise 404 unless the caller may see the thread."""
    if not visible_thread(thread_id):
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")


def check_claimable(thread_id: str) -> None:
    """Raise 404 if the thread belongs to someone else; a thread nobody owns yet may be taken."""
    if _sees_all():
        return
    owner = stagecast().manager.store.thread_owner(thread_id)
    if owner is not None and not current_principal().can_see(owner):
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")


def listed_owner() -> str | None:
    """Whose runs a run list shows the caller: None for all of them (an admin, or auth off)."""
    if _sees_all():
        return None
    # An authenticated user, or "" (nobody's) for a caller without one.
    return current_principal().user_id or ""
