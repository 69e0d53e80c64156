"""Reading a run request from a JSON body or a query string, with the contract's errors."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from flask import Request, Response, g, request
from pydantic import BaseModel, Field, ValidationError

from app.auth import bind_user
from app.config import Settings
from app.errors import ServiceError, bad_request
from app.events import ErrorCode
from app.logs import bind_log_context
from app.runs.models import RunRequest

Model = TypeVar("Model", bound=BaseModel)
# json.loads recurses once per nesting level; a body of "[[[[…" deeper than the interpreter's
# recursion limit (1000 arrays fit in a few KB) raises RecursionError, which is bad input.
_TOO_DEEP = "The JSON is nested too deeply."
_TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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


def bind_trace_id() -> None:
    """Before each request: adopt the caller's ``X-Trace-ID`` if it is a sane token, else make
    one, and put it on every log line of the request."""
    given = request.headers.get("X-Trace-ID", "")
    g.trace_id = given if _TRACE_ID.match(given) else uuid.uuid4().hex
    bind_log_context(trace_id=g.trace_id)


def current_trace_id() -> str:
    return g.trace_id


def client_address() -> str:
    """The client's address (behind ``STAGECAST_PROXY_HOPS`` proxies, the one they saw)."""
    return request.remote_addr or ""


def add_trace_header(response: Response) -> Response:
    """Every answer, error bodies included, names its trace id for the log."""
    response.headers.setdefault("X-Trace-ID", g.get("trace_id", ""))
    return response


def run_request_from_body(request: Request, settings: Settings) -> RunRequest:
    return validate_run_request(json_object_body(request), settings)


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
        raise bad_request(_TOO_DEEP, ErrorCode.INVALID_JSON) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}", ErrorCode.INVALID_JSON) from None
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.")
    return data


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
            raise bad_request(_TOO_DEEP, ErrorCode.INVALID_JSON) from None
        except ValueError:
            data["resume"] = args["resume"]
    if "history" in args:
        try:
            data["history"] = json.loads(args["history"])
        except RecursionError:
            raise bad_request(_TOO_DEEP, ErrorCode.INVALID_JSON) from None
        except ValueError:
            raise bad_request(
                "history must be a JSON array of {role, content}.", ErrorCode.INVALID_JSON
            ) from None
    return validate_run_request(data, settings)


def validate_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON object body as ``model`` (a protocol's own request shape)."""
    return validate_model(model, json_object_body(request))


def validate_model(model: type[Model], data: dict[str, Any]) -> Model:
    """``data`` as ``model``, or the contract's 400 naming the first problems."""
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
