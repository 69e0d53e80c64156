"""Cross-site defences and response headers: ``Host`` allowlist, ``Origin`` check on requests
that change state, CORS for an allowlist of origins (flask-cors), and security headers.

- DNS rebinding: a page on an attacker's name that resolves to this server sends its own
  ``Host`` (and an ``Origin`` to match). Only the names in ``STAGECAST_ALLOWED_HOSTS`` are
  answered; without it, the loopback names (``localhost``, ``127.0.0.1``, ``[::1]``, any port)
  and the host of ``STAGECAST_BIND``.
- Cross-site requests: a page elsewhere can send a form POST or a GET (an ``<img>``, an
  ``EventSource``) that starts or cancels runs. Requests that change state are refused when the
  browser says they come from an origin (``Origin``, or ``Sec-Fetch-Site`` where a browser
  sends no ``Origin``) whose host is not an allowed host and that is not in
  ``STAGECAST_CORS_ORIGINS``. The request's own ``Host`` is never the reference: the attacker
  chooses it. Clients that are not browsers send neither header and are unaffected. Stagecast
  sets no cookies, so there is no ambient credential to ride on such a request; this check
  covers the anonymous mode too (docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Request, Response, current_app, request
from flask_cors import CORS

from .api.streaming import last_event_id_of
from .config import Settings
from .errors import ServiceError, not_found
from .events import ErrorCode
from .runs.owners import ID_PATTERN

# Pages load everything from this origin: no CDN, no inline script or style.
PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Anything else (JSON, event streams) is never a document to render or frame.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

# The paths a cross-origin front-end may call (with CORS_ORIGINS set).
_CORS_PATHS = r"^/(api|v1|langgraph)(/.*)?$"
_PROTECTED = re.compile(r"^/(api|v1|langgraph)(/|$)")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Requests that start a run (or make a thread a run goes on): what the rate limit counts and
# what a cross-site page must not send. Derived from the route table (``run_starters``):
# every route under the API prefixes whose method changes state counts unless it is named
# here, so a route added later is counted until someone decides otherwise.
_STARTS_NO_RUN = frozenset(
    {
        "runs.cancel",
        "stream_tokens.create",
        "threads.hand_over",
        "langgraph.search_assistants",
        "langgraph.search_threads",
        "langgraph.history",
        "langgraph.cancel_run",
        "langgraph.update_thread",
        "langgraph.delete_thread",
    }
)
# The one GET that starts a run: the EventSource form.
_GET_RUN_STARTERS = frozenset({"chat.stream_get"})
_ID = re.compile(ID_PATTERN)
# Ids a path may carry, and the error an unknown one answers.
_PATH_IDS = {
    "thread_id": ErrorCode.THREAD_NOT_FOUND,
    "chat_id": ErrorCode.THREAD_NOT_FOUND,
    "run_id": ErrorCode.RUN_NOT_FOUND,
}
# The names a server with no STAGECAST_ALLOWED_HOSTS answers to, besides its bind's host.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# A Host header (or an Origin's host): a name or IPv4 address, or a bracketed IPv6 one, and a port.
_HOST = re.compile(r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([1-9][0-9]{0,4}))?", re.IGNORECASE)


def _split_host(value: str) -> tuple[str, str | None] | None:
    """``(host, port)`` of a ``host[:port]``, the host lower-cased; None if it is not one."""
    match = _HOST.fullmatch(value.strip())
    if match is None:
        return None
    return match[1].lower().rstrip("."), match[2]


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """``STAGECAST_ALLOWED_HOSTS``, or by default the loopback names and the bind's host."""
    if settings.allowed_hosts:
        return tuple(settings.allowed_hosts)
    bind = None if settings.bind.startswith(("unix:", "fd://")) else _split_host(settings.bind)
    return (*LOOPBACK_HOSTS, *([bind[0]] if bind else []))


def host_allowed(value: str, allowed: Iterable[str]) -> bool:
    """Is ``value`` (``host[:port]``) one of ``allowed``? An entry without a port allows any
    port; one that starts with a dot allows its subdomains."""
    given = _split_host(value)
    if given is None:
        return False
    host, port = given
    for entry in allowed:
        subdomains = entry.startswith(".")
        wanted = _split_host(entry.removeprefix("."))
        if wanted is None:
            continue
        name, wanted_port = wanted
        if wanted_port is not None and wanted_port != port:
            continue
        if host == name or (subdomains and host.endswith("." + name)):
            return True
    return False


