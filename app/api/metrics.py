"""``/metrics``: the Prometheus text format, summed over the server's workers; with
``STAGECAST_METRICS_TOKEN`` set, only for ``Authorization: Bearer <that token>``."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from app import metrics
from app.auth import Unauthorized
from app.extension import stagecast

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    token = stagecast().settings.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("Send Authorization: Bearer <STAGECAST_METRICS_TOKEN>.")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
