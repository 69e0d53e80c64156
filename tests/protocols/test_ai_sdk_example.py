"""The Vite + React ``useChat`` example (clients/examples/ai-sdk-chat) in headless Chromium,
built from its lockfile, served by ``vite preview`` with /api proxied to a real Stagecast."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.chromium import artifact
from tests.support.inventory import true_stock
from tests.support.server import REPO, Server, free_port, stop_process_group

EXAMPLE = REPO / "clients" / "examples" / "ai-sdk-chat"
QUESTION = "ABC-12345 부품의 재고는?"
STOCK = f"{true_stock('ABC-12345'):,}"
STAGES = ["query_analysis", "data_retrieval", "response_generation"]


@pytest.fixture(scope="module")
def example_url(protocol_server: Server) -> Iterator[str]:
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE, check=True)
    subprocess.run(["npx", "vite", "build", "--logLevel", "warn"], cwd=EXAMPLE, check=True)
    port = free_port()
    preview = subprocess.Popen(
        ["npx", "vite", "preview", "--host", "127.0.0.1", "--port", str(port), "--strictPort"],
        cwd=EXAMPLE,
        env={**os.environ, "STAGECAST_URL": protocol_server.url},
        stdout=subprocess.DEVNULL,
        # npx starts node, which starts esbuild: a group of their own, stopped as a whole.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, preview)
        yield url
    finally:
        stop_process_group(preview)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vite preview exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"vite preview did not come up on {url}")


@pytest.fixture
def page(browser: Browser, example_url: str) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(example_url)
    yield opened
    context.close()
    assert errors == []


def ask(page: Page, question: str) -> None:
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Ask").click()


def expect_whole_answer(page: Page) -> None:
    assistant = page.locator(".message.assistant")
    for stage in STAGES:
        expect(assistant.locator(f'li[data-stage="{stage}"]')).to_have_attribute(
            "data-status", "completed", timeout=15_000
        )
    expect(page.locator(".status")).to_have_text("ready", timeout=15_000)
    expect(assistant.locator(".answer")).to_contain_text(STOCK)
    expect(assistant.locator("table")).to_contain_text("500")
    expect(assistant.locator(".sources li").first).to_be_visible()


def test_use_chat_renders_stages_answer_table_sources(page: Page) -> None:
    ask(page, QUESTION)
    # The stages show while the answer is written.
    expect(page.locator('li[data-stage="query_analysis"]')).to_be_visible(timeout=10_000)
    expect_whole_answer(page)
    page.screenshot(path=artifact("ai-sdk-chat.png"), full_page=True)
    assert page.locator(".message.assistant").count() == 1


def test_reload_mid_answer_resumes_it(page: Page) -> None:
    ask(page, QUESTION)
    answer = page.locator(".message.assistant .answer")
    expect(answer).to_contain_text("ABC-12345", timeout=10_000)  # partway through
    assert page.locator(".status").inner_text() == "streaming"
    with page.expect_response(lambda r: r.url.endswith("/stream") and r.status == 200):
        page.reload()  # useChat({resume: true}) asks for the live answer of this chat
    # The question was kept; the answer is replayed from its start and followed to its end.
    expect(page.locator(".message.user")).to_have_text(QUESTION)
    expect_whole_answer(page)
    assert page.locator(".message.assistant").count() == 1
    page.screenshot(path=artifact("ai-sdk-chat-resumed.png"), full_page=True)
