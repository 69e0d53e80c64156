"""Stagecast as a Flask extension (:class:`Stagecast`; docs/extension.md): it builds one
app's state (app/state.py) and mounts the routes on the app, under a prefix.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Blueprint, Flask, Request

from . import metrics
from .config import Settings, load_settings
from .state import StagecastState, init_state

PROTOCOLS = ("openai", "ai-sdk", "ag-ui", "langgraph")
"""The adapters ``protocols=`` may name."""


class Stagecast:
    """Stagecast in a Flask app: its routes under ``url_prefix``, its state on
    ``app.extensions["stagecast"]`` (one per app).

    ``Stagecast(app, ...)``, or ``Stagecast(...)`` and later ``init_app(app, ...)`` (an app
    factory); what ``init_app`` is given overrides what the constructor was.

    - ``agents``: name -> compiled graph, or ``"module:attribute"``; instead of
      ``STAGECAST_GRAPHS``. A graph compiled without a checkpointer gets Stagecast's.
    - ``authenticate(request)``: the user's id, or None for a 401; runs and threads then
      belong to that user as with API keys. Without it, the ``STAGECAST_*`` settings decide.
    - ``config``: settings by their ``STAGECAST_*`` names without the prefix, any case; they
      win over the environment.
    - ``protocols``: any of :data:`PROTOCOLS`, mounted under the prefix too.
    - ``dashboard``: the dashboard and runs monitor, at ``<prefix>/dashboard/``.
    - ``standalone``: Stagecast is the whole app (the service ``create_app`` builds): its
      hooks, JSON errors and body limits cover every route, the adapters keep their historical
      paths (``/v1``, ``<prefix>/ai-sdk``, ``<prefix>/ag-ui``, ``/langgraph``), and ``/healthz``,
      ``/metrics``, ``/openapi.json``, ``/docs`` and the dashboard (at ``/``) are served.
      Otherwise only Stagecast's own routes, in one blueprint named ``stagecast``, are touched.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        url_prefix: str = "/api",
        agents: Mapping[str, object] | None = None,
        authenticate: Callable[[Request], str | None] | None = None,
        config: Mapping[str, object] | None = None,
        protocols: Iterable[str] = (),
        dashboard: bool = False,
        standalone: bool = False,
    ) -> None:
        self._options: dict[str, Any] = {
            "url_prefix": url_prefix,
            "agents": agents,
            "authenticate": authenticate,
            "config": config,
            "protocols": tuple(protocols),
            "dashboard": dashboard,
            "standalone": standalone,
        }
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        *,
        url_prefix: str | None = None,
        agents: Mapping[str, object] | None = None,
        authenticate: Callable[[Request], str | None] | None = None,
        config: Mapping[str, object] | None = None,
        protocols: Iterable[str] | None = None,
        dashboard: bool | None = None,
        standalone: bool | None = None,
    ) -> StagecastState:
        """Mount Stagecast on ``app``; each keyword left out (None) is the constructor's."""
        given = {
            "url_prefix": url_prefix,
            "agents": agents,
            "authenticate": authenticate,
            "config": config,
            "protocols": protocols,
            "dashboard": dashboard,
            "standalone": standalone,
        }
        options = {name: value for name, value in given.items() if value is not None}
        if "stagecast" in app.extensions:
            raise RuntimeError(f"Stagecast is already mounted on {app.name!r}: one per app")
        chosen = {**self._options, **options}
        protocols = tuple(chosen["protocols"])
        if set(protocols) - set(PROTOCOLS):
            raise ValueError(f"protocols: {sorted(set(protocols) - set(PROTOCOLS))} not among {PROTOCOLS}")
        prefix = "/" + str(chosen["url_prefix"]).strip("/") if str(chosen["url_prefix"]).strip("/") else ""
        settings = load_settings(settings_overrides(chosen["config"]))
        if chosen["standalone"]:
            state = _mount_standalone(app, settings, prefix, chosen, protocols)
        else:
            state = _mount(app, settings, prefix, chosen, protocols)
        _serve_in_gevent_worker(state)
        return state


def settings_overrides(config: Mapping[str, object] | None) -> dict[str, object]:
    """``config`` keys as the settings' field names: ``DATA_DIR``, ``data_dir`` and
    ``STAGECAST_DATA_DIR`` all name ``data_dir``."""
    return {key.lower().removeprefix("stagecast_"): value for key, value in (config or {}).items()}


