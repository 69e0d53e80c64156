"""A drop-in ``ChatOpenAI`` that reads the model server's event stream itself.

``ChatOpenAI`` streams a chat completion through the openai SDK: its event-stream decoder (a
Python loop per line and per field), its ``Stream`` wrapper and the HTTP library's decoding
byte iterators, for every token. :class:`FastChatOpenAI` still lets the SDK send the request,
so the request body, the headers, the status errors (``RateLimitError``...) and connection
errors are the SDK's as before; it then reads the answer's raw bytes from the same HTTP
client (and its transport), splits them into events on blank lines and decodes each event's
data with orjson. Each chunk goes through ``ChatOpenAI``'s own conversion, so the
``AIMessageChunk``\\ s (content, id, response metadata, tool-call chunks, usage) and the
callbacks LangChain fires for them are ``ChatOpenAI``'s: LangGraph's ``messages`` mode,
``bind_tools``, ``with_structured_output`` and tracing see no difference.

Deviations, on purpose:
- Only what a chat-completions stream uses is read: ``data`` fields (several ``data`` lines
  of one event are joined with a newline) and blank lines; ``event``, ``id`` and ``retry``
  are ignored, as the SDK ignores them for chat completions (WHATWG HTML, "Server-sent
  events", "Interpreting an event stream"). Lines may end in LF, CRLF or CR.
- A data field that is not JSON raises :class:`UpstreamMisbehaved` (Stagecast's own error for
  a model server that breaks the rules) instead of the SDK's ``JSONDecodeError``.
- Whatever this reader does not cover goes to ``ChatOpenAI``'s own streaming: the Responses
  API, a ``response_format`` (``with_structured_output``'s ``json_schema`` method), response
  headers in the metadata, and the LangSmith gateway; and the async methods (``astream``,
  ``ainvoke``), which Stagecast's gevent workers never use.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import openai
import orjson
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import _handle_openai_api_error, _handle_openai_bad_request
from openai._httpx2 import request_exceptions, timeout_exceptions

from .errors import UpstreamMisbehaved
from .lean_stream import lean_stream, prepare

__all__ = ["FastChatOpenAI", "iter_sse_data"]

_BOM = b"\xef\xbb\xbf"
UNREADABLE = "The language model service sent a stream that could not be read."


class FastChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` with the same constructor, whose chat-completions stream skips the SDK's
    decoding (module docstring), and whose ``stream`` hands chunks to LangGraph's ``messages``
    handlers directly when nothing else listens (:mod:`app.agent.lean_stream`)."""

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        call = prepare(self, input, config, stop, kwargs)
        if call is None:
            yield from super().stream(input, config, stop=stop, **kwargs)
            return
        yield from lean_stream(self, call, self._stream(call.model_input, stop=stop, **call.kwargs))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if (
            self._use_responses_api({**kwargs, **self.model_kwargs})
            or self.include_response_headers
            or self._uses_gateway
            or "response_format" in kwargs
        ):
            return super()._stream(messages, stop, run_manager, **kwargs)
        return self._stream_events(messages, stop, run_manager, **kwargs)

    def _stream_events(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The request as ChatOpenAI._stream makes it.
        self._ensure_sync_client_available()
        kwargs["stream"] = True
        stream_usage = self._should_stream_usage(stream_usage, **kwargs)
        if stream_usage:
            kwargs["stream_options"] = {"include_usage": stream_usage}
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        if "response_format" in payload:  # set by the model's own kwargs
            yield from super()._stream(messages, stop, run_manager, stream_usage=stream_usage, **kwargs)
            return
        default_chunk_class: type[BaseMessageChunk] = AIMessageChunk
        try:
            with self.client.with_streaming_response.create(**payload) as response:
                http = response.http_response
                # Per read, not per event: decoded (gzip...) and already-read bodies alike.
                for data in _read_errors_as_the_sdk(iter_sse_data(http.iter_bytes()), http.request):
                    if data.startswith(b"[DONE]"):
                        break
                    try:
                        chunk = orjson.loads(data)
                    except orjson.JSONDecodeError as exc:
                        raise UpstreamMisbehaved(UNREADABLE) from exc
                    if isinstance(chunk, dict) and chunk.get("error"):
                        raise _stream_error(chunk["error"], http.request)
                    generation = self._convert_chunk_to_generation_chunk(chunk, default_chunk_class, {})
                    if generation is None:
                        continue
                    default_chunk_class = generation.message.__class__
                    if run_manager:
                        logprobs = (generation.generation_info or {}).get("logprobs")
                        run_manager.on_llm_new_token(generation.text, chunk=generation, logprobs=logprobs)
                    yield generation
        except openai.BadRequestError as e:
            _handle_openai_bad_request(e)
        except openai.APIError as e:
            _handle_openai_api_error(e)


def _stream_error(error: Any, request: Any) -> openai.APIError:
    """An ``{"error": ...}`` event, raised as the SDK raises it."""
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=request, body=error)


def _read_errors_as_the_sdk(data: Iterator[bytes], request: Any) -> Iterator[bytes]:
    """``data``, with a timeout or a failed read mid-stream raised as the SDK raises them."""
    try:
        yield from data
    except timeout_exceptions() as err:
        raise openai.APITimeoutError(request=request) from err
    except request_exceptions() as err:
        raise openai.APIConnectionError(request=request) from err


def iter_sse_data(body: Iterator[bytes]) -> Iterator[bytes]:
    """The data of each event in an event stream's bytes, as bytes (module docstring)."""
    buffer = b""
    start = True
    for piece in body:
        buffer += piece
        if start:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                continue
            buffer = buffer.removeprefix(_BOM)
            start = False
        if b"\r" in buffer:
            # A CR at the end may be the first half of a CRLF: it waits for the next piece.
            held = buffer.endswith(b"\r")
            buffer = (buffer[:-1] if held else buffer).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                buffer += b"\r"
        buffer = yield from _events(buffer)
    if buffer.endswith(b"\r"):  # the stream ended: a CR held back ends its line after all
        yield from _events(buffer[:-1] + b"\n")
    # What is left has no blank line after it: not an event (the spec; the SDK agrees).


def _events(buffer: bytes) -> Generator[bytes, None, bytes]:
    """Yield the data of each complete event in ``buffer`` (LF line ends); return the rest."""
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return buffer
        block, buffer = buffer[:end], buffer[end + 2 :]
        if block.startswith(b"data: ") and b"\n" not in block:
            yield block[6:]  # the usual event: one data line
            continue
        data = _event_data(block)
        if data is not None:
            yield data


def _event_data(block: bytes) -> bytes | None:
    """The joined ``data`` fields of one event's lines, or None if it has none."""
    lines: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b":"):
            continue  # a comment
        field, _, value = line.partition(b":")
        if field == b"data":
            lines.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(lines) if lines else None
