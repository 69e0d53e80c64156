"""/openapi.json and /docs over real HTTP, and schemathesis fuzzing the API it describes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Server, run_server

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    answer = httpx.get(server.url + "/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def test_every_native_endpoint_is_described(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for path, method in [
        ("/api/chat/stream", "post"),
        ("/api/chat/stream", "get"),
        ("/api/chat", "post"),
        ("/api/runs", "post"),
        ("/api/runs", "get"),
        ("/api/runs/{run_id}", "get"),
        ("/api/runs/{run_id}/stream", "get"),
        ("/api/runs/{run_id}/cancel", "post"),
        ("/api/threads/{thread_id}/messages", "get"),
        ("/api/stream-tokens", "post"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
    ]:
        assert method in paths[path], (path, method)
    stream = paths["/api/chat/stream"]["post"]
    assert stream["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunRequest"
    }
    sse = stream["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert sse["properties"]["data"]["contentSchema"] == {"$ref": "#/components/schemas/Event"}
    for status in ("400", "401", "403", "404", "409", "413", "415", "429", "503"):
        error = stream["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}
    schemas = document["components"]["schemas"]
    # pydantic's schemas: the request forbids unknown fields, the event is a union on type.
    assert schemas["RunRequest"]["additionalProperties"] is False
    assert schemas["Event"]["discriminator"]["propertyName"] == "type"
    assert {"StartEvent", "TokenEvent", "FinalEvent", "ErrorEvent", "DoneEvent"} <= set(schemas)


def test_docs_page_is_served_locally(server: Server, client: httpx.Client) -> None:
    page = client.get(server.url + "/docs")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http://" not in page.text.replace(server.url, "") and "https://" not in page.text
    for asset in ("/static/docs/docs.js", "/static/docs/docs.css"):
        assert asset in page.text and client.get(server.url + asset).status_code == 200


def test_schemathesis_finds_no_server_error_and_no_schema_break(tmp_path: Path) -> None:
    """schemathesis' own runner (coverage, fuzzing with valid and invalid data, stateful
    sequences) against a server with only the bundled agent, so that no test graph (one that
    sleeps for the seconds it is asked, one that fails on purpose) is fuzzed."""
    with run_server(tmp_path, graphs="chat=app.agent.graphs.chat:graph") as server:
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                server.url + "/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                "20",
                "--seed",
                "20261130",
                "--no-color",
            ],
            capture_output=True,
            cwd=tmp_path,  # where schemathesis keeps its cache
            text=True,
            timeout=400,
        )
    failures = done.stdout.find("FAILURES")  # the failures section names each case and its curl
    report = done.stdout[failures : failures + 8000] if failures >= 0 else done.stdout[-6000:]
    assert done.returncode == 0, report + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