def _mount_standalone(
    app: Flask, settings: Settings, prefix: str, options: Mapping[str, Any], protocols: tuple[str, ...]
) -> StagecastState:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import auth, openapi, ratelimit, security, web
    from .api import agents, chat, errors, health, runs, stream_tokens, threads
    from .api import metrics as metrics_api
    from .api.body import BodyGuard
    from .logs import configure_logging
    from .protocols import ag_ui, ai_sdk, langgraph, openai
    from .tracing import add_trace_header, bind_trace_id

    configure_logging(settings.log_level)
    # Body limits (size, chunked bodies included, and read time) are kept by BodyGuard, not
    # by Flask's MAX_CONTENT_LENGTH, which truncates a chunked body instead of refusing it.
    app.wsgi_app = BodyGuard(app.wsgi_app, settings.max_body_bytes, settings.body_timeout_s)  # type: ignore[method-assign]
    if settings.proxy_hops:
        # The client address (for the per-client stream cap) is the one the proxies saw.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    state = init_state(app, settings, options["agents"], url_prefix=prefix)
    errors.init_app(app)
    app.before_request(bind_trace_id)
    app.after_request(add_trace_header)
    # In this order: Host and Origin first, then who is calling, then that caller's rate.
    security.init_app(app, settings)
    auth.init_app(app, settings, authenticate=options["authenticate"])
    app.before_request(security.check_path_ids)
    ratelimit.init_app(app, settings)
    metrics.watch_admission(state.manager.admission)
    for module in (chat, runs, threads, agents, stream_tokens):
        app.register_blueprint(module.bp, url_prefix=prefix + (module.bp.url_prefix or ""))
    for module in (health, metrics_api, openapi):
        app.register_blueprint(module.bp)
    if options["dashboard"]:
        app.register_blueprint(web.bp)
    # The adapters' historical paths: /v1 and /langgraph at the root, the others under /api.
    at = {"openai": "", "ai-sdk": prefix, "ag-ui": prefix}
    for name, module in (("openai", openai), ("ai-sdk", ai_sdk), ("ag-ui", ag_ui)):
        if name in protocols:
            app.register_blueprint(module.bp, url_prefix=at[name] + (module.bp.url_prefix or ""))
    if "langgraph" in protocols:
        langgraph.init_app(app, state)
    return state


def _mount(
    app: Flask, settings: Settings, prefix: str, options: Mapping[str, Any], protocols: tuple[str, ...]
) -> StagecastState:
    from . import auth, ratelimit, security, web
    from .api import agents, chat, errors, runs, stream_tokens, threads
    from .api.body import BodyGuard
    from .protocols import ag_ui, ai_sdk, langgraph, openai
    from .tracing import add_trace_header, bind_trace_id

    # Only Stagecast's requests are held to its body limits; the host's keep their own.
    host_wsgi = app.wsgi_app
    guarded = BodyGuard(host_wsgi, settings.max_body_bytes, settings.body_timeout_s)

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        ours = path == prefix or path.startswith(prefix + "/")
        return (guarded if ours else host_wsgi)(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]

    scope = Blueprint("stagecast", __name__, url_prefix=prefix or None)
    state = init_state(app, settings, options["agents"], url_prefix=prefix, endpoint_prefix="stagecast.")
    errors.init_app(scope)
    scope.before_request(bind_trace_id)
    scope.after_request(add_trace_header)
    security.init_app(app, settings, scope, cors_paths=rf"^{prefix}(/.*)?$")
    auth.init_app(app, settings, scope, authenticate=options["authenticate"])
    scope.before_request(security.check_path_ids)
    ratelimit.init_app(app, settings)
    for module in (chat, runs, threads, agents, stream_tokens):
        scope.register_blueprint(module.bp)
    for name, module in (("openai", openai), ("ai-sdk", ai_sdk), ("ag-ui", ag_ui)):
        if name in protocols:
            scope.register_blueprint(module.bp)
    if "langgraph" in protocols:
        langgraph.init_app(app, state, parent=scope)
    if options["dashboard"]:
        # At <prefix>/dashboard/: <prefix>/runs is the runs API, not the runs monitor.
        scope.register_blueprint(web.bp, url_prefix="/dashboard")
        scope.register_blueprint(web.assets, url_prefix="/dashboard")
    app.register_blueprint(scope)
    return state


def _serve_in_gevent_worker(state: StagecastState) -> None:
    """In a gunicorn gevent worker (the app is loaded after its monkey-patch): LangGraph's loops
    get greenlets instead of parked threads, and the worker's shutdown (SIGTERM, or a HUP
    reload) drains open streams at once with a ``retry:`` hint, so clients resume elsewhere
    (docs/architecture.md, trap 8). Elsewhere (``flask run``, a test client) nothing is done."""
    from gevent import monkey

    if not monkey.is_module_patched("threading"):
        return
    import gevent

    from .agent import executor

    executor.install()
    # gunicorn's worker handles SIGTERM with its own bound method, and only flips ``alive``.
    worker = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if worker is None or not hasattr(worker, "alive"):
        return

    def watch() -> None:
        while worker.alive:
            gevent.sleep(0.2)
        state.manager.drain()

    gevent.spawn(watch)
