"""Settings are validated once, and a bad one stops the server with a message naming it."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import SettingsError, load_settings
from tests.support.server import REPO


def test_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGECAST_HEARTBEAT_S", "3")
    monkeypatch.setenv("STAGECAST_GRAPHS", "extra=pkg.module:graph")
    monkeypatch.setenv("STAGECAST_LLM_ALLOWED_MODELS", "a, b")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    settings = load_settings({"max_body_bytes": 1024})
    assert settings.heartbeat_s == 3 and settings.max_body_bytes == 1024
    assert settings.graphs == {
        "chat": "app.agent.graphs.chat:graph",
        "review": "app.agent.graphs.review:graph",
        "extra": "pkg.module:graph",
    }
    assert settings.llm_max_retries == 2 and settings.review_approval_threshold == 5_000_000
    assert settings.llm_allowed_models == ["a", "b"]
    assert settings.llm_enabled and settings.workers == 1 and settings.disconnect_grace_s == 10
    assert settings.llm_keepalive_connections == 100 and settings.llm_keepalive_s == 4


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("STAGECAST_HEARTBEAT_S", "-1", "STAGECAST_HEARTBEAT_S"),
        ("STAGECAST_WORKERS", "many", "STAGECAST_WORKERS"),
        ("STAGECAST_GRAPHS", "nonsense", "name=module:attribute"),
        ("STAGECAST_BUSY_THREAD_POLICY", "maybe", "STAGECAST_BUSY_THREAD_POLICY"),
        ("STAGECAST_LLM_MAX_RETRIES", "-1", "STAGECAST_LLM_MAX_RETRIES"),
        ("STAGECAST_LLM_RETRY_BACKOFF_S", "-0.5", "STAGECAST_LLM_RETRY_BACKOFF_S"),
        ("STAGECAST_LLM_RETRY_MAX_WAIT_S", "soon", "STAGECAST_LLM_RETRY_MAX_WAIT_S"),
        ("STAGECAST_LLM_MAX_TOOL_ROUNDS", "-2", "STAGECAST_LLM_MAX_TOOL_ROUNDS"),
        ("STAGECAST_LLM_KEEPALIVE_CONNECTIONS", "-1", "STAGECAST_LLM_KEEPALIVE_CONNECTIONS"),
        ("STAGECAST_LLM_KEEPALIVE_S", "0", "STAGECAST_LLM_KEEPALIVE_S"),
        ("STAGECAST_REVIEW_APPROVAL_THRESHOLD", "-1", "STAGECAST_REVIEW_APPROVAL_THRESHOLD"),
    ],
)
def test_bad_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=fragment):
        load_settings()


def test_gunicorn_refuses_a_bad_setting_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGECAST_HEARTBEAT_S", "0")
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == "stagecast: invalid settings: STAGECAST_HEARTBEAT_S: Input should be greater than 0"
    )


@pytest.mark.parametrize(("value", "expected"), [("5000", "5000 True"), ("0", "700 False")])
def test_workers_tune_the_garbage_collector(value: str, expected: str) -> None:
    # In a fresh interpreter: the collector's settings are process-wide.
    script = (
        "import gc, runpy; conf = runpy.run_path('gunicorn.conf.py'); conf['tune_gc'](); "
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "STAGECAST_GC_THRESHOLD": value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == expected, result.stderr


def _with_open_file_limit(soft: int, hard: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return limit


@pytest.mark.parametrize(
    ("connections", "hard", "warned"),
    [("2000", 8192, False), ("10000", 8192, True)],
)
def test_gunicorn_raises_the_open_file_limit_and_warns_below_what_streams_need(
    tmp_path: Path, connections: str, hard: int, warned: bool
) -> None:
    # A fresh interpreter started with a soft limit of 256, as a distribution's default 1,024 is:
    # the master raises it to the hard limit, and says so when even that is below two
    # descriptors per connection (the client's and the upstream's).
    script = (
        "import resource, runpy\n"
        "conf = runpy.run_path('gunicorn.conf.py')\n"
        "class Log:\n"
        "    def warning(self, message, *args): print('WARNING', message % args)\n"
        "class Server:\n"
        "    log = Log()\n"
        "conf['on_starting'](Server())\n"
        "print('soft', resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    env = {**os.environ, "STAGECAST_WORKER_CONNECTIONS": connections, "STAGECAST_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_with_open_file_limit(256, hard),
    )
    assert result.returncode == 0, result.stderr
    assert f"soft {hard}" in result.stdout
    assert ("WARNING open-file limit 8192 is below the 20256 descriptors" in result.stdout) is warned
