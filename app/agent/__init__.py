"""Agents: a compiled LangGraph graph driven and mapped to Stagecast events."""