def may_start_run(endpoint: str, method: str, path: str) -> bool:
    """Can a request to this route (an endpoint's URL rule, and a method) start a run?"""
    if not _PROTECTED.match(path):
        return False
    if method == "GET":
        return endpoint in _GET_RUN_STARTERS
    # A HEAD starts nothing (app.api.streaming.head_response).
    return method not in ("HEAD", "OPTIONS") and endpoint not in _STARTS_NO_RUN


def run_starters(app: Flask) -> frozenset[tuple[str, str]]:
    """``(endpoint, method)`` of every route of ``app`` that can start a run."""
    found = app.extensions.get("stagecast_run_starters")
    if found is None:
        # Mounted in a host app, the routes are Stagecast's blueprint's, under its prefix:
        # judged by the names and paths the service gives them.
        state = app.extensions["stagecast"]
        found = frozenset(
            (rule.endpoint, method)
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith(state.endpoint_prefix)
            for method in rule.methods or ()
            if may_start_run(
                rule.endpoint.removeprefix(state.endpoint_prefix), method, state.service_path(rule.rule)
            )
        )
        app.extensions["stagecast_run_starters"] = found
    return found


def starts_run(req: Request) -> bool:
    """Does this request start a run (rather than read or resume one)?"""
    if req.url_rule is None or (req.url_rule.endpoint, req.method) not in run_starters(current_app):
        return False
    # The EventSource form, a GET, resumes a run instead when it names a Last-Event-ID.
    return not (req.method == "GET" and last_event_id_of(req) is not None)


def _settings() -> Settings:
    return current_app.extensions["stagecast"].settings


def _allowed() -> tuple[str, ...]:
    return current_app.extensions["stagecast_hosts"]


def _check_host() -> None:
    # /healthz answers whatever name a load balancer's probe uses; it tells nothing.
    if request.path != "/healthz" and not host_allowed(request.host, _allowed()):
        raise ServiceError(
            ErrorCode.INVALID_HOST,
            400,
            "This server does not answer to that Host; add the name to STAGECAST_ALLOWED_HOSTS.",
        )


def _check_origin() -> None:
    if request.method in _SAFE_METHODS and not starts_run(request):
        return
    origin = request.headers.get("Origin")
    if origin is None:
        # Browsers leave Origin off some GETs but always say where a request came from here.
        if request.headers.get("Sec-Fetch-Site") != "cross-site":
            return
    elif origin in _settings().cors_origins or host_allowed(_netloc(origin), _allowed()):
        return
    raise ServiceError(
        ErrorCode.CROSS_ORIGIN,
        403,
        "Requests from other sites may not start or change runs; add the site's origin to "
        "STAGECAST_CORS_ORIGINS to allow it.",
    )


def _netloc(origin: str) -> str:
    try:
        return urlsplit(origin).netloc
    except ValueError:  # e.g. an unclosed [ in an IPv6 address
        return ""


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    page = response.mimetype == "text/html"
    headers.setdefault("Content-Security-Policy", PAGE_POLICY if page else DATA_POLICY)
    return response


def check_path_ids() -> None:
    """An id in the path outside the character set clients may use (``ID_PATTERN``: no NUL,
    no ``#``) names nothing: the same 404 as an unknown id. (Registered after ``auth``.)"""
    for name, code in _PATH_IDS.items():
        value = (request.view_args or {}).get(name)
        if value is not None and not _ID.match(value):
            raise not_found(code, "No such id on this server.")


def init_app(
    app: Flask, settings: Settings, scope: Blueprint | None = None, cors_paths: str = _CORS_PATHS
) -> None:
    """Register before ``auth``: a bad Host or a cross-site request is refused before anything
    else is looked at. With ``scope`` (the extension's blueprint in a host app), only its
    routes are checked and given these headers, and CORS covers ``cors_paths``."""
    if scope is None:
        # "/api/runs/%2F/stream" arrives as /api/runs///stream: no route, so a JSON 404, instead
        # of werkzeug's 308 (an HTML page) to a merged path that names another route. (A host
        # app's URL map is its own.)
        app.url_map.merge_slashes = False
    app.extensions["stagecast_hosts"] = allowed_hosts(settings)
    (scope or app).before_request(_check_host)
    (scope or app).before_request(_check_origin)
    (scope or app).after_request(_add_headers)
    if settings.cors_origins:
        CORS(
            app,
            resources={cors_paths: {}},
            origins=settings.cors_origins,
            allow_headers=["Content-Type", "Authorization", "Last-Event-ID"],
            expose_headers=["Content-Location", "X-Run-ID", "X-Trace-ID"],
            # Cookies or HTTP auth of the front-end's own, and EventSource(withCredentials).
            supports_credentials=True,
            max_age=600,
        )
