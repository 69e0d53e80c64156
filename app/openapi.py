"""The OpenAPI 3.1 document of the running app, built from its URL map and pydantic models.

Paths come from Flask's URL map, so every route is listed, including ones added later;
what each native operation takes and answers is declared in ``OPERATIONS`` by model, and
the JSON Schemas are pydantic's. A route with no entry is listed from its docstring with
the common error answers. SSE answers are ``text/event-stream`` strings whose ``data:`` lines
are ``Event`` objects (JSON Schema's ``contentMediaType``/``contentSchema``).

Its blueprint serves it as ``/openapi.json``, and ``/docs``, a page that renders it with this
server's own script (no CDN, and the pages' CSP holds). It lives here, above the views it
describes, so that nothing in ``app/api/`` imports this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from .api.requests import StreamQuery
from .api.schemas import (
    CancelResult,
    ChatResult,
    ErrorBody,
    Health,
    HistoryQuery,
    MessagesQuery,
    RunCreated,
    RunList,
    RunListQuery,
    RunSummary,
    ThreadHistory,
    ThreadMessages,
    ThreadOwner,
)
from .api.threads import ThreadHandOver
from .auth import StreamToken, StreamTokenRequest
from .config import Settings
from .events import Event
from .runs.models import RunRequest
from .security import may_start_run

Kind = Literal["json", "sse", "html", "text", "empty"]
_REF = "#/components/schemas/{model}"
_PROTECTED = re.compile(r"^/(api|v1|langgraph)(/|$)")
_EVENT_ID = r"^[^:]+:[0-9]{1,9}$"

# What each error status means here (the codes are ErrorBody.error).
_ERRORS = {
    400: "Bad input (InvalidJSON, ValidationError, MessageTooLong, UnknownAgent, BadRequest) or InvalidHost",
    401: "Unauthorized: no or bad credentials (with authentication on); see WWW-Authenticate",
    403: "Forbidden (user_id of another user) or CrossOriginRequest",
    404: "NotFound, RunNotFound, ThreadNotFound (also for another user's run or thread)",
    409: "ThreadBusy, RunOnAnotherWorker",
    410: "Interrupted: the run's worker died before recording its end",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType: send JSON",
    429: "TooManyRuns (this worker's limit) or RateLimited (STAGECAST_RATE_LIMIT); see Retry-After",
    502: "UpstreamError: the model server failed the run",
    503: "ShuttingDown; see Retry-After",
    504: "Timeout: the run hit STAGECAST_RUN_TIMEOUT_S",
}


# Answered by gunicorn before the request reaches Stagecast (its own body, not ErrorBody).
_SERVER_LIMITS = {
    414: "The request line is over gunicorn's limit (4094 bytes): send long questions with POST",
    431: "The request headers are over gunicorn's limits",
}


@dataclass(frozen=True)
class Answer:
    kind: Kind
    model: type[BaseModel] | None = None
    description: str = "OK"


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    answers: dict[int, Answer]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    resumes: bool = False  # takes Last-Event-ID
    stream_token: bool = False  # takes ?access_token=
    declared: bool = True  # False: only listed (a protocol adapter's own request and answers)


# One message of a native stream, in OpenAPI 3.2's shape for text/event-stream items.
_SSE_MESSAGE = {
    "type": "object",
    "required": ["id", "data"],
    "properties": {
        "id": {"type": "string", "pattern": _EVENT_ID, "description": "<run_id>:<seq>, seq from 1"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": _REF.format(model="Event")},
        },
        "event": {"type": "string", "const": "message", "description": "Never sent: switch on data.type"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
_SSE = Answer("sse", description="The run's events as Server-Sent Events; each data: line is one Event")
_OVER = Answer("empty", description="The run has ended and every event was delivered (EventSource stops)")
_RUN_START_ERRORS = (400, 403, 404, 409, 413, 415, 429, 503)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("chat.stream_post", "POST"): Operation(
        "Ask a question and stream the new run",
        "chat",
        {200: _SSE, 204: _OVER},
        (*_RUN_START_ERRORS, 410),
        body=RunRequest,
        resumes=True,
    ),
    ("chat.stream_get", "GET"): Operation(
        "The same for EventSource; with Last-Event-ID it resumes that run",
        "chat",
        {200: _SSE, 204: _OVER},
        (400, 403, 404, 409, 410, 429, 503),
        query=StreamQuery,
        resumes=True,
    ),
    ("chat.chat", "POST"): Operation(
        "Ask a question and wait for the whole answer",
        "chat",
        {200: Answer("json", ChatResult)},
        (*_RUN_START_ERRORS, 502, 504),
        body=RunRequest,
    ),
    ("runs.create", "POST"): Operation(
        "Start a run; stream it later from stream_url",
        "runs",
        {202: Answer("json", RunCreated, "Started")},
        _RUN_START_ERRORS,
        body=RunRequest,
    ),
    ("runs.index", "GET"): Operation(
        "Live and recent runs of this worker: the caller's own, or all for an admin",
        "runs",
        {200: Answer("json", RunList)},
        query=RunListQuery,
    ),
    ("runs.show", "GET"): Operation(
        "A run's status, timings and, once finished, its result",
        "runs",
        {200: Answer("json", RunSummary)},
        (404,),
    ),
    ("runs.stream", "GET"): Operation(
        "Join a run from its first event, or resume after Last-Event-ID",
        "runs",
        {200: _SSE, 204: _OVER},
        (404, 409, 410),
        resumes=True,
        stream_token=True,
    ),
    ("runs.cancel", "POST"): Operation(
        "Cancel a run",
        "runs",
        {
            202: Answer("json", CancelResult, "Cancelled by this call"),
            200: Answer("json", CancelResult, "It had already ended"),
        },
        (403, 404, 409, 410),
    ),
    ("threads.messages", "GET"): Operation(
        "The conversation history of a thread, or of one of its branches",
        "threads",
        {200: Answer("json", ThreadMessages)},
        (404,),
        query=MessagesQuery,
    ),
    ("threads.checkpoints", "GET"): Operation(
        "A thread's checkpoints, newest first: the points to fork from (docs/branches.md)",
        "threads",
        {200: Answer("json", ThreadHistory)},
        (400, 404),
        query=HistoryQuery,
    ),
    ("threads.hand_over", "POST"): Operation(
        "Give a thread nobody owns (made while authentication was off) to a user; admins only",
        "threads",
        {200: Answer("json", ThreadOwner)},
        (403, 404, 409, 413, 415),
        body=ThreadHandOver,
    ),
    ("stream_tokens.create", "POST"): Operation(
        "A short-lived token that opens one run's stream, for EventSource",
        "auth",
        {201: Answer("json", StreamToken, "Created")},
        (403, 404, 413, 415),
        body=StreamTokenRequest,
    ),
    ("health.healthz", "GET"): Operation(
        "Liveness, load and whether this worker takes runs",
        "operations",
        {200: Answer("json", Health), 503: Answer("json", Health, "Draining: shutting down")},
    ),
    ("metrics.scrape", "GET"): Operation(
        "Prometheus metrics, summed over the workers",
        "operations",
        {200: Answer("text", description="Prometheus text format")},
        (401,),
    ),
    ("docs.openapi_document", "GET"): Operation(
        "This document", "operations", {200: Answer("json", description="OpenAPI 3.1")}
    ),
    ("docs.docs", "GET"): Operation("This document, for people", "pages", {200: Answer("html")}),
    ("web.dashboard", "GET"): Operation("The dashboard: ask and watch a run", "pages", {200: Answer("html")}),
    ("web.runs_monitor", "GET"): Operation("The runs monitor", "pages", {200: Answer("html")}),
}
# Files, not operations.
_SKIPPED_ENDPOINTS = re.compile(r"(^|\.)(static|client_\w+)$")


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every route of ``app``."""
    settings: Settings = app.extensions["stagecast"].settings
    models: dict[str, Any] = {"Event": Event, "ErrorBody": ErrorBody}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if _SKIPPED_ENDPOINTS.search(rule.endpoint):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = OPERATIONS.get((rule.endpoint, method))
            if operation is None:
                operation = _undeclared(app, rule.endpoint)
            for model in (operation.body, *(a.model for a in operation.answers.values())):
                if model is not None:
                    models[model.__name__] = model
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, method, path, list(rule.arguments), operation, settings
            )
    schemas = _schemas(models)
    _constrain(schemas["RunRequest"]["properties"], settings)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stagecast",
            "version": "1",
            "description": "Stream LangGraph agent runs as Server-Sent Events (protocol: docs/protocol.md).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key or a JWT"},
                "streamToken": {"type": "apiKey", "in": "query", "name": "access_token"},
            },
        },
    }


