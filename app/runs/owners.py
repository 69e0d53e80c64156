"""Thread ids per owner: one user's chosen id never blocks, reveals or reaches another's.

A thread is stored (checkpoints, run records, locks, Platform API records) under a *key*.
With authentication on, the id a user chooses is looked up in that user's namespace: the key
is ``<id>#<user>``, unless the plain ``<id>`` is already that user's (a thread the server
named for them, one made before ids were namespaced, or one an admin handed them). ``#``
is not in the character set of ids a client may send (``app.api.ids``), so no client can
name a key, and a key's public id is the part before its first ``#``.

So Bob's ``alice-future`` is ``alice-future#bob``, whatever Alice holds: creating it behaves
exactly as if the id were free, and nothing Bob does reaches Alice's thread. A thread made
while authentication was off has no owner: it stays under its plain id, which only admins
resolve to once authentication is on (until an admin hands it to a user).
"""

from __future__ import annotations

from typing import Protocol

SEPARATOR = "#"
# The ids a client may choose or name (threads, conversations, chats, runs): letters, digits
# and ``_ - . : @ ~ + =``, 1 to 200 of them, not starting with a punctuation mark other than
# ``_``. No NUL, no ``/`` (it would not stay one path segment), no ``#`` (SEPARATOR).
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@~+=-]{0,199}$"


class _Owners(Protocol):
    def thread_owner(self, thread_id: str) -> str | None: ...


def public_thread_id(key: str) -> str:
    """The id clients know a thread by."""
    return key.partition(SEPARATOR)[0]


def is_key(thread_id: str) -> bool:
    """Was ``thread_id`` resolved already (it can only come from the server)?"""
    return SEPARATOR in thread_id


def thread_key(owners: _Owners, thread_id: str, user: str | None, admin: bool = False) -> str:
    """Where ``user``'s thread ``thread_id`` is stored (``user`` None: authentication is off).

    An admin's namespace also holds the threads nobody owns."""
    if user is None or is_key(thread_id):
        return thread_id
    holder = owners.thread_owner(thread_id)
    if holder == user or (holder is None and admin):
        return thread_id
    return f"{thread_id}{SEPARATOR}{user}"
