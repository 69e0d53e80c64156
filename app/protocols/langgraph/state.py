"""Thread state from the checkpointer, in the Platform API's shapes.

``values``/``updates`` stream parts come from here too: the run log carries what the agent
did (tokens, progress, the answer); the checkpoints the same run wrote carry the state after
each step. Checkpoints are found by the run id the agent puts in the run's config metadata
(LangGraph copies it into every checkpoint's metadata).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

from ...runs.owners import public_thread_id
from .serialize import jsonable

# The config metadata key the agent stamps on its runs (app/agent/chatbot.py).
RUN_ID_KEY = "stagecast_run_id"


def thread_config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


@dataclass(frozen=True)
class Step:
    """One checkpoint a run wrote: the state after it, and the node updates that led to it."""

    snapshot: StateSnapshot
    updates: list[dict[str, Any]]

    @property
    def created_ms(self) -> float:
        """When the checkpoint was written, in Unix milliseconds (as native events' ``ts``)."""
        created = self.snapshot.created_at
        return datetime.fromisoformat(created).timestamp() * 1000 if created else 0.0


def run_steps(graph: Pregel, thread_id: str, run_id: str) -> list[Step]:
    """The checkpoints of ``run_id`` after its input, oldest first, each with the updates of its step."""
    snapshots = list(graph.get_state_history(thread_config(thread_id), filter={RUN_ID_KEY: run_id}))
    snapshots.reverse()
    steps = []
    previous: StateSnapshot | None = None
    for snapshot in snapshots:
        parent = previous
        parent_id = _checkpoint_id(snapshot.parent_config)
        if parent_id and (parent is None or _checkpoint_id(parent.config) != parent_id):
            # The first step of a resumed run: its parent is the paused run's last checkpoint.
            parent = graph.get_state(snapshot.parent_config) if snapshot.parent_config else None
        previous = snapshot
        if (snapshot.metadata or {}).get("source") == "input":
            # The input is not applied yet at this checkpoint (it is its __start__ task's
            # write); LangGraph's first ``values`` is the state after it, the next checkpoint.
            continue
        steps.append(Step(snapshot, _updates(parent)))
    return steps


def _updates(parent: StateSnapshot | None) -> list[dict[str, Any]]:
    if parent is None:
        return []
    return [
        {task.name: jsonable(task.result)}
        for task in parent.tasks
        if task.result is not None and not task.name.startswith("__")
    ]


def _checkpoint_id(config: Any) -> str | None:
    return (config or {}).get("configurable", {}).get("checkpoint_id")


def checkpoint(config: Any) -> dict[str, Any] | None:
    if not config:
        return None
    configurable = config.get("configurable", {})
    return {
        "thread_id": public_thread_id(configurable["thread_id"]) if "thread_id" in configurable else None,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def interrupts_of(snapshot: StateSnapshot) -> list[dict[str, Any]]:
    return [{"value": jsonable(i.value), "id": i.id} for i in snapshot.interrupts]


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``ThreadState``: values, next, tasks (with their interrupts) and the checkpoint."""
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(task.path),
                "error": str(task.error) if task.error else None,
                "interrupts": [{"value": jsonable(i.value), "id": i.id} for i in task.interrupts],
                "checkpoint": None,
                "state": None,
                "result": jsonable(task.result),
            }
            for task in snapshot.tasks
        ],
        "checkpoint": checkpoint(snapshot.config),
        "metadata": jsonable(snapshot.metadata),
        "created_at": snapshot.created_at,
        "parent_checkpoint": checkpoint(snapshot.parent_config),
        "interrupts": interrupts_of(snapshot),
    }


def current(graph: Pregel, thread_id: str) -> StateSnapshot | None:
    """The thread's latest state, or None if nothing was ever checkpointed on it."""
    snapshot = graph.get_state(thread_config(thread_id))
    return snapshot if snapshot.config.get("configurable", {}).get("checkpoint_id") else None


def history(
    graph: Pregel,
    thread_id: str,
    *,
    limit: int,
    before: str | None,
    metadata: dict[str, Any] | None,
    checkpoint_id: str | None,
) -> Iterator[StateSnapshot]:
    return graph.get_state_history(
        thread_config(thread_id, checkpoint_id),
        filter=metadata or None,
        before=thread_config(thread_id, before) if before else None,
        limit=limit,
    )
