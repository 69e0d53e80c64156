"""Standard protocols spoken over the same runs: each module is an encoder of the run log plus
its blueprint (docs/architecture.md, "Adapters: one log, several encodings").

An adapter starts a run with ``manager.start`` like the native API, so the run shows in
``/api/runs``, can be watched on the native stream and keeps its thread's history; it then
streams the run's log through the same transport as the native stream (``app/transport/``),
and never drives the agent itself. Nothing here imports the native API (``app/api/``).
"""

from __future__ import annotations

from flask import Blueprint

from . import ag_ui, ai_sdk, openai

BLUEPRINTS: tuple[Blueprint, ...] = (openai.bp, ai_sdk.bp, ag_ui.bp)
