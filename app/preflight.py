"""Checks the gunicorn master makes before it starts workers, or replaces them on a reload.

A worker that cannot open its data directory for writing (run records and checkpoints live
in SQLite there) fails to boot, and gunicorn's master answers a worker that fails to boot
by exiting, taking the workers that still serve with it. So the master checks first: at
start it refuses with one clear line; on a HUP reload it keeps the running workers.

This module imports only the standard library: it runs in the master, before gevent has
patched anything (DESIGN.md, trap 6).
"""

from __future__ import annotations

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
