"""Admission: runs beyond the running limit wait in order; the limit follows the hub's lag."""

from __future__ import annotations

import gc
import signal
import time
from collections.abc import Callable, Iterator

import gevent
import httpx
import pytest

from app.runs.admission import MIN_LIMIT, TICK_S, Admission
from tests.support.client import read_stream, start_slow_run
from tests.support.server import Server, run_server


@pytest.fixture
def started() -> list[int]:
    return []


def submit_jobs(admission: Admission, started: list[int], count: int) -> None:
    for job in range(count):
        admission.submit(job, lambda job=job: started.append(job))


def test_jobs_beyond_the_limit_wait_in_order(started: list[int]) -> None:
    admission = Admission(target_lag_s=0, max_limit=2)  # no lag control: a fixed limit
    submit_jobs(admission, started, 5)
    assert started == [0, 1] and admission.waiting == 3
    assert admission.withdraw(2) is True
    assert admission.withdraw(0) is False  # already started
    admission.release()
    assert started == [0, 1, 3]
    admission.release()
    admission.release()
    assert started == [0, 1, 3, 4] and admission.waiting == 0 and admission.running == 1


def test_a_stopped_admission_starts_nothing_more(started: list[int]) -> None:
    admission = Admission(target_lag_s=0, max_limit=1)
    submit_jobs(admission, started, 2)
    admission.stop()
    admission.release()
    assert started == [0] and admission.waiting == 1 and admission.withdraw(1)


