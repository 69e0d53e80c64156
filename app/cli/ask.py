"""``stagecast ask``: wire a :class:`RunFollower` to a presenter, answer a paused run's
question, and decide the exit status."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
from rich.console import Console
from rich.text import Text

from . import (
    EXIT_HTTP_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PAUSED,
    EXIT_RUN_FAILED,
    EXIT_UNREACHABLE,
)
from .render import (
    JsonPresenter,
    LivePresenter,
    PlainPresenter,
    Presenter,
    error_text,
    question_text,
)
from .stream import HttpError, Reconnect, RunFollower, StreamError
from .view import RunView


def ask(
    *,
    url: str,
    question: str | None,
    conversation_id: str | None = None,
    agent: str | None = None,
    resume: str | None = None,
    last_event_id: str | None = None,
    resume_value: str | None = None,
    as_json: bool = False,
    plain: bool = False,
    timeout_s: float = 60.0,
) -> int:
    """Ask ``question`` (or join run ``resume``), show the run, and return the exit status.

    A run that pauses on a question (``interrupt``) is answered with ``resume_value``, once,
    or else at the terminal's prompt, and the run that continues the thread is shown the same
    way; with neither, ``ask`` exits with :data:`EXIT_PAUSED`. Without ``question`` and
    ``resume``, ``resume_value`` answers the paused thread ``conversation_id`` at once.
    """
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    timeout = httpx.Timeout(10.0, read=timeout_s)
    with httpx.Client(timeout=timeout, headers={"User-Agent": "stagecast-cli"}) as client:
        if resume:
            start: Start = ("join", resume, last_event_id)
        elif question is None:
            start = ("ask", _resume_body(conversation_id or "", _answer_value(resume_value or "")), None)
            resume_value = None
        else:
            start = ("ask", _body(question, conversation_id, agent), None)
        while True:
            view, status, failure = _run(client, url, console, start, as_json, plain)
            if failure is not None:
                _report(errors, as_json, failure)
            if status is not None:
                return status
            if view.status != "paused" or not view.thread_id:
                return EXIT_OK if view.status == "success" else EXIT_RUN_FAILED
            answer = resume_value
            resume_value = None  # one answer per command line; later questions are asked
            if answer is None:
                answer = _prompt(console, view) if _interactive(console, as_json) else None
            if answer is None:
                return EXIT_PAUSED
            start = ("ask", _resume_body(view.thread_id, _answer_value(answer)), None)


# ("ask", body, None) posts a run; ("join", run_id, last_event_id) follows one.
Start = tuple[str, Any, str | None]


def _run(
    client: httpx.Client, url: str, console: Console, start: Start, as_json: bool, plain: bool
) -> tuple[RunView, int | None, str | None]:
    """Follow one run to its end: its view, an exit status that ends ``ask`` early, a failure."""
    view = RunView()
    presenter: Presenter | None = None

    def reconnecting(info: Reconnect) -> None:
        view.status = "reconnecting"
        if presenter is not None:
            presenter.reconnecting(info, view)

    status: int | None = None
    failure: str | None = None
    follower = RunFollower(client, url, on_reconnect=reconnecting)
    if as_json:
        presenter = JsonPresenter()
    elif plain or not console.is_terminal:
        presenter = PlainPresenter(console)
    else:
        presenter = LivePresenter(console)
    kind, target, last_event_id = start
    try:
        events = follower.join(target, last_event_id) if kind == "join" else follower.ask(target)
        for event in events:
            view.apply(event.event)
            presenter.event(event, view)
        if not view.finished and follower.finished and follower.run_id:
            # Rejoined after the last event: nothing new; the run's state says how it ended.
            view.status = _status_of(client, url, follower.run_id)
    except KeyboardInterrupt:
        # Ctrl-C stops a run this command started; a joined run is someone else's.
        if kind == "ask" and follower.cancel():
            view.status = "cancelled"
        status = EXIT_INTERRUPTED
    except HttpError as exc:
        message = exc.message if exc.code == "HttpError" else f"{exc.code}: {exc.message}"
        failure, status = f"{message} (HTTP {exc.status})", EXIT_HTTP_ERROR
    except StreamError as exc:  # ConnectionLost, or not an event stream
        failure, status = str(exc), EXIT_UNREACHABLE
    presenter.close(view)
    return view, status, failure


def _interactive(console: Console, as_json: bool) -> bool:
    return not as_json and sys.stdin.isatty() and console.is_terminal


def _prompt(console: Console, view: RunView) -> str | None:
    """Ask the terminal for the answer to the paused run's question (None: no answer)."""
    for item in view.interrupts:
        console.print(Text(f"? {question_text(item)}", style="bold yellow"))
    try:
        answer = console.input("Your answer: ").strip()
    except EOFError:
        return None
    return answer or None


def _answer_value(text: str) -> Any:
    """JSON when the text parses (``true``, ``{"approved": true}``), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _resume_body(conversation_id: str, value: Any) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "resume": value}


def _body(question: str, conversation_id: str | None, agent: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    if agent:
        body["agent"] = agent
    return body


def _status_of(client: httpx.Client, url: str, run_id: str) -> str:
    try:
        response = client.get(f"{url.rstrip('/')}/api/runs/{run_id}")
        return str(response.json().get("status", "error")) if response.is_success else "error"
    except (httpx.HTTPError, ValueError):
        return "error"


def _report(errors: Console, as_json: bool, text: str) -> None:
    if as_json:
        sys.stderr.write(f"stagecast: {text}\n")
    else:
        errors.print(error_text(text))
