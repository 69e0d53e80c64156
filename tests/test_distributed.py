"""The distributed mode over real processes: two gunicorn "hosts" (two masters, two ports,
separate data dirs) sharing the machine's Redis and PostgreSQL, each test with its own
database and key prefix. Covers every endpoint on every host, cancel and watchers across
hosts, the busy-thread rule, takeover after ``kill -9`` with the restart rule, fencing of a
paused worker, and a Redis outage."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.client import StreamResult, read_stream
from tests.support.nginx import run_nginx
from tests.support.server import Server, free_port, run_server
from tests.support.services import RedisServer, backend_settings, redis_prefix

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with backend_settings("distributed") as settings:
        yield settings


@pytest.fixture
def own(shared: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The module's database with a Redis key prefix of this test's own, so the module's two
    long-lived hosts cannot claim (take over) the runs of the servers this test starts."""
    with redis_prefix() as prefix:
        yield {**shared, "redis_prefix": prefix}


@pytest.fixture(scope="module")
def hosts(
    tmp_path_factory: pytest.TempPathFactory, shared: dict[str, Any]
) -> Iterator[tuple[Server, Server]]:
    """Two hosts with two workers each; answers paced so runs are still going mid-test."""
    settings = {**shared, "workers": 2, "heartbeat_s": 0.5, "offline_token_delay_ms": 10}
    with (
        run_server(tmp_path_factory.mktemp("host-a"), **settings) as a,
        run_server(tmp_path_factory.mktemp("host-b"), **settings) as b,
    ):
        yield a, b


