"""What an agent is asked to do: the request fields that reach the graph."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from .chat_model import LLMConfig

_GRAPH_CONTROLS = ("command", "interrupt_before", "interrupt_after", "proceed")


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str


class GraphCommand(BaseModel):
    """LangGraph's ``Command`` besides ``resume``: a state update and the nodes to go to."""

    model_config = ConfigDict(extra="forbid")

    update: Any = None
    """A state update (a dict, or ``[[key, value], ...]``), applied as the node that ran last."""
    goto: Any = None
    """A node name, a list of them, or ``{"node", "arg"}`` objects (each a ``Send``)."""


class AgentInput(BaseModel):
    """The question and its options (the request body of a run, docs/architecture.md).

    Exactly one of ``message`` (a new turn) or ``resume`` (the answer to the thread's pending
    ``interrupt()``: any JSON value but ``null``, which LangGraph reads as "no answer") is given,
    unless ``command`` or ``proceed`` says what the graph does instead.
    """

    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(None, min_length=1)
    resume: Any = None
    user_id: str | None = Field(None, max_length=200)
    custom_prompt: str | None = Field(None, max_length=4000)
    llm_config: LLMConfig = Field(default_factory=LLMConfig)
    history: list[HistoryMessage] = Field(default_factory=list)
    checkpoint_id: str | None = Field(None, min_length=1, max_length=200)
    """Fork the thread from this checkpoint of its history (docs/branches.md)."""
    # The graph controls of the /langgraph API; the native API refuses them (app/api/requests.py).
    command: SkipJsonSchema[GraphCommand | None] = None
    interrupt_before: SkipJsonSchema[list[str] | Literal["*"] | None] = None
    """Pause before these nodes run (``"*"``: every node)."""
    interrupt_after: SkipJsonSchema[list[str] | Literal["*"] | None] = None
    proceed: SkipJsonSchema[bool] = False
    """Continue the thread from its checkpoint (or ``checkpoint_id``) with no new input."""

    @property
    def graph_controls(self) -> list[str]:
        """The /langgraph-only fields this request sets."""
        return [name for name in _GRAPH_CONTROLS if getattr(self, name)]

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _message_or_resume(self) -> AgentInput:
        if self.command is not None or self.proceed:
            if self.message is not None:
                raise ValueError("send a message, or a command or proceed, not both")
            return self
        if self.resuming == (self.message is not None):
            raise ValueError("send exactly one of message or resume (resume must not be null)")
        return self

    @property
    def resuming(self) -> bool:
        """True when the request answers a pending interrupt."""
        return self.resume is not None
