"""Cross-site defences over real HTTP: CORS preflights, the Origin check, Host, security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.client import read_stream
from tests.support.server import Server, free_port, run_server

FRONT_END = "https://app.example.com"
QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("cors"),
        cors_origins=FRONT_END,
        allowed_hosts="127.0.0.1,.stagecast.test",
        api_keys="alice=alice-key-0123456789",
    ) as running:
        yield running


def preflight(
    client: httpx.Client, server: Server, origin: str, path: str = "/api/chat/stream"
) -> httpx.Response:
    return client.options(
        server.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization, last-event-id",
        },
    )


def test_preflight_from_an_allowed_origin(cross: Server, client: httpx.Client) -> None:
    answer = preflight(client, cross, FRONT_END)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = {h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization", "last-event-id"} <= allowed
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]


def test_preflight_from_another_origin_is_refused(cross: Server, client: httpx.Client) -> None:
    answer = preflight(client, cross, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_fetch_streaming_from_the_allowed_origin(cross: Server, client: httpx.Client) -> None:
    result = read_stream(
        client,
        "POST",
        cross.url + "/api/chat/stream",
        json={"message": QUESTION},
        headers={"Origin": FRONT_END, "Authorization": "Bearer alice-key-0123456789"},
    )
    assert result.status == 200 and result.types[-1] == "done"
    assert result.headers["Access-Control-Allow-Origin"] == FRONT_END
    exposed = {h.strip().lower() for h in result.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"content-location", "x-run-id", "x-trace-id"} <= exposed


def test_eventsource_with_credentials_from_the_allowed_origin(cross: Server, client: httpx.Client) -> None:
    run = client.post(
        cross.url + "/api/runs",
        json={"message": QUESTION},
        headers={"Origin": FRONT_END, "Authorization": "Bearer alice-key-0123456789"},
    ).json()
    # new EventSource(url, {withCredentials: true}): a GET with Origin, no Authorization.
    result = read_stream(
        client,
        "GET",
        cross.url + run["stream_url"],
        headers={"Origin": FRONT_END, "Accept": "text/event-stream"},
    )
    assert result.status == 200 and result.types[-1] == "done"
    assert result.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert result.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/runs", {"Origin": "https://evil.example"}),
        ("POST", "/api/runs/x/cancel", {"Origin": "null"}),
        ("GET", "/api/chat/stream?message=hi", {"Origin": "https://evil.example"}),
        ("GET", "/api/chat/stream?message=hi", {"Sec-Fetch-Site": "cross-site"}),
    ],
)
def test_cross_site_requests_that_change_state_are_refused(
    server: Server, client: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> None:
    """Even with authentication off (the default server), a page elsewhere cannot start or cancel runs."""
    answer = client.request(method, server.url + path, headers=headers, json={"message": "hi"})
    assert answer.status_code == 403 and answer.json()["error"] == "CrossOriginRequest"


def test_same_origin_and_reads_are_not_refused(server: Server, client: httpx.Client) -> None:
    same = client.post(
        server.url + "/api/runs", json={"message": "0", "agent": "slow"}, headers={"Origin": server.url}
    )
    assert same.status_code == 202
    read = client.get(server.url + "/api/runs", headers={"Origin": "https://evil.example"})
    assert read.status_code == 200 and "Access-Control-Allow-Origin" not in read.headers


def test_host_allowlist(cross: Server, client: httpx.Client) -> None:
    assert client.get(cross.url + "/openapi.json", headers={"Host": "api.stagecast.test"}).status_code == 200
    rebound = client.get(cross.url + "/", headers={"Host": "attacker.example"})
    assert rebound.status_code == 400 and rebound.json()["error"] == "InvalidHost"
    assert client.get(cross.url + "/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/", "/runs", "/docs", "/healthz", "/api/runs", "/nope", "/static/stagecast.js"]
)
def test_security_headers_on_every_response(server: Server, client: httpx.Client, path: str) -> None:
    headers = client.get(server.url + path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    if headers["Content-Type"].startswith("text/html"):
        assert "script-src 'self'" in headers["Content-Security-Policy"]


# --- DNS rebinding against the default server (no STAGECAST_ALLOWED_HOSTS) ---


def rebound(server: Server) -> dict[str, str]:
    """What a page on an attacker's name that resolves to this server sends."""
    port = server.url.rpartition(":")[2]
    return {"Host": f"rebind.attacker.example:{port}", "Origin": f"http://rebind.attacker.example:{port}"}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/threads/legacy-1/messages"), ("POST", "/api/runs")]
)
def test_dns_rebinding_is_refused_by_default(
    server: Server, client: httpx.Client, method: str, path: str
) -> None:
    answer = client.request(method, server.url + path, headers=rebound(server), json={"message": "hi"})
    assert answer.status_code in (400, 403), answer.text
    assert answer.json()["error"] in ("InvalidHost", "CrossOriginRequest")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_names_are_answered_by_default(server: Server, client: httpx.Client, host: str) -> None:
    port = server.url.rpartition(":")[2]
    headers = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
    started = client.post(server.url + "/api/runs", json={"message": "0", "agent": "slow"}, headers=headers)
    assert started.status_code == 202, started.text


