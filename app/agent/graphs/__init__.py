"""Graphs bundled with Stagecast."""
