"""The dashboard and the runs monitor in real headless Chromium, against a real server.

Chromium is Debian's (``apt-get install -y chromium fonts-noto-cjk``), driven by Playwright;
nothing is skipped when it is missing: the tests fail and say what to install. Screenshots go
to ``artifacts/browser/`` at the repository root.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, expect

from tests.browser.chromium import (
    INSTALL_HINT,
    artifact,
    korean_fonts,
)
from tests.browser.network import cuttable_proxy
from tests.support.inventory import true_stock
from tests.support.server import REPO, Server, run_server

QUESTION = "ABC-12345 부품의 재고는?"
STAGES = ["query_analysis", "data_retrieval", "response_generation"]
STOCK = f"{true_stock('ABC-12345'):,}"


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # ~50 ms per word: an answer takes a couple of seconds, time to look at it mid-stream,
    # cancel it or cut the network; a short retry: hint makes the client rejoin quickly.
    with run_server(
        tmp_path_factory.mktemp("web"), heartbeat_s=0.5, offline_token_delay_ms=50, retry_ms=300
    ) as running:
        yield running


@dataclass
class Session:
    """A page with what it requested and the script errors it raised."""

    page: Page
    requests: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def api_requests(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.url)]


@pytest.fixture
def session(browser: Browser) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    current = Session(page)
    page.on("request", lambda request: current.requests.append(request))
    page.on("pageerror", lambda exc: current.errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: _console(current, msg))
    yield current
    context.close()
    assert current.errors == []


def _console(session: Session, message: ConsoleMessage) -> None:
    # A cut connection is logged by Chromium as a failed resource load; script errors are not ok.
    if message.type in ("error", "warning") and "Failed to load resource" not in message.text:
        session.errors.append(f"console.{message.type}: {message.text}")


def wait_until(predicate: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    """Polls from Python: the pages' CSP forbids the eval that page.wait_for_function needs."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def answer_text(page: Page) -> str:
    return page.text_content("#answer .answer-text") or ""


