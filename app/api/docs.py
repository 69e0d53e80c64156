"""``/openapi.json`` (OpenAPI 3.1, built from the routes and models) and ``/docs`` (a page that
renders it with this server's own script: no CDN, and the pages' CSP holds)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template

from app import openapi

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    document = current_app.extensions.get("stagecast_openapi")
    if document is None:  # built once per process, on first use (every route is registered)
        document = current_app.extensions["stagecast_openapi"] = openapi.build(current_app)
    return jsonify(document)


@bp.get("/docs")
def docs() -> Response:
    """The API reference, for people."""
    return Response(render_template("docs.html"), mimetype="text/html")
