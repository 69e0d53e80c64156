"""Cross-site defences and response headers: ``Host`` allowlist, ``Origin`` check on requests
that change state, CORS for an allowlist of origins (flask-cors), and security headers.

- DNS rebinding: a page on an attacker's name that resolves to this server sends its own
  ``Host``; with ``STAGECAST_ALLOWED_HOSTS`` set, any other ``Host`` is refused.
- Cross-site requests: a page elsewhere can send a form POST or a GET (an ``<img>``, an
  ``EventSource``) that starts or cancels runs. Requests that change state are refused when the
  browser says they come from another origin (``Origin``, or ``Sec-Fetch-Site`` where a browser
  sends no ``Origin``) that is not in ``STAGECAST_CORS_ORIGINS``. Clients that are not browsers
  send neither header and are unaffected. Stagecast sets no cookies, so there is no ambient
  credential to ride on such a request; this check covers the anonymous mode too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, request
from flask_cors import CORS
from werkzeug.sansio.utils import host_is_trusted

from app.api.streaming import last_event_id_of
from app.config import Settings
from app.errors import ServiceError
from app.events import ErrorCode

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
# Requests that start a run: what the rate limit counts and what a cross-site page must not send.
_RUN_STARTERS = re.compile(
    r"^/(api/chat(/stream)?|api/runs|api/ai-sdk/chat|api/ag-ui|v1/chat/completions"
    r"|langgraph/(threads/[^/]+/)?runs(/stream|/wait)?)$"
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def may_start_run(method: str, path: str) -> bool:
    """Can a request with this method and path start a run?"""
    if method == "POST":
        return bool(_RUN_STARTERS.match(path))
    return method == "GET" and path == "/api/chat/stream"


def starts_run(req: Request) -> bool:
    """Does this request start a run (rather than read or resume one)?"""
    # The EventSource form, a GET, resumes a run instead when it names a Last-Event-ID.
    resumes = req.method == "GET" and last_event_id_of(req) is not None
    return may_start_run(req.method, req.path) and not resumes


def _settings() -> Settings:
    return current_app.extensions["stagecast"].settings


def _check_host() -> None:
    allowed = _settings().allowed_hosts
    # /healthz answers whatever name a load balancer's probe uses; it tells nothing.
    if allowed and request.path != "/healthz" and not host_is_trusted(request.host, allowed):
        raise ServiceError(ErrorCode.INVALID_HOST, 400, "This server does not answer to that Host.")


def _check_origin() -> None:
    if request.method in _SAFE_METHODS and not starts_run(request):
        return
    origin = request.headers.get("Origin")
    if origin is None:
        # Browsers leave Origin off some GETs but always say where a request came from here.
        if request.headers.get("Sec-Fetch-Site") != "cross-site":
            return
    elif urlsplit(origin).netloc == request.host or origin in _settings().cors_origins:
        return
    raise ServiceError(
        ErrorCode.CROSS_ORIGIN,
        403,
        "Requests from other sites may not start or change runs; add the site's origin to "
        "STAGECAST_CORS_ORIGINS to allow it.",
    )


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    page = response.mimetype == "text/html"
    headers.setdefault("Content-Security-Policy", PAGE_POLICY if page else DATA_POLICY)
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Register before ``auth``: a bad Host or a cross-site request is refused before anything
    else is looked at."""
    app.before_request(_check_host)
    app.before_request(_check_origin)
    app.after_request(_add_headers)
    if settings.cors_origins:
        CORS(
            app,
            resources={_CORS_PATHS: {}},
            origins=settings.cors_origins,
            allow_headers=["Content-Type", "Authorization", "Last-Event-ID"],
            expose_headers=["Content-Location", "X-Run-ID", "X-Trace-ID"],
            # Cookies or HTTP auth of the front-end's own, and EventSource(withCredentials).
            supports_credentials=True,
            max_age=600,
        )
