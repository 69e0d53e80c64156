"""The service under faults of its own host: a data directory gone read-only, a SQLite file
deleted under it, and the noise cancels and worker exits used to leave in the log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.client import read_stream
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import REPO, free_port, run_server


@contextmanager
def read_only(data_dir: Path) -> Iterator[None]:
    """Make ``data_dir`` and its SQLite files unwritable, even for root (which ignores modes).

    The server's own log file in it stays writable: an unwritable directory still lets an
    open file be written."""
    paths = [data_dir, *data_dir.glob("stagecast.sqlite*")]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)


def test_reload_with_a_read_only_data_dir_keeps_serving(data_dir: Path, client: httpx.Client) -> None:
    with run_server(data_dir, heartbeat_s=0.5) as server:
        assert read_stream(
            client, "POST", server.url + "/api/chat/stream", json={"message": "0", "agent": "slow"}
        )
        pid = client.get(server.url + "/healthz").json()["pid"]
        with read_only(data_dir):
            server.stop_async(signal.SIGHUP)
            time.sleep(3)
            assert server.process.poll() is None, server.log()
            health = client.get(server.url + "/healthz")
            assert health.status_code == 200 and health.json()["pid"] == pid
        assert "reload refused, the running workers keep serving" in server.log()
        # With the directory writable again, a reload replaces the worker as usual.
        server.stop_async(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if client.get(server.url + "/healthz").json()["pid"] != pid:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the second reload did not replace the worker")


def test_start_with_a_read_only_data_dir_refuses_in_one_line(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGECAST_")}
    env.update(
        STAGECAST_DATA_DIR=str(data_dir), STAGECAST_BIND=f"127.0.0.1:{free_port()}", PYTHONPATH=str(REPO)
    )
    with read_only(data_dir):
        done = subprocess.run(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"stagecast: the data directory {data_dir}")


def test_deleting_the_sqlite_file_mid_run_is_logged(data_dir: Path, client: httpx.Client) -> None:
    with run_server(data_dir, heartbeat_s=0.5) as server:
        run = client.post(server.url + "/api/runs", json={"message": "1", "agent": "slow"}).json()
        for path in data_dir.glob("stagecast.sqlite*"):
            path.unlink()
        result = read_stream(client, "GET", f"{server.url}/api/runs/{run['run_id']}/stream")
        assert result.types[-1] == "done"
        time.sleep(0.3)
        errors = [json.loads(line) for line in server.log().splitlines() if '"level": "ERROR"' in line]
        assert any("was deleted or replaced" in e["message"] for e in errors), server.log()


def test_cancels_and_worker_exit_leave_no_tracebacks(data_dir: Path, client: httpx.Client) -> None:
    """Cancels at each stage of a run (offline, the model streaming, the model silent, a node
    asleep) are INFO lines; the worker's exit prints nothing from logging's teardown."""
    with FakeOpenAI(tokens=["a "] * 100, token_delay_s=0.05) as upstream:
        upstream.first_token_delay_s = 30
        with run_server(data_dir, openai_base_url=upstream.base_url, heartbeat_s=0.5) as server:
            bodies = [
                {"message": "ABC-12345 부품의 재고는?"},
                {"message": "ABC-12345 부품의 재고는?", "llm_config": {"model": "slow-first"}},
                {"message": "3", "agent": "slow"},
            ]
            for body in bodies:
                for delay in (0.05, 0.8):
                    run = client.post(server.url + "/api/runs", json=body).json()
                    time.sleep(delay)
                    client.post(f"{server.url}/api/runs/{run['run_id']}/cancel")
                    read_stream(client, "GET", f"{server.url}/api/runs/{run['run_id']}/stream")
            time.sleep(2.5)  # past the cancel deadline of a node that does not stop
            assert server.stop() == 0
        log = server.log()
    assert "Traceback" not in log and "Exception ignored" not in log, log
    levels = [json.loads(line)["level"] for line in log.splitlines() if line.startswith('{"ts"')]
    assert "ERROR" not in levels and "CRITICAL" not in levels
