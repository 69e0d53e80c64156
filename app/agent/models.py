"""What an agent is asked to do: the request fields that reach the graph."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.agent.chat_model import LLMConfig


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str


class AgentInput(BaseModel):
    """The question and its options (the request body of a run, docs/architecture.md).

    Exactly one of ``message`` (a new turn) or ``resume`` (the answer to the thread's pending
    ``interrupt()``: any JSON value but ``null``, which LangGraph reads as "no answer") is given.
    """

    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(None, min_length=1)
    resume: Any = None
    user_id: str | None = Field(None, max_length=200)
    custom_prompt: str | None = Field(None, max_length=4000)
    llm_config: LLMConfig = Field(default_factory=LLMConfig)
    history: list[HistoryMessage] = Field(default_factory=list)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _message_or_resume(self) -> AgentInput:
        if self.resuming == (self.message is not None):
            raise ValueError("send exactly one of message or resume (resume must not be null)")
        return self

    @property
    def resuming(self) -> bool:
        """True when the request answers a pending interrupt."""
        return self.resume is not None
