"""The agents this service serves, loaded from ``STAGECAST_GRAPHS`` (``name=module:attribute``),
or given to the extension as ``agents=`` (a compiled graph or ``module:attribute`` per name).

A graph module may also define ``DESCRIPTION`` (one sentence for ``GET /api/agents``; the
module's docstring otherwise), ``STAGE_MESSAGES`` (node -> (started, completed) text) and
``make_context(settings, request, control)`` (the LangGraph runtime context of one run) and
``check_resume(answer, question)`` (raises ValueError for an answer the graph cannot read).
A graph compiled without a checkpointer gets the service's, so threads keep history, and one
without a store gets the service's (``get_store()`` in nodes).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import partial
from types import ModuleType

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from ..config import Settings
from .chatbot import ChatbotAgent


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
    settings: Settings,
    checkpointer: BaseCheckpointSaver,
    given: Mapping[str, object] | None = None,
    store: BaseStore | None = None,
) -> AgentRegistry:
    """The agents of ``settings.graphs``, or, when ``given`` (the extension's ``agents=``), those
    instead: each a compiled graph or a ``module:attribute`` string. The default agent is
    ``settings.default_agent`` when it is among them, else the first."""
    targets: Mapping[str, object] = settings.graphs if given is None else given
    agents = {
        name: _load_agent(name, target, settings, checkpointer, store) for name, target in targets.items()
    }
    default = settings.default_agent
    if given is not None and default not in agents and agents:
        default = next(iter(agents))
    return AgentRegistry(agents, default, checkpointer, store)


def _load_agent(
    name: str, target: object, settings: Settings, checkpointer: BaseCheckpointSaver, store: BaseStore | None
) -> ChatbotAgent:
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        module: ModuleType | None = importlib.import_module(module_name)
        graph = getattr(module, attribute, None)
    else:
        # A graph object: there is no module to read DESCRIPTION, STAGE_MESSAGES or
        # make_context from, so it is listed with an empty description.
        module, graph = None, target
    if not isinstance(graph, Pregel):
        raise TypeError(f"agent {name!r}: {target!r} is not a compiled LangGraph graph")
    if graph.checkpointer is None:
        graph = graph.copy({"checkpointer": checkpointer})
    if graph.store is None and store is not None:
        graph = graph.copy({"store": store})
    make_context = getattr(module, "make_context", None)
    docstring = (module.__doc__ if module is not None else None) or ""
    return ChatbotAgent(
        name,
        graph,
        description=getattr(module, "DESCRIPTION", None) or docstring.strip().split("\n\n")[0],
        stage_messages=getattr(module, "STAGE_MESSAGES", None),
        context_factory=partial(make_context, settings) if make_context else None,
        resume_check=getattr(module, "check_resume", None),
    )
