"""The default agent: query_analysis -> data_retrieval -> response_generation."""

from __future__ import annotations

from app.agent.chat_model import make_chat_model
from app.agent.control import RunControl
from app.agent.graphs.chat.context import ChatContext
from app.agent.graphs.chat.graph import DESCRIPTION, STAGE_MESSAGES, graph
from app.agent.models import AgentInput
from app.config import Settings
from app.knowledge import bundled_knowledge

__all__ = ["DESCRIPTION", "STAGE_MESSAGES", "graph", "make_context"]


def make_context(settings: Settings, request: AgentInput, control: RunControl) -> ChatContext:
    """The services one run of the default agent uses."""
    return ChatContext(
        knowledge=bundled_knowledge(),
        control=control,
        settings=settings,
        chat_model=make_chat_model(settings, request.llm_config, control),
        custom_prompt=request.custom_prompt,
        offline_token_delay_s=settings.offline_token_delay_ms / 1000,
    )
