"""Contender 4's graph: Stagecast's default chat graph, served by LangGraph Server (``langgraph dev``).

LangGraph Server builds a run's runtime context from the request's JSON ``context``, which
cannot carry a knowledge base, a stop flag or a chat model. So this module compiles the
same nodes and edges (``app.agent.graphs.chat.graph.builder``'s) with a context dataclass
whose fields default to exactly what ``make_context`` gives a Stagecast run: the shared
knowledge base, a fresh ``RunControl`` and a ``ChatOpenAI`` writer on ``OPENAI_BASE_URL``.

The nodes are synchronous, so LangGraph runs them on the event loop's default thread pool,
whose default size (``min(32, cpus + 4)``: six here) would cap the server at six answers
in flight. ``make_graph`` (the graph factory named in ``langgraph.json``, called for each
run on the loop that runs it) raises it to ``BENCH_THREADS`` (default 4096), exactly as
contender 3 does.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from langchain_openai import ChatOpenAI
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from app.agent.control import RunControl
from app.agent.graphs.chat import make_context
from app.agent.graphs.chat.graph import builder, data_retrieval, query_analysis, response_generation
from app.agent.graphs.chat.state import ChatState
from app.agent.models import AgentInput
from app.config import Settings, load_settings
from app.knowledge import KnowledgeBase

_settings = load_settings()
_shared = make_context(_settings, AgentInput(message="-"), RunControl())


def _chat_model() -> ChatOpenAI | None:
    """A writer per run, as Stagecast makes it (its own httpx client, closed with the run)."""
    control = RunControl()
    model = make_context(_settings, AgentInput(message="-"), control).chat_model
    if model is not None:
        weakref.finalize(model, control.release)  # close its HTTP client when the run drops it
    return model


@dataclass
class LGSChatContext:
    knowledge: KnowledgeBase = field(default_factory=lambda: _shared.knowledge)
    control: RunControl = field(default_factory=RunControl)
    settings: Settings = field(default_factory=lambda: _settings)
    chat_model: ChatOpenAI | None = field(default_factory=_chat_model)
    custom_prompt: str | None = None
    offline_token_delay_s: float = 0.0


_lgs_builder = StateGraph(ChatState, context_schema=LGSChatContext)
for _node in (query_analysis, data_retrieval, response_generation):
    _lgs_builder.add_node(_node.__name__, _node)
for _start, _end in sorted(builder.edges):  # the same edges as Stagecast's graph
    _lgs_builder.add_edge(_start, _end)

graph = _lgs_builder.compile(name="chat")

_sized_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def make_graph(config: Any = None) -> Pregel:
    """The graph, after giving the running loop a thread pool as large as contender 3's."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return graph
    if loop not in _sized_loops:
        threads = int(os.environ.get("BENCH_THREADS", "4096"))
        loop.set_default_executor(ThreadPoolExecutor(max_workers=threads))
        _sized_loops.add(loop)
    return graph