def _hog_the_hub(seconds: float, slice_s: float = 0.06) -> None:
    """CPU work that does not yield for ``slice_s`` at a time, as a busy worker's does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        busy_until = time.perf_counter() + slice_s
        while time.perf_counter() < busy_until:
            pass
        gevent.sleep(0.001)  # a real wait: sleep(0) would not let timers run


@pytest.fixture
def watched() -> Iterator[Callable[[float, int], Admission]]:
    """Makes admissions whose lag watch (started by their first submit) ends with the test."""
    made: list[Admission] = []

    def make(target_lag_s: float, max_limit: int) -> Admission:
        made.append(Admission(target_lag_s=target_lag_s, max_limit=max_limit))
        return made[-1]

    yield make
    for admission in made:
        admission.stop()
        if admission._watch is not None:
            admission._watch.kill()


@pytest.fixture
def lagging(watched: Callable[[float, int], Admission]) -> Admission:
    return watched(0.01, 100)


def test_lag_never_lifts_the_limit_above_its_cap(
    watched: Callable[[float, int], Admission], started: list[int]
) -> None:
    """A cap below MIN_LIMIT (STAGECAST_MAX_RUNNING_RUNS=1) holds while the hub lags."""
    capped = watched(0.01, 1)
    submit_jobs(capped, started, 3)
    gevent.spawn(_hog_the_hub, 0.3).join()
    assert capped.limit == 1 and started == [0] and capped.waiting == 2


def test_limit_drops_while_the_hub_lags_and_grows_back(lagging: Admission, started: list[int]) -> None:
    submit_jobs(lagging, started, 40)
    first_limit = lagging.limit
    assert len(started) == first_limit < 40  # the rest wait
    gevent.spawn(_hog_the_hub, 0.5).join()
    assert MIN_LIMIT <= lagging.limit < first_limit
    # Jobs end, the hub is idle: the waiting ones start, and the limit grows past where it was.
    for _ in range(10):
        lagging.release()
    deadline = time.monotonic() + 3
    while lagging.waiting and time.monotonic() < deadline:
        gevent.sleep(0.03)
    assert lagging.waiting == 0 and started == list(range(40))


def test_the_limit_grows_fast_while_the_core_idles(
    watched: Callable[[float, int], Admission], started: list[int]
) -> None:
    """Jobs that cost no CPU (a slow model's runs): the limit grows by a sixteenth a tick,
    where one a tick would add 20 in 20 ticks."""
    idle = watched(0.2, 1000)  # a busy test machine's lag cuts nothing
    submit_jobs(idle, started, 1000)
    first_limit = idle.limit
    gevent.sleep(0.5)  # 20 ticks of an idle core
    assert idle.cpu_busy < 0.5
    assert len(started) == idle.limit > first_limit + 20
    assert idle.waiting == 1000 - idle.limit


def test_a_garbage_collection_pause_does_not_cut_the_limit(lagging: Admission, started: list[int]) -> None:
    """A full collection stalls the hub for as long as the heap is big, whatever runs."""
    submit_jobs(lagging, started, 40)
    first_limit = lagging.limit
    held = [[{}] for _ in range(1_500_000)]  # ~0.2 s to scan (measured on the CI machine)

    def collect() -> None:
        for _ in range(3):
            gevent.sleep(TICK_S * 2)  # let the watch measure a tick around each pause
            gc.collect()

    gevent.spawn(collect).join()
    assert lagging._gc_s > 0.2  # the pauses happened, and were long enough to have cut it
    assert lagging.limit >= first_limit
    del held


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("admission"), max_running_runs=1, heartbeat_s=0.2) as running:
        yield running


def start_slow(client: httpx.Client, server: Server, seconds: float, events: int) -> str:
    """Start a run of the ``slow`` agent that outlives its stream; read ``events``; its id."""
    return start_slow_run(client, server, seconds, events, on_disconnect="continue").headers["x-run-id"]


def test_a_waiting_run_streams_start_then_runs_after_the_running_one(
    one_at_a_time: Server, client: httpx.Client
) -> None:
    url = one_at_a_time.url
    first_id = start_slow(client, one_at_a_time, 1.0, events=2)
    second = read_stream(client, "POST", url + "/api/chat/stream", json={"message": "0", "agent": "slow"})
    assert second.types[0] == "start" and second.last("done")["data"]["status"] == "success"
    health = client.get(url + "/healthz").json()
    assert health["waiting_runs"] == 0 and health["running_limit"] >= 1
    # The first was still running when the second was submitted, so the second began after it.
    first_summary = client.get(f"{url}/api/runs/{first_id}").json()
    second_summary = client.get(f"{url}/api/runs/{second.headers['x-run-id']}").json()
    assert second_summary["started_at"] >= first_summary["ended_at"]


def test_cancelling_a_waiting_run_ends_it_at_once(one_at_a_time: Server, client: httpx.Client) -> None:
    url = one_at_a_time.url
    running_id = start_slow(client, one_at_a_time, 3, events=2)
    run_id = start_slow(client, one_at_a_time, 0, events=1)  # waits: only `start` is sent
    assert client.get(f"{url}/api/runs/{run_id}").json()["status"] == "pending"
    assert client.get(url + "/healthz").json()["waiting_runs"] == 1
    cancelled_at = time.monotonic()
    assert client.post(f"{url}/api/runs/{run_id}/cancel").status_code == 202
    replay = read_stream(client, "GET", f"{url}/api/runs/{run_id}/stream")
    assert time.monotonic() - cancelled_at < 1.0  # not the 2 s deadline for a running node
    assert replay.types == ["start", "error", "done"]
    assert replay.last("done")["data"]["status"] == "cancelled"
    client.post(f"{url}/api/runs/{running_id}/cancel")


def test_a_run_waiting_at_shutdown_is_interrupted_without_starting(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path, max_running_runs=1, graceful_timeout_s=6) as server:
        start_slow(client, server, 1.0, events=2)  # ends within the grace period
        waiting_id = start_slow(client, server, 0, events=1)
        assert server.stop(signal.SIGTERM) == 0
    with run_server(tmp_path) as restarted:
        summary = client.get(f"{restarted.url}/api/runs/{waiting_id}").json()
        replay = read_stream(client, "GET", f"{restarted.url}/api/runs/{waiting_id}/stream")
    assert summary["status"] == "interrupted" and summary["started_at"] is None
    assert replay.types == ["start", "error", "done"]
    assert replay.last("error")["data"]["error"] == "Interrupted"
