"""Through the shipped ``deploy/nginx.conf`` in Debian's nginx, in front of a real gunicorn.

Events must arrive one by one, not buffered; every error a client can provoke, nginx's
own included, must be JSON; a client trickling a body must cost Stagecast nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.client import read_stream, trickling_bodies
from tests.support.nginx import run_nginx
from tests.support.server import run_server

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx's URL, in front of a server whose offline writer waits 40 ms between pieces."""
    scratch = tmp_path_factory.mktemp("behind-nginx")
    with (
        run_server(scratch / "data", offline_token_delay_ms=40, proxy_hops=1) as server,
        run_nginx(server, scratch / "nginx") as url,
    ):
        yield url


def test_events_arrive_one_by_one(proxied: str, client: httpx.Client) -> None:
    result = read_stream(client, "POST", proxied + "/api/chat/stream", json={"message": QUESTION})
    assert result.status == 200 and result.types[-1] == "done"
    assert result.headers["content-type"].startswith("text/event-stream")
    token_times = [
        t
        for (t, kind), type_ in zip(
            [a for a in result.arrivals if a[1] == "message"], result.types, strict=True
        )
        if type_ == "token"
    ]
    assert len(token_times) >= 10
    # 40 ms apart at the source: buffered, they would arrive in a few lumps at the end.
    distinct = len({round(t, 2) for t in token_times})
    assert distinct >= len(token_times) * 0.8, token_times
    assert token_times[-1] - token_times[0] >= 0.04 * (len(token_times) - 1) * 0.8
    assert result.first_byte_s is not None and result.first_byte_s < token_times[0]


def assert_json(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["success"] is False and body["error"] == code


def test_body_over_the_apps_limit_gets_the_apps_json_413(proxied: str, client: httpx.Client) -> None:
    response = client.post(proxied + "/api/chat/stream", json={"message": "x" * 100_000})
    assert_json(response, 413, "PayloadTooLarge")
    assert response.headers["X-Trace-ID"]  # the app's answer, not nginx's


def test_body_over_nginxs_limit_gets_json_413(proxied: str, client: httpx.Client) -> None:
    response = client.post(proxied + "/api/chat/stream", json={"message": "x" * 2_000_000})
    assert_json(response, 413, "PayloadTooLarge")


def test_chunked_body_over_the_limit_gets_413(proxied: str, client: httpx.Client) -> None:
    body = json.dumps({"message": "0"}).encode() + b" " * 200_000
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
    response = client.post(
        proxied + "/api/runs", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert_json(response, 413, "PayloadTooLarge")


def test_url_too_long_is_json_414(proxied: str, client: httpx.Client) -> None:
    response = client.get(proxied + "/api/chat/stream", params={"message": "가" * 1500})
    assert_json(response, 414, "URITooLong")


def test_header_too_large_is_json_400(proxied: str, client: httpx.Client) -> None:
    response = client.get(proxied + "/healthz", headers={"X-Big": "y" * 9000})
    assert_json(response, 400, "BadRequest")


def test_trickled_bodies_cost_stagecast_nothing(proxied: str, client: httpx.Client) -> None:
    """nginx reads a whole body before passing it on: tricklers hold nginx connections, and
    nginx drops one that stalls past client_body_timeout (10 s)."""
    with ExitStack() as stack:
        socks = trickling_bodies(stack, proxied, count=20, declared_length=100, timeout=15)
        started = time.monotonic()
        ok = read_stream(client, "POST", proxied + "/api/chat/stream", json={"message": QUESTION})
        assert ok.types[-1] == "done"
        assert client.get(proxied + "/healthz").json()["active_runs"] == 0
        for sock in socks:
            answer = sock.recv(4096)  # nothing more was sent: nginx gives up on the body
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 14


def test_forged_x_forwarded_for_is_not_the_counted_address(tmp_path: Path, client: httpx.Client) -> None:
    """STAGECAST_PROXY_HOPS=1 trusts only the address nginx appends to X-Forwarded-For: what a
    client wrote there itself stays to the left, so it cannot reset its rate limit."""
    with (
        run_server(tmp_path / "data", proxy_hops=1, rate_limit="2/minute") as server,
        run_nginx(server, tmp_path / "nginx") as url,
    ):
        statuses = [
            client.post(
                url + "/api/runs",
                json={"message": "0", "agent": "slow"},
                headers={"X-Forwarded-For": forged},
            ).status_code
            for forged in ("203.0.113.1", "203.0.113.2, 198.51.100.7", "198.51.100.8")
        ]
        assert statuses == [202, 202, 429]
        # Without nginx in front (the setting's misuse), the same header would be believed:
        # the limit counts whatever address the client claims.
        direct = client.post(
            server.url + "/api/runs",
            json={"message": "0", "agent": "slow"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert direct.status_code == 202
