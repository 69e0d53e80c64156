"""The transport the protocol adapters share: follow a run's log, encode each event.

The same rules as the native stream (app/api/streaming.py): only the response generator
writes (DESIGN.md, trap 4); a comment leaves first so the headers go out before the agent
works (trap 2); a non-empty heartbeat comment after ``heartbeat_s`` of silence keeps proxies
open and is what detects a gone client (trap 1); the subscriber is attached while the
response lives, so a client that leaves starts the disconnect grace, then the cancel. When
the server drains, the response ends and the encoder says so in its protocol's words.
Every protocol here parses SSE with comments allowed (the AI SDK's and AG-UI's
eventsource-parser, the openai SDK's decoder), so comments are safe for all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from flask import Response

from app.api.hangup import HangupWatch
from app.api.streaming import subscribe
from app.runs.log import MemoryEventLog
from app.runs.manager import RunManager
from app.runs.models import Run
from app.sse import HEARTBEAT, encode_comment


class LogEncoder(Protocol):
    """Turns native events (parsed log entries) into one protocol's bytes."""

    def encode(self, event: Mapping[str, Any]) -> bytes: ...

    def end(self, *, cut: bool) -> bytes:
        """After the last event; ``cut``: the run goes on but this response ends (drain)."""
        ...


def follow_response(
    manager: RunManager,
    run_id: str,
    log: MemoryEventLog,
    run: Run | None,
    encoder: LogEncoder,
    headers: Mapping[str, str],
) -> Response:
    """A streaming response of ``run_id``'s log (from ``manager.open_log``, or a run just
    started) from its first event, encoded by ``encoder``; ``headers`` are the SSE ones
    (``sse_headers``) plus the protocol's own."""
    watch = subscribe(manager, run_id, run, log)  # caps, watchers, hang-ups: as the native stream
    response = Response(_follow(manager, log, encoder, watch), status=200, headers=dict(headers))
    for on_close in watch.on_close:
        response.call_on_close(on_close)
    return response


def _follow(
    manager: RunManager, log: MemoryEventLog, encoder: LogEncoder, watch: HangupWatch
) -> Iterator[bytes]:
    yield encode_comment("stagecast")
    heartbeat_s = manager.settings.heartbeat_s
    after = 0
    # As the native stream: cut when this worker drains or loses the run's feed (taken over,
    # Redis gone); a finished run is sent out whole first.
    while ((not manager.draining and not log.failed) or log.closed) and not watch.gone:
        entries = log.read_bytes(after, heartbeat_s)
        if watch.gone:
            return  # the client hung up: nothing more to write
        if entries:
            after += len(entries)
            chunk = b"".join(encoder.encode(json.loads(entry)) for entry in entries)
            if chunk:  # gunicorn drops an empty write anyway
                yield chunk
        elif log.closed:
            break
        elif not manager.draining and not log.failed:
            yield HEARTBEAT
    if not watch.gone:
        yield encoder.end(cut=not log.closed)


def sse_data(payload: Any) -> bytes:
    """One ``data:`` message of compact JSON, UTF-8 as is (one line: JSON escapes newlines)."""
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
"""The sentinel that ends an OpenAI and an AI SDK stream."""
