"""The native stream on top of the transport (``app/transport/``): which run and offset a
request names, and the answers only the native protocol gives.

A request names a run with ``Last-Event-ID`` (``<run_id>:<seq>``), so a plain EventSource
that reconnects resumes the same run. A run that ended and was fully delivered is answered
``204``, which tells EventSource to stop reconnecting. The stream itself is the transport's
read loop with the native encoder, which writes log entries as they are.
"""

from __future__ import annotations

from flask import Request, Response

from ..errors import bad_request
from ..events import ErrorCode
from ..runs.log import MemoryEventLog
from ..runs.manager import RunFinishingElsewhere
from ..runs.models import Run
from ..sse import SSE_HEADERS, encode_comment, encode_retry
from ..transport.encoders import native_encoder
from ..transport.slots import client_address
from ..transport.streams import Transport, sse_headers


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


def resume_response(transport: Transport, run_id: str, after: int, trace_id: str) -> Response:
    """Join or resume ``run_id`` after sequence number ``after``."""
    transport.slots.check(client_address(), run_id)  # before a log is opened for it
    try:
        log, run = transport.manager.open_log(run_id)
    except RunFinishingElsewhere as busy:
        # The run's worker is shutting down. A 200 that only says "retry" keeps an
        # EventSource reconnecting (an error status would stop it) until the run is on disk.
        body = encode_retry(busy.retry_after * 1000) + encode_comment(busy.message)
        return Response(body, status=200, headers=sse_headers(run_id, trace_id))
    return stream_response(transport, run_id, log, run, after, trace_id)


def stream_response(
    transport: Transport, run_id: str, log: MemoryEventLog, run: Run | None, after: int, trace_id: str
) -> Response:
    """The SSE response of ``run_id``'s events after sequence number ``after``."""
    manager = transport.manager
    if log.closed and after >= log.last_seq:
        # Everything was delivered: 204 tells EventSource to stop reconnecting.
        manager.close_log(run_id, log)
        return Response(status=204, headers={"X-Run-ID": run_id})
    encoder = native_encoder(run_id, manager.settings.retry_ms)
    return transport.stream(run_id, log, run, after, encoder, sse_headers(run_id, trace_id))