def run_summary(server: Server, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/runs/{run_id}", timeout=10)
    response.raise_for_status()
    return response.json()


def open_dashboard(session: Session, base_url: str, path: str = "/") -> Page:
    page = session.page
    page.goto(base_url + path)
    expect(page.locator("#dashboard")).to_have_attribute("data-ready", "true")
    return page


# --- the dashboard ---


def test_dashboard_answers_with_stages_sources_table_and_chart(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    stages = page.locator("#stages .stage")
    expect(stages).to_have_count(3)
    for index, name in enumerate(STAGES):
        expect(stages.nth(index)).to_have_attribute("data-stage", name)
        expect(stages.nth(index)).to_have_attribute("data-state", "pending")

    page.fill("#question", QUESTION)
    page.click("#ask")

    # Mid-stream: the answer types in behind a cursor while the last stage runs.
    wait_until(lambda: len(answer_text(page)) >= 12, what="the answer to start typing")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "streaming")
    expect(page.locator("#answer")).to_have_attribute("data-state", "typing")
    expect(page.locator("#answer .cursor")).to_be_visible()
    expect(page.locator('[data-stage="response_generation"]')).to_have_attribute("data-state", "active")
    expect(page.locator("#cancel")).to_be_enabled()
    page.screenshot(path=artifact("dashboard-mid-stream.png"))

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    run_id = page.text_content("#run-id") or ""
    summary = run_summary(web_server, run_id)
    result = summary["result"]
    assert summary["status"] == "success"

    # All three stages completed, each with its timing.
    for name in STAGES:
        stage = page.locator(f'#stages [data-stage="{name}"]')
        expect(stage).to_have_attribute("data-state", "done")
        expect(stage.locator(".stage-time")).to_have_text(re.compile(r"^\d+(\.\d)? (ms|s)$"))

    # The answer: the streamed text, exactly final.content, with the true stock figure.
    assert answer_text(page) == result["content"]
    assert STOCK in answer_text(page)
    expect(page.locator("#answer")).to_have_attribute("data-consistent", "true")
    expect(page.locator("#answer")).to_have_attribute("lang", "ko")
    expect(page.locator("#answer .cursor")).to_be_hidden()
    expect(page.locator("#run-events")).to_have_text(str(summary["events"]))

    # Sources, the table and the chart come from final.
    sources = page.locator("#sources .source")
    expect(sources).to_have_count(len(result["sources"]))
    for index, source in enumerate(result["sources"]):
        expect(sources.nth(index).locator(".source-title")).to_have_text(source["title"])
    table = result["table_data"]
    expect(page.locator("#table-title")).to_have_text(table["title"])
    expect(page.locator("#data-table thead th")).to_have_text(table["columns"])
    expect(page.locator("#data-table tbody tr")).to_have_count(len(table["rows"]))
    expect(page.locator("#data-table tbody tr td:first-child")).to_have_text(
        [str(row[0]) for row in table["rows"]]
    )
    chart = result["chart_data"]
    svg = page.locator("#chart svg.chart-svg")
    expect(svg).to_be_visible()
    expect(svg).to_have_attribute("data-type", chart["type"])
    marks = ".chart-point" if chart["type"] == "line" else ".chart-bar"
    expect(svg.locator(marks)).to_have_count(sum(len(s["values"]) for s in chart["series"]))
    expect(page.locator("#chart-title")).to_have_text(chart["title"])
    expect(page.locator("#confidence-value")).to_have_text(f"{result['confidence_score']:.2f}")

    # Model text is inserted as text: no element was made from it.
    assert page.locator("#answer .answer-text *").count() == 0
    # Nothing was loaded from anywhere but the server.
    assert all(r.url.startswith(web_server.url) for r in session.requests), [r.url for r in session.requests]
    assert len(session.api_requests("POST", r"/api/chat/stream$")) == 1
    page.screenshot(path=artifact("dashboard-answer.png"), full_page=True)


def test_korean_renders_with_a_korean_font(session: Session, web_server: Server) -> None:
    fonts = korean_fonts()
    assert fonts, f"no Korean font is installed, so Hangul renders as boxes: {INSTALL_HINT}"
    page = open_dashboard(session, web_server.url)
    page.fill("#question", QUESTION)
    page.click("#ask")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)

    # Ask Chromium which fonts it actually drew the answer's glyphs with.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#answer .answer-text"})["nodeId"]
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    families = [font["familyName"] for font in used]
    assert any(re.search(r"CJK|KR|Gothic|Nanum|Malgun", family) for family in families), families


def test_cancel_mid_answer(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    page.fill("#question", QUESTION)
    page.click("#ask")
    wait_until(lambda: len(answer_text(page)) >= 8, what="the answer to start typing")

    page.click("#cancel")

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#status")).to_have_text("cancelled")
    expect(page.locator("#notice")).to_contain_text("Cancelled")
    expect(page.locator("#answer")).to_have_attribute("data-state", "cancelled")
    expect(page.locator('[data-stage="response_generation"]')).to_have_attribute("data-state", "stopped")
    expect(page.locator("#ask")).to_be_enabled()
    expect(page.locator("#cancel")).to_be_disabled()
    partial = answer_text(page)
    assert partial  # what came before the cancel stays on screen
    page.screenshot(path=artifact("dashboard-cancelled.png"))

    # The server really stopped the run.
    run_id = page.text_content("#run-id") or ""
    wait_until(
        lambda: run_summary(web_server, run_id)["status"] == "cancelled", what="the run to be cancelled"
    )
    summary = run_summary(web_server, run_id)
    assert summary["result"] is None and summary["error"]["error"] == "Cancelled"
    assert session.api_requests("POST", rf"/api/runs/{run_id}/cancel$")

    # The conversation goes on: the next question is answered on the same thread.
    page.click("#ask")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    assert STOCK in answer_text(page)
    assert len(partial) < len(answer_text(page))  # the cancelled answer was cut short
    assert run_summary(web_server, page.text_content("#run-id") or "")["thread_id"] == summary["thread_id"]


def test_network_drop_mid_stream_resumes_without_duplicated_text(
    session: Session, web_server: Server
) -> None:
    with cuttable_proxy(web_server.url) as proxy:
        page = open_dashboard(session, proxy.url)
        page.fill("#question", QUESTION)
        page.click("#ask")
        wait_until(lambda: len(answer_text(page)) >= 20, what="the answer to start typing")

        # The network goes down mid-answer (and stays down for a moment).
        assert proxy.cut(block_s=1.5) >= 1
        expect(page.locator("#dashboard")).to_have_attribute("data-status", "reconnecting", timeout=5_000)
        expect(page.locator("#notice")).to_contain_text("Connection lost")
        page.screenshot(path=artifact("dashboard-reconnecting.png"))

        expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)

    run_id = page.text_content("#run-id") or ""
    summary = run_summary(web_server, run_id)
    # The question was posted once; the client rejoined the run with Last-Event-ID.
    assert len(session.api_requests("POST", r"/api/chat/stream$")) == 1
    rejoins = session.api_requests("GET", rf"/api/runs/{run_id}/stream$")
    assert rejoins, [r.url for r in session.requests]
    assert all(re.fullmatch(rf"{run_id}:\d+", r.headers.get("last-event-id", "")) for r in rejoins)
    assert int(page.text_content("#run-reconnects") or 0) >= 1
    # Every event once: no duplicated or missing text.
    expect(page.locator("#run-events")).to_have_text(str(summary["events"]))
    expect(page.locator("#answer")).to_have_attribute("data-consistent", "true")
    assert answer_text(page) == summary["result"]["content"]
    assert STOCK in answer_text(page)
    for name in STAGES:
        expect(page.locator(f'#stages [data-stage="{name}"]')).to_have_attribute("data-state", "done")
    page.screenshot(path=artifact("dashboard-resumed.png"), full_page=True)


