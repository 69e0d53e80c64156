"""One server for the protocol tests, and the protocols' own Node clients."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

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


def wait_for_status(server: Server, run_id: str, wanted: set[str], timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.url}/api/runs/{run_id}").json()["status"]
        if status in wanted:
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {status}, wanted {wanted}")
