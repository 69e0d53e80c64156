"""Both chat models against the local OpenAI-format server over HTTPS, under gevent workers.

The server's certificate is signed by a CA made for the test; the worker trusts it only
through ``SSL_CERT_FILE`` (read by OpenSSL's default verify paths, which the model's TLS
context loads).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.tls import Certificates, make_certificates
from tests.support.client import read_stream
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import run_server

QUESTION = "ABC-12345 부품의 재고는?"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_upstream(certificates: Certificates) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(tls=(certificates.cert, certificates.key)) as fake:
        assert fake.base_url.startswith("https://127.0.0.1:")
        yield fake


@pytest.mark.parametrize("chat_model", ["fast", "stock"])
def test_a_model_over_tls_with_a_ca_from_ssl_cert_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    certificates: Certificates,
    https_upstream: FakeOpenAI,
    client: httpx.Client,
    chat_model: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    with run_server(tmp_path, openai_base_url=https_upstream.base_url, chat_model=chat_model) as server:
        before = len(https_upstream.requests)
        result = read_stream(client, "POST", server.url + "/api/chat/stream", json={"message": QUESTION})
        assert "Using worker: app.gunicorn_worker.GeventWorker" in server.log()  # gevent, ours
    assert result.last("done")["data"]["status"] == "success"
    assert result.answer == "".join(https_upstream.tokens) == result.last("final")["data"]["content"]
    assert len(https_upstream.requests) - before == 1


def test_without_the_ca_the_certificate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, https_upstream: FakeOpenAI, client: httpx.Client
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with run_server(
        tmp_path, openai_base_url=https_upstream.base_url, llm_max_retries=0, chat_model="fast"
    ) as server:
        before = len(https_upstream.requests)
        result = read_stream(client, "POST", server.url + "/api/chat/stream", json={"message": QUESTION})
    assert result.last("error")["data"]["error"] == "UpstreamError"
    assert len(https_upstream.requests) == before  # no request got through the handshake
