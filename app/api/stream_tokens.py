"""``/api/stream-tokens``: how a page opens a run's stream with ``EventSource``, which cannot
send an ``Authorization`` header (docs/security.md)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..auth import StreamTokenRequest, stream_token_for
from ..ownership import visible_run
from ..validation import validate_body

bp = Blueprint("stream_tokens", __name__, url_prefix="/stream-tokens")


@bp.post("")
def create() -> tuple[Response, int]:
    """A short-lived token that opens one run's stream, for a run the caller may see."""
    run_id = validate_body(request, StreamTokenRequest).run_id
    visible_run(run_id)
    response = jsonify(stream_token_for(run_id).model_dump())
    response.headers["Cache-Control"] = "no-store"  # a credential, however short-lived
    return response, 201
