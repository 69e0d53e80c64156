"""The default chat agent's graph: analyse the question, retrieve, write the answer.

Nodes are synchronous (gevent workers; never asyncio in a worker, DESIGN.md trap 5). The
answer is streamed either by ChatOpenAI (its tokens reach clients through the run's
callbacks, as with LangGraph's ``messages`` stream) or, offline, by the deterministic writer
in pieces sent with ``get_stream_writer()``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import add_ai_message_chunks
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from app.agent.graphs.chat.context import ChatContext
from app.agent.graphs.chat.prompts import SYSTEM_PROMPT
from app.agent.graphs.chat.state import ChatState
from app.knowledge import QueryAnalysis, Retrieval, build_llm_context, compose_answer

STAGE_MESSAGES: dict[str, tuple[str, str]] = {
    "query_analysis": ("Analysing the question", "Question analysed"),
    "data_retrieval": ("Searching stock records and documents", "Records and documents found"),
    "response_generation": ("Writing the answer", "Answer written"),
}

# Words with their trailing space: the offline writer's unit of streaming.
_PIECE = re.compile(r"\S+\s*|\s+")


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
        answer = _write_offline(state["question"], analysis, retrieval, context)
    else:
        answer = _write_with_model(state, analysis, retrieval, context)
    return {"messages": [answer]}


def _write_offline(
    question: str, analysis: QueryAnalysis, retrieval: Retrieval, context: ChatContext
) -> AIMessage:
    message_id = f"msg-{uuid.uuid4().hex}"
    text = compose_answer(question, analysis, retrieval)
    writer = get_stream_writer()
    for piece in _PIECE.findall(text):
        context.control.raise_if_cancelled()
        writer({"type": "token", "content": piece, "message_id": message_id})
        if context.offline_token_delay_s:
            time.sleep(context.offline_token_delay_s)
    return AIMessage(content=text, id=message_id)


def _write_with_model(
    state: ChatState, analysis: QueryAnalysis, retrieval: Retrieval, context: ChatContext
) -> AIMessage:
    assert context.chat_model is not None
    system = SYSTEM_PROMPT.format(
        language="Korean" if analysis.language == "ko" else "English",
        context=build_llm_context(analysis, retrieval),
    )
    if context.custom_prompt:
        system += "\n\n" + context.custom_prompt
    prompt: list[BaseMessage] = [SystemMessage(system), *state.get("messages", [])]
    chunks: list[AIMessageChunk] = []
    # Chunks reach clients through the callbacks as they stream; here they are only gathered,
    # and merged once at the end (adding them one by one copies the answer at every chunk).
    for chunk in context.chat_model.stream(prompt):
        context.control.raise_if_cancelled()
        chunks.append(chunk)
    if not chunks:
        return AIMessage(content="")
    answer = add_ai_message_chunks(chunks[0], *chunks[1:]) if len(chunks) > 1 else chunks[0]
    return AIMessage(content=answer.content, id=answer.id, usage_metadata=answer.usage_metadata)


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
