"""Reading what a request sends, with the contract's errors: its JSON object body (415, 413,
400), that body as a model, and a run request within the settings' limits. The native API
and every protocol read their requests through these."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ValidationError

from .auth import bind_user
from .config import Settings
from .errors import ServiceError, bad_request
from .events import ErrorCode
from .runs.models import RunRequest

Model = TypeVar("Model", bound=BaseModel)
# json.loads recurses once per nesting level; a body of "[[[[…" deeper than the interpreter's
# recursion limit (1000 arrays fit in a few KB) raises RecursionError, which is bad input.
TOO_DEEP = "The JSON is nested too deeply."
# Text no store keeps: NUL (PostgreSQL refuses it) and lone surrogates (every store does).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def json_object_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or the contract's 415/413/400 (what every POST endpoint reads)."""
    if not request.is_json:
        raise ServiceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            415,
            "Send the request as JSON (Content-Type: application/json).",
        )
    raw = request.get_data(cache=True)  # raises 413 beyond MAX_CONTENT_LENGTH
    try:
        data = json.loads(raw)
    except RecursionError:
        raise bad_request(TOO_DEEP, ErrorCode.INVALID_JSON) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}", ErrorCode.INVALID_JSON) from None
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.")
    return data


def validate_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON object body as ``model`` (a protocol's own request shape)."""
    return validate_model(model, json_object_body(request))


def validate_model(model: type[Model], data: dict[str, Any]) -> Model:
    """``data`` as ``model``, or the contract's 400 naming the first problems."""
    unstorable = unstorable_text(data)
    if unstorable is not None:
        raise bad_request(f"Invalid request: {unstorable}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise bad_request(f"Invalid request: {problems}.") from None


def validate_run_request(
    data: dict[str, Any], settings: Settings, *, graph_controls: bool = False
) -> RunRequest:
    """``data`` as a run request; ``graph_controls`` (command, breakpoints, proceed) only when
    the caller is the /langgraph API."""
    run_request = validate_model(RunRequest, data)
    if run_request.graph_controls and not graph_controls:
        raise bad_request(
            f"Unknown fields: {', '.join(run_request.graph_controls)} (only /langgraph takes them)."
        )
    user_id = bind_user(run_request.user_id)
    if user_id != run_request.user_id:
        run_request = run_request.model_copy(update={"user_id": user_id})
    if run_request.message is not None and len(run_request.message) > settings.max_message_chars:
        raise bad_request(
            f"message is {len(run_request.message)} characters; the limit is {settings.max_message_chars}.",
            ErrorCode.MESSAGE_TOO_LONG,
        )
    if len(run_request.history) > settings.max_history_messages:
        raise bad_request(f"history has more than {settings.max_history_messages} messages.")
    model = run_request.llm_config.model
    if model and settings.llm_allowed_models and model not in settings.llm_allowed_models:
        raise bad_request(f"llm_config.model must be one of {settings.llm_allowed_models}.")
    return run_request


def unstorable_text(value: Any, path: str = "") -> str | None:
    """Where ``value`` (parsed JSON) holds text no store can keep, and why; None if nowhere.

    JSON's ``\\ud800`` escapes decode to lone surrogates, which are not Unicode text: SQLite,
    PostgreSQL and Redis refuse to encode them; PostgreSQL refuses ``\\u0000`` too. Such a
    request is refused (400) rather than failed as a store outage a client would retry."""
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            return f"{path or 'body'}: the text holds NUL or a lone surrogate, which cannot be stored"
        return None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        found = unstorable_text(key, where) if isinstance(key, str) else None
        found = found or unstorable_text(item, where)
        if found is not None:
            return found
    return None
