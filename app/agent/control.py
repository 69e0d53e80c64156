"""Cooperative cancellation for one run, shared by the run manager and the graph's nodes.

Closing ``graph.stream()`` does not stop a running node (docs/architecture.md, trap 3), so a run
carries a :class:`RunControl`: nodes check it between chunks, and whatever holds a
connection (the LLM's HTTP client) registers a closer that cancel calls at once, so a
node blocked on a read is woken by its socket closing. It also carries the run's
:class:`~app.agent.run_metrics.RunMetrics`, for what the nodes' helpers count.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .run_metrics import NO_METRICS, RunMetrics

log = logging.getLogger(__name__)


class RunCancelled(Exception):
    """Raised inside a run once it has been cancelled; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunControl:
    """A stop flag with a reason (``cancelled``, ``timeout``, ``disconnected``, ``shutdown``)."""

    def __init__(self, metrics: RunMetrics = NO_METRICS) -> None:
        self.metrics = metrics
        self._reason: str | None = None
        self._closers: list[Callable[[], None]] = []
        self._stopped = threading.Event()  # gevent's, in a worker (patched before import)

    @property
    def cancelled(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason

    def cancel(self, reason: str = "cancelled") -> bool:
        """Set the flag and close what was registered; False if it was already cancelled."""
        if self._reason is not None:
            return False
        self._reason = reason
        self._stopped.set()
        self._close_all()
        return True

    def add_closer(self, close: Callable[[], None]) -> None:
        """Register ``close`` to run when the run stops: on cancel, or at :meth:`release`."""
        if self._reason is not None:
            self._close(close)
        else:
            self._closers.append(close)

    def release(self) -> None:
        """The run has ended: close what is still registered."""
        self._close_all()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the run is cancelled meanwhile (then raise RunCancelled)."""
        self._stopped.wait(seconds)
        self.raise_if_cancelled()

    def raise_if_cancelled(self) -> None:
        if self._reason is not None:
            raise RunCancelled(self._reason)

    def _close_all(self) -> None:
        closers, self._closers = self._closers, []
        for close in closers:
            self._close(close)

    @staticmethod
    def _close(close: Callable[[], None]) -> None:
        try:
            close()
        except Exception:  # a failing closer must not stop the others
            log.warning("closer failed during cancel", exc_info=True)
