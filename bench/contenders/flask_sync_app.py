"""Contender 2, the seeds' pattern: Flask returns a generator over ``graph.stream()``,
served by gunicorn's sync workers (one stream per worker process at a time).

Run: ``gunicorn -k sync -w 5 bench.contenders.flask_sync_app:app``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request

from bench.contenders.common import STREAM_MODES, EventMapper, Message, graph, new_run

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/chat/stream")
def chat_stream() -> Response:
    body: dict[str, Any] = request.get_json()
    return Response(_generate(body), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})


def _generate(body: dict[str, Any]) -> Iterator[bytes]:
    started = time.time()
    mapper = EventMapper()
    yield _frame(mapper.start())
    graph_input, context, control = new_run(body)
    try:
        for mode, payload in graph.stream(graph_input, stream_mode=STREAM_MODES, context=context):
            for message in mapper.map(mode, payload):
                yield _frame(message)
        for message in mapper.finish(started):
            yield _frame(message)
    except Exception as exc:
        for message in mapper.failed(exc, started):
            yield _frame(message)
    finally:
        control.release()


def _frame(message: Message) -> bytes:
    return f"id: {message[0]}\ndata: {message[1]}\n\n".encode()
