"""OpenAI-compatible API: ``GET /v1/models`` (the agents) and ``POST /v1/chat/completions``.

``model`` names the agent. The last user message is the question; the messages before it seed
the thread's history, as the native ``history`` does; system (and developer) messages become
``custom_prompt``. Each request is a new run on a new thread, a normal run: it shows in
``/api/runs`` and can be watched on the native stream (``X-Run-ID`` names it).

Streaming follows the chat-completions chunk format the ``openai`` SDKs read: a role chunk
first, ``delta.content`` chunks, a last chunk with ``finish_reason: "stop"``, a usage chunk
(``choices: []``) when ``stream_options.include_usage`` is set, then ``data: [DONE]``. Stages,
sources and tool calls have no place in it and travel as SSE comments (for ``curl -N``). An
error after the stream began is ``data: {"error": {...}}``, which the SDKs raise as
``APIError``; an error before it is an OpenAI-style JSON body with the HTTP status. Fields of
the request this service has no use for (``top_p``, ``tools``, ...) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from ..auth import current_owner
from ..errors import ServiceError
from ..events import ErrorCode
from ..runs.models import Run, RunRequest
from ..sse import encode_comment
from ..state import stagecast
from ..tracing import current_trace_id
from ..transport.encoders import Parsed
from ..transport.streams import run_failure, sse_headers
from ..validation import validate_body, validate_run_request
from .framing import DONE, sse_data
from .turns import history, split_question

bp = Blueprint("openai", __name__, url_prefix="/v1")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        """The text of the message; of a list of parts, its text parts joined."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="one answer per run")
    temperature: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    user: str | None = None


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> Response:
    return openai_error(error.status, error.message, error.code, retry_after=error.retry_after)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    return openai_error(status, error.description or error.name, error.name.replace(" ", ""))


def openai_error(
    status: int, message: str, code: str, param: str | None = None, retry_after: int | None = None
) -> Response:
    """The error body OpenAI's API answers, which its SDKs turn into typed exceptions."""
    response = jsonify({"error": _error_object(status, message, code, param)})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _error_object(status: int, message: str, code: str, param: str | None = None) -> dict[str, Any]:
    if status >= 500:
        kind = "server_error"
    elif status == 429:
        kind = "rate_limit_error"
    else:
        kind = "invalid_request_error"
    return {"message": message, "type": kind, "param": param, "code": code}


@bp.get("/models")
def models() -> Response:
    agents = stagecast().manager.agents.agents
    return jsonify({"object": "list", "data": [_model(name) for name in agents]})


@bp.get("/models/<name>")
def model(name: str) -> Response:
    if name not in stagecast().manager.agents.agents:
        return _unknown_model(name)
    return jsonify(_model(name))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "stagecast"}


def _unknown_model(name: str) -> Response:
    agents = sorted(stagecast().manager.agents.agents)
    message = f"The model {name!r} does not exist; the models are {agents}."
    return openai_error(404, message, "model_not_found", "model")


@bp.post("/chat/completions")
def chat_completions() -> Response:
    state = stagecast()
    body = validate_body(request, ChatCompletionRequest)
    if body.model not in state.manager.agents.agents:
        return _unknown_model(body.model)
    run_request = run_request_of(body, state.settings)
    run = state.transport.start(run_request, current_trace_id(), owner=current_owner())
    if not body.stream:
        return _completion(run)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    encoder = ChunkEncoder(f"chatcmpl-{run.run_id}", run.agent, int(run.created_at), include_usage)
    headers = sse_headers(run.run_id, run.trace_id)
    return state.transport.stream(run.run_id, run.log, run, 0, Parsed(encoder), headers)


def run_request_of(body: ChatCompletionRequest, settings: Any) -> RunRequest:
    """The native run request: the last user message asks, the ones before it are history."""
    question, earlier = split_question([(m.role, m.text) for m in body.messages])
    system = "\n\n".join(text for role, text in earlier if role in {"system", "developer"} and text)
    max_tokens = body.max_completion_tokens or body.max_tokens
    data: dict[str, Any] = {
        "message": question,
        "agent": body.model,
        "history": history(earlier, frozenset({"user", "assistant"})),
        "llm_config": {
            key: value
            for key, value in {"temperature": body.temperature, "max_tokens": max_tokens}.items()
            if value is not None
        },
    }
    if system:
        data["custom_prompt"] = system
    if body.user:
        data["user_id"] = body.user
    return validate_run_request(data, settings)


def _completion(run: Run) -> Response:
    """The non-streaming answer: one ``chat.completion`` when the run ends."""
    stagecast().transport.wait_for_end(run)
    if run.result is None:
        failure = run_failure(run)
        response = openai_error(failure.status, failure.message, failure.code)
    else:
        response = jsonify(
            {
                "id": f"chatcmpl-{run.run_id}",
                "object": "chat.completion",
                "created": int(run.created_at),
                "model": run.agent,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": run.result["content"]},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": openai_usage(run.result.get("usage")),
            }
        )
    response.headers["X-Run-ID"] = run.run_id
    return response


def openai_usage(usage: Mapping[str, int] | None) -> dict[str, int]:
    """Native usage (LangChain's ``usage_metadata`` keys) in OpenAI's names; zeros when the
    writer reports none (the offline writer)."""
    usage = usage or {}
    prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": usage.get("total_tokens", prompt + completion),
    }


class ChunkEncoder:
    """Native events -> ``chat.completion.chunk`` messages of one run."""

    def __init__(self, completion_id: str, model: str, created: int, include_usage: bool) -> None:
        self.head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        self.include_usage = include_usage
        self.finished = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse_data({**self.head, "choices": [choice]})

    def encode(self, event: Mapping[str, Any]) -> bytes:
        kind, data = event["type"], event["data"]
        if kind == "start":
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "token":
            return self._chunk({"content": data["content"]})
        if kind == "progress":
            return encode_comment(f"{data['node']} {data['status']}: {data['message']}")
        if kind == "tool_call":
            return encode_comment(f"tool {data['name']} {data['status']}")
        if kind == "final":
            return self._finish(data.get("usage"))
        if kind == "error":
            self.finished = True
            return sse_data({"error": _error_object(500, data["message"], data["error"])})
        if kind == "done":
            # A paused run (an interrupt) ends with neither final nor error: it still stops.
            return (b"" if self.finished else self._finish(None)) + DONE
        return b""

    def _finish(self, usage: Mapping[str, int] | None) -> bytes:
        self.finished = True
        chunk = self._chunk({}, "stop")
        if self.include_usage:
            chunk += sse_data({**self.head, "choices": [], "usage": openai_usage(usage)})
        return chunk

    def end(self, *, cut: bool) -> bytes:
        if not cut:
            return b""
        message = "The server is restarting; the run goes on and can be read at /api/runs."
        return sse_data({"error": _error_object(503, message, ErrorCode.SHUTTING_DOWN)}) + DONE
