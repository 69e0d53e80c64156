"""Abusive and odd requests over real gunicorn: each gets the contract's JSON answer, fast.

Deep JSON, odd Last-Event-IDs, chunked bodies over the limit, bodies that trickle, URLs and
headers gunicorn refuses, HEAD on a stream, and clients that hold too many streams.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.client import read_stream, trickling_bodies
from tests.support.server import Server, run_server

STREAM = "/api/chat/stream"
MAX_BODY = 4096


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("limits"),
        max_body_bytes=MAX_BODY,
        body_timeout_s=1.5,
        worker_connections=40,
        stream_connection_share=0.5,
        max_subscribers_per_run=3,
        max_streams_per_client=8,
        heartbeat_s=0.5,
    ) as running:
        yield running


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["success"] is False and body["error"] == code and body["message"], body
    assert "<html" not in response.text.lower()
    return body


def raw_exchange(server: Server, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (what an HTTP client library would refuse to send); read the answer."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        more = sock.recv(65536)
        if not more:
            break
        body += more
    return int(lines[0].split()[1]), headers, body


# --- 11: bad input that used to be a 500 ---


@pytest.mark.parametrize(
    "content",
    [
        '{"message": "hi", "history": ' + "[" * 1900 + "]" * 1900 + "}",  # deeper than the recursion limit
        '{"message": "hi", "llm_config": ' + '{"a":[' * 500 + "1" + "]}" * 500 + "}",
    ],
)
def test_deep_json_body_is_400(strict: Server, client: httpx.Client, content: str) -> None:
    response = client.post(strict.url + STREAM, headers={"Content-Type": "application/json"}, content=content)
    assert_json_error(response, 400, "InvalidJSON")


def test_deep_json_history_query_is_400(strict: Server, client: httpx.Client) -> None:
    history = "[" * 1100 + "]" * 1100  # 6,600 bytes URL-encoded: inside the request-line limit
    response = client.get(strict.url + STREAM, params={"message": "hi", "history": history})
    assert_json_error(response, 400, "InvalidJSON")


@pytest.mark.parametrize("seq", ["²", "٣", "1²", "9" * 5000, "9" * 19, "-1", "", " 1"])
def test_odd_last_event_ids_are_400(strict: Server, client: httpx.Client, seq: str) -> None:
    for send in (
        lambda: client.get(strict.url + STREAM, headers={"Last-Event-ID": f"x:{seq}".encode()}),
        lambda: client.get(strict.url + "/api/runs/x/stream", params={"last_event_id": f"x:{seq}"}),
    ):
        assert_json_error(send(), 400, "BadRequest")


# --- 12: chunked bodies are held to the same limit ---


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("total", [MAX_BODY + 1, 50 * MAX_BODY, 3 * 1024 * 1024])
def test_chunked_body_over_the_limit_is_413(strict: Server, client: httpx.Client, total: int) -> None:
    # A valid JSON document first, as the probe sent: a truncated read would have accepted it.
    head = json.dumps({"message": "0", "agent": "slow"}).encode()
    body = head + b" " * (total - len(head))
    response = client.post(
        strict.url + "/api/runs", content=_chunks(body), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # it really went chunked
    assert_json_error(response, 413, "PayloadTooLarge")


def test_chunked_body_within_the_limit_is_accepted(strict: Server, client: httpx.Client) -> None:
    head = json.dumps({"message": "0", "agent": "slow"}).encode()
    body = head + b" " * (MAX_BODY - len(head))
    response = client.post(
        strict.url + "/api/runs", content=_chunks(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text


def test_declared_length_over_the_limit_is_413(strict: Server, client: httpx.Client) -> None:
    response = client.post(strict.url + STREAM, json={"message": "x" * (MAX_BODY + 10)})
    assert_json_error(response, 413, "PayloadTooLarge")


# --- 3: a body that trickles is cut at the body timeout ---


def test_trickled_body_gets_408_and_the_worker_keeps_serving(strict: Server, client: httpx.Client) -> None:
    with ExitStack() as stack:
        # More than the 20 stream slots could tell apart from normal load.
        socks = trickling_bodies(stack, strict.url, count=10, declared_length=200, timeout=10)
        started = time.monotonic()
        # Meanwhile a stream starts and runs, and health answers.
        ok = read_stream(client, "POST", strict.url + STREAM, json={"message": "0", "agent": "slow"})
        assert ok.types[-1] == "done"
        for sock in socks:
            sock.sendall(b" ")  # a trickle: one byte now and then, never the whole body
        statuses = []
        for sock in socks:
            status, headers, body = read_response(sock)
            statuses.append(status)
            assert headers["content-type"] == "application/json"
            assert json.loads(body)["error"] == "RequestTimeout"
        assert statuses == [408] * len(socks)
        assert time.monotonic() - started < 1.5 + 3
        for sock in socks:  # and the connection is closed, not drained for a next request
            sock.settimeout(5)
            assert sock.recv(100) == b""


# --- 13, 14: gunicorn's own errors are JSON; the request line's real limit ---


def test_request_line_too_long_is_json_414(strict: Server) -> None:
    status, headers, body = raw_exchange(
        strict, b"GET /api/chat/stream?message=" + b"x" * 9000 + b" HTTP/1.1\r\n\r\n"
    )
    assert status == 414 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == "URITooLong"


def test_header_too_large_is_json_431(strict: Server) -> None:
    status, headers, body = raw_exchange(
        strict, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n"
    )
    assert status == 431 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == "HeadersTooLarge"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
    ],
)
def test_malformed_requests_are_json_400(strict: Server, request_bytes: bytes) -> None:
    status, headers, body = raw_exchange(strict, request_bytes)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["success"] is False


def test_eventsource_form_takes_a_long_korean_message(strict: Server, client: httpx.Client) -> None:
    """900 Hangul characters (8,100 bytes URL-encoded) fit the request line; 4,094 bytes did not."""
    message = "가" * 895
    assert len(f"GET {STREAM}?message={quote(message)}&agent=slow HTTP/1.1") < 8190
    result = read_stream(
        client, "GET", strict.url + STREAM, params={"message": message, "agent": "echo_config"}
    )
    assert result.status == 200 and result.types[-1] == "done"


# --- 15: HEAD starts nothing ---


def test_head_on_the_stream_starts_no_run(strict: Server, client: httpx.Client) -> None:
    before = client.get(strict.url + "/api/runs", params={"limit": 500}).json()["runs"]
    response = client.head(strict.url + STREAM, params={"message": "ABC-12345 부품의 재고는?"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    time.sleep(0.3)
    assert client.get(strict.url + "/api/runs", params={"limit": 500}).json()["runs"] == before


# --- 2: connection caps ---


def _open_stream(server: Server, path: str, headers: dict[str, str] | None = None) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
    return sock


def test_subscribers_per_run_are_capped(strict: Server, client: httpx.Client) -> None:
    run = client.post(strict.url + "/api/runs", json={"message": "3", "agent": "slow"}).json()
    path = f"/api/runs/{run['run_id']}/stream"
    with ExitStack() as stack:
        for _ in range(3):
            sock = stack.enter_context(_open_stream(strict, path))
            assert read_response_head(sock) == 200
        refused = client.get(strict.url + path)
        body = assert_json_error(refused, 429, "TooManySubscribers")
        assert int(refused.headers["Retry-After"]) >= 1 and body["message"]
    client.post(f"{strict.url}/api/runs/{run['run_id']}/cancel")


def test_streams_per_client_and_per_worker_are_capped(tmp_path, client: httpx.Client) -> None:
    with run_server(
        tmp_path,
        worker_connections=20,
        stream_connection_share=0.5,
        max_streams_per_client=4,
        heartbeat_s=0.5,
    ) as server:
        runs = [
            client.post(server.url + "/api/runs", json={"message": "5", "agent": "slow"}).json()
            for _ in range(4)
        ]
        with ExitStack() as stack:
            for run in runs:
                sock = stack.enter_context(_open_stream(server, f"/api/runs/{run['run_id']}/stream"))
                assert read_response_head(sock) == 200
            refused = client.post(server.url + STREAM, json={"message": "0", "agent": "slow"})
            assert_json_error(refused, 429, "TooManyStreams")
            # Other addresses (here: other loopback addresses) fill the worker's share: 10 streams.
            for n in range(6):
                sock = stack.enter_context(
                    _open_stream_from(server, f"127.0.0.{n + 2}", f"/api/runs/{runs[n % 4]['run_id']}/stream")
                )
                assert read_response_head(sock) == 200
            before = client.get(server.url + "/api/runs", params={"limit": 500}).json()["runs"]
            full = httpx.post(server.url + STREAM, json={"message": "0", "agent": "slow"}, timeout=5)
            assert_json_error(full, 503, "TooManyConnections")
            assert int(full.headers["Retry-After"]) >= 1
            # The refused stream started no run, and health still answers at once.
            assert len(client.get(server.url + "/api/runs", params={"limit": 500}).json()["runs"]) == len(
                before
            )
            started = time.monotonic()
            assert client.get(server.url + "/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 1
        for run in runs:
            client.post(f"{server.url}/api/runs/{run['run_id']}/cancel")


def _open_stream_from(server: Server, source: str, path: str) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return sock


def read_response_head(sock: socket.socket) -> int:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    return int(data.split(b" ", 2)[1])


# --- 5: finished runs held in memory are bounded ---


def test_finished_runs_in_memory_are_capped_and_the_rest_replay_from_disk(
    tmp_path, client: httpx.Client
) -> None:
    with run_server(tmp_path, max_finished_runs=2) as server:
        ids = []
        for _ in range(3):
            result = read_stream(client, "POST", server.url + STREAM, json={"message": "0", "agent": "slow"})
            ids.append(result.headers["x-run-id"])
        assert client.get(server.url + "/healthz").json()["runs_in_memory"] == 2
        assert client.get(f"{server.url}/api/runs/{ids[0]}").json()["status"] == "success"
        replay = read_stream(client, "GET", f"{server.url}/api/runs/{ids[0]}/stream")
        assert replay.types[0] == "start" and replay.types[-1] == "done"
