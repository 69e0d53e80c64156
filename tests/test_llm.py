"""app/llm.py: the chat model factory and its openai client that keeps streamed chunks as dicts."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from app.agent.control import RunControl
from app.config import load_settings
from app.llm import ChunkDictOpenAI, LLMConfig, make_chat_model

_SSE = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
    b"data: [DONE]\n\n"
)


def test_streamed_chunks_stay_dicts_and_errors_still_raise() -> None:
    # Fails loudly if an openai upgrade stops routing streamed chunks through the hook.
    def reply(request: httpx.Request) -> httpx.Response:
        body = b'data: {"error": {"message": "overloaded"}}\n\n' if b"fail" in request.content else _SSE
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    http_client = httpx.Client(transport=httpx.MockTransport(reply))
    client = ChunkDictOpenAI(api_key="k", base_url="http://upstream/v1", http_client=http_client)

    def ask(text: str) -> list[object]:
        messages = [{"role": "user", "content": text}]
        return list(client.chat.completions.create(model="m", messages=messages, stream=True))

    assert ask("x") == [json.loads(_SSE.split(b"\n\n")[0][len(b"data: ") :])]
    with pytest.raises(openai.APIError, match="overloaded"):
        ask("fail")


def test_offline_without_endpoint_and_bounded_options() -> None:
    assert (
        make_chat_model(
            load_settings({"openai_api_key": None, "openai_base_url": None}), LLMConfig(), RunControl()
        )
        is None
    )
    settings = load_settings({"openai_base_url": "http://127.0.0.1:9/v1", "llm_max_tokens": 100})
    model = make_chat_model(settings, LLMConfig(model="m", temperature=1.5, max_tokens=10_000), RunControl())
    assert model is not None
    assert (model.model_name, model.temperature, model.max_tokens) == ("m", 1.5, 100)


def test_cancel_closes_the_runs_http_client() -> None:
    control = RunControl()
    model = make_chat_model(load_settings({"openai_base_url": "http://127.0.0.1:9/v1"}), LLMConfig(), control)
    assert model is not None
    http_client = model.client._client._client  # the httpx.Client given to the SDK
    assert not http_client.is_closed
    control.cancel("cancelled")
    assert http_client.is_closed


def test_runs_share_the_built_model_but_each_has_its_own_client_and_options() -> None:
    settings = load_settings({"openai_base_url": "http://127.0.0.1:9/v1", "llm_max_tokens": 100})
    first, second = RunControl(), RunControl()
    a = make_chat_model(settings, LLMConfig(model="m1", temperature=0.1), first)
    b = make_chat_model(settings, LLMConfig(model="m1", temperature=0.1), second)
    other = make_chat_model(settings, LLMConfig(model="m2", temperature=1.5, max_tokens=5), second)
    elsewhere = make_chat_model(
        load_settings({"openai_base_url": "http://127.0.0.1:8/v1", "openai_api_key": "k2"}),
        LLMConfig(model="m1", temperature=0.1),
        second,
    )
    assert a is not None and b is not None and other is not None and elsewhere is not None
    # Built once per distinct options (the async client is only ever built with the model).
    assert a.root_async_client is b.root_async_client
    assert other.root_async_client is not a.root_async_client
    assert elsewhere.root_async_client is not a.root_async_client

    def sent(model: ChatOpenAI) -> tuple[object, ...]:
        payload = model._get_request_payload([HumanMessage("x")])
        client = model.root_client
        return (
            payload["model"],
            payload["temperature"],
            payload["max_completion_tokens"],
            str(client.base_url),
            client.api_key,
        )

    assert sent(a) == sent(b) == ("m1", 0.1, 100, "http://127.0.0.1:9/v1/", "not-needed")
    assert sent(other) == ("m2", 1.5, 5, "http://127.0.0.1:9/v1/", "not-needed")
    assert sent(elsewhere) == ("m1", 0.1, 1024, "http://127.0.0.1:8/v1/", "k2")
    # Each run's requests go through its own HTTP client, closed by its own cancel only.
    clients = [model.client._client._client for model in (a, b, other)]
    assert a.client._client is a.root_client and len({id(c) for c in clients}) == 3
    first.cancel("cancelled")
    assert [c.is_closed for c in clients] == [True, False, False]
