"""The JS client (``clients/js`` of the repository) at ``/static/``, as the pages import it.

``stagecast.js`` imports ``./state.js`` and ``./sse.js``, and ``sse.js`` imports
``./vendor/eventsource-parser.js``, so they are served side by side under ``/static/`` (with
``branches.js``, which imports ``./stagecast.js``). Only
the client's published files are served (its package.json ``files``), never the folder.
The dashboard's own files live in ``app/static/dashboard/`` (Flask's static route).
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_from_directory

from . import bp

CLIENT_MODULES = ("stagecast.js", "stagecast.d.ts", "state.js", "sse.js", "branches.js", "branches.d.ts")


_PACKAGED = Path(__file__).resolve().parent / "client"
_CHECKOUT = Path(__file__).resolve().parents[2] / "clients" / "js"


def client_dir() -> Path:
    """The client's files: copied into the package when a wheel is built (``web/client``, by
    setup.py), else ``clients/js`` of the checkout the package is in."""
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


@bp.get(f"/static/<any({', '.join(CLIENT_MODULES)}):filename>")
def client_module(filename: str) -> Response:
    return _send(client_dir(), filename)


@bp.get("/static/vendor/<path:filename>")
def client_vendor(filename: str) -> Response:
    return _send(client_dir() / "vendor", filename)


def _send(directory: Path, filename: str) -> Response:
    # send_from_directory refuses paths that leave the directory (404).
    mimetype = "text/javascript" if filename.endswith(".js") else "text/plain"
    return send_from_directory(directory, filename, mimetype=mimetype, max_age=0)