def test_a_run_resumed_on_another_worker_drops_the_cut_off_text_and_says_so(
    session: Session, web_server: Server
) -> None:
    # A recorded run whose worker was killed mid-answer (clients/js/test/fixtures): the stream
    # is answered from the recording, cut right after the `restart` event, so the page has to
    # rejoin across the takeover.
    recorded = (REPO / "clients/js/test/fixtures/ko-restart.sse").read_bytes()
    cut = recorded.index(b"\n\n", recorded.index(b'data: {"type":"restart"')) + 2
    ids = re.findall(rb"^id: (\S+)$", recorded[:cut], re.MULTILINE)
    run_id, restart_id = ids[0].decode().split(":")[0], ids[-1].decode()
    final = json.loads(recorded[recorded.index(b'{"type":"final"') :].split(b"\n")[0])["data"]["content"]
    rejoins: list[str | None] = []

    def sse(route: Route, body: bytes) -> None:
        headers = {"Content-Type": "text/event-stream", "X-Run-ID": run_id}
        route.fulfill(status=200, headers=headers, body=body)

    def rejoin(route: Route) -> None:
        rejoins.append(route.request.headers.get("last-event-id"))
        sse(route, recorded[cut:])

    page = session.page
    page.route("**/api/chat/stream", lambda route: sse(route, recorded[:cut]))
    page.route(f"**/api/runs/{run_id}/stream", rejoin)
    open_dashboard(session, web_server.url)
    page.fill("#question", QUESTION)
    page.click("#ask")

    # Right after the restart (the page waits the recording's retry: 2 s before it rejoins),
    # the lost worker's partial answer is gone.
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "reconnecting")
    expect(page.locator("#answer .answer-text")).to_have_text("")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=15_000)
    assert rejoins == [restart_id]
    expect(page.locator("#notice")).to_have_text(re.compile(r"^Resumed on another worker \(attempt 2\)"))
    # The text that was cut off is not there twice: what streamed is final.content (an
    # inconsistency would also be a console warning, which fails the session).
    expect(page.locator("#answer")).to_have_attribute("data-consistent", "true")
    assert answer_text(page) == final
    page.screenshot(path=artifact("dashboard-restarted.png"), full_page=True)


def test_dashboard_watches_an_existing_run(session: Session, web_server: Server) -> None:
    answered = httpx.post(f"{web_server.url}/api/chat", json={"message": QUESTION}, timeout=60).json()

    page = open_dashboard(session, web_server.url, f"/?run={answered['run_id']}")

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    assert answer_text(page) == answered["content"]
    expect(page.locator("#run-id")).to_have_text(answered["run_id"])


