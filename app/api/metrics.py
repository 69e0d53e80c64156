"""``/metrics``: the Prometheus text format, summed over the server's workers.

With ``STAGECAST_METRICS_TOKEN`` set, it answers ``Authorization: Bearer <that token>``. With
authentication on, it also answers an admin's key or JWT, and nobody else: it holds no
content, but agent names and load are not for every user (docs/security.md). With neither,
it is open, as everything is."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from .. import metrics
from ..auth import Unauthorized, authenticator
from ..state import stagecast

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not _may_scrape(given):
        raise Unauthorized("Send Authorization: Bearer <STAGECAST_METRICS_TOKEN or an admin's key>.")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _may_scrape(given: str) -> bool:
    settings = stagecast().settings
    token = settings.metrics_token
    if token is not None and hmac.compare_digest(given.encode(), token.encode()):
        return True
    if not settings.auth_enabled:
        return token is None
    try:
        return bool(given) and authenticator().authenticate(given).admin
    except Unauthorized:
        return False