def _undeclared(app: Flask, endpoint: str) -> Operation:
    doc = (app.view_functions[endpoint].__doc__ or endpoint).strip().splitlines()[0]
    return Operation(doc, endpoint.partition(".")[0], {}, declared=False)


def _constrain(properties: dict[str, Any], settings: Settings) -> None:
    """Add the limits the settings put on a run request to its schema: what is served here."""
    properties["message"]["maxLength"] = settings.max_message_chars
    agents = {"enum": sorted(settings.graphs)}
    properties["agent"] = {"anyOf": [agents, {"type": "null"}], "default": None, "title": "Agent"}
    if "items" in properties.get("history", {}):  # the body's list, not the query's JSON text
        properties["history"]["maxItems"] = settings.max_history_messages


def _operation(
    endpoint: str, method: str, path: str, arguments: list[str], op: Operation, settings: Settings
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in sorted(arguments)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema()
        if op.query is StreamQuery:
            _constrain(schema["properties"], settings)
        parameters += [
            {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            for name, prop in schema["properties"].items()
        ]
    if op.resumes:
        parameters.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "Resume after this event: <run_id>:<seq>",
                "schema": {"type": "string", "pattern": _EVENT_ID},
            }
        )
    if op.stream_token:
        parameters.append(
            {
                "name": "last_event_id",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": _EVENT_ID},
            }
        )
    answer: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_")
        + ("" if method in ("GET", "POST") else "_" + method.lower()),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {str(status): _response(a) for status, a in sorted(op.answers.items())},
    }
    if op.body is not None:
        answer["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}},
        }
    errors = set(op.errors) | {400}  # InvalidHost can answer anything
    protected = bool(_PROTECTED.match(path))
    if protected:
        errors.add(401)
        answer["security"] = [{}, {"bearer": []}] + ([{"streamToken": []}] if op.stream_token else [])
    if may_start_run(endpoint, method, path):
        errors |= {403, 429}
    for status in sorted(errors - set(op.answers)):
        answer["responses"][str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
        }
    for status, description in _SERVER_LIMITS.items():
        answer["responses"][str(status)] = {"description": description}
    if not op.declared:
        # The protocol's own shapes (docs/clients.md); Stagecast's errors are ErrorBody.
        answer["responses"]["default"] = {"description": "As the protocol defines; see docs/clients.md"}
    return answer