def test_http_errors_are_shown(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    page.fill("#question", "x" * 9000)  # beyond STAGECAST_MAX_MESSAGE_CHARS

    page.click("#ask")

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "error")
    expect(page.locator("#notice")).to_contain_text("HTTP 400")
    expect(page.locator("#ask")).to_be_enabled()


def test_dashboard_approves_a_paused_review(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    page.select_option("#agent", "review")
    # The picked agent's stages show as pending.
    expect(page.locator("#stages .stage")).to_have_count(6)
    expect(page.locator("#stages .stage").first).to_have_attribute("data-stage", "classify")
    page.fill("#question", "Request 120 x ABC-12345 for the line 3 pump overhaul")
    page.click("#ask")

    # Paused: the question with its answer buttons; the asking stage waits.
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "paused", timeout=30_000)
    card = page.locator("#question-card")
    expect(card).to_be_visible()
    expect(card.locator(".interrupt-question")).to_have_text(
        "The order value of KRW 5,820,000 is above the approval limit of KRW 5,000,000. Approve this request?"
    )
    expect(card.locator(".interrupt-options button")).to_have_text(["Approve", "Reject"])
    expect(page.locator("#status")).to_have_text("waiting for you")
    expect(page.locator('#stages [data-stage="approval"]')).to_have_attribute("data-state", "waiting")
    # The parallel policy checks, nested under their node, each with its step of the total.
    checks = page.locator('#stages [data-stage="policy_check"] .substage')
    expect(checks).to_have_count(5)
    expect(checks.locator(".substage-name")).to_have_text(
        ["1/5 Approval", "2/5 Stock", "3/5 Usage", "4/5 Lead time", "5/5 Hazardous"]
    )
    for index in range(5):
        expect(checks.nth(index)).to_have_attribute("data-state", "done")
    assert page.text_content("#answer .answer-text") == ""
    expect(page.locator("#duration")).to_have_text("")  # no "15 ms in total" over an empty answer
    expect(page.locator("#topbar-agent")).to_have_text("review")  # the header follows the picker
    # Six stage names fit at this width: none is cut short.
    names = page.locator("#stages > .stage .stage-name")
    for index in range(6):
        assert names.nth(index).evaluate("e => e.scrollWidth <= e.clientWidth")
    page.screenshot(path=artifact("dashboard-review-paused.png"), full_page=True)

    card.locator('button[data-answer="approve"]').click()

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    expect(card).to_be_hidden()
    wait_until(lambda: "It was approved" in answer_text(page), what="the recommendation")
    # The stages before the pause stay on the progress bar, done, after the resume.
    stages = page.locator("#stages > .stage")
    expect(stages).to_have_count(6)
    for index, name in enumerate(["classify", "purpose", "policy_check", "refine", "approval", "recommend"]):
        expect(stages.nth(index)).to_have_attribute("data-stage", name)
        expect(stages.nth(index)).to_have_attribute("data-state", "done")
    expect(page.locator("#data-table tbody tr td:first-child")).to_have_text(["ABC-12345"])
    posts = session.api_requests("POST", r"/api/chat/stream$")
    assert len(posts) == 2
    first, second = (post.post_data_json for post in posts)
    assert first["agent"] == "review"
    assert second == {
        "conversation_id": first.get("conversation_id") or second["conversation_id"],
        "resume": {"decisions": [{"type": "approve"}]},  # LangChain's human-in-the-loop answer
    }
    summary = run_summary(web_server, page.text_content("#run-id") or "")
    assert summary["status"] == "success" and summary["agent"] == "review"
    page.screenshot(path=artifact("dashboard-review-approved.png"), full_page=True)


