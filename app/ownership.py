"""Runs and threads belong to the user who created them; to anyone else they do not exist.

Someone else's run or thread answers exactly what an unknown id answers (``404`` with the
same code and message), so guessing ids tells nothing. A thread id names a thread in the
caller's own namespace (``app.runs.owners``), so another user's thread of the same name is
never reached. Admins see every run, and read any user's thread by naming its owner; with
authentication off, everyone sees everything (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from .auth import current_principal
from .errors import ServiceError, not_found
from .events import ErrorCode
from .runs.owners import is_key, public_thread_id, thread_key
from .state import stagecast


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


def resolve_thread(thread_id: str, owner: str | None = None, read: bool = False) -> str:
    """The key of the caller's thread ``thread_id``; an admin may name another ``owner``'s.

    Admins read every thread: to ``read``, an id that is not theirs reaches the thread another
    user holds under that plain id (one the server named, or one made before ids were
    namespaced); a user's chosen id needs ``owner``. Admins run only on their own threads."""
    principal = current_principal()
    store = stagecast().manager.store
    if owner is not None and principal.admin and owner != principal.user_id:
        return thread_key(store, thread_id, owner)
    key = thread_key(store, thread_id, principal.user_id, principal.admin)
    if read and principal.admin and is_key(key) and store.thread_owner(key) is None:
        return thread_id
    return key


def visible_thread(key: str) -> bool:
    """Whether the caller may see the thread stored under ``key``."""
    if _sees_all():
        return True
    return current_principal().can_see(stagecast().manager.store.thread_owner(key))


def addressable_thread(key: str) -> bool:
    """Whether the caller reads ``key`` by its public id (what a thread list shows)."""
    return visible_thread(key) and resolve_thread(public_thread_id(key), read=True) == key


def check_key(key: str) -> None:
    """Raise 404 unless the caller may see the thread stored under ``key``."""
    if not visible_thread(key):
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {public_thread_id(key)}.")


def check_thread(thread_id: str, owner: str | None = None) -> str:
    """The key of the thread the caller reads as ``thread_id``; 404 unless they may see it."""
    key = resolve_thread(thread_id, owner, read=True)
    check_key(key)
    return key


def check_claimable(thread_id: str) -> None:
    """Raise 404 if the thread belongs to someone else; a thread nobody owns yet may be taken."""
    if _sees_all():
        return
    owner = stagecast().manager.store.thread_owner(thread_id)
    if owner is not None and not current_principal().can_see(owner):
        raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {public_thread_id(thread_id)}.")


def listed_owner() -> str | None:
    """Whose runs a run list shows the caller: None for all of them (an admin, or auth off)."""
    if _sees_all():
        return None
    # An authenticated user, or "" (nobody's) for a caller without one.
    return current_principal().user_id or ""
