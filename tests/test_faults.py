"""The distributed mode under faults, over real processes (docs/faults.md).

Each test has its own redis-server, a fresh PostgreSQL database and gunicorn hosts with one
worker each and a 2 s lease (``tests.support.faults.Cluster``), and checks the guarantees
after one fault: one history, one outcome, one log, every run ends, one clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.client import StreamResult, read_stream
from tests.support.fake_openai import FakeOpenAI
from tests.support.faults import Cluster, paused
from tests.support.server import Server

QUESTION = "ABC-12345 부품의 재고는?"
FOLLOW_UP = "그 부품의 월별 사용량 추이는?"


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def summary(client: httpx.Client, host: Server, run_id: str) -> dict[str, Any]:
    return client.get(f"{host.url}/api/runs/{run_id}").json()


def messages(client: httpx.Client, host: Server, thread_id: str) -> list[dict[str, Any]]:
    return client.get(f"{host.url}/api/threads/{thread_id}/messages").json()["messages"]


def whole_log(client: httpx.Client, host: Server, run_id: str) -> StreamResult:
    return read_stream(client, "GET", f"{host.url}/api/runs/{run_id}/stream")


def first_tokens(client: httpx.Client, host: Server) -> StreamResult:
    """A run streamed from ``host`` (it goes on without its client), read to its third token."""
    return read_stream(
        client,
        "POST",
        host.url + "/api/chat/stream",
        json={"message": QUESTION, "on_disconnect": "continue"},
        stop_after=lambda r: r.types.count("token") >= 3,
    )


def the_rest(client: httpx.Client, host: Server, run_id: str, head: StreamResult) -> StreamResult:
    """The run's stream from ``host``, resumed after the last event ``head`` received."""
    return read_stream(
        client, "GET", f"{host.url}/api/runs/{run_id}/stream", headers={"Last-Event-ID": head.messages[-1].id}
    )


def assert_one_outcome(client: httpx.Client, hosts: list[Server], run_id: str) -> dict[str, Any]:
    """Every host answers the same status, attempt and event count for the run."""
    seen = [summary(client, host, run_id) for host in hosts]
    keys = ("status", "attempt", "events")
    assert all({k: s[k] for k in keys} == {k: seen[0][k] for k in keys} for s in seen), seen
    return seen[0]


def assert_one_log(client: httpx.Client, hosts: list[Server], run_id: str, *delivered: StreamResult) -> None:
    """Every host serves the same log, and every event any client saw is in it, same id, same data."""
    logs = [whole_log(client, host, run_id) for host in hosts]
    reference = [(m.id, m.data) for m in logs[0].messages]
    assert reference and logs[0].types[-1] == "done"
    for other in logs[1:]:
        assert [(m.id, m.data) for m in other.messages] == reference
    committed = dict(reference)
    for result in delivered:
        for message in result.messages:
            assert committed.get(message.id) == message.data, (
                f"event {message.id} delivered but not committed"
            )


def assert_answer(result: StreamResult, stored: str) -> None:
    """The tokens no ``restart`` discarded concatenate to ``final``, which is the stored answer."""
    kept = result.kept_answer
    trail = [
        (e["type"], e["data"].get("message_id") or e["data"].get("node") or e["data"])
        for e in result.events
        if e["type"] in ("restart", "progress", "token")
    ]
    assert kept == result.last("final")["data"]["content"] == stored, trail


def no_tracebacks(*hosts: Server) -> None:
    for host in hosts:
        assert "Traceback" not in host.log(), host.log()


def test_a_paused_worker_cannot_rewrite_the_thread_after_a_takeover(
    tmp_path: Path, client: httpx.Client
) -> None:
    """SIGSTOP of the executing worker mid-answer; another host takes the run over and
    finishes it; a second turn runs; SIGCONT. The old attempt's checkpoint writes are refused
    by PostgreSQL: the thread keeps its 4 messages, and its stored answer is the delivered one."""
    # The upstream keeps sending while the worker is stopped: on SIGCONT the rest of its answer
    # is already in its socket, and its node ends (and writes) before its lease loop runs.
    with (
        FakeOpenAI(tokens=[f"t{i} " for i in range(30)], token_delay_s=0.05) as upstream,
        Cluster(tmp_path, openai_base_url=upstream.base_url) as cluster,
    ):
        a, b = cluster.host("a"), cluster.host("b")
        head = first_tokens(client, a)
        run_id = head.headers["x-run-id"]
        thread_id = head.events[0]["data"]["thread_id"]
        with paused(cluster.worker(a)):
            wait_until(lambda: summary(client, b, run_id)["attempt"] >= 2, 15, "the takeover")
            first = whole_log(client, b, run_id)
            assert first.last("done")["data"]["status"] == "success"
            second = client.post(
                b.url + "/api/chat", json={"message": FOLLOW_UP, "conversation_id": thread_id}
            )
            assert second.status_code == 200, second.text
            assert len(messages(client, b, thread_id)) == 4
        time.sleep(3)  # the resumed worker reads its buffered answer and tries its writes
        final = first.last("final")["data"]["content"]
        assert_answer(first, final)
        for host in (a, b):
            history = messages(client, host, thread_id)
            assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
            assert history[1]["content"] == final
        outcome = assert_one_outcome(client, [a, b], run_id)
        assert outcome["status"] == "success" and outcome["attempt"] == 2
        assert_one_log(client, [a, b], run_id, head, first)
        no_tracebacks(a, b)


