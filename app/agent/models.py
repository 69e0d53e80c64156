"""What an agent is asked to do: the request fields that reach the graph."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.llm import LLMConfig


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str


class AgentInput(BaseModel):
    """The question and its options (DESIGN.md, "Request body of a run")."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1)
    user_id: str | None = Field(None, max_length=200)
    custom_prompt: str | None = Field(None, max_length=4000)
    llm_config: LLMConfig = Field(default_factory=LLMConfig)
    history: list[HistoryMessage] = Field(default_factory=list)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value
