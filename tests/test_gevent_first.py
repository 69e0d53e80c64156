"""Gevent patches first (docs/architecture.md, trap 6): gunicorn's master loads nothing that
opens TLS or HTTP connections, so each worker's monkey-patch comes before them."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.support.server import REPO, Server

# What must not be imported before a worker patches: each keeps references to the
# unpatched ``ssl``/``socket`` (urllib3 and httpx import SSLContext directly).
_PATCH_SENSITIVE = (
    "httpx",
    "urllib3",
    "langgraph",
    "langchain_core",
    "openai",
    "psycopg",
    "redis",
    "requests",
)

_LOADED_BY_CONFIG = f"""
import runpy, sys
runpy.run_path("gunicorn.conf.py")
print(",".join(m for m in {_PATCH_SENSITIVE!r} if m in sys.modules))
"""


def test_gunicorn_config_imports_nothing_that_must_follow_the_patch() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", _LOADED_BY_CONFIG], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_worker_boots_without_a_monkey_patch_warning(server: Server, client: httpx.Client) -> None:
    # A stream makes the worker load LangGraph, httpx and the model path.
    with client.stream(
        "POST", server.url + "/api/chat/stream", json={"message": "ABC-12345 재고?"}
    ) as response:
        assert response.status_code == 200
        body = b"".join(response.iter_bytes())
    assert b'"type":"done"' in body.replace(b" ", b"")
    assert "MonkeyPatchWarning" not in server.log()
