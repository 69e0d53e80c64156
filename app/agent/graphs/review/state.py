"""State of the parts-request review agent."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from ....knowledge.models import Language


class RequestLine(TypedDict):
    part_number: str
    name: str
    unit: str
    unit_price: int
    quantity: int
    """As requested; ``refine`` may recommend fewer (``recommended``)."""
    recommended: int


class Finding(TypedDict):
    check: str
    title: str
    verdict: str
    """``pass`` or ``warn``."""
    detail: str


class ReviewState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation, checkpointed per thread; the request is the last human message."""

    question: str
    """The request as the user wrote it."""

    language: Language
    """``ko`` or ``en``: the request's language, and the recommendation's."""

    kind: str
    """What sort of request classify found: ``single`` or ``multi`` (several parts), ``none``."""

    lines: list[RequestLine]
    """The parts asked for, with quantities and catalogue prices."""

    unknown_parts: list[str]
    """Part numbers in the request that are not in the catalogue."""

    purpose: str
    """emergency, maintenance, project, replenishment or unspecified."""

    findings: Annotated[list[Finding], operator.add]
    """One per policy check; the parallel checks add theirs (reset by classify each turn)."""

    order_value: int
    """KRW, of the recommended quantities once refined."""

    decision: dict[str, Any]
    """``{approved, by: "limit"|"human", note}``: under the limit, or a human's answer."""

    sources: list[dict[str, Any]]
    """The policy documents the review relied on (the ``sources`` event)."""

    confidence_score: float
    table_data: dict[str, Any] | None
    """The recommendation, one row per part."""


class CheckTask(TypedDict):
    """What ``Send`` gives one parallel policy check."""

    check: str
    step: int
    total: int
    lines: list[RequestLine]
    purpose: str
    language: Language
