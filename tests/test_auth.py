"""Authentication and ownership over real HTTP: keys, JWTs, stream tokens, who sees which run."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.client import read_stream
from tests.support.server import Server, run_server

KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc", "root": "root-key-0123456789ab"}
JWT_SECRET = "s" * 40
AUDIENCE = "stagecast-tests"
QUESTION = "ABC-12345 부품의 재고는?"


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[user]}"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, rsa_key: rsa.RSAPrivateKey) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("secured")
    keys_file = data / "keys.txt"
    keys_file.write_text("# user=key\n" + "\n".join(f"{user}={key}" for user, key in KEYS.items()) + "\n")
    pem = data / "jwt.pem"
    pem.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with run_server(
        data,
        heartbeat_s=0.5,
        api_keys=f"@{keys_file}",
        admins="root",
        jwt_secret=JWT_SECRET,
        jwt_public_key=f"@{pem}",
        jwt_audience=AUDIENCE,
        stream_token_ttl_s=30,
    ) as running:
        yield running


def start(client: httpx.Client, server: Server, user: str, **body: Any) -> dict[str, Any]:
    created = client.post(
        server.url + "/api/runs", json={"message": "2", "agent": "slow", **body}, headers=bearer(user)
    )
    assert created.status_code == 202, created.text
    return created.json()


def hs256(claims: dict[str, Any], secret: str = JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "jwt-user", "aud": AUDIENCE, "exp": int(time.time()) + 60, **extra}


# --- authentication ---


def test_api_needs_credentials_and_healthz_does_not(secured: Server, client: httpx.Client) -> None:
    for method, path in [
        ("GET", "/api/runs"),
        ("POST", "/api/runs"),
        ("GET", "/api/threads/x/messages"),
        ("GET", "/v1/models"),
        ("POST", "/api/chat/stream"),
        ("GET", "/langgraph/info"),
    ]:
        answer = client.request(method, secured.url + path, json={"message": "hi"})
        assert answer.status_code == 401, (path, answer.text)
        error = answer.json()["error"]  # the OpenAI adapter answers in OpenAI's error shape
        assert (error["code"] if path.startswith("/v1/") else error) == "Unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="stagecast"')
    assert client.get(secured.url + "/healthz").status_code == 200
    wrong = client.get(secured.url + "/api/runs", headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    basic = client.get(secured.url + "/api/runs", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert basic.status_code == 401


def test_a_key_streams_a_run(secured: Server, client: httpx.Client) -> None:
    result = read_stream(
        client, "POST", secured.url + "/api/chat/stream", json={"message": QUESTION}, headers=bearer("alice")
    )
    assert result.status == 200 and result.types[-1] == "done"


@pytest.mark.parametrize(
    ("token", "accepted"),
    [
        (lambda key: hs256(claims()), True),
        (lambda key: jwt.encode(claims(), key, algorithm="RS256"), True),
        (lambda key: hs256(claims(exp=int(time.time()) - 5)), False),  # expired
        (lambda key: hs256(claims(nbf=int(time.time()) + 300)), False),  # not yet valid
        (lambda key: hs256(claims(), "x" * 40), False),  # wrong signature
        (lambda key: hs256(claims(aud="someone-else")), False),  # wrong audience
        (lambda key: hs256({k: v for k, v in claims().items() if k != "exp"}), False),  # no exp
        (lambda key: hs256({k: v for k, v in claims().items() if k != "sub"}), False),  # no sub
        (lambda key: "a.b.c", False),
    ],
    ids=[
        "hs256",
        "rs256",
        "expired",
        "nbf",
        "wrong-signature",
        "wrong-audience",
        "no-exp",
        "no-sub",
        "garbage",
    ],
)
def test_jwt(
    secured: Server, client: httpx.Client, rsa_key: rsa.RSAPrivateKey, token: Any, accepted: bool
) -> None:
    answer = client.get(secured.url + "/api/runs", headers={"Authorization": f"Bearer {token(rsa_key)}"})
    assert answer.status_code == (200 if accepted else 401), answer.text


def test_jwt_signed_with_another_public_key_type_is_refused(secured: Server, client: httpx.Client) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), other, algorithm="ES256")
    assert (
        client.get(secured.url + "/api/runs", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_user_id_is_filled_in_and_must_match(secured: Server, client: httpx.Client) -> None:
    other = client.post(
        secured.url + "/api/runs", json={"message": "hi", "user_id": "bob"}, headers=bearer("alice")
    )
    assert other.status_code == 403 and other.json()["error"] == "Forbidden"
    run = start(client, secured, "alice", user_id="alice", message="0.1")
    assert (
        client.get(f"{secured.url}/api/runs/{run['run_id']}", headers=bearer("alice")).json()["owner"]
        == "alice"
    )


# --- ownership ---


def test_users_cannot_see_each_others_runs_and_threads(secured: Server, client: httpx.Client) -> None:
    thread = f"t-{uuid.uuid4()}"
    run = start(client, secured, "alice", conversation_id=thread, message="0.2")
    run_id = run["run_id"]
    alice_stream = read_stream(
        client, "GET", f"{secured.url}/api/runs/{run_id}/stream", headers=bearer("alice")
    )
    assert alice_stream.types[-1] == "done"

    unknown = client.get(f"{secured.url}/api/runs/{uuid.uuid4()}", headers=bearer("bob"))
    for method, path in [
        ("GET", f"/api/runs/{run_id}"),
        ("GET", f"/api/runs/{run_id}/stream"),
        ("POST", f"/api/runs/{run_id}/cancel"),
        ("GET", f"/api/threads/{thread}/messages"),
    ]:
        answer = client.request(method, secured.url + path, headers=bearer("bob"))
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["error"] in ("RunNotFound", "ThreadNotFound")
    # Exactly what an id that never existed answers.
    assert unknown.json()["error"] == "RunNotFound"
    resumed = client.get(
        secured.url + "/api/chat/stream", headers={**bearer("bob"), "Last-Event-ID": f"{run_id}:1"}
    )
    assert resumed.status_code == 404
    # Naming alice's conversation does not reach its history: ids are per owner, so bob's
    # run goes on a thread of his own of that name.
    follow_up = client.post(
        secured.url + "/api/chat",
        json={"message": "what did I ask?", "conversation_id": thread},
        headers=bearer("bob"),
    )
    assert follow_up.status_code == 200 and follow_up.json()["thread_id"] == thread
    bobs = client.get(f"{secured.url}/api/threads/{thread}/messages", headers=bearer("bob")).json()
    assert bobs["messages"][0]["content"] == "what did I ask?"
    token = client.post(secured.url + "/api/stream-tokens", json={"run_id": run_id}, headers=bearer("bob"))
    assert token.status_code == 404

    assert run_id not in {
        r["run_id"] for r in client.get(secured.url + "/api/runs", headers=bearer("bob")).json()["runs"]
    }
    assert run_id in {
        r["run_id"] for r in client.get(secured.url + "/api/runs", headers=bearer("alice")).json()["runs"]
    }
    # The admin sees everything.
    admin_runs = client.get(secured.url + "/api/runs", headers=bearer("root")).json()["runs"]
    assert run_id in {r["run_id"] for r in admin_runs}
    assert client.get(f"{secured.url}/api/runs/{run_id}", headers=bearer("root")).json()["owner"] == "alice"
    # Thread ids are per owner: the admin names the owner of the thread to read.
    owned = client.get(
        f"{secured.url}/api/threads/{thread}/messages", params={"owner": "alice"}, headers=bearer("root")
    )
    assert owned.status_code == 200 and owned.json()["messages"]
    history = client.get(f"{secured.url}/api/threads/{thread}/messages", headers=bearer("alice"))
    assert history.status_code == 200 and history.json()["messages"]
    assert "what did I ask?" not in str(history.json())


def test_only_the_owner_or_an_admin_cancels(secured: Server, client: httpx.Client) -> None:
    mine = start(client, secured, "alice", message="5", on_disconnect="continue")
    assert (
        client.post(f"{secured.url}/api/runs/{mine['run_id']}/cancel", headers=bearer("bob")).status_code
        == 404
    )
    assert client.get(f"{secured.url}/api/runs/{mine['run_id']}", headers=bearer("alice")).json()[
        "status"
    ] in (
        "pending",
        "running",
    )
    cancelled = client.post(f"{secured.url}/api/runs/{mine['run_id']}/cancel", headers=bearer("root"))
    assert cancelled.status_code == 202 and cancelled.json()["cancelled"] is True


# --- stream tokens (EventSource) ---


def test_stream_url_carries_a_token_for_that_run_only(secured: Server, client: httpx.Client) -> None:
    first = start(client, secured, "alice", message="0.1")
    second = start(client, secured, "alice", message="0.1")
    assert "access_token=" in first["stream_url"]
    # No Authorization header: what EventSource sends.
    streamed = read_stream(client, "GET", secured.url + first["stream_url"])
    assert streamed.status == 200 and streamed.types[-1] == "done"
    token = httpx.URL(first["stream_url"]).params["access_token"]
    other = client.get(f"{secured.url}/api/runs/{second['run_id']}/stream", params={"access_token": token})
    assert other.status_code == 401
    # Nor anything but a stream.
    for path in (f"/api/runs/{first['run_id']}", "/api/runs"):
        assert client.get(secured.url + path, params={"access_token": token}).status_code == 401
    # A long-lived key is not accepted in the URL.
    keyed = client.get(
        f"{secured.url}/api/runs/{first['run_id']}/stream", params={"access_token": KEYS["alice"]}
    )
    assert keyed.status_code == 401


def test_stream_tokens_endpoint_and_expiry(secured: Server, client: httpx.Client) -> None:
    run = start(client, secured, "alice", message="0.1")
    made = client.post(
        secured.url + "/api/stream-tokens", json={"run_id": run["run_id"]}, headers=bearer("alice")
    )
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    body = made.json()
    assert body["expires_in"] == 30
    assert read_stream(client, "GET", secured.url + body["stream_url"]).types[-1] == "done"
    forged = jwt.encode(
        {"sub": "alice", "run": run["run_id"], "aud": "stagecast:stream", "exp": int(time.time()) + 60},
        JWT_SECRET,
        algorithm="HS256",
    )
    assert (
        client.get(
            f"{secured.url}/api/runs/{run['run_id']}/stream", params={"access_token": forged}
        ).status_code
        == 401
    )


def test_access_log_redacts_stream_tokens(secured: Server, client: httpx.Client) -> None:
    run = start(client, secured, "bob", message="0.1")
    token = httpx.URL(run["stream_url"]).params["access_token"]
    client.get(secured.url + run["stream_url"])
    deadline = time.monotonic() + 5
    while "access_token=[redacted]" not in secured.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = secured.log()
    assert "access_token=[redacted]" in log
    assert token not in log
    assert all(key not in log for key in KEYS.values())


def test_settings_refuse_weak_keys(tmp_path: Path) -> None:
    from app.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match="STAGECAST_API_KEYS") as error:
        load_settings({"api_keys": "alice=short"})
    assert "short" not in str(error.value)
    with pytest.raises(SettingsError, match="STAGECAST_STREAM_TOKEN_SECRET"):
        load_settings({"jwt_public_key": "-----BEGIN PUBLIC KEY-----"})


# --- malformed JWT headers, and aud/iss nobody configured ---


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def with_header(header: Any, secret: str = JWT_SECRET) -> str:
    """An HS256-signed token whose header is ``header``, whatever it holds."""
    signing_input = f"{_b64(header)}.{_b64(claims())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["RS256"], "typ": "JWT"},
        {"alg": ["HS256"]},
        {"alg": {"HS256": 1}},
        {"alg": 256},
        {"alg": None},
        {"typ": "JWT"},
        {"alg": "HS256", "kid": ["a"]},
        {"alg": "HS256", "typ": 5},
        {"alg": "HS256", "crit": "exp"},
        ["HS256"],
        "HS256",
        b"\xff\xfe not json",
    ],
    ids=str,
)
def test_malformed_jwt_header_is_401(secured: Server, client: httpx.Client, header: Any) -> None:
    answer = client.get(secured.url + "/api/runs", headers={"Authorization": f"Bearer {with_header(header)}"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "Unauthorized"


@pytest.fixture(scope="module")
def secret_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """JWTs with only STAGECAST_JWT_SECRET: no audience, no issuer configured."""
    with run_server(tmp_path_factory.mktemp("secret-only"), jwt_secret=JWT_SECRET) as running:
        yield running


@pytest.mark.parametrize(
    ("extra", "status"),
    [({}, 200), ({"aud": "other"}, 401), ({"iss": "https://evil/"}, 401), ({"aud": ["x", "y"]}, 401)],
    ids=["plain", "aud", "iss", "aud-list"],
)
def test_unconfigured_aud_and_iss_are_refused(
    secret_only: Server, client: httpx.Client, extra: dict[str, Any], status: int
) -> None:
    token = hs256({"sub": "jwt-user", "exp": int(time.time()) + 60, **extra})
    answer = client.get(secret_only.url + "/api/runs", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("name", ["access%5Ftoken", "%61ccess_token", "access_%74oken", "ACCESS%5fTOKEN"])
def test_access_log_redacts_every_spelling_of_the_token(
    secured: Server, client: httpx.Client, name: str
) -> None:
    run = start(client, secured, "bob", message="0.1")
    token = httpx.URL(run["stream_url"]).params["access_token"]
    path = f"/api/runs/{run['run_id']}/stream?{name}={token}"
    answered = client.get(secured.url + path)
    # What the app reads as access_token, it accepts (an upper-case name it does not).
    assert answered.status_code == (401 if name.startswith("ACCESS") else 200)
    expected = f"{name}=[redacted]"
    deadline = time.monotonic() + 5
    while expected not in secured.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = secured.log()
    assert expected in log and token not in log


def test_credential_headers_never_reach_a_log_line() -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from app.accesslog import RedactingLogger

    logger = RedactingLogger(Config())
    headers = [
        ("Authorization", "Bearer k-1"),
        ("Cookie", "s=k-2"),
        ("Referer", "http://x/?access_token=k-3"),
    ]
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/runs/r/stream?access%5Ftoken=k-4",
        "QUERY_STRING": "access%5Ftoken=k-4",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_AUTHORIZATION": "Bearer k-1",
        "HTTP_COOKIE": "s=k-2",
        "HTTP_REFERER": "http://x/?access_token=k-3",
    }
    response = SimpleNamespace(status="200 OK", headers=[("Set-Cookie", "s=k-5")], sent=0)
    atoms = logger.atoms(response, SimpleNamespace(headers=headers), environ, timedelta(0))
    assert not [key for key, value in atoms.items() if "k-" in str(value)]
    # gunicorn's error log names the URL of a request it failed to handle, or quotes a header.
    for message, args in [
        ("Error handling request %s", ("/api/runs/r/stream?access%5Ftoken=k-6",)),
        ("Invalid header value %r", ("Bearer k-7",)),
    ]:
        record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 0, message, args, None)
        assert all(f.filter(record) for f in logger.error_log.filters)
        assert "k-" not in record.getMessage() and "[redacted]" in record.getMessage()


# --- admins have the rights docs/security.md lists, on every surface ---


def test_admins_do_not_change_or_delete_other_users_langgraph_threads(
    secured: Server, client: httpx.Client
) -> None:
    thread = f"lg-{uuid.uuid4().hex[:8]}"
    made = client.post(
        secured.url + "/langgraph/threads",
        json={"thread_id": thread, "metadata": {"topic": "mine"}},
        headers=bearer("alice"),
    )
    assert made.status_code == 200
    path = f"{secured.url}/langgraph/threads/{thread}"
    patched = client.patch(path, json={"metadata": {"topic": "root was here"}}, headers=bearer("root"))
    assert patched.status_code == 404
    assert client.delete(path, headers=bearer("root")).status_code == 404
    kept = client.get(path, headers=bearer("alice"))
    assert kept.status_code == 200 and kept.json()["metadata"] == {"topic": "mine"}
    # What admins do have: every run (seen, streamed, cancelled) and every thread's history.
    run = start(client, secured, "alice", conversation_id=thread, message="0.1")
    assert client.get(f"{secured.url}/api/runs/{run['run_id']}", headers=bearer("root")).status_code == 200
    streamed = read_stream(
        client, "GET", f"{secured.url}/api/runs/{run['run_id']}/stream", headers=bearer("root")
    )
    assert streamed.types[-1] == "done"
    history = client.get(
        f"{secured.url}/api/threads/{thread}/messages", params={"owner": "alice"}, headers=bearer("root")
    )
    assert history.status_code == 200 and history.json()["thread_id"] == thread


def test_head_of_a_stream_checks_ownership_like_get(secured: Server, client: httpx.Client) -> None:
    run = start(client, secured, "alice", message="0.1")
    path = f"{secured.url}/api/runs/{run['run_id']}/stream"
    assert client.head(path, headers=bearer("alice")).status_code == 200
    assert client.head(path, headers=bearer("root")).status_code == 200
    assert client.head(path, headers=bearer("bob")).status_code == 404
    assert (
        client.head(f"{secured.url}/api/runs/{uuid.uuid4()}/stream", headers=bearer("alice")).status_code
        == 404
    )
    assert client.head(path).status_code == 401


def test_metrics_need_an_admin_or_the_token_when_auth_is_on(secured: Server, client: httpx.Client) -> None:
    url = secured.url + "/metrics"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer("alice")).status_code == 401
    scraped = client.get(url, headers=bearer("root"))
    assert scraped.status_code == 200 and "stagecast_runs_started_total" in scraped.text
