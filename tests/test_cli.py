"""The ``stagecast`` command against a real gunicorn + gevent server.

``ask`` runs as a subprocess (``python -m app.cli``, what the console script calls), so exit
statuses, stdout and stderr are the real ones. A network drop is a real one too: the CLI talks
through a proxy whose connections the test cuts mid-answer.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from app.cli.render import LivePresenter, PlainPresenter, Presenter
from app.cli.stream import RunFollower, WireEvent
from app.cli.view import RunView
from tests.browser.network import cuttable_proxy
from tests.support.inventory import true_stock
from tests.support.server import REPO, Server, free_port, run_server

QUESTION = "ABC-12345 부품의 재고는?"
STAGES = ["query_analysis", "data_retrieval", "response_generation"]


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Paced tokens leave time to cut the connection mid-answer; a short retry: hint makes the
    # CLI rejoin quickly.
    with run_server(
        tmp_path_factory.mktemp("cli"), heartbeat_s=0.5, offline_token_delay_ms=25, retry_ms=200
    ) as running:
        yield running


def stagecast(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGECAST_", "OPENAI_"))}
    return {**env, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def answer_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["content"] for e in events if e["type"] == "token")


# --- ask ---


def test_ask_json_prints_every_event_as_one_json_line(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, "--json", QUESTION)

    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    assert types.count("final") == 1 and "error" not in types
    assert events[-1]["data"]["status"] == "success"
    final = next(e["data"] for e in events if e["type"] == "final")
    assert answer_of(events) == final["content"]
    assert f"{true_stock('ABC-12345'):,}" in final["content"]
    completed = [
        e["data"]["stage"] for e in events if e["type"] == "progress" and e["data"]["status"] == "completed"
    ]
    assert completed == STAGES
    assert final["sources"] and final["table_data"]["rows"] and final["chart_data"]["series"]
    # The lines are the server's data lines as sent: UTF-8, not \u escapes.
    assert "재고" in done.stdout and "\\u" not in done.stdout
    assert len({e["run_id"] for e in events}) == 1


def test_ask_shows_the_stages_and_the_answer(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, QUESTION)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    for stage in STAGES:
        assert f"✓ {stage}" in out
    assert out.index("✓ query_analysis") < out.index("✓ data_retrieval") < out.index("✓ response_generation")
    assert f"{true_stock('ABC-12345'):,}개" in out
    assert "Sources" in out and "창고" in out  # sources, then the stock-by-warehouse table
    assert "success in" in out


def test_conversation_continues_a_thread(cli_server: Server) -> None:
    first = json_lines(stagecast("ask", "--url", cli_server.url, "--json", QUESTION).stdout)
    thread_id = first[0]["data"]["thread_id"]

    again = stagecast(
        "ask", "--url", cli_server.url, "--json", "--conversation", thread_id, "그 부품의 사용량은?"
    )

    assert again.returncode == 0, again.stderr
    events = json_lines(again.stdout)
    assert events[0]["data"]["thread_id"] == thread_id
    assert "ABC-12345" in next(e["data"]["content"] for e in events if e["type"] == "final")


# --- exit statuses ---


def test_an_error_event_exits_non_zero(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, "--json", "--agent", "failing", "hi")

    assert done.returncode == 1
    events = json_lines(done.stdout)
    error = next(e["data"] for e in events if e["type"] == "error")
    assert error["error"] == "InternalError"
    assert events[-1]["type"] == "done" and events[-1]["data"]["status"] == "error"
    assert "hunter2" not in done.stdout + done.stderr


def test_an_error_event_is_shown_without_json(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, "--agent", "failing", "hi")

    assert done.returncode == 1
    assert "InternalError" in done.stdout
    assert "hunter2" not in done.stdout + done.stderr


def test_a_refused_request_prints_the_json_error_message(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, "--agent", "nobody", "hi")

    assert done.returncode == 3
    assert "UnknownAgent" in done.stderr and "No agent named 'nobody'" in done.stderr
    assert "HTTP 400" in done.stderr
    assert done.stdout == ""


def test_resuming_an_unknown_run_is_an_http_error(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, "--json", "--resume", "no-such-run")

    assert done.returncode == 3
    assert "RunNotFound" in done.stderr and "HTTP 404" in done.stderr
    assert done.stdout == ""


def test_an_unreachable_server_exits_with_4() -> None:
    done = stagecast("ask", "--url", f"http://127.0.0.1:{free_port()}", QUESTION, timeout=30)

    assert done.returncode == 4
    assert "Could not reach" in done.stderr


def test_usage_errors_exit_with_2() -> None:
    assert stagecast("ask").returncode == 2
    both = stagecast("ask", "--resume", "abc", "question")
    assert both.returncode == 2 and "not both" in both.stderr


# --- resume ---


def test_resume_replays_a_run_from_its_first_event(cli_server: Server, client: httpx.Client) -> None:
    created = client.post(
        cli_server.url + "/api/runs", json={"message": QUESTION, "on_disconnect": "continue"}
    )
    run_id = created.json()["run_id"]

    done = stagecast("ask", "--url", cli_server.url, "--json", "--resume", run_id)

    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    assert {e["run_id"] for e in events} == {run_id}
    assert len(events) == client.get(f"{cli_server.url}/api/runs/{run_id}").json()["events"]


def test_resume_after_a_last_event_id_gets_only_what_followed(
    cli_server: Server, client: httpx.Client
) -> None:
    full = json_lines(stagecast("ask", "--url", cli_server.url, "--json", QUESTION).stdout)
    run_id = full[0]["run_id"]

    done = stagecast(
        "ask", "--url", cli_server.url, "--json", "--resume", run_id, "--last-event-id", f"{run_id}:5"
    )

    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout) == full[5:]


def test_resume_after_everything_was_delivered_reports_the_run_status(cli_server: Server) -> None:
    full = json_lines(stagecast("ask", "--url", cli_server.url, "--json", QUESTION).stdout)
    run_id = full[0]["run_id"]

    done = stagecast(
        "ask",
        "--url",
        cli_server.url,
        "--json",
        "--resume",
        run_id,
        "--last-event-id",
        f"{run_id}:{len(full)}",
    )

    assert done.returncode == 0, done.stderr  # 204: nothing new; the run succeeded
    assert done.stdout == ""


def test_a_dropped_connection_is_resumed_without_gaps_or_duplicates(cli_server: Server) -> None:
    with cuttable_proxy(cli_server.url) as proxy:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "ask", "--url", proxy.url, "--json", QUESTION],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        deadline = time.monotonic() + 30
        while sum('"type":"token"' in line for line in lines) < 5:
            assert time.monotonic() < deadline and process.poll() is None, "no tokens arrived"
            time.sleep(0.01)
        assert proxy.cut(block_s=0.5) >= 1
        returncode = process.wait(60)
        reader.join(5)
        stderr = process.stderr.read()  # type: ignore[union-attr]

    assert returncode == 0, stderr
    assert "connection lost" in stderr and "rejoining" in stderr
    assert proxy.accepted >= 2  # the POST, then at least one rejoin
    events = [json.loads(line) for line in lines]
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    assert events[-1]["data"]["status"] == "success"
    final = next(e["data"] for e in events if e["type"] == "final")
    assert answer_of(events) == final["content"]  # no token twice, none missing
    assert f"{true_stock('ABC-12345'):,}" in final["content"]
    run_id = events[0]["run_id"]
    summary = httpx.get(f"{cli_server.url}/api/runs/{run_id}").json()
    assert len(events) == summary["events"]


# --- presentation, apart from the stream reading ---


def test_live_presenter_draws_stages_answer_and_summary(cli_server: Server) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    view = RunView()
    presenter = LivePresenter(console)
    with httpx.Client(timeout=30) as client:
        for event in RunFollower(client, cli_server.url).ask({"message": QUESTION}):
            view.apply(event.event)
            presenter.event(event, view)
    presenter.close(view)

    out = buffer.getvalue()
    assert view.status == "success"
    assert [stage.name for stage in view.stages] == STAGES
    assert all(stage.done and stage.elapsed_ms() is not None for stage in view.stages)
    for stage in STAGES:
        assert stage in out
    assert f"{true_stock('ABC-12345'):,}개" in out
    assert "Sources" in out and "success in" in out


def recorded(name: str) -> list[WireEvent]:
    """A recorded stream of the JS client's tests (clients/js/test/fixtures), as the follower yields it."""
    text = (REPO / "clients/js/test/fixtures" / f"{name}.sse").read_text(encoding="utf-8")
    blocks = [block.split("\n") for block in text.split("\n\n") if block.startswith("id: ")]
    return [
        WireEvent(id=i[4:], seq=int(i.rpartition(":")[2]), raw=d[6:], event=json.loads(d[6:]))
        for i, d in blocks
    ]


