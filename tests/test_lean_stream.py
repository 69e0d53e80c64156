"""app/agent/lean_stream.py and app/agent/answer_parts.py: ``FastChatOpenAI.stream`` with only
LangGraph's ``messages`` handlers listening (every Stagecast run) skips the callback fan-out
and the list of every chunk, and every listener still gets what ``ChatOpenAI.stream`` gives,
against the local OpenAI-format server."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.outputs import ChatGenerationChunk, LLMResult
from langchain_core.outputs.chat_generation import merge_chat_generation_chunks
from langgraph.graph import START, StateGraph
from langgraph.pregel._messages import StreamMessagesHandler

from app.agent import lean_stream
from app.agent.answer_parts import generation_parts, message_parts
from app.agent.graphs.chat.tools import make_tools
from app.knowledge import bundled_knowledge
from tests.support.fake_openai import FakeOpenAI
from tests.test_fast_openai import QUESTION, build

KINDS = ["fast", "stock"]
NODE = {"langgraph_node": "answer", "langgraph_checkpoint_ns": "answer:1"}  # as in a graph's node


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(token_delay_s=0.0) as fake:
        yield fake


def _plain(value: Any) -> Any:
    """A dump without the ids made per call (``lc_run--<uuid>``, ``call_<n>``)."""
    dumped = json.dumps(value, default=str)
    dumped = re.sub(r'"lc_run--[0-9a-f-]+"', '"lc_run"', dumped)
    return json.loads(re.sub(r'"call_\d+"', '"call"', dumped))


class Answer(TypedDict):
    messages: list[Any]


def _graph_streaming(chat: Any) -> Any:
    """A plain graph whose node streams the model and merges its chunks (as graph authors do)."""

    def answer(state: Answer) -> Answer:
        chunks = list(chat.stream(state["messages"]))
        return {"messages": [add_ai_message_chunks(chunks[0], *chunks[1:])]}

    return StateGraph(Answer).add_node("answer", answer).add_edge(START, "answer").compile()


@pytest.fixture
def ended(monkeypatch: pytest.MonkeyPatch) -> list[LLMResult]:
    """Every ``on_llm_end`` result LangGraph's messages handler receives."""
    results: list[LLMResult] = []
    original = StreamMessagesHandler.on_llm_end

    def on_llm_end(self: StreamMessagesHandler, response: LLMResult, **kwargs: Any) -> Any:
        results.append(response)
        return original(self, response, **kwargs)

    monkeypatch.setattr(StreamMessagesHandler, "on_llm_end", on_llm_end)
    return results


@pytest.fixture
def lean_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per stream that took the lean loop."""
    calls: list[int] = []
    original = lean_stream.lean_stream

    def counted(*args: Any) -> Iterator[AIMessageChunk]:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr("app.agent.fast_openai.lean_stream", counted)
    return calls


@pytest.mark.parametrize("model", ["paced", "tools"])
def test_messages_mode_sees_what_chat_openai_gives(
    upstream: FakeOpenAI, model: str, ended: list[LLMResult], lean_calls: list[int]
) -> None:
    seen = []
    for kind in KINDS:
        chat = build(upstream, kind, model)
        if model == "tools":
            chat = chat.bind_tools(make_tools(bundled_knowledge()))  # type: ignore[assignment]
        items = list(
            _graph_streaming(chat).stream({"messages": QUESTION}, stream_mode=["messages", "values"])
        )
        messages = [payload for mode, payload in items if mode == "messages"]
        streamed = [(message.model_dump(), meta["langgraph_node"]) for message, meta in messages]
        answer = [payload for mode, payload in items if mode == "values"][-1]["messages"][-1]
        (result,) = ended[-1].generations
        seen.append(_plain([streamed, answer.model_dump(), [g.model_dump() for g in result]]))
    fast, stock = seen
    assert len(lean_calls) == 1  # the fast model took the lean loop, the stock one did not
    assert len(fast[0]) > 4 and fast == stock


def test_any_other_listener_gets_langchains_own_stream(upstream: FakeOpenAI, lean_calls: list[int]) -> None:
    class Counting(StreamMessagesHandler):  # not LangGraph's own class: it may want more
        pass

    chat = build(upstream, "fast")
    tokens: list[Any] = []
    handler = Counting(tokens.append, subgraphs=True)
    list(chat.stream(QUESTION, config={"callbacks": [handler], "metadata": NODE}))
    assert lean_calls == [] and tokens
    tokens.clear()
    own = StreamMessagesHandler(tokens.append, subgraphs=True)
    list(chat.stream(QUESTION, config={"callbacks": [own], "metadata": NODE}))
    assert lean_calls == [1] and tokens


def test_a_failing_handler_is_logged_and_the_stream_goes_on(
    upstream: FakeOpenAI, lean_calls: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(item: Any) -> None:
        raise ValueError("the sink is closed")

    chat = build(upstream, "fast")
    with caplog.at_level(logging.WARNING):
        handler = StreamMessagesHandler(refuse, subgraphs=True)
        chunks = list(chat.stream(QUESTION, config={"callbacks": [handler], "metadata": NODE}))
    assert lean_calls == [1]
    assert "".join(str(chunk.content) for chunk in chunks) == "".join(upstream.tokens)
    assert "Error in StreamMessagesHandler.on_llm_new_token callback: ValueError" in caplog.text


def _generations(upstream: FakeOpenAI, model: str) -> list[ChatGenerationChunk]:
    """The model's own chunks (its ``_stream``), as ``stream`` receives them."""
    chat = build(upstream, "fast", model)
    tools = chat.bind_tools(make_tools(bundled_knowledge())).kwargs if model == "tools" else {}  # type: ignore[attr-defined]
    generations = list(chat._stream(QUESTION, **tools))
    for generation in generations:
        generation.message.id = generation.message.id or "lc_run--1"
    return generations


@pytest.mark.parametrize("model", ["paced", "tools"])
def test_answer_parts_merge_as_every_chunk_merges(upstream: FakeOpenAI, model: str) -> None:
    generations = _generations(upstream, model)
    parts = generation_parts()
    messages = message_parts()
    for generation in generations:
        message = generation.message
        assert isinstance(message, AIMessageChunk)
        parts.add(generation, message, generation.generation_info)
        messages.add(message, message)
    every = merge_chat_generation_chunks(generations)
    assert every is not None and parts.merged() == every
    whole = [g.message for g in generations]
    assert messages.merged() == add_ai_message_chunks(whole[0], *whole[1:])  # type: ignore[arg-type]


def test_answer_parts_hold_text_not_chunks() -> None:
    head = AIMessageChunk(content="", id="chatcmpl-1", response_metadata={"model_provider": "openai"})
    parts = message_parts()
    parts.add(head, head)
    for index in range(1000):
        text = AIMessageChunk(
            content=f"w{index} ", id="chatcmpl-1", response_metadata={"model_provider": "openai"}
        )
        parts.add(text, text)
    usage = AIMessageChunk(
        content="",
        id="chatcmpl-1",
        usage_metadata={"input_tokens": 1, "output_tokens": 1000, "total_tokens": 1001},
        response_metadata={"model_provider": "openai"},
    )
    parts.add(usage, usage)
    assert len(parts._kept) == 3  # the head, one text chunk for the 1,000, the usage chunk
    merged = parts.merged()
    assert merged is not None
    assert merged.content == "".join(f"w{index} " for index in range(1000))
    assert merged.usage_metadata == usage.usage_metadata
