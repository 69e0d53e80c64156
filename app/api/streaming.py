"""The SSE transport: a subscriber that reads a run's log and writes it to one client.

Only the response generator writes to the socket (DESIGN.md, trap 4). It sends a
``retry:`` line first, so headers leave before the agent does any work (trap 2), then
the log's events, and a heartbeat comment after ``heartbeat_s`` of silence (trap 1).
When the server drains it ends the response with a ``retry:`` hint so the client
reconnects, with Last-Event-ID, elsewhere (trap 8).
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Request, Response

from app.errors import bad_request
from app.events import ErrorCode
from app.metrics import StreamMeter
from app.runs.log import MemoryEventLog
from app.runs.manager import RunFinishingElsewhere, RunManager
from app.runs.models import Run
from app.sse import HEARTBEAT, SSE_HEADERS, encode_comment, encode_message, encode_retry


def last_event_id_of(request: Request) -> str | None:
    """``Last-Event-ID`` from the header (EventSource) or ``?last_event_id=`` (the rest)."""
    return request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or None


def parse_event_id(event_id: str) -> tuple[str, int]:
    """``<run_id>:<seq>`` -> (run_id, seq)."""
    run_id, sep, seq = event_id.rpartition(":")
    if not sep or not run_id or not seq.isdigit():
        raise bad_request("Last-Event-ID must look like <run_id>:<seq>.", ErrorCode.BAD_REQUEST)
    return run_id, int(seq)


def resume_response(manager: RunManager, run_id: str, after: int, trace_id: str) -> Response:
    """Join or resume ``run_id`` after sequence number ``after``."""
    try:
        log, run = manager.open_log(run_id)
    except RunFinishingElsewhere as busy:
        # The run's worker is shutting down. A 200 that only says "retry" keeps an
        # EventSource reconnecting (an error status would stop it) until the run is on disk.
        body = encode_retry(busy.retry_after * 1000) + encode_comment(busy.message)
        return Response(body, status=200, headers=sse_headers(run_id, trace_id))
    return stream_response(manager, run_id, log, run, after, trace_id)


def stream_response(
    manager: RunManager, run_id: str, log: MemoryEventLog, run: Run | None, after: int, trace_id: str
) -> Response:
    """The SSE response of ``run_id``'s events after sequence number ``after``."""
    if log.closed and after >= log.last_seq:
        # Everything was delivered: 204 tells EventSource to stop reconnecting.
        manager.close_log(run_id, log)
        return Response(status=204, headers={"X-Run-ID": run_id})
    settings = manager.settings
    # Watched from here, not in the generator: a client gone before the first write still
    # leaves through unwatch(), which starts the disconnect grace period.
    manager.watch(run_id, run)
    meter = StreamMeter()
    body = _subscribe(manager, run_id, log, after, settings.heartbeat_s, settings.retry_ms, meter)
    response = Response(body, status=200, headers=sse_headers(run_id, trace_id))
    response.call_on_close(meter.close)
    response.call_on_close(lambda: manager.unwatch(run_id, run, log))
    return response


def wait_for_end(manager: RunManager, run: Run) -> None:
    """Wait (cooperatively) until ``run`` ends; the waiter counts as a subscriber, so the run
    is not cancelled for want of one, and leaving early starts the disconnect grace."""
    manager.attach(run)
    try:
        while not run.log.closed:
            run.log.read(run.log.last_seq, manager.settings.heartbeat_s)
    finally:
        manager.detach(run)


def sse_headers(run_id: str, trace_id: str) -> dict[str, str]:
    return {**SSE_HEADERS, "X-Run-ID": run_id, "X-Trace-ID": trace_id}


def _subscribe(
    manager: RunManager,
    run_id: str,
    log: MemoryEventLog,
    after: int,
    heartbeat_s: float,
    retry_ms: int,
    meter: StreamMeter,
) -> Iterator[bytes]:
    yield encode_retry(retry_ms)
    prefix = run_id + ":"
    # Ends with a retry: hint, to resume elsewhere, when this worker drains or loses the
    # run's feed (it was taken over, or Redis went away); a finished run is sent out first.
    while (not manager.draining and not log.failed) or log.closed:
        entries = log.read(after, heartbeat_s)
        if entries:
            # Everything that arrived since the last write leaves in one chunk.
            yield b"".join(
                encode_message(entry, prefix + str(seq)) for seq, entry in enumerate(entries, after + 1)
            )
            meter.sent(entries)
            after += len(entries)
        elif log.closed:
            return
        elif not manager.draining and not log.failed:
            yield HEARTBEAT
    yield encode_retry(retry_ms)
