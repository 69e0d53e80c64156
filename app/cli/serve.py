"""``stagecast serve``: replace this process with gunicorn, configured by the package's own
gunicorn settings (``<package>.gunicorn_conf``) serving ``<package>.wsgi:app``.

Both ship inside the package, so this works from an installed wheel as from a checkout.
Nothing here imports the app: gunicorn's gevent workers must monkey-patch before LangGraph,
httpx or psycopg are imported (docs/architecture.md, trap 6), and ``exec`` starts gunicorn afresh.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from . import EXIT_USAGE

# ``app`` in the repository, ``stagecast`` once installed.
PACKAGE = __name__.split(".")[0]


def gunicorn_command(extra: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        f"python:{PACKAGE}.gunicorn_conf",
        f"{PACKAGE}.wsgi:app",
        *extra,
    ]


def serve(bind: str | None, workers: int | None, extra: Sequence[str] = ()) -> int:
    """Exec gunicorn; returns only when that is impossible (then with a usage status)."""
    # The gunicorn settings and the app read the same STAGECAST_* settings.
    if bind:
        os.environ["STAGECAST_BIND"] = bind
    if workers is not None:
        os.environ["STAGECAST_WORKERS"] = str(workers)
    rest = [arg for arg in extra if arg != "--"]
    command = gunicorn_command(rest)
    os.execv(command[0], command)
    return EXIT_USAGE  # pragma: no cover - execv does not return
