"""The ``stagecast`` command: ``serve`` the app, or ``ask`` it a question and watch the run.

Exit status of ``ask``: 0 when the run succeeded; 1 when it ended with an ``error`` event
(failed, cancelled, timed out); 3 when the server refused the request (its JSON error is
printed); 4 when the server could not be reached or the stream could not be resumed; 5 when
the run paused on a question that was not answered (no terminal, no ``--resume-value``);
130 after Ctrl-C (which cancels a run that ``ask`` started). 2 is a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_HTTP_ERROR = 3
EXIT_UNREACHABLE = 4
EXIT_PAUSED = 5
EXIT_INTERRUPTED = 130

DEFAULT_URL = "http://127.0.0.1:8000"


def main(argv: Sequence[str] | None = None) -> int:
    parser, ask_parser = _parsers()
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .serve import serve

        return serve(args.bind, args.workers, args.gunicorn_args)
    if args.resume and args.question:
        ask_parser.error("give either a question or --resume RUN_ID, not both")
    answers_thread = args.resume_value is not None and args.conversation and not args.resume
    if not args.resume and not args.question and not answers_thread:
        ask_parser.error(
            "a question is required (or --resume RUN_ID, or --conversation ID --resume-value VALUE)"
        )
    if args.last_event_id and not args.resume:
        ask_parser.error("--last-event-id needs --resume")
    from .ask import ask

    return ask(
        url=args.url,
        question=args.question,
        conversation_id=args.conversation,
        agent=args.agent,
        resume=args.resume,
        last_event_id=args.last_event_id,
        resume_value=args.resume_value,
        as_json=args.json,
        plain=args.plain,
        timeout_s=args.timeout,
    )


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command's parser, and its ``ask`` subparser (for errors about ask's arguments)."""
    parser = argparse.ArgumentParser(
        prog="stagecast", description="Stream LangGraph agent runs as Server-Sent Events."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the server (gunicorn with gevent workers, with the package's gunicorn settings)",
        description="Run gunicorn -c python:stagecast.gunicorn_conf stagecast.wsgi:app. Settings "
        "come from STAGECAST_* variables; extra arguments after -- go to gunicorn.",
    )
    serve.add_argument("--bind", help="HOST:PORT (sets STAGECAST_BIND; default 127.0.0.1:8000)")
    serve.add_argument("--workers", type=int, help="worker processes (sets STAGECAST_WORKERS)")
    serve.add_argument("gunicorn_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    ask = commands.add_parser(
        "ask",
        help="ask a question and show the run live (stages, the answer as it streams)",
        description="Ask a question (POST /api/chat/stream), or join a run with --resume, and "
        "show its stages and answer as they stream. The stream is resumed with Last-Event-ID "
        "when the connection drops.",
    )
    ask.add_argument("question", nargs="?", help="the question (not needed with --resume)")
    ask.add_argument(
        "--url",
        default=os.environ.get("STAGECAST_URL", DEFAULT_URL),
        help=f"the server (default $STAGECAST_URL or {DEFAULT_URL})",
    )
    ask.add_argument("--conversation", metavar="ID", help="continue this conversation (thread id)")
    ask.add_argument("--agent", metavar="NAME", help="the agent to ask (default: the server's)")
    ask.add_argument("--json", action="store_true", help="print the raw events, one JSON per line")
    ask.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    ask.add_argument("--resume", metavar="RUN_ID", help="join or resume this run's stream")
    ask.add_argument(
        "--last-event-id",
        metavar="ID",
        help="with --resume: only the events after this one (<run_id>:<seq>)",
    )
    ask.add_argument(
        "--resume-value",
        metavar="VALUE",
        help="the answer when the run pauses on a question (JSON, or else the text), instead of a "
        "prompt; with --conversation ID and no question: answer that paused thread now",
    )
    ask.add_argument("--timeout", type=float, default=60.0, help="seconds without any data before giving up")

    return parser, ask


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
