"""Chat model factory: an OpenAI-compatible model through langchain-openai, or none (offline).

Each run gets its own ``httpx.Client`` so that cancelling the run can close the in-flight
HTTP stream (docs/architecture.md, trap 3): closing the client closes the connections the
run's requests are on, which wakes a node blocked on the upstream's next chunk. The
connections themselves are the worker's, kept alive between runs
(:class:`~app.agent.model_transport.ConnectionPool`): a run mostly reuses one instead of
opening a TCP connection and a TLS session of its own. The TLS context and that pool are built
once per process, at its first run, and the ChatOpenAI once per distinct model, temperature
and token bound: a run gets a copy of it with its own client.

A model call that fails before its first chunk (429, 5xx, a connect error or timeout) is
retried by :func:`stream_with_retries`, not by the SDK: each retry is shown to the client,
and a call is never retried once a chunk has streamed (it would send the text twice).
"""

from __future__ import annotations

import email.utils
import os
import random
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import httpx
import openai
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessageChunk
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from openai.resources.chat.completions import Completions
from openai.types.chat import ChatCompletionChunk
from pydantic import BaseModel, ConfigDict, Field

from ..config import Settings
from .control import RunControl
from .fast_openai import FastChatOpenAI
from .model_transport import ConnectionPool, GuardedTransport, RunTransport, SharedTransport


class ChunkDictOpenAI(openai.OpenAI):
    """An openai client whose streamed chat-completion chunks stay the dicts they arrive as.

    langchain-openai turns every chunk it is given back into a dict (``chunk.model_dump()``)
    before reading it. Building the SDK's pydantic model in between was a quarter of this
    service's CPU per streamed token (docs/benchmarks.md); errors in the stream are still
    raised by the SDK, before this hook.
    """

    def _process_response_data(self, *, data: object, cast_to: type[Any], response: Any) -> Any:
        if cast_to is ChatCompletionChunk:
            return data
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


class PlainChatCompletions(Completions):
    """openai's chat completions, sending the request body it is given as it is.

    ``create`` runs its arguments through the SDK's type-driven transform (key aliases, date
    and file formats, dropping omitted values), which walks every message against the union
    of message types and every tool schema: ~0.7 ms per model call with the default agent's
    three tools, about a twentieth of a run's CPU. No chat-completions parameter has an alias
    or a format (tests/test_llm.py checks the installed SDK), and langchain-openai's body is
    plain JSON, so it goes as ``extra_body``, which the SDK sends untouched; only ``model``
    and ``stream``, which choose how the answer is read, go through ``create`` itself.
    """

    def create(  # type: ignore[override]  # the few arguments langchain-openai passes
        self,
        *,
        model: str,
        messages: Any,
        stream: Any = openai.NOT_GIVEN,
        extra_headers: Any = None,
        extra_query: Any = None,
        extra_body: dict[str, Any] | None = None,
        timeout: Any = openai.NOT_GIVEN,
        **params: Any,
    ) -> Any:
        body = {"messages": messages, **params, **(extra_body or {})}
        return super().create(
            model=model,
            messages=[],  # replaced by the body's
            stream=stream,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=body,
            timeout=timeout,
        )


