"""``STAGECAST_RATE_LIMIT``: how many runs a user (or, with auth off, a client address) may
start, counted by Flask-Limiter in memory, or in Redis when ``STAGECAST_REDIS_URL`` is set so
every worker and host shares one count. Admins are exempt. Only requests that start a run
or make a thread count (``app.security.starts_run``, from the route table, so adapters' routes
and routes added later are covered too); the count is one per caller across all of them.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from .api.errors import error_response
from .auth import current_principal
from .config import Settings
from .errors import ServiceError
from .events import ErrorCode
from .security import starts_run


def _client_key() -> str:
    user = current_principal().user_id
    return f"user:{user}" if user is not None else f"addr:{request.remote_addr}"


def _exempt() -> bool:
    return not starts_run(request) or current_principal().admin


def init_app(app: Flask, settings: Settings) -> None:
    """Register after ``auth``: the count is per authenticated user."""
    if not settings.rate_limit:
        return
    limiter = Limiter(
        key_func=_client_key,
        app=app,
        # One count per caller across every run-starting route (not one per route).
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=_exempt,
        storage_uri=settings.redis_url or "memory://",
        # The exact window: no burst of twice the limit around a window's edge.
        strategy="moving-window",
        key_prefix=settings.redis_prefix + "ratelimit",
        # Redis down: count in this process meanwhile rather than refuse every run.
        in_memory_fallback_enabled=True,
    )

    def too_many(exc: RateLimitExceeded) -> Response:
        limit = limiter.current_limit
        # When the oldest counted request leaves the window, one more is allowed.
        retry_after = max(1, math.ceil(limit.window[0] - time.time())) if limit is not None else 60
        return error_response(
            ServiceError(
                ErrorCode.RATE_LIMITED,
                429,
                f"Too many runs started: the limit is {exc.limit.limit}.",
                retry_after=retry_after,
            )
        )

    app.register_error_handler(RateLimitExceeded, too_many)
