"""Contender 3: FastAPI + sse-starlette on uvicorn, over ``graph.astream()``.

The graph's nodes are synchronous, so ``astream`` runs them on the event loop's default
thread pool; its default size (``min(32, cpus + 4)``) would cap concurrent answers at six,
so it is raised to ``BENCH_THREADS`` (default 4096), as a deployment of this pattern must.

Run: ``uvicorn bench.contenders.fastapi_app:app --loop uvloop --http httptools``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from sse_starlette.sse import EventSourceResponse

from bench.contenders.common import STREAM_MODES, EventMapper, Message, graph, new_run


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    threads = int(os.environ.get("BENCH_THREADS", "4096"))
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=threads))
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/chat/stream")
async def chat_stream(request: Request) -> EventSourceResponse:
    body: dict[str, Any] = await request.json()
    return EventSourceResponse(_generate(body), ping=15)


async def _generate(body: dict[str, Any]) -> AsyncIterator[dict[str, str]]:
    started = time.time()
    mapper = EventMapper()
    yield _fields(mapper.start())
    graph_input, context, control = new_run(body)
    try:
        async for mode, payload in graph.astream(graph_input, stream_mode=STREAM_MODES, context=context):
            for message in mapper.map(mode, payload):
                yield _fields(message)
        for message in mapper.finish(started):
            yield _fields(message)
    except Exception as exc:
        for message in mapper.failed(exc, started):
            yield _fields(message)
    finally:
        control.release()


def _fields(message: Message) -> dict[str, str]:
    """sse-starlette frames the message itself: hand it the id and data fields."""
    return {"id": message[0], "data": message[1]}
