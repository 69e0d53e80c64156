"""Per-run services of the parts-request review agent (LangGraph runtime context)."""

from __future__ import annotations

from dataclasses import dataclass

from ....knowledge import KnowledgeBase
from ...control import RunControl


@dataclass(frozen=True)
class ReviewContext:
    knowledge: KnowledgeBase
    """The bundled parts-inventory knowledge base: catalogue, stock, usage, policies."""

    control: RunControl
    """The run's stop flag, checked between streamed pieces."""

    approval_threshold: int
    """KRW; an order above it waits for a human's approval (``STAGECAST_REVIEW_APPROVAL_THRESHOLD``)."""

    offline_token_delay_s: float = 0.0
    """Pause between pieces of the recommendation, for a readable typing effect."""