def log_lines(host: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in host.log().splitlines() if line.startswith('{"ts"')]


class Reader(threading.Thread):
    """A client reading a run's stream from one host in the background, until it ends."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.result: StreamResult | None = None
        self.partial: list[StreamResult] = []

    def run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(60.0)) as own:
            self.result = read_stream(own, "GET", self.url, stop_after=self._keep)

    def _keep(self, result: StreamResult) -> bool:
        self.partial[:] = [result]
        return False

    def tokens(self) -> int:
        return self.partial[0].types.count("token") if self.partial else 0


def test_a_partitioned_worker_does_not_fork_the_log(tmp_path: Path, client: httpx.Client) -> None:
    """Host A's Redis traffic is held by a proxy (both ways), then A's worker is paused; B
    takes the run over and finishes it; A resumes, still partitioned, and ends the run
    locally; the partition heals. A's own client saw only committed events, A's local end is
    dropped, and both hosts serve the same log and the same outcome."""
    with Cluster(tmp_path) as cluster:
        a, b = cluster.host("a", redis_proxy=True), cluster.host("b")
        run_id, on_a = reading_a_run(client, a)
        cluster.proxies["a"].partition()
        time.sleep(0.3)  # A keeps producing into memory; its client sees none of it
        with paused(cluster.worker(a)):
            wait_until(lambda: summary(client, b, run_id)["attempt"] >= 2, 15, "the takeover")
            on_b = whole_log(client, b, run_id)
            assert on_b.last("done")["data"]["status"] == "success"
        time.sleep(4)  # A ends the run locally, behind the partition
        cluster.proxies["a"].heal()
        on_a.join(30)
        assert on_a.result is not None, "A's client was never let go"
        rest = read_stream(
            client,
            "GET",
            f"{a.url}/api/runs/{run_id}/stream",
            headers={"Last-Event-ID": on_a.result.messages[-1].id} if on_a.result.messages else {},
        )
        assert_one_log(client, [a, b], run_id, on_a.result, rest, on_b)
        outcome = assert_one_outcome(client, [a, b], run_id)
        assert outcome["status"] == "success" and outcome["attempt"] == 2
        no_tracebacks(a, b)


def reading_a_run(client: httpx.Client, host: Server) -> tuple[str, Reader]:
    """A run started on ``host``, read there by a client in the background, 3 tokens in."""
    run = client.post(host.url + "/api/runs", json={"message": QUESTION, "on_disconnect": "continue"}).json()
    reader = Reader(host.url + run["stream_url"])
    reader.start()
    wait_until(lambda: reader.tokens() >= 3, 15, "tokens on host " + host.url)
    return run["run_id"], reader


def new_turn(client: httpx.Client, host: Server, thread_id: str) -> httpx.Response:
    return client.post(host.url + "/api/chat", json={"message": FOLLOW_UP, "conversation_id": thread_id})


def test_redis_restarted_empty_mid_run(tmp_path: Path, client: httpx.Client) -> None:
    """Redis (no AOF) comes back empty mid-run. The executing worker reads the missing attempt
    key as store loss, not a takeover: it writes back what it had committed and finishes;
    every event its client saw keeps its id and data, and the thread frees up."""
    with Cluster(tmp_path, appendonly=False) as cluster:
        a, b = cluster.host("a"), cluster.host("b")
        run_id, on_a = reading_a_run(client, a)
        cluster.redis.restart_empty()
        on_a.join(60)
        assert on_a.result is not None
        assert on_a.result.types[-1] == "done", on_a.result.types
        assert_one_log(client, [a, b], run_id, on_a.result)
        outcome = assert_one_outcome(client, [a, b], run_id)
        assert outcome["status"] == "success" and outcome["attempt"] == 1
        thread_id = on_a.result.events[0]["data"]["thread_id"]
        assert new_turn(client, b, thread_id).status_code == 200
        assert "store loss" in a.log()
        assert "taken over" not in a.log()


def test_a_busy_mark_lost_with_redis_keeps_a_second_turn_out(tmp_path: Path, client: httpx.Client) -> None:
    """Redis (no AOF) comes back empty while host A, paused, executes a run: the thread's busy
    mark is gone. Host B sees the dataset's epoch change in the same round trip as its thread
    claim, asks PostgreSQL, and refuses a second turn on the thread (409 ThreadBusy) instead of
    interleaving it with the first. A resumes, writes its keys back and finishes; the thread
    then takes the second turn, and its history holds both turns in order."""
    with Cluster(tmp_path, appendonly=False) as cluster:
        a, b = cluster.host("a"), cluster.host("b")
        run_id, on_a = reading_a_run(client, a)
        thread_id = on_a.partial[0].events[0]["data"]["thread_id"]
        with paused(cluster.worker(a)):
            cluster.redis.restart_empty()
            second = new_turn(client, b, thread_id)
            assert second.status_code == 409 and second.json()["error"] == "ThreadBusy", second.text
        on_a.join(60)
        assert on_a.result is not None and on_a.result.last("done")["data"]["status"] == "success"
        assert_one_log(client, [a, b], run_id, on_a.result)
        assert new_turn(client, b, thread_id).status_code == 200
        history = messages(client, b, thread_id)
        assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
        assert [history[0]["content"], history[2]["content"]] == [QUESTION, FOLLOW_UP]
        assert "the Redis dataset changed" in b.log()
        wait_until(lambda: "Redis lost its dataset" in a.log() + b.log(), 10, "a sweep to see it")
        no_tracebacks(a, b)


def test_redis_down_while_a_run_finishes_then_its_host_killed(tmp_path: Path, client: httpx.Client) -> None:
    """Redis (AOF) stops mid-run; the run ends on host A and its end reaches PostgreSQL, but
    not Redis; A is killed before Redis returns. Once Redis is back, B claims the run, finds
    it ended and releases its lease and its thread (no claim loop, no ThreadBusy); the run's
    log is served from its record, a superset of what clients saw."""
    with Cluster(tmp_path, appendonly=True) as cluster:
        a, b = cluster.host("a"), cluster.host("b")
        head = first_tokens(client, a)
        run_id = head.headers["x-run-id"]
        thread_id = head.events[0]["data"]["thread_id"]
        cluster.redis.stop()
        time.sleep(6)  # the run ends on A, in A's memory only
        a.kill_all()
        cluster.redis.start()
        rest = the_rest(client, b, run_id, head)
        assert rest.last("done")["data"]["status"] == "success", rest.types
        assert_one_log(client, [b], run_id, head, rest)
        assert_answer(whole_log(client, b, run_id), messages(client, b, thread_id)[1]["content"])
        outcome = summary(client, b, run_id)
        assert outcome["status"] == "success" and outcome["attempt"] == 1
        assert new_turn(client, b, thread_id).status_code == 200
        time.sleep(3)  # nothing claims the run again (once, if its lease was left behind)
        claims = b.log().count("taking over run")
        assert claims <= 1 and (claims == 0 or "releasing it" in b.log())


def test_redis_restarted_empty_after_its_host_was_killed(tmp_path: Path, client: httpx.Client) -> None:
    """Host A is killed mid-run and Redis comes back empty: no lease, no log. The sweeper on
    B finds the unfinished record nobody holds; its takeover finds the log lost and ends the
    run interrupted (ids seen by clients are never reused); the thread frees up."""
    with Cluster(tmp_path, appendonly=False) as cluster:
        a, b = cluster.host("a"), cluster.host("b")
        head = first_tokens(client, a)
        run_id = head.headers["x-run-id"]
        thread_id = head.events[0]["data"]["thread_id"]
        a.kill_all()
        cluster.redis.restart_empty()
        wait_until(lambda: summary(client, b, run_id)["status"] == "interrupted", 20, "the run to end")
        gone = client.get(f"{b.url}/api/runs/{run_id}/stream")
        assert gone.status_code == 410 and gone.json()["error"] == "Interrupted"
        assert new_turn(client, b, thread_id).status_code == 200
        assert "store loss" in b.log()


def executing_host(client: httpx.Client, hosts: list[Server], run_id: str) -> Server:
    pid = int(summary(client, hosts[0], run_id)["worker"].rpartition(":")[2])
    return next(host for host in hosts if pid in host.worker_pids())


def test_hosts_with_clocks_30s_apart(tmp_path: Path, client: httpx.Client) -> None:
    """Host A's time.time() runs 30 s ahead, B's 30 s behind. A client watching from B keeps
    A's run from its grace cancel (watcher expiry is Redis TIME), and a run B started, taken
    over by A after B is killed, gets the rest of its timeout (its age is PostgreSQL's)."""
    with Cluster(tmp_path, disconnect_grace_s=2, offline_token_delay_ms=150, run_timeout_s=40) as cluster:
        a = cluster.host("a", clock_skew_s=30)
        b = cluster.host("b", clock_skew_s=-30)
        run = client.post(a.url + "/api/runs", json={"message": QUESTION}).json()
        watched = read_stream(client, "GET", b.url + run["stream_url"])
        assert watched.last("done")["data"]["status"] == "success", watched.types
        assert_one_outcome(client, [a, b], run["run_id"])
        # The next turn, on the host 60 s behind: its checkpoints still become the thread's head.
        thread_id = run["thread_id"]
        second = client.post(b.url + "/api/chat", json={"message": FOLLOW_UP, "conversation_id": thread_id})
        assert second.status_code == 200, second.text
        history = messages(client, a, thread_id)
        assert len(history) == 4 and history[-1]["content"] == second.json()["content"]

        head = first_tokens(client, b)
        b.kill_all()
        rest = the_rest(client, a, head.headers['x-run-id'], head)
        assert "restart" in rest.types
        assert rest.last("done")["data"]["status"] == "success", rest.types


def test_a_cancel_answered_then_the_host_killed(tmp_path: Path, client: httpx.Client) -> None:
    """A cancel accepted by the executing host is recorded before the API answers: the host
    is killed at once, and the run taken over ends cancelled, never success."""
    with Cluster(tmp_path, offline_token_delay_ms=100) as cluster:
        a, b = cluster.host("a"), cluster.host("b")
        head = first_tokens(client, a)
        run_id = head.headers["x-run-id"]
        answer = client.post(f"{a.url}/api/runs/{run_id}/cancel")
        a.kill_all()
        assert answer.json()["cancelled"] is True
        wait_until(lambda: summary(client, b, run_id)["status"] not in ("running", "pending"), 20, "the end")
        assert summary(client, b, run_id)["status"] == "cancelled"
        whole = whole_log(client, b, run_id)
        assert "final" not in whole.types and whole.last("done")["data"]["status"] == "cancelled"


def test_a_cancel_published_while_the_worker_reconnects_is_read_again(
    tmp_path: Path, client: httpx.Client
) -> None:
    """Host A's Redis connections are reset, and new ones refused, while host B answers a
    cancel of A's run: the cancel's publish reaches nobody. When A's pub/sub connection comes
    back, A re-reads the cancel keys of its runs, and ends the run cancelled itself (attempt
    1, no takeover)."""
    with Cluster(tmp_path) as cluster:
        a, b = cluster.host("a", redis_proxy=True), cluster.host("b")
        run_id, on_a = reading_a_run(client, a)
        cluster.proxies["a"].down()
        answer = client.post(f"{b.url}/api/runs/{run_id}/cancel")
        assert answer.status_code == 202 and answer.json()["cancelled"] is True, answer.text
        time.sleep(0.5)  # well inside the 2 s lease: nobody takes the run over
        cluster.proxies["a"].up()
        on_a.join(30)
        assert on_a.result is not None
        assert on_a.result.last("done")["data"]["status"] == "cancelled", on_a.result.types
        outcome = assert_one_outcome(client, [a, b], run_id)
        assert outcome["status"] == "cancelled" and outcome["attempt"] == 1
        assert_one_log(client, [a, b], run_id, on_a.result)
        assert "taking over" not in a.log() + b.log()


def test_three_rolling_sigterms_do_not_use_up_the_attempts(tmp_path: Path, client: httpx.Client) -> None:
    """STAGECAST_RUN_MAX_ATTEMPTS=2 and three rolling restarts (SIGTERM the host executing the
    run, start its replacement): graceful hand-overs are not failures, the run succeeds."""
    with Cluster(tmp_path, run_max_attempts=2, graceful_timeout_s=6, offline_token_delay_ms=500) as cluster:
        hosts = [cluster.host("h0"), cluster.host("h1")]
        head = read_stream(
            client,
            "POST",
            hosts[0].url + "/api/chat/stream",
            json={"message": QUESTION, "on_disconnect": "continue"},
            stop_after=lambda r: r.types.count("token") >= 2,
        )
        run_id = head.headers["x-run-id"]
        for restart in range(3):
            hosts.append(cluster.host(f"h{restart + 2}"))
            executing = executing_host(client, hosts, run_id)
            assert executing.stop() == 0
            hosts.remove(executing)
            handed = wait_until(
                lambda n=restart: (now := summary(client, hosts[0], run_id))["attempt"] >= n + 2 and now,
                20,
                "hand-over",
            )
            if handed["status"] not in ("running", "pending"):
                ended = whole_log(client, hosts[0], run_id)
                raise AssertionError(f"ended at hand-over {restart + 1}: {ended.events[-2:]}")
        whole = read_stream(client, "GET", f"{hosts[0].url}/api/runs/{run_id}/stream")
        assert whole.last("done")["data"]["status"] == "success", whole.types
        outcome = assert_one_outcome(client, hosts, run_id)
        assert outcome["status"] == "success" and outcome["attempt"] == 4
        assert [e["data"]["reason"] for e in whole.events if e["type"] == "restart"] == ["HandedOver"] * 3
        assert_answer(whole, whole.last("final")["data"]["content"])


def test_postgresql_connections_cut_mid_run(tmp_path: Path, client: httpx.Client) -> None:
    """Every PostgreSQL connection of the executing host is reset mid-answer (a failover, a
    proxy restart). The run still ends, with one outcome and one log on both hosts, and the
    thread takes its next turn."""
    with Cluster(tmp_path) as cluster:
        a, b = cluster.host("a", postgres_proxy=True), cluster.host("b")
        head = first_tokens(client, a)
        run_id = head.headers["x-run-id"]
        thread_id = head.events[0]["data"]["thread_id"]
        cluster.proxies["a/pg"].cut()
        rest = the_rest(client, a, run_id, head)
        status = rest.last("done")["data"]["status"]
        wait_until(lambda: summary(client, b, run_id)["status"] == status, 10, "the record of the end")
        assert_one_log(client, [a, b], run_id, head, rest)
        outcome = assert_one_outcome(client, [a, b], run_id)
        assert outcome["status"] == "success", (outcome, rest.types)
        assert_answer(whole_log(client, b, run_id), messages(client, b, thread_id)[1]["content"])
        assert new_turn(client, a, thread_id).status_code == 200


def test_an_end_in_redis_only_is_recorded_by_a_sweeper(tmp_path: Path, client: httpx.Client) -> None:
    """Host A loses PostgreSQL mid-run (its server is gone: connections reset, new ones
    refused). The run ends on A and its terminal event is committed in Redis, but A cannot
    record the end. B's sweeper finds the unfinished record whose log is closed and writes
    the end from the committed log; every host then agrees, and the thread takes a new turn."""
    with Cluster(tmp_path) as cluster:
        a, b = cluster.host("a", postgres_proxy=True), cluster.host("b")
        run_id, on_a = reading_a_run(client, a)
        cluster.proxies["a/pg"].down()
        on_a.join(60)
        assert on_a.result is not None
        status = on_a.result.last("done")["data"]["status"]
        wait_until(lambda: "could not record the end of the run" in a.log(), 20, "A to give up its write")
        wait_until(lambda: summary(client, b, run_id)["status"] == status, 15, "B's sweeper to write it")
        assert "recorded the end of run" in b.log()
        cluster.proxies["a/pg"].up()
        assert_one_log(client, [a, b], run_id, on_a.result)
        outcome = assert_one_outcome(client, [a, b], run_id)
        assert outcome["events"] == len(on_a.result.messages)
        thread_id = on_a.result.events[0]["data"]["thread_id"]
        assert new_turn(client, b, thread_id).status_code == 200


def test_a_takeover_that_cannot_start_does_not_use_up_an_attempt(
    tmp_path: Path, client: httpx.Client
) -> None:
    """STAGECAST_RUN_MAX_ATTEMPTS=2. Host A is killed mid-run while host B's PostgreSQL is
    down: B's claim cannot start the takeover and gives it back. Once PostgreSQL is back, B
    takes the run over; only A's loss counted, so the run is not interrupted."""
    with Cluster(tmp_path, run_max_attempts=2) as cluster:
        a, b = cluster.host("a"), cluster.host("b", postgres_proxy=True)
        head = first_tokens(client, a)
        run_id = head.headers["x-run-id"]
        cluster.proxies["b/pg"].down()
        a.kill_all()
        wait_until(lambda: "giving it back" in b.log(), 20, "a claim given back")
        time.sleep(2)  # more claims, each given back
        cluster.proxies["b/pg"].up()
        rest = the_rest(client, b, run_id, head)
        assert rest.last("done")["data"]["status"] == "success", rest.types
        assert [e["data"]["reason"] for e in rest.events if e["type"] == "restart"] == ["WorkerLost"]
