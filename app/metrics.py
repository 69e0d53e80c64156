"""What operators watch, in Prometheus form (prometheus-client).

The run layer and the SSE subscriber call the small hooks below; ``GET /metrics``
(``app/api/metrics.py``) renders them. Under gunicorn every worker is its own process, so
``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` for the server and each worker writes
its values there; any worker's ``/metrics`` then answers the sum over all of them (gauges
as noted on each). This module knows nothing of Flask.
"""

from __future__ import annotations

import os
import time
from typing import Protocol

import gevent
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Seconds; a stream's first event leaves in milliseconds, a run lasts seconds to minutes.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
SAMPLE_S = 1.0
FLUSH_S = 1.0

RUNS_STARTED = Counter("stagecast_runs_started", "Runs started.", ["agent"])
RUNS_FINISHED = Counter("stagecast_runs_finished", "Runs ended, by how.", ["agent", "status"])
RUN_DURATION = Histogram(
    "stagecast_run_duration_seconds", "From a run's start to its end.", ["agent"], buckets=_SLOW
)
UPSTREAM_ERRORS = Counter(
    "stagecast_upstream_errors", "Runs that ended with an error of the model server.", ["agent"]
)
UPSTREAM_RETRIES = Counter("stagecast_upstream_retries", "Calls to the model server made again.")
OPEN_STREAMS = Gauge("stagecast_open_streams", "SSE responses being written.", multiprocess_mode="livesum")
EVENTS_SENT = Counter("stagecast_events_sent", "Events written to SSE streams.", ["type"])
TIME_TO_FIRST_EVENT = Histogram(
    "stagecast_time_to_first_event_seconds",
    "From a stream's opening to its first event written.",
    buckets=_FAST,
)
WAITING_RUNS = Gauge(
    "stagecast_waiting_runs", "Runs waiting for capacity (admission).", multiprocess_mode="livesum"
)
RUNNING_RUNS = Gauge("stagecast_running_runs", "Runs executing.", multiprocess_mode="livesum")
HUB_LAG = Gauge(
    "stagecast_hub_lag_seconds",
    "How late the event loop runs timers; the highest of the workers.",
    multiprocess_mode="livemax",
)


def run_started(agent: str) -> None:
    RUNS_STARTED.labels(agent).inc()


def run_finished(agent: str, status: str, duration_s: float, error_code: str | None) -> None:
    RUNS_FINISHED.labels(agent, status).inc()
    RUN_DURATION.labels(agent).observe(duration_s)
    if error_code == "UpstreamError":
        UPSTREAM_ERRORS.labels(agent).inc()


def upstream_retry() -> None:
    """A call to the model server is made again after a transient failure."""
    UPSTREAM_RETRIES.inc()


class StreamMeter:
    """One SSE response: open while it is written; counts what it writes.

    Counts are tallied here and added to the shared counter at most every ``FLUSH_S`` and at
    the end: a counter increment in multiprocess mode (a lock and an mmap write) costs
    several microseconds, which per token would be a visible share of a token's CPU.
    """

    def __init__(self) -> None:
        self._opened = self._flushed = time.perf_counter()
        self._first = True
        self._pending: dict[str, int] = {}
        OPEN_STREAMS.inc()

    def sent(self, entries: list[bytes]) -> None:
        now = time.perf_counter()
        if self._first:
            TIME_TO_FIRST_EVENT.observe(now - self._opened)
            self._first = False
        pending = self._pending
        for entry in entries:
            kind = _event_type(entry)
            pending[kind] = pending.get(kind, 0) + 1
        if now - self._flushed >= FLUSH_S:
            self._flush(now)

    def close(self) -> None:
        self._flush(time.perf_counter())
        OPEN_STREAMS.dec()

    def _flush(self, now: float) -> None:
        for kind, count in self._pending.items():
            EVENTS_SENT.labels(kind).inc(count)
        self._pending.clear()
        self._flushed = now


def _event_type(entry: bytes) -> str:
    # Entries are the events' JSON as written by pydantic, "type" first: no parsing per token.
    if entry.startswith(b'{"type":"'):
        return entry[9 : entry.find(b'"', 9)].decode("ascii", "replace")
    return "other"


class AdmissionGauges(Protocol):
    """What :func:`watch_admission` reads (``app.runs.admission.Admission`` has it): this module
    sits above the run layer, which reports to it through ``app.agent.run_metrics``."""

    @property
    def waiting(self) -> int: ...

    @property
    def running(self) -> int: ...

    @property
    def lag_s(self) -> float: ...


def watch_admission(admission: AdmissionGauges) -> gevent.Greenlet:
    """Copy this worker's waiting runs, running runs and hub lag into gauges every second."""

    def sample() -> None:
        while True:
            WAITING_RUNS.set(admission.waiting)
            RUNNING_RUNS.set(admission.running)
            HUB_LAG.set(admission.lag_s)
            gevent.sleep(SAMPLE_S)

    return gevent.spawn(sample)


def exposition() -> tuple[bytes, str]:
    """The text format and its content type, summed over the server's workers when there are several."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
