"""Standard protocols spoken over the same runs: each module is an encoder of the run log plus
its blueprint (DESIGN.md, "Adapters: one log, several encodings").

An adapter starts a run with ``manager.start`` like the native API, so the run shows in
``/api/runs``, can be watched on the native stream and keeps its thread's history; it then
reads the run's log, as the native stream does, and never drives the agent itself.
"""

from __future__ import annotations

from flask import Blueprint

from app.protocols import ag_ui, ai_sdk, openai

BLUEPRINTS: tuple[Blueprint, ...] = (openai.bp, ai_sdk.bp, ag_ui.bp)
