"""JSON for the Platform API: graph state with LangChain messages in their dict form.

LangGraph Server writes a message as its pydantic dump (``{"type": "ai", "content": ...,
"id": ...}``); the SDKs and ``useStream`` read that shape, so state values, updates and
checkpoints go through :func:`dumps` here.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(value: Any) -> str:
    """One line of JSON (UTF-8 as is, like the native protocol). orjson: a token's stream part
    is dumped for every client that reads it, and the standard library took 12 µs for one."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (for a Flask ``jsonify`` answer)."""
    return orjson.loads(dumps(value))


def iso(timestamp: float) -> str:
    """Unix time as the ISO 8601 text the SDKs parse."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat()
