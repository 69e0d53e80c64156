"""Runs outlive connections: resume, several watchers, disconnect grace, cancel, shutdown."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.support.client import StreamResult, read_stream, start_slow_run, wait_for_status
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server, run_server

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module")
def paced(tmp_path_factory: pytest.TempPathFactory):
    """The offline writer paced at 10 ms a piece, so runs are still going while we reconnect."""
    with run_server(tmp_path_factory.mktemp("paced"), offline_token_delay_ms=10, heartbeat_s=0.5) as running:
        yield running


def ids(result: StreamResult) -> list[str]:
    return [m.id for m in result.messages]


@pytest.mark.parametrize("k", range(1, 13))
def test_resume_after_k_events_gives_exactly_the_rest(paced: Server, client: httpx.Client, k: int) -> None:
    head = read_stream(
        client,
        "POST",
        paced.url + "/api/chat/stream",
        json={"message": QUESTION},
        stop_after=lambda r: len(r.messages) >= k,
    )
    run_id = head.headers["x-run-id"]
    seen = head.messages[:k]  # a chunk may carry more; the client saw only k before the drop
    tail = read_stream(
        client, "GET", f"{paced.url}/api/runs/{run_id}/stream", headers={"Last-Event-ID": seen[-1].id}
    )
    assert tail.status == 200
    full = read_stream(client, "GET", f"{paced.url}/api/runs/{run_id}/stream")  # from the first event
    assert [m.id for m in seen] + ids(tail) == ids(full)
    assert [m.data for m in seen + tail.messages] == [m.data for m in full.messages]
    assert full.types[-1] == "done" and full.last("done")["data"]["status"] == "success"


def test_eventsource_reconnect_resumes_the_same_run_then_204(paced: Server, client: httpx.Client) -> None:
    url = paced.url + "/api/chat/stream"
    params = {"message": QUESTION}
    first = read_stream(client, "GET", url, params=params, stop_after=lambda r: len(r.messages) >= 4)
    run_id = first.headers["x-run-id"]
    # What a browser's EventSource does: the same URL again, with the last id it saw.
    second = read_stream(client, "GET", url, params=params, headers={"Last-Event-ID": first.messages[3].id})
    assert second.headers["x-run-id"] == run_id
    assert "start" not in second.types and second.types[-1] == "done"
    assert int(second.messages[0].id.rpartition(":")[2]) == 5
    third = client.get(url, params=params, headers={"Last-Event-ID": second.messages[-1].id})
    assert third.status_code == 204


def test_two_subscribers_see_the_same_sequence(paced: Server, client: httpx.Client) -> None:
    created = client.post(paced.url + "/api/runs", json={"message": QUESTION})
    assert created.status_code == 202
    run = created.json()
    assert run["stream_url"] == f"/api/runs/{run['run_id']}/stream"
    results: list[StreamResult] = []

    def watch() -> None:
        with httpx.Client(timeout=30) as own:
            results.append(read_stream(own, "GET", paced.url + run["stream_url"]))

    watchers = [threading.Thread(target=watch) for _ in range(2)]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join(30)
    assert len(results) == 2
    assert [m.data for m in results[0].messages] == [m.data for m in results[1].messages]
    assert results[0].types[0] == "start" and results[0].types[-1] == "done"
    status = client.get(f"{paced.url}/api/runs/{run['run_id']}").json()
    assert status["status"] == "success" and status["result"]["content"]


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory):
    with run_server(tmp_path_factory.mktemp("grace"), disconnect_grace_s=0.5, heartbeat_s=0.2) as running:
        yield running


def test_last_subscriber_leaving_cancels_after_the_grace_period(
    impatient: Server, client: httpx.Client
) -> None:
    head = start_slow_run(client, impatient)
    run_id = head.headers["x-run-id"]
    assert client.get(f"{impatient.url}/api/runs/{run_id}").json()["status"] == "running"
    assert wait_for_status(client, impatient, run_id, {"cancelled"}, timeout=8) == "cancelled"
    replay = read_stream(client, "GET", f"{impatient.url}/api/runs/{run_id}/stream")
    assert replay.last("error")["data"]["error"] == "Cancelled"
    assert replay.last("done")["data"]["status"] == "cancelled"


def test_a_grace_of_zero_still_serves_the_client_that_started_the_run(tmp_path, client: httpx.Client) -> None:
    """STAGECAST_DISCONNECT_GRACE_S=0 cancels a run as soon as its last client leaves, not
    before its first one has attached."""
    with run_server(tmp_path, disconnect_grace_s=0, heartbeat_s=0.2) as server:
        whole = read_stream(
            client, "POST", server.url + "/api/chat/stream", json={"message": "0.5", "agent": "slow"}
        )
        head = start_slow_run(client, server)
        left = wait_for_status(client, server, head.headers["x-run-id"], {"cancelled"}, timeout=5)
    assert whole.last("done")["data"]["status"] == "success"
    assert left == "cancelled"


def test_on_disconnect_continue_keeps_the_run(impatient: Server, client: httpx.Client) -> None:
    head = start_slow_run(client, impatient, 1.5, on_disconnect="continue")
    run_id = head.headers["x-run-id"]
    time.sleep(1.0)  # past the grace period
    assert client.get(f"{impatient.url}/api/runs/{run_id}").json()["status"] == "running"
    assert wait_for_status(client, impatient, run_id, {"success", "cancelled"}) == "success"


def test_rejoin_within_grace_keeps_the_run(impatient: Server, client: httpx.Client) -> None:
    head = start_slow_run(client, impatient, 1.5)
    rest = read_stream(
        client,
        "GET",
        f"{impatient.url}/api/runs/{head.headers['x-run-id']}/stream",
        headers={"Last-Event-ID": head.messages[-1].id},
    )
    assert rest.last("done")["data"]["status"] == "success"


def cancelled_after_three_tokens(client: httpx.Client, server: Server) -> tuple[StreamResult, float]:
    """A chat streamed from ``server``, cancelled (202, ``cancelled: true``) once it has 3
    tokens, read to its end; and when the cancel was sent (``time.monotonic()``)."""
    cancel_at: list[float] = []

    def cancel_after_tokens(result: StreamResult) -> bool:
        if not cancel_at and result.types.count("token") >= 3:
            cancel_at.append(time.monotonic())
            response = client.post(f"{server.url}/api/runs/{result.headers['x-run-id']}/cancel")
            assert response.status_code == 202 and response.json()["cancelled"] is True
        return False

    url = server.url + "/api/chat/stream"
    result = read_stream(client, "POST", url, json={"message": QUESTION}, stop_after=cancel_after_tokens)
    return result, cancel_at[0]


@pytest.mark.parametrize("chat_model", ["fast", "stock"])
def test_cancel_closes_the_upstream_stream(tmp_path, client: httpx.Client, chat_model: str) -> None:
    with (
        FakeOpenAI(tokens=[f"t{i} " for i in range(100)], token_delay_s=0.1) as upstream,
        run_server(tmp_path, openai_base_url=upstream.base_url, chat_model=chat_model) as server,
    ):
        result, cancel_at = cancelled_after_three_tokens(client, server)
        done_at = result.started + result.arrivals[-1][0]
        assert result.last("error")["data"]["error"] == "Cancelled"
        assert result.last("done")["data"]["status"] == "cancelled"
        assert result.types.count("token") < 20
        assert done_at - cancel_at < 1.0  # the cancel latency a client sees
        assert upstream.first_hangup() - cancel_at < 1.0


@pytest.mark.parametrize("chat_model", ["fast", "stock"])
def test_a_cancel_closes_only_its_own_upstream_stream(
    tmp_path, client: httpx.Client, chat_model: str
) -> None:
    """Two runs stream from the model at once, on one worker's shared connections: cancelling
    one closes its connection within a second, and the other streams on to its end."""
    tokens = [f"t{i} " for i in range(30)]
    with (
        FakeOpenAI(tokens=tokens, token_delay_s=0.05) as upstream,
        run_server(tmp_path, openai_base_url=upstream.base_url, chat_model=chat_model) as server,
    ):
        results: dict[str, StreamResult] = {}

        def read_other() -> None:
            with httpx.Client(timeout=30) as own:
                results["other"] = read_stream(
                    own, "POST", server.url + "/api/chat/stream", json={"message": QUESTION}
                )

        other = threading.Thread(target=read_other)
        other.start()
        time.sleep(0.3)  # its answer is streaming (1.5 s in all) when the second run starts
        cancelled, cancel_at = cancelled_after_three_tokens(client, server)
        other.join(30)
        assert cancelled.last("done")["data"]["status"] == "cancelled"
        assert cancelled.started + cancelled.arrivals[-1][0] - cancel_at < 1.0
        assert upstream.first_hangup() - cancel_at < 1.0
        assert results["other"].last("done")["data"]["status"] == "success"
        assert results["other"].answer == "".join(tokens)
        assert len(upstream.hangups) == 1 and upstream.connections == 2


def test_two_turns_share_the_thread(paced: Server, client: httpx.Client) -> None:
    thread = f"thread-{time.time_ns()}"
    first = read_stream(
        client, "POST", paced.url + "/api/chat/stream", json={"message": QUESTION, "conversation_id": thread}
    )
    assert first.events[0]["data"]["thread_id"] == thread
    second = read_stream(
        client,
        "POST",
        paced.url + "/api/chat/stream",
        json={"message": "그 부품의 월별 사용량 추이는?", "conversation_id": thread},
    )
    final = second.last("final")["data"]
    assert "ABC-12345" in final["content"]  # "그 부품" resolved from the first turn
    assert final["chart_data"] and len(final["chart_data"]["labels"]) == 12
    history = client.get(f"{paced.url}/api/threads/{thread}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[1]["content"] == first.answer and history[3]["content"] == second.answer


def test_busy_thread_is_409(paced: Server, client: httpx.Client) -> None:
    thread = f"busy-{time.time_ns()}"
    first = client.post(
        paced.url + "/api/runs", json={"message": "5", "agent": "slow", "conversation_id": thread}
    )
    second = client.post(paced.url + "/api/runs", json={"message": "hi", "conversation_id": thread})
    assert second.status_code == 409 and second.json()["error"] == "ThreadBusy"
    client.post(f"{paced.url}/api/runs/{first.json()['run_id']}/cancel")


def test_resume_on_another_process_is_a_clear_error(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path) as first, run_server(tmp_path) as second:
        run = client.post(first.url + "/api/runs", json={"message": "3", "agent": "slow"}).json()
        response = client.get(f"{second.url}/api/runs/{run['run_id']}/stream")
        assert response.status_code == 409
        assert response.json()["error"] == "RunOnAnotherWorker"
        assert "STAGECAST_REDIS_URL" in response.json()["message"]
        wait_for_status(client, first, run["run_id"], {"success"})
        # Once finished, its events are on disk, so any process on the host can replay them.
        replay = read_stream(client, "GET", f"{second.url}/api/runs/{run['run_id']}/stream")
        assert replay.types[0] == "start" and replay.types[-1] == "done"


def test_sigterm_drains_streams_and_resume_works_after_restart(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path, graceful_timeout_s=10) as server:
        terminated = []

        def terminate_once(result: StreamResult) -> bool:
            # Events written in one turn of the worker can arrive in one read: ">=", once.
            if len(result.messages) >= 2 and not terminated:
                server.stop_async(signal.SIGTERM)
                terminated.append(True)
            return False

        head = read_stream(
            client,
            "POST",
            server.url + "/api/chat/stream",
            json={"message": "2", "agent": "slow"},
            stop_after=server.signal_after(2, signal.SIGTERM),
        )
        assert head.body.endswith(b"retry: 2000\n\n")  # told to reconnect, not cut
        assert "done" not in head.types
        assert server.process.wait(20) == 0
    with run_server(tmp_path) as restarted:
        rest = read_stream(
            client,
            "GET",
            f"{restarted.url}/api/runs/{head.headers['x-run-id']}/stream",
            headers={"Last-Event-ID": head.messages[-1].id},
        )
    assert rest.types[-1] == "done" and rest.last("done")["data"]["status"] == "success"
    assert int(rest.messages[0].id.rpartition(":")[2]) == len(head.messages) + 1


def test_run_that_cannot_finish_is_marked_interrupted(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path, graceful_timeout_s=6) as server:
        run = client.post(server.url + "/api/runs", json={"message": "60", "agent": "slow"}).json()
        time.sleep(0.3)
        assert server.stop(signal.SIGTERM) == 0
    with run_server(tmp_path) as restarted:
        assert client.get(f"{restarted.url}/api/runs/{run['run_id']}").json()["status"] == "interrupted"
        replay = read_stream(client, "GET", f"{restarted.url}/api/runs/{run['run_id']}/stream")
    assert replay.last("error")["data"]["error"] == "Interrupted"
    assert replay.types[-1] == "done"


def test_hup_reload_hands_the_stream_to_the_new_worker(tmp_path, client: httpx.Client) -> None:
    """What an EventSource does across a reload: reconnect with Last-Event-ID until done."""
    with run_server(tmp_path) as server:
        url = server.url + "/api/chat/stream"
        first = read_stream(
            client,
            "GET",
            url,
            params={"message": "5", "agent": "slow"},
            stop_after=server.signal_after(2, signal.SIGHUP),
        )
        assert "done" not in first.types and first.body.endswith(b"retry: 2000\n\n")
        seen = list(first.messages)
        deadline = time.monotonic() + 30
        while seen[-1].json()["type"] != "done" and time.monotonic() < deadline:
            time.sleep((first.parser.retry or 1000) / 1000)
            try:
                again = read_stream(client, "GET", url, headers={"Last-Event-ID": seen[-1].id})
            except httpx.TransportError:
                continue  # a keep-alive connection the old worker closed: reconnect, as EventSource does
            assert again.status == 200
            seen += again.messages
        assert server.process.poll() is None  # the master stayed up; only workers changed
    run_id = first.headers["x-run-id"]
    assert [m.id for m in seen] == [f"{run_id}:{n}" for n in range(1, len(seen) + 1)]
    assert seen[-1].json()["data"]["status"] == "success"


def test_finished_runs_older_than_the_retention_are_dropped_at_start(tmp_path, client: httpx.Client) -> None:
    with run_server(tmp_path) as server:
        run = client.post(server.url + "/api/runs", json={"message": "0", "agent": "slow"}).json()
        wait_for_status(client, server, run["run_id"], {"success"})
    with run_server(tmp_path) as kept:
        assert client.get(f"{kept.url}/api/runs/{run['run_id']}").status_code == 200
    time.sleep(0.1)
    with run_server(tmp_path, run_retention_s=0.05) as pruned:
        assert client.get(f"{pruned.url}/api/runs/{run['run_id']}").json()["error"] == "RunNotFound"
