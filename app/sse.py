"""Server-Sent Events framing, and nothing else (WHATWG HTML, "Server-sent events").

Standard library only: this module knows neither Flask nor LangGraph.

Deliberate choices, from the wire contract (docs/protocol.md, "The response"):
- LF line endings only; the spec allows CR and CRLF too, but one form keeps the bytes exact.
- No ``event:`` field in the native protocol: ``EventSource.onmessage`` sees only unnamed
  events, and front-ends switch on ``data.type``. Adapters whose protocol names its events
  (the LangGraph Platform API's ``event: values``) pass ``event``.
- ``data`` is one line of JSON; a caller's multi-line text is still framed correctly
  (one ``data:`` line per line), as the spec requires.
- CR and LF are removed from ``id`` (a newline there would end the field early), and an id
  containing NUL is dropped, as browsers ignore it ("If the field value does not contain
  U+0000 NULL, then set the last event ID buffer to the field value").
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

SSE_HEADERS: dict[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    # nginx: do not buffer this response (docs/architecture.md, trap 10).
    "X-Accel-Buffering": "no",
}

# gunicorn drops empty writes and notices a dead client only when a write fails, so the
# keep-alive must be a non-empty comment (docs/architecture.md, trap 1).
HEARTBEAT = b": heartbeat\n\n"


def encode_message(data: str, id: str | None = None, event: str | None = None) -> bytes:
    """Encode one message: ``event``, ``id``, then ``data`` (one field per line of ``data``)."""
    lines = []
    if event is not None:
        lines.append("event: " + _LINE_BREAK.sub("", event))
    if id is not None and "\0" not in id:
        lines.append("id: " + _LINE_BREAK.sub("", id))
    lines.extend("data: " + line for line in _LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def encode_line_message(data: bytes, id: str) -> bytes:
    """The same bytes as ``encode_message(data.decode(), id)``, for ``data`` already UTF-8.

    The native stream's every event: a log entry, one line of JSON (JSON escapes line
    breaks), encoded once when it was appended, under a clean id. Written out directly it
    costs a tenth of splitting it into lines and encoding it again for each subscriber."""
    if b"\n" in data or b"\r" in data or "\n" in id or "\r" in id or "\0" in id:
        return encode_message(data.decode("utf-8"), id)
    return b"id: %s\ndata: %s\n\n" % (id.encode("utf-8"), data)


def encode_retry(milliseconds: int) -> bytes:
    """The reconnection delay hint; also what leaves first, so headers go out at once."""
    return b"retry: %d\n\n" % milliseconds


def encode_comment(text: str) -> bytes:
    """A comment line (ignored by parsers); newlines start new comment lines."""
    return ("\n".join(": " + line for line in _LINE_BREAK.split(text)) + "\n\n").encode("utf-8")
