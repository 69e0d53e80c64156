"""What a thread's latest checkpoint says: its pending interrupts and how long it is.

Read straight from the checkpointer, so it needs no graph: a thread paused by any agent,
in this process or before a restart, shows the same. LangGraph records a node's
``interrupt()`` as a pending write on the ``__interrupt__`` channel of the checkpoint it
started from; the write is gone once a resumed step completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic_core import to_jsonable_python

from ..events import PendingInterrupt

# LangGraph's channel for interrupts (private since 1.0 as ``langgraph.constants.INTERRUPT``);
# its name is also what the public ``__interrupt__`` key of streamed values is called.
INTERRUPT = "__interrupt__"


# Checkpoint metadata key naming the agent that wrote the checkpoint (from the run's config).
AGENT_KEY = "stagecast_agent"


@dataclass(frozen=True)
class ThreadCheckpoint:
    interrupts: list[PendingInterrupt]
    message_count: int
    agent: str | None
    """The agent whose run wrote the checkpoint: a resume goes back to it."""


def read_thread(checkpointer: BaseCheckpointSaver, thread_id: str) -> ThreadCheckpoint | None:
    """The thread's pending interrupts and message count; None when it has no checkpoint."""
    saved = checkpointer.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    if saved is None:
        return None
    interrupts = [
        pending_interrupt(item)
        for _, channel, value in saved.pending_writes or ()
        if channel == INTERRUPT
        for item in (value if isinstance(value, list | tuple) else [value])
    ]
    messages = saved.checkpoint["channel_values"].get("messages")
    agent = (saved.metadata or {}).get(AGENT_KEY)
    return ThreadCheckpoint(
        interrupts=interrupts,
        message_count=len(messages) if isinstance(messages, list) else 0,
        agent=agent if isinstance(agent, str) else None,
    )


def pending_interrupt(interrupt: Any) -> PendingInterrupt:
    """A LangGraph ``Interrupt`` (or its dict form in a ``tasks`` stream payload) for the wire."""
    if isinstance(interrupt, dict):
        interrupt_id, value = interrupt["id"], interrupt.get("value")
    else:
        interrupt_id, value = interrupt.id, interrupt.value
    # The value is whatever the node passed; anything not JSON-like goes out as its text.
    return PendingInterrupt(id=interrupt_id, value=to_jsonable_python(value, fallback=str))
