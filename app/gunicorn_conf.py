"""gunicorn settings for Stagecast: gevent workers streaming SSE.

Shipped inside the package, so ``stagecast serve`` runs without a checkout
(``gunicorn -c python:stagecast.gunicorn_conf stagecast.wsgi:app``); the repository's
``gunicorn.conf.py`` imports it. A host app may use it too (``-c python:stagecast.gunicorn_conf``)
for what ``Stagecast.init_app`` cannot do from inside the app: JSON for gunicorn's own error
answers, the GC tuning, multiprocess metrics, and the grace period at a worker's exit.

Values come from the same ``STAGECAST_*`` settings as the app. This file runs in the master,
before any worker has monkey-patched, so at module level it imports only modules that load
no ``ssl``, httpx, urllib3, LangGraph, psycopg or redis (``app.config`` imports pydantic;
``tests/test_gevent_first.py`` fails otherwise). What a worker needs beyond that is imported
inside the hooks that run after the patch. No ``preload_app``: the app must be imported
after the worker has monkey-patched (docs/architecture.md, trap 6). No ``max_requests``: a
recycled worker cuts live streams (trap 9).
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import sys
import tempfile
from typing import Any

import gevent

from .config import SettingsError, load_settings
from .logs import close_logging
from .preflight import anonymous_bind_problem, data_dir_problem

try:
    _settings = load_settings()
except SettingsError as exc:
    sys.exit(f"stagecast: {exc}")  # one clear line instead of gunicorn's traceback
_anonymous = anonymous_bind_problem(_settings.bind, _settings.auth_enabled, _settings.allow_anonymous)
if _anonymous:
    sys.exit(f"stagecast: {_anonymous}")

bind = _settings.bind
workers = _settings.workers
# gunicorn's gevent worker, taking a burst of connections as fast with several workers as one.
worker_class = f"{__package__}.gunicorn_worker.GeventWorker"
worker_connections = _settings.worker_connections


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard one; return (soft limit now, descriptors a
    worker may need).

    A stream holds a socket to its client and, while its model answers, one to the upstream,
    so a worker at ``worker_connections`` needs about twice as many descriptors, plus its own
    files. Distributions start processes with a soft limit of 1,024 and a higher hard one
    (systemd's ``LimitNOFILE``, ``docker run --ulimit nofile``, ``ulimit -Hn``): at the soft
    limit a worker's accept or connect fails with EMFILE, long before worker_connections.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft, 2 * worker_connections + 256


# Here, in the master: the workers it forks inherit the limit.
_open_files, _open_files_needed = raise_open_file_limit()
# With gevent this fires only when the hub is blocked, not for long streams (trap 9).
timeout = _settings.worker_timeout_s
graceful_timeout = _settings.graceful_timeout_s
# Idle keep-alive connections hold a worker's shutdown this long; nginx reconnects freely.
keepalive = 2
preload_app = False
max_requests = 0
# The longest request line gunicorn reads (its maximum): the EventSource form carries the
# message in the URL. Beyond it gunicorn answers 414, in JSON (app.http_errors).
limit_request_line = _settings.max_request_line_bytes
accesslog = "-"
# Stream tokens in URLs (?access_token=, in any spelling) and credential headers are written
# as [redacted] (app/accesslog.py).
logger_class = f"{__package__}.accesslog.RedactingLogger"
access_log_format = '{"remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "bytes": %(B)s, "ms": %(M)s}'

# Prometheus multiprocess mode: each worker writes its metrics to files in this directory,
# so any worker's /metrics answers the sum of all of them. It must be set before the
# workers import prometheus_client; a fresh directory per server, unless the operator chose one.
# (A HUP reload reads this file again and keeps the directory.)
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stagecast-metrics-")


def on_starting(server: Any) -> None:
    problem = _data_dir_problem()
    if problem:
        sys.exit(f"stagecast: {problem}")  # before any worker boots, in one line
    if _open_files < _open_files_needed:
        server.log.warning(
            "open-file limit %d is below the %d descriptors STAGECAST_WORKER_CONNECTIONS=%d may need "
            "(a client socket and an upstream socket per stream): raise LimitNOFILE / ulimit -n, or "
            "lower STAGECAST_WORKER_CONNECTIONS",
            _open_files,
            _open_files_needed,
            worker_connections,
        )
    if workers > 1 and not _settings.distributed:
        server.log.warning(
            "STAGECAST_WORKERS=%d without the distributed mode: runs live in the memory of the "
            "worker that started them, so a resume that lands on another worker is refused "
            "(409 RunOnAnotherWorker) until the run has finished. Set STAGECAST_REDIS_URL and "
            "STAGECAST_DATABASE_URL to serve every run from every worker.",
            workers,
        )


def on_reload(server: Any) -> None:
    """A HUP reload replaces the workers only if the new ones can boot.

    gunicorn spawns the new workers right after this hook, and a worker that fails to boot
    makes the master exit, with the old workers. When the data directory has become
    unwritable, the reload spawns none (``workers`` of the reloaded configuration is 0; the
    master still keeps its count of workers) and the running ones keep serving. The next
    reload reads the configuration afresh.
    """
    problem = _data_dir_problem()
    if problem:
        server.log.error("stagecast: reload refused, the running workers keep serving: %s", problem)
        server.cfg.set("workers", 0)


def _data_dir_problem() -> str | None:
    """Why a worker could not write its SQLite files (the embedded mode), or None."""
    if _settings.distributed:
        return None  # runs and checkpoints live in Redis and PostgreSQL
    return data_dir_problem(_settings.data_dir, _settings.database_path)


def post_worker_init(worker: Any) -> None:
    """gunicorn's error answers in JSON, and the GC tuned for streaming.

    Draining open streams at the worker's shutdown and LangGraph's greenlet executor are
    installed by ``Stagecast.init_app`` itself, when it runs in a gevent worker (so a host
    app served without this file has them too).
    """
    # Imported here, after the worker's monkey-patch (trap 6).
    from . import http_errors

    http_errors.install()
    tune_gc()


def tune_gc() -> None:
    """Collect young objects less often, collect the older generations as often as Python
    collects young ones, and never re-scan what the loaded app holds for good.

    Every streamed token allocates short-lived objects by the dozen, so with Python's
    threshold of 700 the collector runs thousands of times a minute over everything the
    open runs hold; it was a fifth of a busy worker's CPU (docs/benchmarks.md). What survives
    a young collection is mostly the objects of runs still in flight, which die soon after
    in reference cycles (LangGraph's, gevent's): with Python's older-generation thresholds
    (10, 10) they waited for a hundred young collections before a collection freed them,
    and a busy worker's RSS grew by hundreds of MiB. With (1, 1) every second young
    collection takes the middle generation and every fourth the old one, which holds only
    what was allocated since ``gc.freeze()``.
    """
    if _settings.gc_threshold:
        gc.freeze()
        gc.set_threshold(_settings.gc_threshold, 1, 1)
    # Each greenlet would keep the stack it was spawned from (dozens of frames per run's
    # timers and producer) only for debugging output.
    gevent.config.track_greenlet_tree = False


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges (open streams, waiting runs) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def worker_exit(server: Any, worker: Any) -> None:
    """Give runs what is left of the grace period, then mark the rest interrupted.

    The master kills the worker ``graceful_timeout`` after the signal; before this hook runs,
    gevent's worker loop waits for idle keep-alive connections (``keepalive``) and polls once
    a second, and 1 s more stays in reserve.
    """
    app = getattr(worker, "wsgi", None)
    if app is not None and "stagecast" in getattr(app, "extensions", {}):
        budget = graceful_timeout - keepalive - 2
        app.extensions["stagecast"].manager.shutdown(budget=max(0.5, budget))
    close_logging()