def test_dashboard_rejects_a_paused_review_with_a_reason(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    page.select_option("#agent", "review")
    page.fill("#question", "Request 120 x ABC-12345 for the line 3 pump overhaul")
    page.click("#ask")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "paused", timeout=30_000)
    card = page.locator("#question-card")
    # LangChain's human-in-the-loop question: its decisions as buttons, a reason to reject with.
    expect(card.locator(".interrupt-input")).to_have_attribute("placeholder", "A reason, to reject with it")
    card.locator(".interrupt-input").fill("budget is frozen")
    card.locator(".interrupt-form button").click()
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    wait_until(lambda: "do not place the order" in answer_text(page), what="the rejection")
    assert "budget is frozen" in answer_text(page)
    resume = session.api_requests("POST", r"/api/chat/stream$")[-1].post_data_json
    assert resume["resume"] == {"decisions": [{"type": "reject", "message": "budget is frozen"}]}


def test_dashboard_regenerates_and_edits_an_answer(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    page.select_option("#agent", "chat")
    page.fill("#question", "How many ABC-12345 are in stock?")
    page.click("#ask")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    expect(page.locator("#regenerate")).to_be_visible()
    expect(page.locator("#edit")).to_be_visible()
    thread = page.text_content("#conversation-id") or ""
    first = answer_text(page)

    # Regenerate: the same question, forked from the checkpoint before its answer.
    first_run = page.text_content("#run-id")
    page.click("#regenerate")
    # The fork point is looked up first: the run starts a moment after the click.
    wait_until(lambda: page.text_content("#run-id") != first_run, what="the regenerated run")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    regenerated = session.api_requests("POST", r"/api/chat/stream$")[-1].post_data_json
    assert regenerated["message"] == "How many ABC-12345 are in stock?" and regenerated["checkpoint_id"]
    assert regenerated["conversation_id"] == thread
    wait_until(lambda: answer_text(page) == first, what="the regenerated answer")

    # Edit: the question comes back in the box; sending it forks before it.
    page.click("#edit")
    expect(page.locator("#ask")).to_have_text("Send edit")
    expect(page.locator("#question")).to_have_value("How many ABC-12345 are in stock?")
    page.fill("#question", "How many XYZ-99999 are in stock?")
    second_run = page.text_content("#run-id")
    page.click("#ask")
    wait_until(lambda: page.text_content("#run-id") != second_run, what="the edited run")
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    posts = lambda: session.api_requests("POST", r"/api/chat/stream$")  # noqa: E731
    wait_until(lambda: bool(page.title()) and len(posts()) == 3, what="the edited run's request")
    edited = posts()[-1].post_data_json
    assert edited["checkpoint_id"] and edited["message"] == "How many XYZ-99999 are in stock?"
    wait_until(lambda: "XYZ-99999" in answer_text(page), what="the answer to the edited question")
    expect(page.locator("#ask")).to_have_text("Ask")
    messages = httpx.get(f"{web_server.url}/api/threads/{thread}/messages", timeout=10).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "How many XYZ-99999 are in stock?"
    page.screenshot(path=artifact("dashboard-edited.png"), full_page=True)


def test_dashboard_shows_nested_stages_and_takes_a_typed_answer(session: Session, web_server: Server) -> None:
    page = open_dashboard(session, web_server.url)
    page.select_option("#agent", "nested")
    page.fill("#question", "pumps")
    page.click("#ask")

    expect(page.locator("#dashboard")).to_have_attribute("data-status", "paused", timeout=30_000)
    # The subgraph's nodes, nested under the node that runs it.
    tops = page.locator("#stages > .stage")
    expect(tops).to_have_count(3)
    for index, name in enumerate(["plan", "research", "review"]):
        expect(tops.nth(index)).to_have_attribute("data-stage", name)
    nested = page.locator('#stages [data-stage="research"] .substage')
    expect(nested).to_have_count(2)
    for index, path in enumerate(["research/search", "research/summarize"]):
        expect(nested.nth(index)).to_have_attribute("data-path", path)
        expect(nested.nth(index)).to_have_attribute("data-state", "done")
    expect(nested.first).to_have_attribute("title", re.compile(r"^search completed · \d"))
    expect(page.locator('#stages [data-stage="research"]')).to_have_attribute("data-state", "done")
    # Tokens of the chat model inside the subgraph streamed into the answer.
    wait_until(lambda: answer_text(page) == "Summary of the findings.", what="the subgraph's tokens")
    page.screenshot(path=artifact("dashboard-nested-stages.png"), full_page=True)

    # No options: a text box.
    card = page.locator("#question-card")
    expect(card.locator(".interrupt-question")).to_have_text("Ship the draft?")
    card.locator(".interrupt-input").fill("ship it")
    card.locator(".interrupt-form button").click()
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    wait_until(lambda: answer_text(page) == "Answer was 'ship it'.", what="the resumed answer")


# --- the runs monitor ---


def test_runs_monitor_shows_live_and_recent_runs_with_timelines(session: Session, web_server: Server) -> None:
    finished = httpx.post(f"{web_server.url}/api/chat", json={"message": QUESTION}, timeout=60).json()
    live = httpx.post(
        f"{web_server.url}/api/runs",
        json={"message": "15", "agent": "slow", "on_disconnect": "continue"},
        timeout=10,
    ).json()
    page = session.page
    page.goto(web_server.url + "/runs")
    expect(page.locator("#runs-monitor")).to_have_attribute("data-ready", "true")

    # A live run: running, its stage on the timeline as it goes, a cancel button.
    row = page.locator(f'tr[data-run-id="{live["run_id"]}"]')
    expect(row).to_have_attribute("data-status", "running")
    expect(row.locator(".timeline-seg")).to_have_count(1)
    expect(row.locator(".timeline-seg.running")).to_have_count(1)
    expect(page.locator("#active-count")).to_have_text("1")

    # A finished run: the default agent's three stages, in order, and its answer.
    done_row = page.locator(f'tr[data-run-id="{finished["run_id"]}"]')
    expect(done_row).to_have_attribute("data-status", "success")
    segments = done_row.locator(".timeline-seg")
    expect(segments).to_have_count(3)
    assert [segments.nth(i).get_attribute("data-stage") for i in range(3)] == STAGES
    expect(done_row.locator(".run-result")).to_contain_text(STOCK)
    worker = httpx.get(f"{web_server.url}/api/runs/{finished['run_id']}", timeout=10).json()["worker"]
    expect(done_row).to_contain_text(worker)  # which process executed it (several hosts: which host)
    page.screenshot(path=artifact("runs-monitor.png"), full_page=True)

    # The table redraws as live runs move, so the button may be replaced between Playwright's
    # stability checks; dispatching the click resolves and clicks in one step.
    row.get_by_role("button", name="Cancel").dispatch_event("click")
    expect(row).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(row.locator(".run-result")).to_contain_text("Cancelled")
    expect(page.locator("#active-count")).to_have_text("0")

    page.click(f'tr[data-run-id="{finished["run_id"]}"] a[href^="/?run="]')
    expect(page.locator("#dashboard")).to_have_attribute("data-status", "success", timeout=30_000)
    assert answer_text(page) == finished["content"]


# --- what the pages are served with (plain HTTP) ---


def test_pages_and_the_js_client_are_served_from_this_origin(web_server: Server) -> None:
    with httpx.Client(base_url=web_server.url, timeout=10) as http:
        for path in ("/", "/runs"):
            page = http.get(path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            policy = page.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "script-src 'self'" in policy
            assert "https://" not in page.text and "http://" not in page.text

        client_dir = REPO / "clients" / "js"
        module = http.get("/static/stagecast.js")
        assert module.status_code == 200
        assert module.headers["content-type"].startswith("text/javascript")
        assert module.text == (client_dir / "stagecast.js").read_text()
        # Every module the client imports, transitively, resolves next to it.
        pending, seen = ["stagecast.js"], set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            served = http.get(f"/static/{name}")
            assert served.status_code == 200, name
            folder = name.rpartition("/")[0]
            for target in re.findall(r"""from\s+['"]\./([^'"]+)['"]""", served.text):
                pending.append(f"{folder}/{target}" if folder else target)
        assert {"state.js", "sse.js", "vendor/eventsource-parser.js"} <= seen

        # Only the client's files: not its package.json, nothing outside the folder.
        assert http.get("/static/package.json").status_code == 404
        assert http.get("/static/vendor/..%2Fpackage.json").status_code == 404
        assert http.get("/static/vendor/..%2F..%2F..%2Fpyproject.toml").status_code == 404
