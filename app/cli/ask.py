"""``stagecast ask``: wire a :class:`RunFollower` to a presenter and decide the exit status."""

from __future__ import annotations

import sys
from typing import Any

import httpx
from rich.console import Console

from app.cli import EXIT_HTTP_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_UNREACHABLE
from app.cli.render import JsonPresenter, LivePresenter, PlainPresenter, Presenter, error_text
from app.cli.stream import HttpError, Reconnect, RunFollower, StreamError
from app.cli.view import RunView


def ask(
    *,
    url: str,
    question: str | None,
    conversation_id: str | None = None,
    agent: str | None = None,
    resume: str | None = None,
    last_event_id: str | None = None,
    as_json: bool = False,
    plain: bool = False,
    timeout_s: float = 60.0,
) -> int:
    """Ask ``question`` (or join run ``resume``), show the run, and return the exit status."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    view = RunView()
    presenter: Presenter | None = None

    def reconnecting(info: Reconnect) -> None:
        view.status = "reconnecting"
        if presenter is not None:
            presenter.reconnecting(info, view)

    status: int | None = None
    failure: str | None = None
    timeout = httpx.Timeout(10.0, read=timeout_s)
    with httpx.Client(timeout=timeout, headers={"User-Agent": "stagecast-cli"}) as client:
        follower = RunFollower(client, url, on_reconnect=reconnecting)
        if as_json:
            presenter = JsonPresenter()
        elif plain or not console.is_terminal:
            presenter = PlainPresenter(console)
        else:
            presenter = LivePresenter(console)
        try:
            _follow(follower, view, presenter, resume, last_event_id, question, conversation_id, agent)
            if not view.finished and follower.finished and follower.run_id:
                # Rejoined after the last event: nothing new; the run's state says how it ended.
                view.status = _status_of(client, url, follower.run_id)
        except KeyboardInterrupt:
            # Ctrl-C stops a run this command started; a joined run is someone else's.
            if not resume and follower.cancel():
                view.status = "cancelled"
            status = EXIT_INTERRUPTED
        except HttpError as exc:
            message = exc.message if exc.code == "HttpError" else f"{exc.code}: {exc.message}"
            failure, status = f"{message} (HTTP {exc.status})", EXIT_HTTP_ERROR
        except StreamError as exc:  # ConnectionLost, or not an event stream
            failure, status = str(exc), EXIT_UNREACHABLE
        presenter.close(view)
    if failure is not None:
        _report(errors, as_json, failure)
    if status is not None:
        return status
    return EXIT_OK if view.status == "success" else EXIT_RUN_FAILED


def _follow(
    follower: RunFollower,
    view: RunView,
    presenter: Presenter,
    resume: str | None,
    last_event_id: str | None,
    question: str | None,
    conversation_id: str | None,
    agent: str | None,
) -> None:
    if resume:
        events = follower.join(resume, last_event_id)
    else:
        events = follower.ask(_body(question or "", conversation_id, agent))
    for event in events:
        view.apply(event.event)
        presenter.event(event, view)


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
