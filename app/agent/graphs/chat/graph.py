"""The default chat agent's graph: analyse the question, retrieve, write the answer.

Nodes are synchronous (gevent workers; never asyncio in a worker, docs/architecture.md, trap 5). The
answer is streamed either by ChatOpenAI (its tokens reach clients through the run's
callbacks, as with LangGraph's ``messages`` stream) or, offline, by the deterministic writer
in pieces sent with ``get_stream_writer()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from ....knowledge import QueryAnalysis, Retrieval, build_llm_context, compose_answer
from ...answer_parts import message_parts
from ...chat_model import describe_failure, stream_with_retries
from ..streaming import stream_text
from .context import ChatContext
from .prompts import SYSTEM_PROMPT
from .state import ChatState
from .tools import knowledge_tools

DESCRIPTION = (
    "Answers questions about the parts inventory (stock, usage, parts, documents) from the "
    "bundled database and documents; with a model configured, the model may call them as tools."
)

STAGE_MESSAGES: dict[str, tuple[str, str]] = {
    "query_analysis": ("Analysing the question", "Question analysed"),
    "data_retrieval": ("Searching stock records and documents", "Records and documents found"),
    "response_generation": ("Writing the answer", "Answer written"),
}


def query_analysis(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    knowledge = runtime.context.knowledge
    analysis = knowledge.analyze(state["question"])
    if not analysis.part_numbers:
        # A follow-up ("그 부품의 사용량은?", "and its usage?") refers to the parts of earlier turns.
        analysis.part_numbers = _parts_from_history(knowledge, state.get("messages", [])[:-1])
    return {"analysis": analysis.model_dump()}


def data_retrieval(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    analysis = QueryAnalysis.model_validate(state["analysis"])
    writer = get_stream_writer()
    target = ", ".join(analysis.part_numbers) or "the documents"
    writer({"type": "progress", "message": f"Looking up {target} ({analysis.intent})"})
    retrieval = runtime.context.knowledge.retrieve(analysis, state["question"])
    writer(
        {
            "type": "progress",
            "message": f"Found {len(retrieval.sources)} sources "
            f"(confidence {retrieval.confidence_score:.2f})",
        }
    )
    return {
        "sources": [source.model_dump() for source in retrieval.sources],
        "confidence_score": retrieval.confidence_score,
        "table_data": retrieval.table_data.model_dump() if retrieval.table_data else None,
        "chart_data": retrieval.chart_data.model_dump() if retrieval.chart_data else None,
        "facts": retrieval.model_dump(include={"facts", "found_parts", "missing_parts"}),
    }


def response_generation(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    context = runtime.context
    analysis = QueryAnalysis.model_validate(state["analysis"])
    retrieval = Retrieval.model_validate(
        {
            **state["facts"],
            "sources": state["sources"],
            "confidence_score": state["confidence_score"],
            "table_data": state.get("table_data"),
            "chart_data": state.get("chart_data"),
        }
    )
    if context.chat_model is None:
        text = compose_answer(state["question"], analysis, retrieval)
        return {"messages": [stream_text(text, context.control, context.offline_token_delay_s)]}
    return {"messages": _write_with_model(state, analysis, retrieval, context)}


def _write_with_model(
    state: ChatState, analysis: QueryAnalysis, retrieval: Retrieval, context: ChatContext
) -> list[BaseMessage]:
    """The model's answer, after as many rounds of tool calls as it asks for (up to the limit)."""
    assert context.chat_model is not None
    settings = context.settings
    system = SYSTEM_PROMPT.format(
        language="Korean" if analysis.language == "ko" else "English",
        context=build_llm_context(analysis, retrieval),
    )
    if context.custom_prompt:
        system += "\n\n" + context.custom_prompt
    prompt: list[BaseMessage] = [SystemMessage(system), *state.get("messages", [])]
    tools = knowledge_tools(context.knowledge)
    with_tools = context.chat_model.bind_tools(list(tools.values()))
    produced: list[BaseMessage] = []
    for round_ in range(settings.llm_max_tool_rounds + 1):
        # The last round has no tools: the model must answer with what it has.
        model = with_tools if round_ < settings.llm_max_tool_rounds else context.chat_model
        answer = _stream_answer(model, [*prompt, *produced], context)
        produced.append(answer)
        if not answer.tool_calls:
            break
        produced += [_call_tool(tools, call, context) for call in answer.tool_calls]
    return produced


def _stream_answer(model: Runnable[Any, Any], prompt: list[BaseMessage], context: ChatContext) -> AIMessage:
    writer = get_stream_writer()

    def on_retry(attempt: int, delay: float, failure: Exception) -> None:
        writer(
            {
                "type": "progress",
                "message": f"The model service failed ({describe_failure(failure)}); retrying in "
                f"{delay:.1f} s (retry {attempt} of {context.settings.llm_max_retries})",
            }
        )

    # Chunks reach clients through the callbacks as they stream; here only what the answer's
    # merge needs is kept (a chunk that adds only text, as its text: app/agent/answer_parts.py).
    parts = message_parts()
    for chunk in stream_with_retries(model, prompt, context.settings, context.control, on_retry):
        context.control.raise_if_cancelled()
        message = cast(AIMessageChunk, chunk)  # a chat model streams AI message chunks
        parts.add(message, message)
    answer = parts.merged()
    if answer is None:
        return AIMessage(content="")
    return AIMessage(
        content=answer.content,
        id=answer.id,
        tool_calls=answer.tool_calls,
        usage_metadata=answer.usage_metadata,
        response_metadata=answer.response_metadata,
    )


def _call_tool(tools: Mapping[str, BaseTool], call: ToolCall, context: ChatContext) -> ToolMessage:
    """Run one tool call, reporting it as it starts and ends (``tool_call`` events)."""
    context.control.raise_if_cancelled()
    writer = get_stream_writer()
    report = {"type": "tool_call", "id": call["id"], "name": call["name"], "args": call["args"]}
    writer({**report, "status": "started"})
    tool = tools.get(call["name"])
    if tool is None:
        result = ToolMessage(f"There is no tool {call['name']}.", tool_call_id=call["id"], status="error")
    else:
        result = tool.invoke(call)
    writer(
        {**report, "status": "failed" if result.status == "error" else "completed", "result": result.content}
    )
    return result


def _parts_from_history(knowledge: Any, messages: list[AnyMessage]) -> list[str]:
    for message in reversed(messages):
        if isinstance(message, HumanMessage | AIMessage) and isinstance(message.content, str):
            parts = knowledge.analyze(message.content).part_numbers
            if parts:
                return parts
    return []


builder = StateGraph(ChatState, context_schema=ChatContext)
builder.add_node("query_analysis", query_analysis)
builder.add_node("data_retrieval", data_retrieval)
builder.add_node("response_generation", response_generation)
builder.add_edge(START, "query_analysis")
builder.add_edge("query_analysis", "data_retrieval")
builder.add_edge("data_retrieval", "response_generation")
builder.add_edge("response_generation", END)

graph = builder.compile(name="chat")
