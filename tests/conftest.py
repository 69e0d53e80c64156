"""Fixtures: a real gunicorn + gevent server per configuration, an HTTP client, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, missing_chromium
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server, run_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default configuration: embedded offline writer, short heartbeat."""
    with run_server(tmp_path_factory.mktemp("server"), heartbeat_s=0.5) as running:
        yield running


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Server]:
    """The OpenAI-compatible path, against the local fake upstream."""
    with run_server(
        tmp_path_factory.mktemp("llm"),
        heartbeat_s=0.3,
        openai_base_url=fake_openai.base_url,
        llm_retry_backoff_s=0.05,
    ) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(30.0)) as http:
        yield http


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium; a test that needs it fails (never skips) when it is missing."""
    problem = missing_chromium()
    if problem:
        pytest.fail(problem, pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
