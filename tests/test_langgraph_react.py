"""``useStream`` (@langchain/langgraph-sdk/react, pinned in clients/langgraph-react) against a
real server: the package's Vitest suite (jsdom) runs with STAGECAST_URL pointing here."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.server import REPO, Server, run_server

PACKAGE = REPO / "clients" / "langgraph-react"


@pytest.fixture(scope="module")
def react_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Paced tokens (the answer must be seen growing); a short grace so a stopped run ends soon.
    with run_server(
        tmp_path_factory.mktemp("langgraph-react"),
        heartbeat_s=0.5,
        disconnect_grace_s=0.5,
        offline_token_delay_ms=5,
    ) as running:
        yield running


def test_use_stream_submits_streams_stops_and_branches(react_server: Server) -> None:
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True, capture_output=True)
    result = subprocess.run(
        ["npm", "test"],
        cwd=PACKAGE,
        env={**os.environ, "STAGECAST_URL": react_server.url, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "3 passed" in result.stdout  # useStream.test.js (2) and branches.test.js (1)
