"""Graphs built from compiled subgraphs: nested nodes report their own stages, with ``path``."""

from __future__ import annotations

import httpx

from tests.support.client import read_stream
from tests.support.server import Server


def test_subgraph_nodes_stream_progress_with_their_path(server: Server, client: httpx.Client) -> None:
    result = read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"message": "pumps", "agent": "nested", "conversation_id": "nested-1"},
    )
    progress = [e["data"] for e in result.events if e["type"] == "progress"]
    assert all("path" in p and p["path"][-1] == p["node"] for p in progress)  # every progress has path
    assert [(p["path"], p["status"]) for p in progress if not p["message"].startswith("searching")] == [
        (["plan"], "in_progress"),
        (["plan"], "completed"),
        (["research"], "in_progress"),
        (["research", "search"], "in_progress"),
        (["research", "search"], "completed"),
        (["research", "summarize"], "in_progress"),
        (["research", "summarize"], "completed"),
        (["research"], "completed"),
        (["review"], "in_progress"),
    ]
    custom = next(p for p in progress if p["message"].startswith("searching"))
    assert custom["path"] == ["research", "search"] and custom["message"] == "searching for pumps"
    # The chat model inside the subgraph streamed its tokens, once each (not again with the
    # parent node's result, which carries the subgraph's messages).
    tokens = [e["data"] for e in result.events if e["type"] == "token"]
    assert len(tokens) > 1 and {t["node"] for t in tokens} == {"summarize"}
    assert result.answer == "Summary of the findings."
    assert result.last("done")["data"]["status"] == "paused"  # review asks, at the top level

    resumed = read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"resume": "yes", "conversation_id": "nested-1"},
    )
    assert resumed.last("final")["data"]["content"] == "Answer was 'yes'."
