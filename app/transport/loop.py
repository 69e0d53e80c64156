"""The one read loop: a subscriber that follows a run's log and writes it to one client.

Every stream (the native one, the protocols', the LangGraph Platform API's) is this loop
with an encoder plugged in (``encoders.py``). Only the response generator writes to the
socket (docs/architecture.md, trap 4). The encoder's head leaves first, so the headers go
out before the agent does any work (trap 2); then the log's entries, everything that arrived
since the last write in one chunk; and a non-empty heartbeat comment after ``heartbeat_s``
of silence, which keeps proxies open and is what detects a gone client (trap 1). When this
worker drains or loses the run's feed, the response ends and the encoder says so in its
protocol's words (trap 8). The stream counts in the metrics while it is written.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..metrics import StreamMeter
from ..runs.log import MemoryEventLog
from ..runs.manager import RunManager
from ..sse import HEARTBEAT
from .encoders import StreamEncoder
from .hangup import HangupWatch


def event_stream(
    manager: RunManager, log: MemoryEventLog, after: int, encoder: StreamEncoder, watch: HangupWatch
) -> Iterator[bytes]:
    """The body of a stream of ``log`` after sequence number ``after``, in ``encoder``'s format,
    counted in the metrics while it is written."""
    meter = StreamMeter()
    try:
        yield from _follow(manager, log, after, encoder, watch, meter)
    finally:
        meter.close()


def _follow(
    manager: RunManager,
    log: MemoryEventLog,
    after: int,
    encoder: StreamEncoder,
    watch: HangupWatch,
    meter: StreamMeter,
) -> Iterator[bytes]:
    heartbeat_s = manager.settings.heartbeat_s
    yield encoder.head()
    # Ends with the encoder's cut when this worker drains or loses the run's feed (it was
    # taken over, or Redis went away); a finished run is sent out whole first. A client
    # that hung up gets nothing more.
    while ((not manager.draining and not log.failed) or log.closed) and not watch.gone:
        entries = log.read_bytes(after, heartbeat_s)
        if watch.gone:
            return
        if entries:
            chunk = encoder.encode(entries, after + 1)
            if chunk:  # gunicorn drops an empty write anyway
                yield chunk
            meter.sent(entries)
            after += len(entries)
        elif log.closed:
            yield from _nonempty(encoder.end(cut=False))
            return
        elif not manager.draining and not log.failed:
            yield HEARTBEAT
    if not watch.gone:
        yield from _nonempty(encoder.end(cut=True))


def _nonempty(chunk: bytes) -> Iterator[bytes]:
    if chunk:
        yield chunk
