"""What runs report to the operators' metrics, as a Protocol the run and agent layers call.

``app.metrics`` (the module: Prometheus counters) is the implementation the service plugs in
(``app/state.py`` hands it to the run manager, which gives it to each run's
:class:`~app.agent.control.RunControl`), so neither ``app/runs/`` nor ``app/agent/`` imports
it: they sit below it. Without one, nothing is counted (:data:`NO_METRICS`).
"""

from __future__ import annotations

from typing import Protocol


class RunMetrics(Protocol):
    def run_started(self, agent: str) -> None: ...

    def run_finished(self, agent: str, status: str, duration_s: float, error_code: str | None) -> None: ...

    def upstream_retry(self) -> None:
        """A call to the model server is made again after a transient failure."""
        ...


class _NoMetrics:
    def run_started(self, agent: str) -> None:
        pass

    def run_finished(self, agent: str, status: str, duration_s: float, error_code: str | None) -> None:
        pass

    def upstream_retry(self) -> None:
        pass


NO_METRICS: RunMetrics = _NoMetrics()