def present(events: list[WireEvent], presenter: Presenter) -> RunView:
    view = RunView()
    for event in events:
        view.apply(event.event)
        presenter.event(event, view)
    presenter.close(view)
    return view


# A run whose worker was killed mid-answer: another host took it over (attempt 2), its
# `restart` event discarded the cut-off message, and the answer was written again.
RESTARTED = recorded("ko-restart")
RESTARTED_ANSWER = next(e.data for e in RESTARTED if e.type == "final")["content"]


def test_a_restart_drops_the_discarded_text_from_the_view() -> None:
    at = next(i for i, e in enumerate(RESTARTED) if e.type == "restart")
    streamed = [e for e in RESTARTED if e.type != "final"]  # the answer as streamed, not final's
    view = RunView()
    for event in streamed[:at]:
        view.apply(event.event)
    assert view.answer and not view.restarted

    view.apply(RESTARTED[at].event)
    assert (view.answer, view.tokens, view.attempt, view.restarted) == ("", [], 2, True)
    for event in streamed[at + 1 :]:
        view.apply(event.event)
    assert view.answer == RESTARTED_ANSWER
    assert "".join(e.data["content"] for e in RESTARTED if e.type == "token") != RESTARTED_ANSWER


def test_plain_output_says_the_run_resumed_and_then_writes_the_whole_answer() -> None:
    buffer = io.StringIO()
    view = present(RESTARTED, PlainPresenter(Console(file=buffer, width=100, color_system=None)))

    out = buffer.getvalue()
    assert view.status == "success" and view.attempt == 2
    head, notice, rest = out.partition("↻ resumed on another worker (attempt 2); the answer starts again\n")
    assert notice and "✓ data_retrieval" in head
    # What follows is the cut-off stage starting again, then the answer once, as final.content.
    again, _, answer = rest.partition("\n")
    assert again.startswith("▸ response_generation")
    assert answer.startswith(RESTARTED_ANSWER + "\n✓ response_generation")
    assert "success in" in rest


