"""app/agent/inline.py: nodes run in the caller's thread, and every item reaches the callback
as it happens, from any depth. Fails if a LangGraph upgrade moves either hook."""

from __future__ import annotations

import threading
from typing import Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from app.agent.inline import StreamItem, with_inline_stream


class State(TypedDict, total=False):
    text: str


def _graph(threads: list[int], log: list[Any]) -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage("one two")]))

    def inner(state: State) -> State:
        threads.append(threading.get_ident())
        get_stream_writer()({"step": "before the model"})
        for chunk in model.stream("hi"):
            log.append(("chunk", chunk.text))
        get_stream_writer()({"step": "after the model"})
        return {"text": "inner"}

    sub = StateGraph(State)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    sub.add_edge("inner", END)

    def outer(state: State) -> State:
        threads.append(threading.get_ident())
        return {"text": "outer"}

    top = StateGraph(State)
    top.add_node("outer", outer)
    top.add_node("nested", sub.compile())
    top.add_edge(START, "outer")
    top.add_edge("outer", "nested")
    top.add_edge("nested", END)
    return top.compile()


def test_nodes_run_inline_and_items_arrive_in_order_from_every_depth() -> None:
    threads: list[int] = []
    log: list[Any] = []

    def on_item(item: StreamItem) -> None:
        namespace, mode, payload = item
        if mode == "tasks":
            log.append((mode, [s.partition(":")[0] for s in namespace], payload["name"], "result" in payload))
        elif mode == "custom":
            log.append((mode, [s.partition(":")[0] for s in namespace], payload["step"]))
        elif mode == "values" and not namespace:
            log.append((mode, payload.get("text")))

    config = with_inline_stream({"configurable": {}}, on_item)
    yielded = list(_graph(threads, log).stream({"text": ""}, config, stream_mode=[]))

    assert yielded == []  # everything went to on_item
    assert threads == [threading.get_ident()] * 2  # no node ran on LangGraph's thread pool
    assert log == [
        ("values", ""),
        ("tasks", [], "outer", False),
        ("tasks", [], "outer", True),
        ("values", "outer"),
        ("tasks", [], "nested", False),
        ("tasks", ["nested"], "inner", False),
        ("custom", ["nested"], "before the model"),
        ("chunk", "one"),
        ("chunk", " "),
        ("chunk", "two"),
        ("custom", ["nested"], "after the model"),
        ("tasks", ["nested"], "inner", True),
        ("tasks", [], "nested", True),
        ("values", "inner"),
    ]