def restart_invariant(result: StreamResult) -> None:
    """Ids contiguous; the tokens no restart discarded concatenate to final.content."""
    seqs = [int(m.id.rpartition(":")[2]) for m in result.messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    kept = result.kept_answer
    assert kept == result.last("final")["data"]["content"]


def answer_until_tokens(client: httpx.Client, host: Server, tokens: int, **body: Any) -> StreamResult:
    """Ask ``host`` the question and hang up after ``tokens`` tokens: a run mid-answer."""
    return read_stream(
        client,
        "POST",
        host.url + "/api/chat/stream",
        json={"message": QUESTION, **body},
        stop_after=lambda r: r.types.count("token") >= tokens,
    )


def test_every_endpoint_answers_for_a_run_of_the_other_host(
    hosts: tuple[Server, Server], client: httpx.Client
) -> None:
    a, b = hosts
    head = read_stream(
        client,
        "POST",
        a.url + "/api/chat/stream",
        json={"message": QUESTION},
        stop_after=lambda r: len(r.messages) >= 3,
    )
    run_id = head.headers["x-run-id"]
    thread_id = head.events[0]["data"]["thread_id"]
    # Resume on the other host after the 3rd event, then the whole run from the first event there.
    tail = read_stream(
        client, "GET", f"{b.url}/api/runs/{run_id}/stream", headers={"Last-Event-ID": head.messages[2].id}
    )
    full = read_stream(client, "GET", f"{b.url}/api/runs/{run_id}/stream")
    assert [m.id for m in head.messages[:3] + tail.messages] == [m.id for m in full.messages]
    assert full.types[-1] == "done" and full.last("done")["data"]["status"] == "success"
    assert "1,234" in full.last("final")["data"]["content"]
    # EventSource's reconnect to /api/chat/stream on either host: the same run, then 204.
    for host in (a, b):
        again = client.get(host.url + "/api/chat/stream", headers={"Last-Event-ID": full.messages[-1].id})
        assert again.status_code == 204
    summary = client.get(f"{b.url}/api/runs/{run_id}").json()
    assert summary["status"] == "success" and summary["attempt"] == 1
    host_name, _, pid = summary["worker"].rpartition(":")
    assert host_name and int(pid) in a.worker_pids()
    listed = client.get(f"{b.url}/api/runs", params={"limit": 50}).json()["runs"]
    assert run_id in [r["run_id"] for r in listed] and all("result" not in r for r in listed)
    history = client.get(f"{b.url}/api/threads/{thread_id}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    # POST /api/chat on host B, continuing the thread that host A started.
    answer = client.post(
        b.url + "/api/chat", json={"message": "그 부품의 월별 사용량 추이는?", "conversation_id": thread_id}
    )
    assert answer.status_code == 200 and answer.json()["thread_id"] == thread_id
    assert len(client.get(f"{a.url}/api/threads/{thread_id}/messages").json()["messages"]) == 4


def test_live_stream_and_cancel_from_the_other_host(
    hosts: tuple[Server, Server], client: httpx.Client
) -> None:
    a, b = hosts
    run = client.post(
        a.url + "/api/runs", json={"message": "30", "agent": "slow", "on_disconnect": "continue"}
    )
    run_id = run.json()["run_id"]
    head = read_stream(
        client, "GET", f"{b.url}/api/runs/{run_id}/stream", stop_after=lambda r: len(r.messages) >= 2
    )
    assert head.types[:2] == ["start", "progress"]
    started = time.monotonic()
    cancel = client.post(f"{b.url}/api/runs/{run_id}/cancel")
    assert cancel.status_code == 202 and cancel.json()["cancelled"] is True
    rest = read_stream(
        client, "GET", f"{b.url}/api/runs/{run_id}/stream", headers={"Last-Event-ID": head.messages[-1].id}
    )
    assert rest.types[-2:] == ["error", "done"] and rest.last("done")["data"]["status"] == "cancelled"
    # The slow node ignores the stop flag, so this is the cancel deadline, not the signal's path.
    assert time.monotonic() - started < 3.5
    assert client.get(f"{a.url}/api/runs/{run_id}").json()["status"] == "cancelled"


def test_cancel_from_the_other_host_closes_the_upstream_within_a_second(
    own: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI(tokens=[f"t{i} " for i in range(100)], token_delay_s=0.1) as upstream:
        settings = {**own, "openai_base_url": upstream.base_url}
        with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
            run = client.post(
                a.url + "/api/runs", json={"message": QUESTION, "on_disconnect": "continue"}
            ).json()
            read_stream(client, "GET", b.url + run["stream_url"], stop_after=lambda r: "token" in r.types)
            cancel_at = time.monotonic()
            assert client.post(f"{b.url}/api/runs/{run['run_id']}/cancel").json()["cancelled"] is True
            assert upstream.first_hangup() - cancel_at < 1.0


def test_a_thread_is_busy_across_hosts(hosts: tuple[Server, Server], client: httpx.Client) -> None:
    a, b = hosts
    thread = f"busy-{time.time_ns()}"
    first = client.post(
        a.url + "/api/runs", json={"message": "2", "agent": "slow", "conversation_id": thread}
    )
    assert first.status_code == 202
    second = client.post(
        b.url + "/api/runs", json={"message": "0", "agent": "slow", "conversation_id": thread}
    )
    assert second.status_code == 409 and second.json()["error"] == "ThreadBusy"
    client.post(f"{a.url}/api/runs/{first.json()['run_id']}/cancel")


def test_a_watcher_on_another_host_keeps_the_run_from_grace_cancel(
    own: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    # The answer takes about 5 s, more than twice the grace: without the watcher on host B
    # counting, host A would cancel it.
    settings = {**own, "disconnect_grace_s": 2, "offline_token_delay_ms": 150}
    with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
        run = client.post(a.url + "/api/runs", json={"message": QUESTION}).json()
        # Nobody watches on host A, where it runs; a client watches from host B throughout.
        watched = read_stream(client, "GET", b.url + run["stream_url"])
        assert watched.last("done")["data"]["status"] == "success"
        assert watched.messages[-1].id.endswith(":" + str(len(watched.messages)))


def test_a_run_survives_kill_9_of_its_host(own: dict[str, Any], tmp_path: Path, client: httpx.Client) -> None:
    settings = {**own, "run_lease_s": 2, "offline_token_delay_ms": 60, "heartbeat_s": 0.5}
    with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
        head = answer_until_tokens(client, a, 5)
        run_id = head.headers["x-run-id"]
        a.kill_all()
        lost_at = time.monotonic()
        rest = read_stream(
            client,
            "GET",
            f"{b.url}/api/runs/{run_id}/stream",
            headers={"Last-Event-ID": head.messages[-1].id},
        )
        whole = read_stream(client, "GET", f"{b.url}/api/runs/{run_id}/stream")
    assert rest.status == 200 and "restart" in rest.types
    assert time.monotonic() - lost_at < 15
    restart = rest.last("restart")["data"]
    assert restart["attempt"] == 2 and restart["reason"] == "WorkerLost"
    assert set(restart["discard_message_ids"]) <= {
        e["data"]["message_id"] for e in head.events if e["type"] == "token"
    }
    assert restart["discard_message_ids"]  # the answer was cut off mid-way, so it is written again
    # Completed nodes were not run again: after the restart, only the answer's node starts.
    after = rest.types[rest.types.index("restart") :]
    started = [
        e["data"]["node"]
        for e in rest.events[rest.types.index("restart") :]
        if e["type"] == "progress" and e["data"]["status"] == "in_progress"
    ]
    assert started == ["response_generation"] and after[-1] == "done"
    assert [m.id for m in head.messages] + [m.id for m in rest.messages] == [m.id for m in whole.messages][
        : len(head.messages) + len(rest.messages)
    ]
    restart_invariant(whole)
    assert "1,234" in whole.last("final")["data"]["content"]


def test_a_paused_worker_cannot_write_into_a_run_taken_over(
    own: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    settings = {**own, "run_lease_s": 2, "offline_token_delay_ms": 60, "heartbeat_s": 0.5}
    with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
        head = answer_until_tokens(client, a, 3, on_disconnect="continue")
        run_id = head.headers["x-run-id"]
        (worker,) = a.worker_pids()
        import os

        os.kill(worker, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 15
            while client.get(f"{b.url}/api/runs/{run_id}").json()["attempt"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        finally:
            os.kill(worker, signal.SIGCONT)
        whole = read_stream(client, "GET", f"{b.url}/api/runs/{run_id}/stream")
        time.sleep(1)  # give the resumed worker time to try its writes
        after = read_stream(client, "GET", f"{b.url}/api/runs/{run_id}/stream")
        log = a.log()
    assert whole.last("done")["data"]["status"] == "success"
    assert [m.data for m in after.messages] == [m.data for m in whole.messages]
    restart_invariant(whole)
    assert whole.types.count("restart") == 1 and whole.types.count("final") == 1
    assert "taken over by another worker" in log


def test_redis_outage(own: dict[str, Any], tmp_path: Path, client: httpx.Client) -> None:
    own_redis = RedisServer(tmp_path / "redis", free_port())
    own_redis.start()
    settings = {**own, "redis_url": own_redis.url, "offline_token_delay_ms": 40, "heartbeat_s": 0.3}
    try:
        with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
            run = client.post(
                a.url + "/api/runs", json={"message": QUESTION, "on_disconnect": "continue"}
            ).json()
            head = read_stream(
                client, "GET", b.url + run["stream_url"], stop_after=lambda r: r.types.count("token") >= 2
            )
            own_redis.stop()
            # The remote reader's feed is gone: its stream ends with a retry hint, not a hang.
            cut = read_stream(
                client, "GET", b.url + run["stream_url"], headers={"Last-Event-ID": head.messages[-1].id}
            )
            assert cut.status in (200, 503)
            refused = client.post(b.url + "/api/chat/stream", json={"message": QUESTION})
            assert refused.status_code == 503 and refused.json()["error"] == "StoreUnavailable"
            assert refused.headers["Retry-After"]
            assert client.get(a.url + "/healthz").status_code == 200
            assert client.get(b.url + "/healthz").status_code == 200
            time.sleep(1)
            own_redis.start()
            deadline = time.monotonic() + 15
            while True:
                again = read_stream(client, "POST", b.url + "/api/chat/stream", json={"message": QUESTION})
                if again.status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert again.status == 200 and again.last("done")["data"]["status"] == "success"
            whole = read_stream(client, "GET", b.url + run["stream_url"])
            assert whole.last("done")["data"]["status"] == "success"
            assert [m.id for m in whole.messages[: len(head.messages)]] == [m.id for m in head.messages]
            restart_invariant(whole)
    finally:
        own_redis.stop()


def test_sigterm_hands_unfinished_runs_to_another_host(
    own: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    """A graceful stop does not interrupt runs it cannot finish: another worker continues them."""
    settings = {
        **own,
        "graceful_timeout_s": 6,
        "run_lease_s": 2,
        "offline_token_delay_ms": 100,
        "heartbeat_s": 0.5,
    }
    with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
        head = answer_until_tokens(client, a, 3)
        run_id = head.headers["x-run-id"]
        assert a.stop(signal.SIGTERM) == 0
        rest = read_stream(
            client,
            "GET",
            f"{b.url}/api/runs/{run_id}/stream",
            headers={"Last-Event-ID": head.messages[-1].id},
        )
        whole = read_stream(client, "GET", f"{b.url}/api/runs/{run_id}/stream")
        summary = client.get(f"{b.url}/api/runs/{run_id}").json()
        b_workers = b.worker_pids()
    assert rest.last("done")["data"]["status"] == "success"
    assert whole.types.count("restart") == 1 and summary["attempt"] == 2
    assert int(summary["worker"].rpartition(":")[2]) in b_workers
    restart_invariant(whole)


def test_two_hosts_behind_the_shipped_nginx(
    own: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    """deploy/nginx.conf with both hosts in its upstream (round robin, no sticky sessions):
    events arrive one by one, and a client that resumes after every event, landing on either
    host each time, gets the run exactly once; then a host is lost and the run goes on."""
    settings = {**own, "run_lease_s": 2, "offline_token_delay_ms": 40, "heartbeat_s": 0.5}
    with (
        run_server(tmp_path / "a", **settings) as a,
        run_server(tmp_path / "b", **settings) as b,
        run_nginx([a, b], tmp_path / "nginx") as proxied,
    ):
        whole = read_stream(client, "POST", proxied + "/api/chat/stream", json={"message": QUESTION})
        run_id = whole.headers["x-run-id"]
        tokens = [
            t
            for (t, kind), type_ in zip(
                [a_ for a_ in whole.arrivals if a_[1] == "message"], whole.types, strict=True
            )
            if type_ == "token"
        ]
        assert len({round(t, 2) for t in tokens}) >= len(tokens) * 0.8  # not buffered into lumps
        pieced: list[str] = []
        last = None
        while True:
            headers = {"Last-Event-ID": last} if last else {}
            step = read_stream(
                client,
                "GET",
                f"{proxied}/api/runs/{run_id}/stream",
                headers=headers,
                stop_after=lambda r: len(r.messages) >= 1,
            )
            if step.status == 204:
                break
            pieced.append(step.messages[0].id)
            last = step.messages[0].id
        assert pieced == [m.id for m in whole.messages]

        head = answer_until_tokens(client, a, 3)  # on host A, then A is lost
        a.kill_all()
        rest = read_stream(
            client,
            "GET",
            f"{proxied}/api/runs/{head.headers['x-run-id']}/stream",
            headers={"Last-Event-ID": head.messages[-1].id},
        )
    assert rest.status == 200 and "restart" in rest.types
    assert rest.last("done")["data"]["status"] == "success"


def test_a_run_past_its_attempts_ends_interrupted(
    own: dict[str, Any], tmp_path: Path, client: httpx.Client
) -> None:
    """STAGECAST_RUN_MAX_ATTEMPTS=1: the worker that claims a lost run ends it instead of retrying."""
    settings = {**own, "run_lease_s": 2, "run_max_attempts": 1, "offline_token_delay_ms": 60}
    with run_server(tmp_path / "a", **settings) as a, run_server(tmp_path / "b", **settings) as b:
        head = answer_until_tokens(client, a, 3)
        a.kill_all()
        rest = read_stream(
            client,
            "GET",
            f"{b.url}/api/runs/{head.headers['x-run-id']}/stream",
            headers={"Last-Event-ID": head.messages[-1].id},
        )
        summary = client.get(f"{b.url}/api/runs/{head.headers['x-run-id']}").json()
    assert rest.types[-2:] == ["error", "done"] and "restart" not in rest.types
    assert rest.last("error")["data"]["error"] == "Interrupted"
    assert summary["status"] == "error" and summary["attempt"] == 2
