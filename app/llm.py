"""Chat model factory: an OpenAI-compatible model through langchain-openai, or none (offline).

Each run gets its own ``httpx.Client`` so that cancelling the run can close the in-flight
HTTP stream (DESIGN.md, trap 3): closing the client closes its connections, which wakes a
node blocked on the upstream's next chunk. The TLS context is built once per process.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

import httpx
import openai
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionChunk
from pydantic import BaseModel, ConfigDict, Field

from app.agent.control import RunControl
from app.config import Settings
from app.llm_transport import GuardedTransport


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


class LLMConfig(BaseModel):
    """Per-request model options; bounded by the settings when applied."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, min_length=1, max_length=200)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def make_chat_model(settings: Settings, options: LLMConfig, control: RunControl) -> ChatOpenAI | None:
    """The run's chat model, or None when no OpenAI-compatible endpoint is configured."""
    if not settings.llm_enabled:
        return None
    timeout = httpx.Timeout(settings.llm_timeout_s, connect=10.0)
    transport = GuardedTransport(httpx.HTTPTransport(verify=_tls_context()), settings.llm_max_response_bytes)
    http_client = httpx.Client(transport=transport, timeout=timeout)
    control.add_closer(http_client.close)
    client = ChunkDictOpenAI(
        # A local server (vLLM, llama.cpp, Ollama) needs no key, but the client insists on one.
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url,
        http_client=http_client,
        timeout=timeout,
        max_retries=0,
    )
    return ChatOpenAI(
        model=options.model or settings.llm_model,
        temperature=settings.llm_temperature if options.temperature is None else options.temperature,
        max_tokens=min(options.max_tokens or settings.llm_max_tokens, settings.llm_max_tokens),
        api_key=client.api_key,
        base_url=settings.openai_base_url,
        root_client=client,
        client=client.chat.completions,
        max_retries=0,
        streaming=True,
        stream_usage=True,
    )
