"""The agents this service serves, loaded from ``STAGECAST_GRAPHS`` (``name=module:attribute``).

A graph module may also define ``DESCRIPTION`` (one sentence for ``GET /api/agents``; the
module's docstring otherwise), ``STAGE_MESSAGES`` (node -> (started, completed) text) and
``make_context(settings, request, control)`` (the LangGraph runtime context of one run) and
``check_resume(answer, question)`` (raises ValueError for an answer the graph cannot read).
A graph compiled without a checkpointer gets the service's, so threads keep history, and one
without a store gets the service's (``get_store()`` in nodes).
"""

from __future__ import annotations

import importlib
from functools import partial

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from app.agent.chatbot import ChatbotAgent
from app.config import Settings


class UnknownAgentError(LookupError):
    """The request named an agent this service does not serve."""


class AgentRegistry:
    def __init__(
        self,
        agents: dict[str, ChatbotAgent],
        default: str,
        checkpointer: BaseCheckpointSaver,
        store: BaseStore | None = None,
    ) -> None:
        if default not in agents:
            raise ValueError(f"default agent {default!r} is not among {sorted(agents)}")
        self.agents = agents
        self.default = default
        self.checkpointer = checkpointer
        """Where threads live (the graphs compiled without one of their own share it)."""
        self.store = store
        """LangGraph's long-term memory (app/agent/store.py), likewise shared."""

    def get(self, name: str | None) -> ChatbotAgent:
        try:
            return self.agents[name or self.default]
        except KeyError:
            raise UnknownAgentError(name) from None


def load_agents(
    settings: Settings, checkpointer: BaseCheckpointSaver, store: BaseStore | None = None
) -> AgentRegistry:
    agents = {
        name: _load_agent(name, target, settings, checkpointer, store)
        for name, target in settings.graphs.items()
    }
    return AgentRegistry(agents, settings.default_agent, checkpointer, store)


def _load_agent(
    name: str, target: str, settings: Settings, checkpointer: BaseCheckpointSaver, store: BaseStore | None
) -> ChatbotAgent:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    graph = getattr(module, attribute, None)
    if not isinstance(graph, Pregel):
        raise TypeError(f"STAGECAST_GRAPHS: {target} is not a compiled LangGraph graph")
    if graph.checkpointer is None:
        graph = graph.copy({"checkpointer": checkpointer})
    if graph.store is None and store is not None:
        graph = graph.copy({"store": store})
    make_context = getattr(module, "make_context", None)
    return ChatbotAgent(
        name,
        graph,
        description=getattr(module, "DESCRIPTION", None) or (module.__doc__ or "").strip().split("\n\n")[0],
        stage_messages=getattr(module, "STAGE_MESSAGES", None),
        context_factory=partial(make_context, settings) if make_context else None,
        resume_check=getattr(module, "check_resume", None),
    )
