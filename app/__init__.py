"""Stagecast: stream LangGraph agent runs as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.api.body import BodyGuard
from app.config import load_settings
from app.logs import configure_logging


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the app; ``config`` overrides settings (tests), the rest comes from STAGECAST_*."""
    settings = load_settings(dict(config or {}))
    configure_logging(settings.log_level)
    app = Flask(__name__)
    # Body limits (size, chunked bodies included, and read time) are kept by BodyGuard, not
    # by Flask's MAX_CONTENT_LENGTH, which truncates a chunked body instead of refusing it.
    app.wsgi_app = BodyGuard(app.wsgi_app, settings.max_body_bytes, settings.body_timeout_s)  # type: ignore[method-assign]
    if settings.proxy_hops:
        # The client address (for the per-client stream cap) is the one the proxies saw.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from app import auth, extension, metrics, openapi, ratelimit, security, web
    from app.api import agents, chat, errors, health, runs, stream_tokens, threads
    from app.api import metrics as metrics_api
    from app.protocols import BLUEPRINTS, langgraph
    from app.tracing import add_trace_header, bind_trace_id

    state = extension.init_app(app, settings)
    errors.init_app(app)
    app.before_request(bind_trace_id)
    app.after_request(add_trace_header)
    # In this order: Host and Origin first, then who is calling, then that caller's rate.
    security.init_app(app, settings)
    auth.init_app(app, settings)
    app.before_request(security.check_path_ids)
    ratelimit.init_app(app, settings)
    metrics.watch_admission(state.manager.admission)
    for module in (chat, runs, threads, agents, stream_tokens, health, metrics_api, openapi, web):
        app.register_blueprint(module.bp)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    langgraph.init_app(app, state)
    return app
