"""gunicorn's logs without credentials: stream tokens in URLs are written as ``[redacted]``,
however the query spells their name, and credential headers (``Authorization``, cookies)
never reach a log line.

A stream token lives minutes and opens one run's stream, but logs live longer and travel
further than that. Long-lived keys only ever travel in the ``Authorization`` header.

A query name is matched after percent-decoding (repeatedly, as a proxy in front may decode
once more), so ``access%5Ftoken`` and ``%61ccess_token`` are redacted like ``access_token``:
the app decodes the name before it reads the parameter, so every spelling it accepts opens
the stream.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

# Query parameters whose values are credentials, by their decoded, lower-cased name.
SECRET_PARAMETERS = frozenset({"access_token"})
# Headers (request ``{name}i``, response ``{name}o``, WSGI environ ``{http_name}e``) never logged.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
REDACTED = "[redacted]"

# name=value in a URL, a query string or a Referer: at the start, or after ?, & or ;.
_PARAMETER = re.compile(r"(?:(?<=[?&;])|^)([^=&;?\s\"]+)=([^&;\s\"]*)")

_CREDENTIALS = re.compile(r"\b(Bearer|Basic)\s+[^\s'\",]+", re.IGNORECASE)


def _decoded(name: str) -> str:
    for _ in range(5):
        once = unquote_plus(name)
        if once == name:
            break
        name = once
    return name.strip().lower()


def redact(text: str) -> str:
    """``text`` with the value of every credential query parameter, and any ``Bearer`` or
    ``Basic`` credentials (a header quoted in an error message), replaced by ``[redacted]``."""
    text = _CREDENTIALS.sub(lambda m: f"{m[1]} {REDACTED}", text)
    return _PARAMETER.sub(
        lambda m: f"{m[1]}={REDACTED}" if _decoded(m[1]) in SECRET_PARAMETERS else m[0], text
    )


def _secret_atom(key: str) -> bool:
    name = key[1:-2] if key.startswith("{") and key[-2:] in ("}i", "}o", "}e") else ""
    return name.removeprefix("http_").replace("_", "-") in SECRET_HEADERS


class _RedactingFilter(logging.Filter):
    """For gunicorn's error log, which names the URL of a request it failed to handle."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, _RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(_RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if _secret_atom(key):
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