def test_live_display_shows_the_resumed_notice_and_the_answer_once() -> None:
    buffer = io.StringIO()
    presenter = LivePresenter(Console(file=buffer, force_terminal=True, width=100, color_system=None))
    view = present([e for e in RESTARTED if e.type not in ("final", "done")], presenter)

    frame = io.StringIO()
    Console(file=frame, width=200, color_system=None).print(presenter.render())
    assert view.answer == RESTARTED_ANSWER
    assert "↻ resumed on another worker (attempt 2)" in frame.getvalue()
    # The cut-off text ("... 1,234개입니다. ") and its rewrite were both streamed; one is shown.
    assert frame.getvalue().count("1,234개입니다") == 1
    assert "resumed on another worker (attempt 2)" in buffer.getvalue()


# --- serve ---


def test_serve_runs_gunicorn_with_the_package_config(tmp_path: Path) -> None:
    port = free_port()
    env = {**_env(), "STAGECAST_DATA_DIR": str(tmp_path)}
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=tmp_path,  # the gunicorn settings and the wsgi app ship in the package
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "stagecast serve did not come up"
                time.sleep(0.1)
        assert health.status_code == 200
        assert "gunicorn_worker.GeventWorker" in (tmp_path / "serve.log").read_text()  # gevent, ours
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        log.close()


# --- a run that pauses on a question ---

REVIEW = "Request 120 x ABC-12345 for the line 3 pump overhaul"


def test_resume_value_answers_the_question_and_follows_the_resumed_run(cli_server: Server) -> None:
    done = stagecast(
        "ask", "--url", cli_server.url, "--json", "--agent", "review", "--resume-value", "approve", REVIEW
    )

    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    dones = [e["data"]["status"] for e in events if e["type"] == "done"]
    assert dones == ["paused", "success"]  # the paused run, then the one that answered it
    starts = [e["data"] for e in events if e["type"] == "start"]
    assert starts[0]["thread_id"] == starts[1]["thread_id"] and starts[0]["run_id"] != starts[1]["run_id"]
    assert "It was approved" in next(e["data"]["content"] for e in events if e["type"] == "final")


def test_an_unanswered_question_exits_with_5_and_shows_it(cli_server: Server) -> None:
    done = stagecast("ask", "--url", cli_server.url, "--agent", "review", REVIEW)

    assert done.returncode == 5, done.stderr
    assert "? The order value of KRW 5,820,000 is above the approval limit" in done.stdout
    assert "[approve / reject]" in done.stdout and "paused in" in done.stdout


def test_resume_value_with_a_conversation_answers_that_thread(cli_server: Server) -> None:
    paused = json_lines(
        stagecast("ask", "--url", cli_server.url, "--json", "--agent", "review", REVIEW).stdout
    )
    thread_id = paused[0]["data"]["thread_id"]

    done = stagecast("ask", "--url", cli_server.url, "--conversation", thread_id, "--resume-value", "reject")

    assert done.returncode == 0, done.stderr
    assert "do not place the order" in done.stdout
    again = stagecast("ask", "--url", cli_server.url, "--conversation", thread_id, "--resume-value", "reject")
    assert again.returncode == 3 and "NothingToResume" in again.stderr


def test_a_terminal_is_prompted_for_the_answer(cli_server: Server) -> None:
    import pty
    import select

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "ask", "--url", cli_server.url, "--agent", "review", REVIEW],
        cwd=REPO,
        env={**_env(), "COLUMNS": "120", "TERM": "xterm"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        if not answered and b"Your answer:" in output:
            os.write(leader, b"approve\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    os.close(leader)
    assert process.wait(10) == 0
    text = output.decode("utf-8", "replace")
    assert answered and "The order value of KRW 5,820,000" in text
    assert "It was approved" in text
