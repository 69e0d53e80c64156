"""Small graphs served in tests through STAGECAST_GRAPHS, each exercising one mapping."""

from __future__ import annotations

import time
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.config import get_config, get_store, get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    question: str


def _chain(name: str, *nodes: tuple[str, Any]) -> Any:
    """A graph running ``nodes`` (name, function or compiled subgraph) one after the other."""
    builder = StateGraph(State)
    previous = START
    for node_name, node in nodes:
        builder.add_node(node_name, node)
        builder.add_edge(previous, node_name)
        previous = node_name
    builder.add_edge(previous, END)
    return builder.compile(name=name)


def _single(name: str, node: Any) -> Any:
    return _chain(name, (name, node))


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


def _remember(state: State) -> dict[str, Any]:
    """Keeps the question in the long-term store (``get_store()``) and says what was there."""
    store = get_store()
    before = store.get(("memories",), "last")
    store.put(("memories",), "last", {"text": state["question"]})
    return {"messages": [AIMessage(f"before: {before.value['text'] if before else None}")]}


slow = _single("slow", _slow)
remember = _single("remember", _remember)
tools = _single("tools", _tools)
failing = _single("failing", _failing)
echo_config = _single("echo_config", _echo_config)


# --- human approval: interrupt() and resume ---


def _draft(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage(f"Draft for {state['question']}.", id="msg-draft")]}


def _approve(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "Ship the draft?", "options": ["yes", "no"]})
    return {"messages": [AIMessage(f"Answer was {answer!r}.")]}


def _ask(topic: str) -> Any:
    def node(state: State) -> dict[str, Any]:
        return {"messages": [AIMessage(f"{topic}: {interrupt(f'Approve {topic}?')}")]}

    return node


def _two_questions() -> Any:
    """Two branches in one step, each asking: a resume answers them by interrupt id."""
    builder = StateGraph(State)
    builder.add_node("budget", _ask("budget"))
    builder.add_node("safety", _ask("safety"))
    builder.add_edge(START, "budget")
    builder.add_edge(START, "safety")
    builder.add_edge("budget", END)
    builder.add_edge("safety", END)
    return builder.compile(name="two_questions")


approval = _chain("approval", ("draft", _draft), ("approve", _approve))
two_questions = _two_questions()


# --- a graph built from a compiled subgraph ---


def _search(state: State) -> dict[str, Any]:
    get_stream_writer()({"message": f"searching for {state['question']}"})
    return {}


def _summarize(state: State) -> dict[str, Any]:
    model = GenericFakeChatModel(messages=iter([AIMessage("Summary of the findings.")]))
    return {"messages": [model.invoke(state["messages"])]}


research = _chain("research", ("search", _search), ("summarize", _summarize))
nested = _chain("nested", ("plan", lambda state: {}), ("research", research), ("review", _approve))
# The question is asked inside the subgraph: the pause and the resume go through its parent.
inner_question = _chain(
    "inner_question", ("prepare", lambda state: {}), ("vetting", _chain("vetting", ("ask", _approve)))
)
