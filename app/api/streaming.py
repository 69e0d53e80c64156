"""The SSE transport: a subscriber that reads a run's log and writes it to one client.

Only the response generator writes to the socket (DESIGN.md, trap 4). It sends a
``retry:`` line first, so headers leave before the agent does any work (trap 2), then
the log's events, and a heartbeat comment after ``heartbeat_s`` of silence (trap 1).
When the server drains it ends the response with a ``retry:`` hint so the client
reconnects, with Last-Event-ID, elsewhere (trap 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from flask import Request, Response, request

from app.api.hangup import HangupWatch
from app.api.requests import client_address
from app.errors import ServiceError, bad_request
from app.events import ErrorCode
from app.extension import stagecast
from app.metrics import StreamMeter
from app.runs.log import MemoryEventLog
from app.runs.manager import RunFinishingElsewhere, RunManager
from app.runs.models import Run
from app.sse import HEARTBEAT, SSE_HEADERS, encode_comment, encode_line_message, encode_retry

Encode = Callable[[list[bytes], int], bytes]
"""Turns log entries (UTF-8 JSON) into response bytes; the int is the sequence number of the first."""


def last_event_id_of(request: Request) -> str | None:
    """``Last-Event-ID`` from the header (EventSource) or ``?last_event_id=`` (the rest)."""
    return request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or None


# A sequence number is ASCII digits (``str.isdigit`` also takes "²" and "٣"), and short:
# int() refuses strings of more than 4,300 digits, and no run has 10**18 events.
_MAX_SEQ_DIGITS = 18


def parse_event_id(event_id: str) -> tuple[str, int]:
    """``<run_id>:<seq>`` -> (run_id, seq)."""
    run_id, sep, seq = event_id.rpartition(":")
    if not sep or not run_id or not (seq.isascii() and seq.isdigit()) or len(seq) > _MAX_SEQ_DIGITS:
        raise bad_request("Last-Event-ID must look like <run_id>:<seq>.", ErrorCode.BAD_REQUEST)
    return run_id, int(seq)


def head_response() -> Response:
    """HEAD of a stream endpoint: the headers a GET would get, and nothing started or joined.

    Flask answers HEAD with the GET view; for ``GET /api/chat/stream`` that would start a run
    (a link checker or a proxy's probe would cost a model call)."""
    return Response(status=200, headers=SSE_HEADERS)


def resume_response(manager: RunManager, run_id: str, after: int, trace_id: str) -> Response:
    """Join or resume ``run_id`` after sequence number ``after``."""
    stagecast().streams.check(client_address(), run_id)  # before a log is opened for it
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
    watch = subscribe(manager, run_id, run, log)
    body = event_stream(manager, log, after, partial(_encode_native, run_id + ":"), watch)
    response = Response(body, status=200, headers=sse_headers(run_id, trace_id))
    for on_close in watch.on_close:
        response.call_on_close(on_close)
    return response


def subscribe(manager: RunManager, run_id: str, run: Run | None, log: MemoryEventLog) -> HangupWatch:
    """What every streamed response of a run does before its first byte: count the stream
    against the connection caps, watch the run, and notice its client hanging up. The
    response calls the returned watch's ``on_close`` functions when it closes."""
    try:
        release = stagecast().streams.acquire(run_id, client_address())
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


def wait_for_end(manager: RunManager, run: Run) -> None:
    """Wait (cooperatively) until ``run`` ends; the waiter counts as a subscriber, so the run
    is not cancelled for want of one, and leaving early starts the disconnect grace. It
    holds its connection like a stream, and is counted as one."""
    release = stagecast().streams.acquire(run.run_id, client_address())
    manager.attach(run)
    try:
        while not run.log.closed:
            run.log.read(run.log.last_seq, manager.settings.heartbeat_s)
    finally:
        manager.detach(run)
        release()


def _once(action: Callable[[], object]) -> Callable[[], None]:
    done = False

    def run_once() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run_once


def sse_headers(run_id: str, trace_id: str) -> dict[str, str]:
    return {**SSE_HEADERS, "X-Run-ID": run_id, "X-Trace-ID": trace_id}


def _encode_native(prefix: str, entries: list[bytes], first: int) -> bytes:
    return b"".join(encode_line_message(entry, prefix + str(seq)) for seq, entry in enumerate(entries, first))


def event_stream(
    manager: RunManager, log: MemoryEventLog, after: int, encode: Encode, watch: HangupWatch
) -> Iterator[bytes]:
    """The body of a stream of ``log`` after sequence number ``after``, in ``encode``'s format
    (the native protocol's, or an adapter's), counted in the metrics while it is written."""
    meter = StreamMeter()
    try:
        yield from _events(manager, log, after, encode, watch, meter)
    finally:
        meter.close()


def _events(
    manager: RunManager,
    log: MemoryEventLog,
    after: int,
    encode: Encode,
    watch: HangupWatch,
    meter: StreamMeter,
) -> Iterator[bytes]:
    settings = manager.settings
    yield encode_retry(settings.retry_ms)
    # Ends with a retry: hint, to resume elsewhere, when this worker drains or loses the
    # run's feed (it was taken over, or Redis went away); a finished run is sent out first.
    # A client that hung up gets nothing more.
    while ((not manager.draining and not log.failed) or log.closed) and not watch.gone:
        entries = log.read_bytes(after, settings.heartbeat_s)
        if watch.gone:
            return
        if entries:
            # Everything that arrived since the last write leaves in one chunk.
            yield encode(entries, after + 1)
            meter.sent(entries)
            after += len(entries)
        elif log.closed:
            return
        elif not manager.draining and not log.failed:
            yield HEARTBEAT
    if not watch.gone:
        yield encode_retry(settings.retry_ms)
