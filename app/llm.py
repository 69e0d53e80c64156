"""Chat model factory: an OpenAI-compatible model through langchain-openai, or none (offline).

Each run gets its own ``httpx.Client`` so that cancelling the run can close the in-flight
HTTP stream (DESIGN.md, trap 3): closing the client closes its connections, which wakes a
node blocked on the upstream's next chunk. The TLS context is built once per process.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx
import openai._models
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, ConfigDict, Field

from app.agent.control import RunControl
from app.config import Settings


class _FastConfigCheck(type):
    """``isinstance(config, _ConfigProtocol)`` without typing's runtime-protocol machinery.

    openai's ``BaseModel.construct`` runs that check for every model it builds, several per
    streamed chunk; on Python 3.11 a runtime-checkable Protocol check walks
    ``inspect.getattr_static`` and was a quarter of this service's CPU per token
    (docs/benchmarks.md). Same answer: pydantic v2 configs are dicts (no such attribute),
    pydantic v1 config classes have it.
    """

    def __instancecheck__(cls, obj: object) -> bool:
        return not isinstance(obj, dict) and hasattr(obj, "allow_population_by_field_name")


class _ConfigProtocol(metaclass=_FastConfigCheck):
    pass


if getattr(openai._models, "_ConfigProtocol", None) is not None:
    openai._models._ConfigProtocol = _ConfigProtocol  # type: ignore[misc,assignment]


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
    http_client = httpx.Client(
        verify=_tls_context(), timeout=httpx.Timeout(settings.llm_timeout_s, connect=10.0)
    )
    control.add_closer(http_client.close)
    return ChatOpenAI(
        model=options.model or settings.llm_model,
        temperature=settings.llm_temperature if options.temperature is None else options.temperature,
        max_tokens=min(options.max_tokens or settings.llm_max_tokens, settings.llm_max_tokens),
        # A local server (vLLM, llama.cpp, Ollama) needs no key, but the client insists on one.
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url,
        http_client=http_client,
        max_retries=0,
        streaming=True,
        stream_usage=True,
    )
