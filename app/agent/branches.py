"""A thread's checkpoint history, for editing, regenerating and switching branches.

LangGraph keeps every checkpoint a thread ever had, each naming its parent. A run started
with a ``checkpoint_id`` forks: its first checkpoint's parent is that one, and the thread's
latest checkpoint (what a thread shows and the next run continues) is then the new branch's.
The older branch stays in the history, reachable by its checkpoint ids (docs/branches.md).

Knows no Flask: the views shape what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

from .threads import pending_interrupt

# The config metadata key the agent stamps on its runs (app/agent/chatbot.py).
RUN_ID_KEY = "stagecast_run_id"


def checkpoint_config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return RunnableConfig(configurable=configurable)


def has_checkpoint(checkpointer: BaseCheckpointSaver, thread_id: str, checkpoint_id: str) -> bool:
    """Whether ``checkpoint_id`` is one of the thread's (top-level) checkpoints."""
    return checkpointer.get_tuple(checkpoint_config(thread_id, checkpoint_id)) is not None


def messages_at(
    checkpointer: BaseCheckpointSaver, thread_id: str, checkpoint_id: str | None
) -> list[BaseMessage] | None:
    """The conversation as it was at ``checkpoint_id`` (the latest when None); None if no such
    checkpoint."""
    saved = checkpointer.get_tuple(checkpoint_config(thread_id, checkpoint_id))
    if saved is None:
        return None
    messages = saved.checkpoint["channel_values"].get("messages", [])
    return list(messages) if isinstance(messages, list) else []


@dataclass(frozen=True)
class CheckpointSummary:
    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: str | None
    run_id: str | None
    """The run that wrote it (None for one written outside a run, e.g. an update of the state)."""
    message_count: int
    next: list[str]
    """The nodes that run from here; ``["__start__"]`` where a new message was taken in."""
    interrupts: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint_id": self.checkpoint_id,
            "parent_checkpoint_id": self.parent_checkpoint_id,
            "created_at": self.created_at,
            "run_id": self.run_id,
            "message_count": self.message_count,
            "next": self.next,
            "interrupts": self.interrupts,
        }


def history(graph: Pregel, thread_id: str, *, limit: int, before: str | None) -> list[CheckpointSummary]:
    """The thread's checkpoints, newest first: at most ``limit``, older than ``before``."""
    snapshots = graph.get_state_history(
        checkpoint_config(thread_id),
        before=checkpoint_config(thread_id, before) if before else None,
        limit=limit,
    )
    return [_summary(snapshot) for snapshot in snapshots]


def _summary(snapshot: StateSnapshot) -> CheckpointSummary:
    messages = snapshot.values.get("messages") if isinstance(snapshot.values, dict) else None
    run_id = (snapshot.metadata or {}).get(RUN_ID_KEY)
    return CheckpointSummary(
        checkpoint_id=_checkpoint_id(snapshot.config) or "",
        parent_checkpoint_id=_checkpoint_id(snapshot.parent_config),
        created_at=snapshot.created_at,
        run_id=run_id if isinstance(run_id, str) else None,
        message_count=len(messages) if isinstance(messages, list) else 0,
        next=list(snapshot.next),
        interrupts=[pending_interrupt(item).model_dump() for item in snapshot.interrupts],
    )


def _checkpoint_id(config: Any) -> str | None:
    return (config or {}).get("configurable", {}).get("checkpoint_id")


def copy_thread(checkpointer: BaseCheckpointSaver, source: str, target: str) -> None:
    """Every checkpoint of ``source`` (all namespaces, with pending writes) into ``target``,
    under the same ids, oldest first: ``target`` has the same history and branches."""
    saved = list(checkpointer.list(RunnableConfig(configurable={"thread_id": source})))
    for item in reversed(saved):
        _put(checkpointer, item, target, keep_parent=True)


def keep_latest(checkpointer: BaseCheckpointSaver, thread_id: str) -> None:
    """Drop every checkpoint of the thread but its latest (which keeps its pending writes)."""
    latest = checkpointer.get_tuple(checkpoint_config(thread_id))
    if latest is None:
        return
    checkpointer.delete_thread(thread_id)
    _put(checkpointer, latest, thread_id, keep_parent=False)


def _put(
    checkpointer: BaseCheckpointSaver, item: CheckpointTuple, thread_id: str, *, keep_parent: bool
) -> None:
    namespace = item.config["configurable"].get("checkpoint_ns", "")
    parent = _checkpoint_id(item.parent_config) if keep_parent else None
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": namespace}
    if parent:
        configurable["checkpoint_id"] = parent
    config = RunnableConfig(configurable=configurable)
    checkpoint = item.checkpoint
    written = checkpointer.put(config, checkpoint, item.metadata, dict(checkpoint["channel_versions"]))
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in item.pending_writes or ():
        by_task.setdefault(task_id, []).append((channel, value))
    for task_id, writes in by_task.items():
        checkpointer.put_writes(written, writes, task_id)
