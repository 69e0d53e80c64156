"""``stagecast serve``: replace this process with gunicorn, configured by the repo's gunicorn.conf.py.

Nothing here imports the app: gunicorn's gevent workers must monkey-patch before LangGraph,
httpx or psycopg are imported (DESIGN.md, trap 6), and ``exec`` starts gunicorn afresh.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.cli import EXIT_USAGE

# app/cli/serve.py -> the repository (or source tree) that holds gunicorn.conf.py and wsgi.py.
ROOT = Path(__file__).resolve().parents[2]


def gunicorn_command(root: Path, extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "wsgi:app", *extra]


def serve(bind: str | None, workers: int | None, extra: Sequence[str] = ()) -> int:
    """Exec gunicorn; returns only when that is impossible (then with a usage status)."""
    missing = [name for name in ("gunicorn.conf.py", "wsgi.py") if not (ROOT / name).is_file()]
    if missing:
        sys.stderr.write(
            f"stagecast: cannot serve: {', '.join(missing)} not found in {ROOT}; "
            "run it from a checkout of the repository.\n"
        )
        return EXIT_USAGE
    # gunicorn.conf.py and the app read the same STAGECAST_* settings.
    if bind:
        os.environ["STAGECAST_BIND"] = bind
    if workers is not None:
        os.environ["STAGECAST_WORKERS"] = str(workers)
    rest = [arg for arg in extra if arg != "--"]
    os.chdir(ROOT)  # wsgi:app is imported from here
    command = gunicorn_command(ROOT, rest)
    os.execv(command[0], command)
    return EXIT_USAGE  # pragma: no cover - execv does not return
