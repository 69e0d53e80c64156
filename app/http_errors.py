"""gunicorn's own error answers, in the contract's JSON instead of gunicorn's HTML page.

Requests gunicorn refuses before the app sees them (a request line over
``limit_request_line``: 414; a header over ``limit_request_field_size``: 431; a malformed
request line or header: 400) are answered by ``gunicorn.workers.base.Worker.handle_error``,
which decides the status and logs the request, then calls ``gunicorn.util.write_error`` to
write an HTML page. Replacing that one function in the worker keeps gunicorn's decisions
and logging, and changes only the body it writes.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

from .events import ErrorCode

_CODES = {
    400: ErrorCode.BAD_REQUEST,
    403: "Forbidden",
    414: "URITooLong",
    417: "ExpectationFailed",
    431: "HeadersTooLarge",
    501: "NotImplemented",
}
_MESSAGES = {
    414: (
        "The request line is too long; send a long message with POST"
        " (docs/protocol.md, 'Limits of the EventSource form')."
    ),
    431: "A request header is too large.",
}


def json_error(status: int, reason: str, message: str) -> bytes:
    """The whole HTTP/1.1 response gunicorn sends for ``status``."""
    code = _CODES.get(status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.BAD_REQUEST)
    text = _MESSAGES.get(status) or message[:300] or reason
    body = json.dumps({"success": False, "error": code, "message": text}, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, json_error(status_int, reason, mesg))


def install() -> None:
    """In a worker process: gunicorn's error answers become JSON."""
    util.write_error = _write_json_error
