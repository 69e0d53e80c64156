"""Structured logging: one JSON object per line, carrying the run and trace ids.

The ids live in a context variable, so every log line of a request or a run's greenlet
carries them without passing them around (run greenlets copy the context at spawn).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "stagecast_log", default=None
)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def bind_log_context(**ids: str) -> None:
    """Add ids (``run_id``, ``trace_id``) to every later log line of this context."""
    _context.set({**(_context.get() or {}), **ids})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(_context.get() or {}),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "openai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def close_logging() -> None:
    """At process exit: flush and close the handlers, and forget them.

    Under gevent, a handler freed during interpreter teardown calls logging's
    ``_removeHandlerRef``, which takes logging's lock, a patched RLock whose ``get_ident``
    is already gone: ``TypeError: 'NoneType' object is not callable`` on every worker exit.
    That function does nothing when logging's list of handlers is empty.
    """
    logging.shutdown()
    logging._handlerList.clear()  # type: ignore[attr-defined]
