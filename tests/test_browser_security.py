"""Security in real headless Chromium: the dashboard's sign-in with auth on, the runs monitor
showing only the user's runs, /docs under the pages' CSP, and a cross-origin page reading a
run with EventSource (withCredentials) through CORS and a stream token."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.chromium import artifact
from tests.support.server import Server, run_server
from tests.test_browser import QUESTION, STOCK, Session, open_dashboard, session, wait_until

__all__ = ["session"]  # the fixture, shared with tests/test_browser.py (browser: conftest.py)

KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc"}


@pytest.fixture(scope="module")
def front_end() -> Iterator[str]:
    """An empty page on another origin, as a front-end served from elsewhere."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>front-end</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, front_end: str) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("secured-web"),
        api_keys=",".join(f"{user}={key}" for user, key in KEYS.items()),
        cors_origins=front_end,
        offline_token_delay_ms=5,
    ) as running:
        yield running


def test_dashboard_asks_for_a_key_and_keeps_it_for_the_tab(session: Session, secured: Server) -> None:
    page = open_dashboard(session, secured.url)
    page.fill("#question", QUESTION)
    page.click("#ask")

    dialog = page.locator("#auth-dialog")
    expect(dialog).to_be_visible()
    page.fill("#auth-token", KEYS["alice"])
    page.screenshot(path=artifact("sign-in.png"))
    page.click("#auth-dialog button[type=submit]")

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    assert STOCK in (page.text_content("#answer .answer-text") or "")
    stream = session.api_requests("POST", r"/api/chat/stream$")[-1]
    assert stream.headers["authorization"] == f"Bearer {KEYS['alice']}"
    # Kept for the tab: a reload asks nothing, and the key never went into a URL.
    page.reload()
    page.fill("#question", QUESTION)
    page.click("#ask")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    expect(dialog).to_be_hidden()
    assert all(KEYS["alice"] not in request.url for request in session.requests)


def test_runs_monitor_shows_the_users_own_runs(session: Session, secured: Server) -> None:
    def ask(user: str) -> str:
        headers = {"Authorization": f"Bearer {KEYS[user]}"}
        answer = httpx.post(
            secured.url + "/api/chat", json={"message": QUESTION}, headers=headers, timeout=60
        )
        return answer.json()["run_id"]

    mine, theirs = ask("alice"), ask("bob")
    page = session.page
    page.goto(secured.url + "/runs")
    expect(page.locator("#auth-dialog")).to_be_visible()
    page.fill("#auth-token", KEYS["alice"])
    page.click("#auth-dialog button[type=submit]")
    expect(page.locator(f'tr[data-run-id="{mine}"]')).to_have_attribute("data-status", "success")
    expect(page.locator(f'tr[data-run-id="{theirs}"]')).to_have_count(0)


def test_docs_render_under_the_pages_csp(session: Session, secured: Server) -> None:
    page = session.page
    page.goto(secured.url + "/docs")
    expect(page.locator("#op-runs_create")).to_be_visible()
    expect(page.locator("#schema-RunRequest")).to_contain_text("conversation_id")
    expect(page.locator("#schema-Event")).to_be_visible()
    page.screenshot(path=artifact("docs.png"))
    # A CSP violation or a failed load would be a console error (checked by the fixture).


def test_eventsource_from_another_origin_with_a_stream_token(
    session: Session, secured: Server, front_end: str
) -> None:
    created = httpx.post(
        secured.url + "/api/runs",
        json={"message": QUESTION},
        headers={"Authorization": f"Bearer {KEYS['alice']}", "Origin": front_end},
    ).json()
    page = session.page
    page.goto(front_end + "/")
    page.evaluate(
        """url => {
            window.received = [];
            const source = new EventSource(url, { withCredentials: true });
            source.onmessage = (e) => {
              const event = JSON.parse(e.data);
              window.received.push(event.type);
              if (event.type === 'done') source.close();
            };
            source.onerror = () => window.received.push('onerror');
        }""",
        secured.url + created["stream_url"],
    )
    wait_until(lambda: "done" in page.evaluate("window.received"), what="the run's done event")
    received = page.evaluate("window.received")
    assert received[0] == "start" and received[-1] == "done" and "final" in received
    assert "onerror" not in received
