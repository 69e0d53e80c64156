"""The trace id of each request: the caller's ``X-Trace-ID`` if it is a sane token, else a new
one; on every log line of the request, on its run, and on every answer."""

from __future__ import annotations

import re
import uuid

from flask import Response, g, request

from .logs import bind_log_context

_TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def bind_trace_id() -> None:
    """Before each request: adopt the caller's ``X-Trace-ID`` if it is a sane token, else make
    one, and put it on every log line of the request."""
    given = request.headers.get("X-Trace-ID", "")
    g.trace_id = given if _TRACE_ID.match(given) else uuid.uuid4().hex
    bind_log_context(trace_id=g.trace_id)


def current_trace_id() -> str:
    return g.trace_id


def add_trace_header(response: Response) -> Response:
    """Every answer, error bodies included, names its trace id for the log."""
    response.headers.setdefault("X-Trace-ID", g.get("trace_id", ""))
    return response
