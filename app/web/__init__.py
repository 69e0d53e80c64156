"""The operators' pages: the dashboard (``/``), the runs monitor (``/runs``), and the JS
client they import (``/static/stagecast.js`` and its modules, served from ``clients/js``).

Views stay thin: they render a template or send a file. Everything the pages show comes
from the public API (``/api/chat/stream``, ``/api/runs``), read by the browser itself.
"""

from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import client_files, pages  # noqa: E402  (routes register on bp)

__all__ = ["bp", "client_files", "pages"]