def test_origin_is_not_compared_with_the_requests_own_host(cross: Server, client: httpx.Client) -> None:
    """An allowed Host does not make a matching Origin allowed: only the allowed hosts and
    STAGECAST_CORS_ORIGINS are."""
    allowed = client.post(
        cross.url + "/api/runs",
        json={"message": "0", "agent": "slow"},
        headers={**bearer(), "Host": "api.stagecast.test", "Origin": "https://api.stagecast.test"},
    )
    assert allowed.status_code == 202, allowed.text
    port = cross.url.rpartition(":")[2]
    refused = client.post(
        cross.url + "/api/runs",
        json={"message": "0", "agent": "slow"},
        headers={**bearer(), "Host": f"127.0.0.1:{port}", "Origin": f"http://rebind.attacker.example:{port}"},
    )
    assert refused.status_code == 403 and refused.json()["error"] == "CrossOriginRequest"


def bearer() -> dict[str, str]:
    return {"Authorization": "Bearer alice-key-0123456789"}


def test_default_allowed_hosts_are_loopback_and_the_bind() -> None:
    from app.config import load_settings
    from app.security import allowed_hosts, host_allowed

    public = allowed_hosts(load_settings({"bind": "10.0.0.7:8000"}))
    assert public == ("localhost", "127.0.0.1", "[::1]", "10.0.0.7")
    assert host_allowed("10.0.0.7:8000", public) and host_allowed("[::1]:1234", public)
    assert not host_allowed("[::2]:8000", public) and not host_allowed("x.localhost", public)
    assert allowed_hosts(load_settings({"allowed_hosts": "stagecast.example.com"})) == (
        "stagecast.example.com",
    )


# --- no anonymous service on a public address ---


def test_public_bind_without_auth_refuses_to_start(data_dir: Path) -> None:
    with pytest.raises(RuntimeError) as refused, run_server(data_dir, bind=f"0.0.0.0:{free_port()}"):
        pass
    lines = [line for line in str(refused.value).splitlines() if line.startswith("stagecast:")]
    assert len(lines) == 1
    for name in ("STAGECAST_API_KEYS", "STAGECAST_JWT_SECRET", "STAGECAST_JWT_PUBLIC_KEY"):
        assert name in lines[0]
    assert "STAGECAST_ALLOW_ANONYMOUS=true" in lines[0]


def test_public_bind_starts_with_auth_or_the_opt_out(data_dir: Path, client: httpx.Client) -> None:
    for settings in ({"allow_anonymous": "true"}, {"api_keys": "alice=alice-key-0123456789"}):
        with run_server(data_dir, bind=f"0.0.0.0:{free_port()}", **settings) as public:
            assert client.get(public.url + "/healthz").status_code == 200
