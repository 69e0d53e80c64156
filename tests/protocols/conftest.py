"""One server for the protocol tests, and the protocols' own Node clients."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.client import StreamResult, read_stream, wait_for_status
from tests.support.server import Server, run_server

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def protocol_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Paced answers (25 ms a piece, a second or two) so a client can leave and rejoin
    mid-answer; a short grace so an abandoned run is cancelled within the test."""
    with run_server(
        tmp_path_factory.mktemp("protocols"),
        offline_token_delay_ms=25,
        heartbeat_s=0.3,
        disconnect_grace_s=2,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """The Node clients (``ai``, ``@ag-ui/client``) installed from their lockfile."""
    if not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return NODE_DIR


def run_node(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    """Run ``node/<script>`` (with ``env`` added to the environment) and return the JSON it
    prints last; fail with its output if it fails."""
    done = subprocess.run(
        ["node", str(NODE_DIR / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        pytest.fail(f"node {script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return json.loads(done.stdout.strip().splitlines()[-1])


def abandon_slow_run(server: Server, path: str, body: dict[str, Any]) -> StreamResult:
    """Start a slow run through ``path``, leave after two heartbeats, and check that the
    run is then cancelled (the disconnect grace); the part of the stream that was read."""
    with httpx.Client(timeout=30) as client:
        result = read_stream(
            client,
            "POST",
            server.url + path,
            json=body,
            stop_after=lambda r: r.parser.comments.count("heartbeat") >= 2,
        )
        assert wait_for_status(client, server, result.headers["x-run-id"], {"cancelled"}) == "cancelled"
    return result
