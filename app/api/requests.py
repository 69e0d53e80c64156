"""Reading the native API's run request from a JSON body or a query string, with the contract's
errors (the shared rules are in ``app/validation.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from flask import Request
from pydantic import BaseModel, Field

from ..config import Settings
from ..errors import bad_request
from ..events import ErrorCode
from ..runs.models import RunRequest
from ..validation import TOO_DEEP, json_object_body, validate_run_request


class StreamQuery(BaseModel):
    """The query of the EventSource form, ``GET /api/chat/stream`` (for /openapi.json; the
    values are checked as a run request)."""

    message: str | None = Field(None, description="The question (or resume, on a paused thread)")
    resume: str | None = Field(None, description="The answer to a pending interrupt: JSON, or plain text")
    conversation_id: str | None = None
    history: str | None = Field(None, description="Prior turns: a JSON array of {role, content}")
    user_id: str | None = None
    agent: str | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    checkpoint_id: str | None = Field(None, description="Fork the thread from this checkpoint")
    last_event_id: str | None = Field(
        None, pattern=r"^[^:]+:[0-9]{1,9}$", description="Resume this run after this event (<run_id>:<seq>)"
    )


_QUERY_FIELDS = frozenset(StreamQuery.model_fields)


def run_request_from_body(request: Request, settings: Settings) -> RunRequest:
    return validate_run_request(json_object_body(request), settings)


def run_request_from_query(args: Mapping[str, str], settings: Settings) -> RunRequest:
    unknown = sorted(set(args) - _QUERY_FIELDS)
    if unknown:
        raise bad_request(f"Unknown query parameters: {', '.join(unknown)}.")
    data: dict[str, Any] = {k: v for k, v in args.items() if k not in {"history", "last_event_id"}}
    if "resume" in args:
        # A query string has no types: JSON when it parses (true, 3, {"id": "yes"}), else the text.
        try:
            data["resume"] = json.loads(args["resume"])
        except RecursionError:
            raise bad_request(TOO_DEEP, ErrorCode.INVALID_JSON) from None
        except ValueError:
            data["resume"] = args["resume"]
    if "history" in args:
        try:
            data["history"] = json.loads(args["history"])
        except RecursionError:
            raise bad_request(TOO_DEEP, ErrorCode.INVALID_JSON) from None
        except ValueError:
            raise bad_request(
                "history must be a JSON array of {role, content}.", ErrorCode.INVALID_JSON
            ) from None
    return validate_run_request(data, settings)
