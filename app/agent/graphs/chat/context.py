"""Per-run services for the default chat agent (LangGraph runtime context)."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_openai import ChatOpenAI

from ....config import Settings
from ....knowledge import KnowledgeBase
from ...control import RunControl


@dataclass(frozen=True)
class ChatContext:
    knowledge: KnowledgeBase
    """The bundled parts-inventory knowledge base."""

    control: RunControl
    """The run's stop flag, checked between streamed pieces."""

    settings: Settings
    """Model retries and tool rounds (``STAGECAST_LLM_*``)."""

    chat_model: ChatOpenAI | None = None
    """The OpenAI-compatible writer; None selects the offline writer."""

    custom_prompt: str | None = None
    """Extra instructions from the request, appended to the system prompt."""

    offline_token_delay_s: float = 0.0
    """Pause between pieces of the offline writer, for a readable typing effect."""
