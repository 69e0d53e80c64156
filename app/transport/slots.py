"""Accounting of the connections a worker holds open: streams, per worker, per run, per client.

gunicorn's gevent worker accepts at most ``worker_connections`` connections; past that it
stops accepting, and every new client, ``/healthz`` included, hangs without an answer. A
stream holds its connection for as long as the run lasts and more, so streams may use only
``stream_share`` of the pool; beyond it a new stream is answered ``503`` with
``Retry-After`` and short requests (health checks, cancels, run status) still get in. One
run or one client address may hold only so many streams, so neither can take that share
for itself (``429``).

Clients are told apart by :func:`client_address`. A stream is checked before a run is
started for it (``Transport.start``), so a refused stream costs no run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from flask import request

from ..config import Settings
from ..errors import ServiceError
from ..events import ErrorCode

RETRY_AFTER_S = 2


def client_address() -> str:
    """The client's address (behind ``STAGECAST_PROXY_HOPS`` proxies, the one they saw)."""
    return request.remote_addr or ""


class StreamSlots:
    """Counts open streams; :meth:`acquire` one or get the contract's error."""

    def __init__(self, settings: Settings) -> None:
        self.limit = max(1, int(settings.worker_connections * settings.stream_connection_share))
        self.per_run = settings.max_subscribers_per_run
        self.per_client = settings.max_streams_per_client
        self.open = 0
        self._runs: Counter[str] = Counter()
        self._clients: Counter[str] = Counter()

    def acquire(self, run_id: str, client: str) -> Callable[[], None]:
        """Count a stream of ``run_id`` for ``client``; the returned function ends it (once)."""
        self.check(client, run_id)
        self.open += 1
        self._runs[run_id] += 1
        self._clients[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.open -= 1
            _decrement(self._runs, run_id)
            _decrement(self._clients, client)

        return release

    def check(self, client: str, run_id: str | None = None) -> None:
        """Raise the contract's error if a stream for ``client`` (of ``run_id``) would be refused.

        Checked before a run is started for a stream, so a refused stream costs no run."""
        if self.open >= self.limit:
            raise ServiceError(
                ErrorCode.TOO_MANY_CONNECTIONS,
                503,
                f"This worker holds its limit of {self.limit} open streams.",
                retry_after=RETRY_AFTER_S,
            )
        if run_id is not None and self._runs[run_id] >= self.per_run:
            raise ServiceError(
                ErrorCode.TOO_MANY_SUBSCRIBERS,
                429,
                f"Run {run_id} already has {self.per_run} open streams.",
                retry_after=RETRY_AFTER_S,
            )
        if self._clients[client] >= self.per_client:
            raise ServiceError(
                ErrorCode.TOO_MANY_STREAMS,
                429,
                f"This client already has {self.per_client} open streams.",
                retry_after=RETRY_AFTER_S,
            )


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]  # the counters hold only keys with open streams
