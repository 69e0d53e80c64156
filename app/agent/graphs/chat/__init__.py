"""The default agent: query_analysis -> data_retrieval -> response_generation."""

from __future__ import annotations

from ....config import Settings
from ....knowledge import bundled_knowledge
from ...chat_model import make_chat_model
from ...control import RunControl
from ...models import AgentInput
from .context import ChatContext
from .graph import DESCRIPTION, STAGE_MESSAGES, graph

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
