"""A model server that misbehaves fails only its own run, and costs the worker nothing else."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server, run_server

QUESTION = "ABC-12345 부품의 재고는?"
FLOOD_LIMIT = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(tokens=["a "] * 60, token_delay_s=0.05) as fake:
        yield fake


@pytest.fixture(scope="module", params=["fast", "stock"])
def faulty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: FakeOpenAI
) -> Iterator[Server]:
    # A short gunicorn timeout: a worker whose hub stops turning is killed within seconds.
    # Each chat model (STAGECAST_CHAT_MODEL) reads the upstream through the same transport.
    with run_server(
        tmp_path_factory.mktemp(f"faulty-{request.param}"),
        openai_base_url=upstream.base_url,
        worker_timeout_s=5,
        llm_max_response_bytes=FLOOD_LIMIT,
        chat_model=request.param,
    ) as running:
        yield running


def ask(server: Server, client: httpx.Client, model: str):
    return read_stream(
        client,
        "POST",
        server.url + "/api/chat/stream",
        json={"message": QUESTION, "llm_config": {"model": model}},
    )


def _tail_of_flood(server: Server, results: dict[str, object]) -> None:
    """Read the flooded run's stream to its end, keeping only the last events: parsing tens of
    thousands of events here would hold this process's GIL and slow the health checks."""
    tail = b""
    body = {"message": QUESTION, "llm_config": {"model": "flood"}}
    with (
        httpx.Client(timeout=120) as http,
        http.stream("POST", server.url + "/api/chat/stream", json=body) as r,
    ):
        for chunk in r.iter_raw():
            tail = (tail + chunk)[-4096:]
    results["flood"] = [
        json.loads(line[6:]) for line in tail.decode().splitlines() if line.startswith("data: {")
    ]


def test_a_flooding_upstream_ends_only_its_own_run(faulty: Server, client: httpx.Client) -> None:
    pid = client.get(faulty.url + "/healthz").json()["pid"]
    results: dict[str, object] = {}
    flood = threading.Thread(target=_tail_of_flood, args=(faulty, results))
    # The paced run starts once the flood is under way; /healthz is asked from the flood's
    # start to its end, often enough for a few answers on a fast, quiet machine too (its
    # flood lasts ~1 s; at 0.1 s between asks, 4 of them once fell inside it).
    paced = threading.Timer(
        0.5, lambda: results.update(paced=ask(faulty, httpx.Client(timeout=60), "paced"))
    )
    flood.start()
    paced.start()
    health_ms: list[float] = []
    while flood.is_alive():
        started = time.monotonic()
        assert client.get(faulty.url + "/healthz", timeout=5).status_code == 200
        health_ms.append((time.monotonic() - started) * 1000)
        time.sleep(0.02)
    flood.join()
    paced.join()
    flooded, other = results["flood"], results["paced"]
    assert [event["type"] for event in flooded][-2:] == ["error", "done"]  # type: ignore[attr-defined]
    error = flooded[-2]["data"]  # type: ignore[index]
    assert error["error"] == "UpstreamError" and str(FLOOD_LIMIT) in error["message"]
    # The run beside it was served to the end, on the same worker, and health stayed answerable.
    assert other.last("done")["data"]["status"] == "success"  # type: ignore[attr-defined]
    assert client.get(faulty.url + "/healthz").json()["pid"] == pid
    # Without the transport's yields /healthz got no answer for the whole flood (13 s here),
    # and gunicorn's 5 s timeout killed the worker. How fast each answer comes depends on
    # the machine's load (docs/benchmarks.md has this host's figures).
    assert len(health_ms) >= 5 and max(health_ms) < 5000, sorted(health_ms)
    assert "WORKER TIMEOUT" not in faulty.log()


@pytest.mark.parametrize("model", ["html", "garbage"])
def test_an_upstream_answering_garbage_is_an_upstream_error(
    faulty: Server, client: httpx.Client, model: str
) -> None:
    result = ask(faulty, client, model)
    assert result.last("error")["data"]["error"] == "UpstreamError"
    assert result.types[-2:] == ["error", "done"]


def test_a_client_leaving_a_silent_upstream_stops_it_after_the_grace(tmp_path, client: httpx.Client) -> None:
    """The upstream says nothing for a minute; the client leaves after ``start``. With a 15 s
    heartbeat the leave used to be noticed at the second heartbeat, and the upstream was
    closed about 40 s later instead of after the 1 s grace."""
    with FakeOpenAI() as silent:
        silent.first_token_delay_s = 60
        with run_server(
            tmp_path, openai_base_url=silent.base_url, heartbeat_s=15, disconnect_grace_s=1
        ) as server:
            head = read_stream(
                client,
                "POST",
                server.url + "/api/chat/stream",
                json={"message": QUESTION, "llm_config": {"model": "slow-first"}},
                stop_after=lambda r: "progress" in r.types and len(r.events) >= 6,
            )
            left = time.monotonic()
            run_id = head.headers["x-run-id"]
            deadline = left + 10
            while not silent.hangups and time.monotonic() < deadline:
                time.sleep(0.05)
            assert silent.hangups, "the upstream was never closed"
            assert silent.hangups[0] - left < 1 + 2.5
            status = client.get(f"{server.url}/api/runs/{run_id}").json()
            assert status["status"] == "cancelled"
