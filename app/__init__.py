"""Stagecast: stream LangGraph agent runs as Server-Sent Events.

``Stagecast`` is the Flask extension (docs/extension.md); ``create_app`` builds the service
``make run`` serves, on that same extension.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from .extension import Stagecast

__all__ = ["Stagecast", "create_app"]


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the service; ``config`` overrides settings (tests), the rest comes from STAGECAST_*."""
    from .extension import PROTOCOLS, Stagecast

    app = Flask(__name__)
    # Every protocol, the dashboard at /, /healthz, /metrics and the docs, at the paths they
    # have always had (standalone: Stagecast is the whole app).
    Stagecast(app, url_prefix="/api", config=config, protocols=PROTOCOLS, dashboard=True, standalone=True)
    return app


def __getattr__(name: str) -> Any:
    # Imported on first use: the gunicorn master imports this package (for its settings)
    # before gevent has patched, so nothing here may load LangGraph (docs/architecture.md, trap 6).
    if name == "Stagecast":
        from .extension import Stagecast

        return Stagecast
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
