"""app/agent/fast_openai.py: a drop-in ChatOpenAI, against the local OpenAI-format server.

Each behaviour is checked on both chat models the factory builds (``STAGECAST_CHAT_MODEL``
``fast`` and ``stock``), and the fast model's chunks are compared with the stock one's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypedDict

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_openai import ChatOpenAI
from langgraph.graph import START, StateGraph
from pydantic import BaseModel

from app.agent.chat_model import LLMConfig, make_chat_model, stream_with_retries
from app.agent.control import RunControl
from app.agent.errors import classify
from app.agent.fast_openai import FastChatOpenAI, iter_sse_data
from app.agent.graphs.chat.tools import make_tools
from app.config import Settings, load_settings
from app.knowledge import bundled_knowledge
from tests.support.fake_openai import FakeOpenAI

KINDS = ["fast", "stock"]
QUESTION = [HumanMessage("ABC-12345 부품의 재고는?")]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(token_delay_s=0.0) as fake:
        yield fake


def settings_for(upstream: FakeOpenAI, kind: str, **more: object) -> Settings:
    return load_settings(
        {"openai_base_url": upstream.base_url, "chat_model": kind, "llm_retry_backoff_s": 0.01, **more}
    )


def build(upstream: FakeOpenAI, kind: str, model: str = "paced") -> ChatOpenAI:
    built = make_chat_model(settings_for(upstream, kind), LLMConfig(model=model), RunControl())
    assert built is not None
    assert type(built) is (FastChatOpenAI if kind == "fast" else ChatOpenAI)
    return built


def comparable(chunks: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """The chunks without their ids (LangChain makes one per call, ``lc_run--<uuid>``, and the
    local server one per request, ``call_<n>``)."""
    assert all(chunk.id and chunk.id.startswith("lc_run--") for chunk in chunks)
    dumped = json.dumps([chunk.model_dump(exclude={"id"}) for chunk in chunks])
    return list(json.loads(re.sub(r'"call_\d+"', '"call"', dumped)))


def merged(chunks: Sequence[BaseMessage]) -> AIMessageChunk:
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    return add_ai_message_chunks(*chunks)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_streams_text_and_usage(upstream: FakeOpenAI, kind: str) -> None:
    chunks = list(build(upstream, kind).stream(QUESTION))
    assert [chunk.content for chunk in chunks] == [*upstream.tokens, "", "", ""]
    answer = merged(chunks)
    assert answer.content == "".join(upstream.tokens)
    assert answer.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": len(upstream.tokens),
        "total_tokens": 10 + len(upstream.tokens),
        "input_token_details": {},
        "output_token_details": {},
    }
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.response_metadata["model_name"] == "fake"  # as the server names it
    assert upstream.requests[-1]["stream_options"] == {"include_usage": True}


def test_the_fast_models_chunks_are_chat_openais(upstream: FakeOpenAI) -> None:
    for model, tools in (("paced", False), ("tools", True)):
        streamed = []
        for kind in KINDS:
            chat = build(upstream, kind, model)
            runnable = chat.bind_tools(make_tools(bundled_knowledge())) if tools else chat
            streamed.append(comparable(list(runnable.stream(QUESTION))))
        fast, stock = streamed
        assert fast == stock and len(fast) > 3


@pytest.mark.parametrize("kind", KINDS)
def test_tool_call_deltas_merge_into_one_call(upstream: FakeOpenAI, kind: str) -> None:
    with_tools = build(upstream, kind, "tools").bind_tools(make_tools(bundled_knowledge()))
    chunks = list(with_tools.stream(QUESTION))
    pieces = [chunk.tool_call_chunks for chunk in chunks if chunk.tool_call_chunks]  # type: ignore[attr-defined]
    assert len(pieces) > 3  # the arguments arrived in several deltas
    answer = merged(chunks)
    call_id = f"call_{len(upstream.requests)}"
    assert answer.tool_calls == [
        {"name": "stock_lookup", "args": {"part_number": "ABC-12345"}, "id": call_id, "type": "tool_call"}
    ]
    assert answer.response_metadata["finish_reason"] == "tool_calls"
    sent = upstream.requests[-1]
    assert {tool["function"]["name"] for tool in sent["tools"]} == {
        "stock_lookup",
        "usage_history",
        "document_search",
    }


class stock_lookup(BaseModel):
    """Look up a part's stock (the tool the local server's ``tools`` model calls)."""

    part_number: str


@pytest.mark.parametrize("kind", KINDS)
def test_with_structured_output(upstream: FakeOpenAI, kind: str) -> None:
    structured = build(upstream, kind, "tools").with_structured_output(
        stock_lookup, method="function_calling"
    )
    assert structured.invoke(QUESTION) == stock_lookup(part_number="ABC-12345")
    assert upstream.requests[-1]["tool_choice"]["function"]["name"] == "stock_lookup"
    assert upstream.requests[-1]["stream"] is True  # the factory's models stream, invoke too


@pytest.mark.parametrize("kind", KINDS)
def test_retries_before_the_first_token(upstream: FakeOpenAI, kind: str) -> None:
    before = len(upstream.requests)
    upstream.fail_next(503, times=2)
    retries: list[tuple[int, str]] = []
    settings = settings_for(upstream, kind)
    chunks = list(
        stream_with_retries(
            build(upstream, kind),
            QUESTION,
            settings,
            RunControl(),
            lambda attempt, delay, exc: retries.append((attempt, type(exc).__name__)),
        )
    )
    assert len(upstream.requests) - before == 3
    assert retries == [(1, "OpenAIAPIError"), (2, "OpenAIAPIError")]  # ChatOpenAI's 5xx error
    assert merged(chunks).content == "".join(upstream.tokens)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("model", "error", "code"),
    [
        ("status-429", "OpenAIRateLimitError", "RateLimited"),
        ("status-401", "OpenAIAuthenticationError", "UpstreamError"),
        ("status-500", "OpenAIAPIError", "UpstreamError"),
        ("broken", "OpenAIConnectionError", "UpstreamError"),
        ("html", "UpstreamMisbehaved", "UpstreamError"),
    ],
)
def test_upstream_errors_are_raised_and_mapped_as_today(
    upstream: FakeOpenAI, kind: str, model: str, error: str, code: str
) -> None:
    with pytest.raises(Exception) as raised:
        list(build(upstream, kind, model).stream(QUESTION))
    assert type(raised.value).__name__ == error
    assert classify(raised.value, RunControl()).code == code


def test_an_unreadable_stream_is_mapped_as_today(upstream: FakeOpenAI) -> None:
    failures = []
    for kind in KINDS:
        with pytest.raises(Exception) as raised:
            list(build(upstream, kind, "garbage").stream(QUESTION))
        failures.append(classify(raised.value, RunControl()))
    fast, stock = failures
    assert fast == stock and stock.code == "UpstreamError" and "could not be read" in stock.message


def _error_event_client(kind: type[ChatOpenAI]) -> ChatOpenAI:
    body = (
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
        b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    )

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    http_client = httpx.Client(transport=httpx.MockTransport(reply))
    return kind(model="m", api_key="k", base_url="http://upstream/v1", http_client=http_client, max_retries=0)


def test_an_error_event_mid_stream_raises_as_the_sdk_does() -> None:
    outcomes = []
    for kind in (FastChatOpenAI, ChatOpenAI):
        contents: list[object] = []
        with pytest.raises(openai.APIError) as raised:
            for chunk in _error_event_client(kind).stream(QUESTION):
                contents.append(chunk.content)
        outcomes.append((contents, type(raised.value), raised.value.message, raised.value.body))
    fast, stock = outcomes
    assert (
        fast
        == stock
        == (["hi"], openai.APIError, "overloaded", {"message": "overloaded", "type": "server_error"})
    )


class Answer(TypedDict):
    messages: list[Any]


@pytest.mark.parametrize("kind", KINDS)
def test_langgraph_messages_mode_from_a_plain_graph(upstream: FakeOpenAI, kind: str) -> None:
    """Outside Stagecast: a graph whose node calls ``invoke``, streamed in ``messages`` mode."""
    chat = build(upstream, kind)

    def answer(state: Answer) -> Answer:
        return {"messages": [chat.invoke(state["messages"])]}

    graph = StateGraph(Answer).add_node("answer", answer).add_edge(START, "answer").compile()
    items = list(graph.stream({"messages": QUESTION}, stream_mode="messages"))
    texts = [message.content for message, metadata in items if message.content]
    assert texts == upstream.tokens
    assert {metadata["langgraph_node"] for _, metadata in items} == {"answer"}
    assert all(isinstance(message, AIMessageChunk) for message, _ in items)


# --- the event-stream reader, byte-exact ---


@pytest.mark.parametrize(
    ("pieces", "data"),
    [
        ([b"data: a\n\ndata: b\n\n"], [b"a", b"b"]),
        ([b"data: a\r\n\r\ndata: b\r\rdata:c\n\n"], [b"a", b"b", b"c"]),  # CRLF, CR, no space
        ([b"data: a\r", b"\n\r\n", b"data: b\r", b"\r"], [b"a", b"b"]),  # a CRLF split between reads
        ([b"da", b'ta: {"x"', b": 1}\n", b"\n"], [b'{"x": 1}']),
        ([b": ping\n\nevent: x\nid: 7\ndata: a\ndata:  b\nretry: 5\n\n"], [b"a\n b"]),  # comment, fields
        ([b"\xef\xbb", b"\xbfdata: a\n\n"], [b"a"]),  # a byte order mark first
        ([b"data: a\n\ndata: b"], [b"a"]),  # no blank line after the last: not an event
        ([b"event: only\n\n", b"data\n\n"], [b""]),  # an event without data; a field without value
    ],
)
def test_event_stream_data(pieces: list[bytes], data: list[bytes]) -> None:
    assert list(iter_sse_data(iter(pieces))) == data


def test_the_request_body_is_chat_openais(upstream: FakeOpenAI) -> None:
    bodies = []
    for kind in KINDS:
        list(build(upstream, kind, "tools").bind_tools(make_tools(bundled_knowledge())).stream(QUESTION))
        bodies.append(json.dumps(upstream.requests[-1], sort_keys=True))
    assert bodies[0] == bodies[1]
