"""Streams of runs: start a run for a stream, subscribe to it, answer the ``Response``.

What every streamed response does, whichever protocol it speaks: the stream slots are
checked before a run is started for it, so a refused stream costs no run (``slots.py``);
before its first byte it is counted against the slots, watches the run (so the run is not
cancelled for want of watchers) and watches its client for a hang-up; then the read loop
(``loop.py``) writes it with the protocol's encoder. A blocking answer waits for the run's
end the same way and holds a slot like a stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import Response, request

from ..errors import ServiceError
from ..events import ErrorCode
from ..runs.log import MemoryEventLog
from ..runs.manager import RunManager
from ..runs.models import Run, RunRequest
from ..sse import SSE_HEADERS
from .encoders import StreamEncoder
from .hangup import HangupWatch
from .loop import event_stream
from .slots import StreamSlots, client_address

# How a run that ended without an answer is reported by a blocking endpoint.
_FAILURE_STATUS = {
    ErrorCode.TIMEOUT: 504,
    ErrorCode.CANCELLED: 409,
    ErrorCode.INTERRUPTED: 503,
    ErrorCode.UPSTREAM_ERROR: 502,
    ErrorCode.RATE_LIMITED: 429,
}


def sse_headers(run_id: str, trace_id: str) -> dict[str, str]:
    return {**SSE_HEADERS, "X-Run-ID": run_id, "X-Trace-ID": trace_id}


@dataclass(frozen=True)
class Transport:
    """The streams of one app's runs: its run manager and its stream slots."""

    manager: RunManager
    slots: StreamSlots

    def start(
        self, run_request: RunRequest, trace_id: str, owner: str | None, run_id: str | None = None
    ) -> Run:
        """Start a run whose events a stream (or a blocking answer) of this request will
        read: the stream slots are checked first, so a stream refused costs no run."""
        self.slots.check(client_address())
        return self.manager.start(run_request, trace_id, owner=owner, run_id=run_id)

    def stream(
        self,
        run_id: str,
        log: MemoryEventLog,
        run: Run | None,
        after: int,
        encoder: StreamEncoder,
        headers: Mapping[str, str],
    ) -> Response:
        """The streaming response of ``run_id``'s events after sequence number ``after``;
        ``log`` is from ``manager.open_log``, or a run just started; ``headers`` are the SSE
        ones (:func:`sse_headers`) plus the protocol's own."""
        watch = self.subscribe(run_id, run, log)
        return respond(watch, event_stream(self.manager, log, after, encoder, watch), headers)

    def subscribe(self, run_id: str, run: Run | None, log: MemoryEventLog) -> HangupWatch:
        """What every streamed response of a run does before its first byte: count the stream
        against the slots, watch the run, and notice its client hanging up. The response
        calls the returned watch's ``on_close`` functions when it closes (:func:`respond`)."""
        manager = self.manager
        try:
            release = self.slots.acquire(run_id, client_address())
        except ServiceError:
            manager.close_log(run_id, log)  # refused: the log opened for it is not read
            raise
        # Watched from here, not in the generator: a client gone before the first write still
        # leaves through unwatch(), which starts the disconnect grace period.
        manager.watch(run_id, run)
        leave = _once(lambda: manager.unwatch(run_id, run, log))

        def hung_up() -> None:
            leave()  # the grace period starts now, not at the next failed write
            log.wake()  # and the response ends

        watch = HangupWatch(request.environ.get("gunicorn.socket"), hung_up)
        watch.on_close = [watch.stop, leave, release]
        return watch

    def wait_for_end(self, run: Run) -> None:
        """Wait (cooperatively) until ``run`` ends; the waiter counts as a subscriber, so the
        run is not cancelled for want of one, and leaving early starts the disconnect grace.
        It holds its connection like a stream, and is counted as one."""
        release = self.slots.acquire(run.run_id, client_address())
        self.manager.attach(run)
        try:
            while not run.log.closed:
                run.log.read(run.log.last_seq, self.manager.settings.heartbeat_s)
        finally:
            self.manager.detach(run)
            release()


def respond(watch: HangupWatch, body: Iterable[bytes], headers: Mapping[str, str]) -> Response:
    """A ``200`` of ``body`` that ends the subscription ``watch`` stands for when it closes."""
    response = Response(body, status=200, headers=dict(headers))
    for on_close in watch.on_close:
        response.call_on_close(on_close)
    return response


def run_failure(run: Run) -> ServiceError:
    """Why ``run`` ended without an answer, as the error a blocking endpoint answers."""
    error = run.error or {"error": ErrorCode.INTERNAL_ERROR, "message": "The run ended without an answer."}
    return ServiceError(error["error"], _FAILURE_STATUS.get(error["error"], 500), error["message"])


def _once(action: Callable[[], object]) -> Callable[[], None]:
    done = False

    def run_once() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run_once
