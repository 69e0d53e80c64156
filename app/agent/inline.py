"""Run a graph's nodes in the caller's greenlet and receive its stream items as they happen.

LangGraph's ``graph.stream()`` runs every node on a thread pool, plus a waiter on its
stream queue, whenever ``custom`` or ``messages`` mode or ``subgraphs`` is on, so that it
can yield items while a node is still running. Under gevent each of those threads is a
greenlet with its own copy of the C stack: about five per run, most of a run's memory,
and a queue hand-off per item (docs/benchmarks.md). A run of Stagecast needs none of it:
it wants each item handed to a callback the moment it happens.

LangGraph already has that route, the one a subgraph's items take to its parent: a stream
handler in the config, which every loop below writes into, and a parent runtime whose
``stream_writer`` is what ``get_stream_writer()`` returns in every node below. This module
installs both at the top; the caller then streams with ``stream_mode=[]``. With nothing
to yield, LangGraph runs a step's single task inline (a step with several tasks still
fans out over its pool). tests/test_inline_stream.py fails if a LangGraph upgrade moves
either hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import (
    CONFIG_KEY_CHECKPOINT_NS,
    CONFIG_KEY_RUNTIME,
    CONFIG_KEY_STREAM,
    NS_SEP,
)
from langgraph.config import get_config
from langgraph.pregel.protocol import StreamProtocol
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.types import StreamMode

StreamItem = tuple[tuple[str, ...], str, Any]
"""(namespace, mode, payload), as ``graph.stream(..., subgraphs=True)`` would yield it."""

INLINE_MODES: set[StreamMode] = {"tasks", "custom", "values"}


def with_inline_stream(
    config: RunnableConfig, on_item: Callable[[StreamItem], None], store: BaseStore | None = None
) -> RunnableConfig:
    """``config`` with ``on_item`` receiving the graph's ``tasks``, ``custom`` and ``values``
    items, from any depth, in the greenlet that produced them. The runtime put in the config
    is the one LangGraph uses, so it carries the graph's ``store`` (``get_store()``)."""

    def write_custom(payload: Any) -> None:
        # A node's checkpoint namespace ends with its own task: its graph's is the rest.
        task_ns = get_config()["configurable"][CONFIG_KEY_CHECKPOINT_NS]
        on_item((tuple(task_ns.split(NS_SEP)[:-1]), "custom", payload))

    return {
        **config,
        "configurable": {
            **config["configurable"],
            CONFIG_KEY_STREAM: StreamProtocol(on_item, INLINE_MODES),
            CONFIG_KEY_RUNTIME: Runtime(stream_writer=write_custom, store=store),
        },
    }
