"""gunicorn's access log without credentials: ``access_token`` values in URLs are replaced
by ``[redacted]`` and the ``Authorization`` header is never available to the log format.

A stream token lives minutes and opens one run's stream, but logs live longer and travel
further than that. Long-lived keys only ever travel in the ``Authorization`` header.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(access_token=)[^&\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str) and "access_token" in value.lower():
                atoms[key] = redact(value)
        for key in ("{authorization}i", "{http_authorization}e"):
            if key in atoms:
                atoms[key] = "[redacted]"
        return atoms
