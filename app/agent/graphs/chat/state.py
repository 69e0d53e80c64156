"""State of the default chat agent."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation, checkpointed per thread; the new question is the last human message."""

    question: str
    """The question of this run, as the user wrote it."""

    analysis: dict[str, Any]
    """Intent, language, part numbers, warehouses and period found by query_analysis."""

    sources: list[dict[str, Any]]
    """Database records and ranked documents found by data_retrieval (the ``sources`` event)."""

    confidence_score: float
    """How well retrieval matched the question, 0..1."""

    table_data: dict[str, Any] | None
    """Rows for a table, e.g. stock by warehouse, when the question calls for one."""

    chart_data: dict[str, Any] | None
    """A series for a chart, e.g. monthly usage, when the question calls for one."""

    facts: dict[str, Any]
    """Structured figures the answer is written from."""
