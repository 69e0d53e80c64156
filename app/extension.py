"""Stagecast as a Flask extension (:class:`Stagecast`), and one app's state, kept on the Flask
app as ``app.extensions["stagecast"]`` (:class:`StagecastState`; docs/extension.md).

Two modes, chosen by the settings (docs/architecture.md, "Distributed mode"):
- embedded (default): run logs in this process's memory; run records and checkpoints in
  SQLite under ``STAGECAST_DATA_DIR``;
- distributed (``STAGECAST_REDIS_URL`` and ``STAGECAST_DATABASE_URL``): run logs, fan-out,
  cancels and leases in Redis; run records and checkpoints in PostgreSQL.

Either way this runs inside the worker, after gevent has patched the standard library, so
the database clients it makes cooperate with gevent (trap 6).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Request, current_app
from langgraph.checkpoint.base import BaseCheckpointSaver

from . import metrics
from .agent.registry import load_agents
from .agent.store import open_store
from .config import Settings, load_settings
from .runs.backends import Coordinator, worker_name
from .runs.manager import RunManager
from .runs.store import RunStore
from .transport.slots import StreamSlots
from .transport.streams import Transport


@dataclass(frozen=True)
class StagecastState:
    """One app's Stagecast: its settings, runs, threads and open streams."""

    settings: Settings
    manager: RunManager
    checkpointer: BaseCheckpointSaver
    streams: StreamSlots
    transport: Transport
    url_prefix: str = "/api"
    """Where the native routes are mounted (``/api`` for the service)."""
    endpoint_prefix: str = ""
    """What the blueprints' endpoint names start with (``stagecast.`` when mounted in a host app)."""

    def endpoint(self, name: str) -> str:
        """The full endpoint name of a native route, e.g. ``runs.stream``, for ``url_for``."""
        return self.endpoint_prefix + name

    def service_path(self, path: str) -> str:
        """``path`` as the service would spell it: under ``/api`` for the native routes and the
        AI SDK and AG-UI adapters, at the root for ``/v1`` and ``/langgraph`` (what the
        security module's path rules are written against)."""
        if not self.endpoint_prefix or not path.startswith(self.url_prefix + "/"):
            return path  # the service's own paths, or not one of Stagecast's
        rest = path[len(self.url_prefix) :]
        at_root = rest.partition("/")[2].partition("/")[0] in ("v1", "langgraph")
        return rest if at_root else "/api" + rest


def init_state(
    app: Flask,
    settings: Settings,
    agents: Mapping[str, object] | None = None,
    url_prefix: str = "/api",
    endpoint_prefix: str = "",
) -> StagecastState:
    checkpointer, store, coordinator = _distributed(settings) if settings.distributed else _embedded(settings)
    registry = load_agents(settings, checkpointer, agents, open_store(settings, checkpointer))
    manager = RunManager(settings, registry, store, coordinator, metrics)
    if settings.distributed:
        from .runs.backends.redis import RedisCoordinator
        from .runs.sweeper import Sweeper

        # A checkpoint write refused as stale stops that run here (docs/faults.md).
        checkpointer.on_stale = manager.fenced  # type: ignore[attr-defined]
        assert isinstance(coordinator, RedisCoordinator)
        Sweeper(store, coordinator, settings.run_lease_s).start()
    streams = StreamSlots(settings)
    state = StagecastState(
        settings=settings,
        manager=manager,
        checkpointer=checkpointer,
        streams=streams,
        transport=Transport(manager, streams),
        url_prefix=url_prefix,
        endpoint_prefix=endpoint_prefix,
    )
    app.extensions["stagecast"] = state
    return state


def _embedded(settings: Settings) -> tuple[BaseCheckpointSaver, RunStore, Coordinator]:
    from .runs.backends.memory import MemoryCoordinator
    from .runs.store.sqlite import SQLiteRunStore, connect
    from .runs.store.sqlite_checkpoints import SqliteCheckpointer

    checkpointer = SqliteCheckpointer(connect(settings.database_path))
    checkpointer.setup()
    store = SQLiteRunStore(connect(settings.database_path))
    return checkpointer, store, MemoryCoordinator(worker_name())


def _distributed(settings: Settings) -> tuple[BaseCheckpointSaver, RunStore, Coordinator]:
    from .runs.backends.redis import RedisCoordinator
    from .runs.store.postgres import PostgresCheckpointer, PostgresRunStore, open_pool

    assert settings.database_url is not None and settings.redis_url is not None
    pool = open_pool(settings.database_url, settings.database_pool_size)
    checkpointer = PostgresCheckpointer(pool)
    _setup_checkpointer(pool, checkpointer)
    coordinator = RedisCoordinator(
        worker_name(),
        settings.redis_url,
        prefix=settings.redis_prefix,
        lease_s=settings.run_lease_s,
        ttl_s=settings.run_ttl_s,
        max_connections=settings.redis_max_connections,
        # A busy thread's mark outlives every attempt of its run, then frees itself.
        thread_ttl_s=(settings.run_timeout_s + settings.run_lease_s) * settings.run_max_attempts,
    )
    return checkpointer, PostgresRunStore(pool), coordinator


def _setup_checkpointer(pool: object, checkpointer: BaseCheckpointSaver) -> None:
    """Create LangGraph's tables once, even when several workers start together."""
    from .runs.store.postgres import schema_lock

    with schema_lock(pool):  # type: ignore[arg-type]
        checkpointer.setup()  # type: ignore[attr-defined]


def stagecast() -> StagecastState:
    """The state of the app handling the current request."""
    return current_app.extensions["stagecast"]


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
