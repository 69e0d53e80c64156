"""The operators' pages: the dashboard (``/``), the runs monitor (``/runs``), and the JS
client they import (``/static/stagecast.js`` and its modules, served from ``clients/js``).

Views stay thin: they render a template or send a file. Everything the pages show comes
from the public API (``/api/chat/stream``, ``/api/runs``), read by the browser itself.
"""

from flask import Blueprint

bp = Blueprint("web", __name__, template_folder="../templates")

assets = Blueprint("web_assets", __name__, static_folder="../static", static_url_path="/static")
"""The pages' own files where the app's static route is not Stagecast's (a host app): mounted
beside the pages, so ``../stagecast.js`` from ``static/dashboard/`` finds the JS client."""

from . import client_files, pages  # noqa: E402  (routes register on bp)

__all__ = ["assets", "bp", "client_files", "pages"]
