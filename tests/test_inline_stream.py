"""app/agent/inline.py: nodes run in the caller's thread, and every item reaches the callback
as it happens, from any depth. Fails if a LangGraph upgrade moves either hook."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import _executor

from app.agent import executor
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


GREENLETS_DURING_A_NODE = """
from gevent import monkey

monkey.patch_all()
import gc
import greenlet
from typing import TypedDict
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from app.agent import executor
from app.agent.inline import with_inline_stream

assert executor.install()

class State(TypedDict):
    n: int

def live_greenlets() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)

seen = []

def step(state: State) -> State:
    seen.append(live_greenlets())
    return {"n": state["n"] + 1}

builder = StateGraph(State)
builder.add_node("one", step)
builder.add_node("two", step)
builder.add_edge(START, "one")
builder.add_edge("one", "two")
builder.add_edge("two", END)
graph = builder.compile(checkpointer=InMemorySaver())
config = with_inline_stream({"configurable": {"thread_id": "t"}}, lambda item: None)
list(graph.stream({"n": 0}, config, stream_mode=[], durability="sync"))
print(seen, graph.get_state({"configurable": {"thread_id": "t"}}).values["n"])
"""


def test_a_running_graph_holds_no_greenlet_besides_its_own_in_a_gevent_worker() -> None:
    # The main greenlet and gevent's hub, nothing parked for the run's checkpoint writes;
    # and the writes happened: the state is checkpointed after both steps.
    done = subprocess.run(
        [sys.executable, "-c", GREENLETS_DURING_A_NODE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[2,", "2]", "2"]


def test_without_gevent_langgraph_keeps_its_thread_pool() -> None:
    # A sync worker reads the same gunicorn.conf.py: its threads are real threads.
    before = _executor.get_executor_for_config
    assert executor.install() is False
    assert _executor.get_executor_for_config is before
