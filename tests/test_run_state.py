"""Run state after failures (issue 10, items 4, 6, 8, 9, 10): on both backends where the item
applies, over real processes, plus one in-process test of the outcome race."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.client import read_stream, start_slow_run
from tests.support.server import run_server
from tests.support.services import REDIS_URL, backend_settings

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    with backend_settings(request.param) as settings:
        yield settings


def test_runs_are_listed_a_page_at_a_time_without_answers(
    backend: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    with run_server(tmp_path, **backend) as server:
        ids = [
            client.post(server.url + "/api/chat", json={"message": "0", "agent": "slow"}).json()["run_id"]
            for _ in range(3)
        ]
        first = client.get(server.url + "/api/runs", params={"limit": 2}).json()
        second = client.get(
            server.url + "/api/runs", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        default = client.get(server.url + "/api/runs").json()
        bad = [
            client.get(server.url + "/api/runs", params=p)
            for p in ({"limit": 0}, {"limit": "x"}, {"cursor": "nope"})
        ]
    assert [r["run_id"] for r in first["runs"] + second["runs"]] == ids[::-1]
    assert second["next_cursor"] is None and len(default["runs"]) == 3
    assert all("result" not in r and r["status"] == "success" for r in default["runs"])
    assert [(r.status_code, r.json()["error"]) for r in bad] == [(400, "ValidationError")] * 3


def _break_run_records(server_dir: Path, backend: dict[str, Any]) -> tuple[Any, Any]:
    """Make every new run record fail to write, like a full disk; return how to undo it."""
    if "database_url" in backend:
        conn = psycopg.connect(backend["database_url"], autocommit=True)
        conn.execute("ALTER TABLE run_records ADD CONSTRAINT disk_full CHECK (false) NOT VALID")
        return conn, "ALTER TABLE run_records DROP CONSTRAINT disk_full"
    conn = sqlite3.connect(server_dir / "stagecast.sqlite", isolation_level=None)
    conn.execute(
        "CREATE TRIGGER disk_full BEFORE INSERT ON run_records BEGIN SELECT RAISE(FAIL, 'disk full'); END"
    )
    return conn, "DROP TRIGGER disk_full"


def test_a_run_whose_start_fails_is_undone(
    backend: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    thread = f"t-{time.time_ns()}"
    with run_server(tmp_path, **backend) as server:
        conn, undo = _break_run_records(tmp_path, backend)
        failed = client.post(
            server.url + "/api/chat/stream", json={"message": QUESTION, "conversation_id": thread}
        )
        health = client.get(server.url + "/healthz").json()
        conn.execute(undo)
        conn.close()
        again = read_stream(
            client,
            "POST",
            server.url + "/api/chat/stream",
            json={"message": QUESTION, "conversation_id": thread},
        )
    assert failed.status_code == 503 and failed.json()["error"] == "StoreUnavailable"
    assert failed.headers["Retry-After"]
    assert health["active_runs"] == 0
    assert again.status == 200 and again.last("done")["data"]["status"] == "success"  # not ThreadBusy


def test_a_killed_workers_runs_are_marked_interrupted(tmp_path: Path, client: httpx.Client) -> None:
    with run_server(tmp_path) as server:
        run = client.post(
            server.url + "/api/runs", json={"message": "30", "agent": "slow", "on_disconnect": "continue"}
        ).json()
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:  # gunicorn boots a new worker, which marks its dead predecessor's runs
            try:
                summary = client.get(f"{server.url}/api/runs/{run['run_id']}").json()
                if summary["status"] == "interrupted":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, summary
            time.sleep(0.2)
        stream = client.get(server.url + run["stream_url"])
    assert stream.status_code == 410 and stream.json()["error"] == "Interrupted"
    conn = sqlite3.connect(tmp_path / "stagecast.sqlite")
    (ended_at,) = conn.execute(
        "SELECT ended_at FROM run_records WHERE run_id = ?", (run["run_id"],)
    ).fetchone()
    assert ended_at is not None  # so retention removes it in time


def test_shutdown_ends_runs_as_interrupted_not_cancelled(tmp_path: Path, client: httpx.Client) -> None:
    """Clients that left just before a SIGTERM: their runs' grace would expire within the
    shutdown budget, but shutdown owns the ending."""
    with run_server(tmp_path, disconnect_grace_s=1, graceful_timeout_s=8) as server:
        ids = []
        for _ in range(5):
            head = start_slow_run(client, server)
            ids.append(head.headers["x-run-id"])
        assert server.stop(signal.SIGTERM) == 0
    with run_server(tmp_path) as restarted:
        statuses = [client.get(f"{restarted.url}/api/runs/{run_id}").json()["status"] for run_id in ids]
        replay = read_stream(client, "GET", f"{restarted.url}/api/runs/{ids[0]}/stream")
    assert statuses == ["interrupted"] * 5
    assert replay.last("error")["data"]["error"] == "Interrupted"


def test_exactly_one_outcome_when_a_cancel_deadline_races_the_runs_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent reports its error, then is slow to return; the cancel deadline fires then."""
    import gevent
    from langgraph.checkpoint.memory import InMemorySaver

    from app.agent.registry import AgentRegistry
    from app.config import load_settings
    from app.events import EventFactory
    from app.runs import cancel as cancel_module
    from app.runs.backends.memory import MemoryCoordinator
    from app.runs.manager import RunManager
    from app.runs.models import RunRequest
    from app.runs.store.sqlite import SQLiteRunStore, connect

    class ErrorThenSlow:
        name = "racy"

        def run(
            self, request: Any, thread_id: str, control: Any, events: EventFactory, emit: Any, **_: Any
        ) -> None:
            emit(events.error("UpstreamError", "the model failed"))
            gevent.sleep(0.3)  # past the deadline below, ignoring the stop flag

    settings = load_settings({"data_dir": tmp_path, "admission_lag_ms": 0})
    store = SQLiteRunStore(connect(tmp_path / "runs.sqlite"))
    manager = RunManager(
        settings,
        AgentRegistry({"racy": ErrorThenSlow()}, "racy", InMemorySaver()),  # type: ignore[dict-item]
        store,
        MemoryCoordinator("test:1"),
    )
    monkeypatch.setattr(cancel_module, "CANCEL_DEADLINE_S", 0.1)
    run = manager.start(RunRequest(message="hi"), "trace")
    gevent.sleep(0.01)
    manager.cancel(run)
    gevent.sleep(0.5)
    types = [entry.split('"type":"', 1)[1].split('"', 1)[0] for entry in run.log.read(0, 0)]
    assert types.count("error") == 1 and types[-1] == "done" and types.count("done") == 1


def test_redis_connections_stay_bounded_however_many_streams(tmp_path: Path, client: httpx.Client) -> None:
    import threading

    import redis

    with (
        backend_settings("distributed") as settings,
        run_server(tmp_path / "a", **settings) as a,
        run_server(tmp_path / "b", **settings) as b,
    ):
        run = client.post(a.url + "/api/runs", json={"message": "4", "agent": "slow"}).json()
        readers = [
            threading.Thread(target=lambda: httpx.get(b.url + run["stream_url"], timeout=30))
            for _ in range(60)
        ]
        for reader in readers:
            reader.start()
        time.sleep(1.5)
        (worker,) = b.worker_pids()
        names = [c.get("name", "") for c in redis.Redis.from_url(REDIS_URL).client_list()]
        for reader in readers:
            reader.join()
    mine = [name for name in names if name.endswith(f":{worker}") and name.startswith("stagecast:")]
    assert 1 <= len(mine) <= 8, mine