class LLMConfig(BaseModel):
    """Per-request model options; bounded by the settings when applied."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, min_length=1, max_length=200)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@lru_cache(maxsize=8)
def shared_transport(base_url: str | None, keep: int, keepalive_s: float) -> SharedTransport:
    """The worker's connections to the model server at ``base_url`` (the key: one pool each).

    Made at the first run that needs it, so in a worker, after the fork and gevent's patch,
    never in gunicorn's master (docs/architecture.md, trap 6); a process forked from one that
    has it starts without it.
    """
    return SharedTransport(ConnectionPool(_tls_context(), keep, keepalive_s))


os.register_at_fork(after_in_child=shared_transport.cache_clear)


def make_chat_model(settings: Settings, options: LLMConfig, control: RunControl) -> ChatOpenAI | None:
    """The run's chat model, or None when no OpenAI-compatible endpoint is configured."""
    if not settings.llm_enabled:
        return None
    timeout = httpx.Timeout(settings.llm_timeout_s, connect=10.0)
    pooled = shared_transport(
        settings.openai_base_url, settings.llm_keepalive_connections, settings.llm_keepalive_s
    )
    transport = GuardedTransport(RunTransport(pooled), settings.llm_max_response_bytes)
    http_client = httpx.Client(transport=transport, timeout=timeout)
    control.add_closer(http_client.close)
    # openai 3 types its client with httpx2, and accepts an httpx client as well at run time.
    client = ChunkDictOpenAI(
        api_key=_api_key(settings),
        base_url=settings.openai_base_url,
        http_client=http_client,  # type: ignore[arg-type]
        timeout=timeout,  # type: ignore[arg-type]
        max_retries=0,
    )
    shared = _shared_chat_model(
        options.model or settings.llm_model,
        settings.llm_temperature if options.temperature is None else options.temperature,
        min(options.max_tokens or settings.llm_max_tokens, settings.llm_max_tokens),
        _api_key(settings),
        settings.openai_base_url,
        FastChatOpenAI if settings.chat_model == "fast" else ChatOpenAI,
    )
    # A shallow copy, not validated again: every field stays the shared model's but the clients
    # (the SDK's timeout and retries are the per-run client's, as above).
    return shared.model_copy(update={"root_client": client, "client": PlainChatCompletions(client)})


def _api_key(settings: Settings) -> str:
    # A local server (vLLM, llama.cpp, Ollama) needs no key, but the client insists on one.
    return settings.openai_api_key or "not-needed"


# Building a ChatOpenAI validates ~80 fields and builds a sync and an async SDK client: ~0.9 ms,
# most of the model's share of a run's fixed cost. Keyed by every value it is built from; the
# bound only caps memory if requests ask for many temperatures or models.
@lru_cache(maxsize=32)
def _shared_chat_model(
    model: str,
    temperature: float,
    max_tokens: int,
    api_key: str,
    base_url: str | None,
    kind: type[ChatOpenAI] = ChatOpenAI,
) -> ChatOpenAI:
    """The ChatOpenAI (``kind``) of these options; its clients are placeholders that runs replace."""
    return kind(
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        streaming=True,
        stream_usage=True,
    )


# (attempt number from 1, seconds before it, the failure) -> None; e.g. a progress message.
OnRetry = Callable[[int, float, Exception], None]


def stream_with_retries(
    model: Runnable[LanguageModelInput, BaseMessageChunk],
    prompt: Sequence[Any],
    settings: Settings,
    control: RunControl,
    on_retry: OnRetry,
) -> Iterator[BaseMessageChunk]:
    """``model.stream(prompt)``, retried up to ``llm_max_retries`` times until its first chunk.

    Waits back off exponentially with jitter, or follow the server's ``Retry-After``; a
    cancel ends a wait at once.
    """
    attempt = 0
    while True:
        chunks = model.stream(prompt)
        try:
            first = next(chunks)
        except StopIteration:
            return
        except Exception as exc:
            delay = _retry_delay(exc, attempt, settings)
            if delay is None:
                raise
            attempt += 1
            control.metrics.upstream_retry()
            on_retry(attempt, delay, exc)
            control.sleep(delay)
            continue
        yield first
        yield from chunks
        return


def describe_failure(exc: Exception) -> str:
    """A client-safe few words on why a model call failed (no exception text: it may leak)."""
    if isinstance(exc, openai.APIStatusError):
        return f"status {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    return "connection failed"


def _retry_delay(exc: Exception, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before retrying after ``exc``, or None: not retryable, or no retries left."""
    if attempt >= settings.llm_max_retries:
        return None
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code != 429 and exc.status_code < 500:
            return None
        asked = _retry_after(exc.response.headers)  # type: ignore[arg-type]  # httpx2's Headers
        if asked is not None:
            return asked if asked <= settings.llm_retry_max_wait_s else None
    elif not isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return None  # includes APITimeoutError: a connect or read timeout
    backoff = min(settings.llm_retry_backoff_s * 2**attempt, settings.llm_retry_max_wait_s)
    return backoff * random.uniform(0.5, 1.0)  # "equal jitter": spread retries of many runs


def _retry_after(headers: httpx.Headers) -> float | None:
    """The server's wish, from ``retry-after-ms`` (OpenAI's) or ``Retry-After`` (seconds or a date)."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        if value.strip().isdigit():
            return float(value)
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None
