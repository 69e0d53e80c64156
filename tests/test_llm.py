"""app/agent/chat_model.py: the chat model factory, and its openai client that keeps streamed
chunks as dicts."""

from __future__ import annotations

import json
import typing

import httpx
import openai
import pytest
import typing_extensions
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI
from openai._utils._transform import PropertyInfo
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

from app.agent.chat_model import ChunkDictOpenAI, LLMConfig, PlainChatCompletions, make_chat_model
from app.agent.control import RunControl
from app.agent.graphs.chat.tools import make_tools
from app.config import load_settings
from app.knowledge import bundled_knowledge

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


def test_plain_chat_completions_send_the_body_the_sdk_would() -> None:
    bodies: list[object] = []

    def reply(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, content=_SSE, headers={"content-type": "text/event-stream"})

    client = ChunkDictOpenAI(
        api_key="k",
        base_url="http://upstream/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(reply)),
    )
    model = ChatOpenAI(
        model="m",
        temperature=0.3,
        max_tokens=50,
        api_key="k",
        base_url="http://upstream/v1",
        root_client=client,
        client=client.chat.completions,
        streaming=True,
        stream_usage=True,
        extra_body={"top_k": 5},
    )
    call = {"id": "c1", "name": "stock_lookup", "args": {"part_number": "ABC-12345"}}
    history = [
        SystemMessage("s"),
        HumanMessage("q"),
        AIMessage("", tool_calls=[call]),
        ToolMessage('{"total": 3}', tool_call_id="c1"),
        HumanMessage(content=[{"type": "text", "text": "and usage?"}]),
    ]
    tools = make_tools(bundled_knowledge())
    for completions in (client.chat.completions, PlainChatCompletions(client)):
        with_tools = model.model_copy(update={"client": completions}).bind_tools(tools, tool_choice="auto")
        assert [chunk.content for chunk in with_tools.stream(history)] == ["hi", ""]
    sdk, plain = bodies
    assert plain == sdk
    assert (
        isinstance(sdk, dict) and sdk["top_k"] == 5 and len(sdk["tools"]) == 3 and len(sdk["messages"]) == 5
    )


def test_no_chat_completions_parameter_is_renamed_or_formatted_by_the_sdk() -> None:
    # PlainChatCompletions skips the SDK's transform: right only while it would change nothing.
    seen: set[object] = set()
    transformed: list[str] = []

    def walk(annotation: object, where: str) -> None:
        if annotation in seen:
            return
        seen.add(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            for info in typing.get_args(annotation)[1:]:
                if isinstance(info, PropertyInfo) and (info.alias or info.format):
                    transformed.append(where)
        if typing_extensions.is_typeddict(annotation):
            hints = typing.get_type_hints(annotation, include_extras=True)
            for key, hint in hints.items():
                walk(hint, f"{where}.{key}")
            return
        for arg in typing.get_args(annotation):
            walk(arg, where)

    walk(CompletionCreateParamsStreaming, "params")
    assert len(seen) > 100  # the walk reached the message and tool types
    assert transformed == []
