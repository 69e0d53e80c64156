"""What the LangGraph API tests share: a ``langgraph-sdk`` client of a server, and the
shapes that client sends and receives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.schema import StreamPart

from tests.support.server import Server


@contextmanager
def langgraph_client(server: Server) -> Iterator[SyncLangGraphClient]:
    """The Python SDK's client of ``server``'s ``/langgraph``, closed afterwards."""
    client = get_sync_client(url=server.url + "/langgraph", timeout=30)
    try:
        yield client
    finally:
        client.http.client.close()


def human(text: str) -> dict[str, Any]:
    """A run's input: one user message."""
    return {"messages": [{"role": "user", "content": text}]}


def by_event(parts: list[StreamPart], event: str) -> list[Any]:
    """The data of the stream parts of one event (``values``, ``messages``, ...)."""
    return [part.data for part in parts if part.event == event]
