"""The parts-request review agent: classify, purpose, policy checks, refine, approval, recommend."""

from __future__ import annotations

from typing import Any

from ....config import Settings
from ....knowledge import bundled_knowledge
from ...control import RunControl
from ...models import AgentInput
from .approval import ACTION, read_decision
from .context import ReviewContext
from .graph import DESCRIPTION, STAGE_MESSAGES, graph

__all__ = ["DESCRIPTION", "STAGE_MESSAGES", "check_resume", "graph", "make_context"]


def make_context(settings: Settings, request: AgentInput, control: RunControl) -> ReviewContext:
    return ReviewContext(
        knowledge=bundled_knowledge(),
        control=control,
        approval_threshold=settings.review_approval_threshold,
        offline_token_delay_s=settings.offline_token_delay_ms / 1000,
    )


def check_resume(answer: Any, question: Any) -> None:
    """Refuse, before the run starts, an answer to the approval question the graph cannot read
    (``UnreadableAnswer``, a ValueError naming the shapes accepted)."""
    requests = question.get("action_requests") if isinstance(question, dict) else None
    if isinstance(requests, list) and any(r.get("name") == ACTION for r in requests if isinstance(r, dict)):
        read_decision(answer)
