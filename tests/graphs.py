"""Small graphs served in tests through STAGECAST_GRAPHS, each exercising one mapping."""

from __future__ import annotations

import time
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.config import get_config, get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    question: str


def _single(name: str, node: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder.compile(name=name)


def _slow(state: State) -> dict[str, Any]:
    """Blocks (cooperatively) for the seconds given as the question, then answers."""
    seconds = float(state["question"])
    get_stream_writer()({"type": "progress", "message": f"sleeping {seconds}s"})
    time.sleep(seconds)
    return {"messages": [AIMessage(f"slept {seconds}s")]}


def _tools(state: State) -> dict[str, Any]:
    call = {"name": "stock_lookup", "args": {"part": "ABC-12345"}, "id": "call-1"}
    return {
        "messages": [
            AIMessage("", tool_calls=[call]),
            ToolMessage("1234", tool_call_id="call-1", name="stock_lookup"),
            AIMessage("There are 1234 in stock."),
        ]
    }


def _failing(state: State) -> dict[str, Any]:
    raise RuntimeError("secret database password is hunter2")


def _echo_config(state: State) -> dict[str, Any]:
    configurable = get_config()["configurable"]
    return {"messages": [AIMessage(f"user={configurable.get('user_id')}")]}


slow = _single("slow", _slow)
tools = _single("tools", _tools)
failing = _single("failing", _failing)
echo_config = _single("echo_config", _echo_config)
