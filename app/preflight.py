"""Checks the gunicorn master makes before it starts workers, or replaces them on a reload.

A worker that cannot open its data directory for writing (run records and checkpoints live
in SQLite there) fails to boot, and gunicorn's master answers a worker that fails to boot
by exiting, taking the workers that still serve with it. So the master checks first: at
start it refuses with one clear line; on a HUP reload it keeps the running workers.

This module imports only the standard library: it runs in the master, before gevent has
patched anything (docs/architecture.md, trap 6).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from pathlib import Path


def data_dir_problem(data_dir: Path, database: Path) -> str | None:
    """Why a worker could not write its SQLite files in ``data_dir``, or None if it can."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Creating a file is what SQLite does for its -wal and -shm files and journals.
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        return f"the data directory {data_dir} is not writable ({exc.strerror}); set STAGECAST_DATA_DIR"
    for path in (database, *(database.with_name(database.name + end) for end in ("-wal", "-shm"))):
        if path.exists() and not _writable(path):
            return f"{path} is not writable; set STAGECAST_DATA_DIR to a writable directory"
    return None


def _writable(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    os.close(fd)
    return True


def anonymous_bind_problem(bind: str, auth_enabled: bool, allow_anonymous: bool) -> str | None:
    """Why the server must not start: it would serve anyone who can reach a public address
    without asking who they are (docs/security.md). None if it may start."""
    if auth_enabled or allow_anonymous or _is_local(bind):
        return None
    return (
        f"STAGECAST_BIND={bind} is not a loopback address and authentication is off: set "
        "STAGECAST_API_KEYS, or STAGECAST_JWT_SECRET or STAGECAST_JWT_PUBLIC_KEY, or "
        "STAGECAST_ALLOW_ANONYMOUS=true to serve anyone who can reach it"
    )


def _is_local(bind: str) -> bool:
    """A Unix socket, an inherited descriptor, ``localhost`` or a loopback IP address."""
    if bind.startswith(("unix:", "fd://")):
        return True
    host = bind.rpartition(":")[0] if bind.rpartition(":")[2].isdigit() else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any address