def _response(answer: Answer) -> dict[str, Any]:
    content: dict[str, Any]
    if answer.kind == "json":
        schema = {"$ref": _REF.format(model=answer.model.__name__)} if answer.model else {"type": "object"}
        content = {"application/json": {"schema": schema}}
    elif answer.kind == "sse":
        # Before OpenAPI 3.2 (itemSchema), an event stream's schema describes one message.
        content = {"text/event-stream": {"schema": _SSE_MESSAGE}}
    elif answer.kind == "html":
        content = {"text/html": {"schema": {"type": "string"}}}
    elif answer.kind == "text":
        content = {"text/plain": {"schema": {"type": "string"}}}
    else:
        return {"description": answer.description}
    return {"description": answer.description, "content": content}


def _schemas(models: dict[str, Any]) -> dict[str, Any]:
    """pydantic's JSON Schemas of ``models`` (and everything they use), as components."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (name, "validation", TypeAdapter(model)) for name, model in models.items()
    ]
    top, definitions = TypeAdapter.json_schemas(inputs, ref_template=_REF)
    schemas = dict(definitions.get("$defs", {}))
    for (name, _), schema in top.items():
        if "$ref" not in schema or schema["$ref"] != _REF.format(model=name):
            schemas[name] = schema
    return schemas


bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    document = current_app.extensions.get("stagecast_openapi")
    if document is None:  # built once per process, on first use (every route is registered)
        document = current_app.extensions["stagecast_openapi"] = build(current_app)
    return jsonify(document)


@bp.get("/docs")
def docs() -> Response:
    """The API reference, for people."""
    return Response(render_template("docs.html"), mimetype="text/html")
