"""The extension's app-factory form in one process: ``Stagecast(...)`` once, ``init_app`` on
two Flask apps, each with its own prefix, agents, settings and state (Flask's test client;
tests/test_extension_install.py serves a host app for real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import Stagecast
from app.config import SettingsError
from app.extension import settings_overrides
from app.state import StagecastState
from tests.graphs import slow, tools


def _events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")]


def _host(name: str) -> Flask:
    app = Flask(name)

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"app": name}

    return app


@pytest.fixture
def two_apps(tmp_path: Path) -> tuple[Flask, Flask, Stagecast]:
    stagecast = Stagecast(config={"heartbeat_s": 0.5})
    first, second = _host("first"), _host("second")
    stagecast.init_app(
        first,
        url_prefix="/ai",
        agents={"slow": slow},
        config={"DATA_DIR": str(tmp_path / "first"), "heartbeat_s": 0.5},
    )
    stagecast.init_app(
        second,
        url_prefix="/agents-api/v2",
        agents={"tools": "tests.graphs:tools"},
        config={"STAGECAST_DATA_DIR": str(tmp_path / "second")},
    )
    return first, second, stagecast


def test_each_app_has_its_own_state_prefix_and_agents(two_apps: tuple[Flask, Flask, Stagecast]) -> None:
    first, second, _ = two_apps
    one: StagecastState = first.extensions["stagecast"]
    two: StagecastState = second.extensions["stagecast"]
    assert one is not two and one.manager is not two.manager
    assert one.settings.data_dir != two.settings.data_dir

    a, b = first.test_client(), second.test_client()
    assert a.get("/ai/agents").json == {
        "default": "slow",
        "agents": [{"name": "slow", "description": "", "stages": ["slow"]}],
    }
    assert [agent["name"] for agent in b.get("/agents-api/v2/agents").json["agents"]] == ["tools"]
    assert a.get("/agents-api/v2/agents").status_code == 404
    assert b.get("/ai/agents").status_code == 404
    # The host's own routes are untouched.
    assert a.get("/hello").json == {"app": "first"} and b.get("/hello").json == {"app": "second"}


def test_each_app_streams_its_own_agent_and_keeps_its_own_runs(
    two_apps: tuple[Flask, Flask, Stagecast],
) -> None:
    first, second, _ = two_apps
    a, b = first.test_client(), second.test_client()

    events = _events(a.post("/ai/chat/stream", json={"message": "0.01"}).data)
    assert [e["type"] for e in events][-2:] == ["final", "done"]
    assert events[-2]["data"]["content"] == "slept 0.01s"
    run_id = events[0]["data"]["run_id"]

    tools = _events(b.post("/agents-api/v2/chat/stream", json={"message": "stock?"}).data)
    assert tools[0]["data"]["agent"] == "tools"
    assert "tool_call" in [e["type"] for e in tools]
    assert tools[-1]["data"]["status"] == "success"

    # A run of one app is unknown to the other.
    assert a.get(f"/ai/runs/{run_id}").json["status"] == "success"
    assert b.get(f"/agents-api/v2/runs/{run_id}").status_code == 404
    created = b.post("/agents-api/v2/runs", json={"message": "stock?"})
    assert created.status_code == 202
    assert created.json["stream_url"].startswith("/agents-api/v2/runs/")


def test_errors_under_the_prefix_are_json_and_the_hosts_are_its_own(
    two_apps: tuple[Flask, Flask, Stagecast],
) -> None:
    first, _, _ = two_apps
    client: FlaskClient = first.test_client()
    missing = client.get("/ai/runs/nope")
    assert missing.status_code == 404 and missing.json["error"] == "RunNotFound"
    bad = client.post("/ai/chat", data="{", content_type="application/json")
    assert bad.status_code == 400 and bad.json["success"] is False
    # Outside Stagecast's routes, Flask's (the host's) own 404 page and headers.
    host_404 = client.get("/nowhere")
    assert host_404.status_code == 404 and host_404.mimetype == "text/html"
    assert "Content-Security-Policy" not in client.get("/hello").headers
    assert "Content-Security-Policy" in client.get("/ai/agents").headers


def test_authenticate_decides_who_calls_and_owns(tmp_path: Path) -> None:
    app = Flask("host")
    Stagecast(
        app,
        url_prefix="/ai",
        agents={"tools": tools},
        authenticate=lambda request: request.headers.get("X-User"),
        config={"data_dir": str(tmp_path)},
    )
    client = app.test_client()
    refused = client.post("/ai/chat/stream", json={"message": "stock?"})
    assert refused.status_code == 401 and refused.json["error"] == "Unauthorized"
    assert client.get("/ai/agents").status_code == 401

    ann, bo = {"X-User": "ann"}, {"X-User": "bo"}
    events = _events(client.post("/ai/chat/stream", json={"message": "stock?"}, headers=ann).data)
    thread_id, run_id = events[0]["data"]["thread_id"], events[0]["data"]["run_id"]
    assert client.get(f"/ai/threads/{thread_id}", headers=ann).status_code == 200
    assert client.get(f"/ai/threads/{thread_id}", headers=bo).status_code == 404
    assert client.get(f"/ai/runs/{run_id}", headers=bo).status_code == 404
    assert client.get("/ai/runs", headers=bo).json["runs"] == []
    # No secret of Stagecast's own: the stream URL carries no token (the host's login opens it).
    created = client.post("/ai/runs", json={"message": "stock?"}, headers=ann)
    assert "access_token" not in created.json["stream_url"]


def test_protocols_mount_under_the_prefix(tmp_path: Path) -> None:
    app = Flask("host")
    protocols = ["openai", "ai-sdk", "ag-ui", "langgraph"]
    Stagecast(app, url_prefix="/ai", protocols=protocols, config={"data_dir": str(tmp_path)})
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/ai/v1/chat/completions", "/ai/ai-sdk/chat", "/ai/ag-ui", "/ai/langgraph/threads"} <= rules
    assert not any(rule.startswith(("/v1", "/langgraph", "/api")) for rule in rules)
    models = app.test_client().get("/ai/v1/models")
    assert models.status_code == 200 and {m["id"] for m in models.json["data"]} >= {"chat", "review"}


def test_config_names_any_case_and_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_overrides({"DATA_DIR": "a", "STAGECAST_HEARTBEAT_S": 1, "retry_ms": 2}) == {
        "data_dir": "a",
        "heartbeat_s": 1,
        "retry_ms": 2,
    }
    monkeypatch.setenv("STAGECAST_HEARTBEAT_S", "7")
    monkeypatch.setenv("STAGECAST_RETRY_MS", "1234")
    app = Flask("host")
    state = Stagecast(app, config={"heartbeat_s": 3, "data_dir": str(tmp_path)}).init_app(Flask("other"))
    assert state.settings.heartbeat_s == 3 and state.settings.retry_ms == 1234
    with pytest.raises(SettingsError, match="NO_SUCH_SETTING"):
        Stagecast(Flask("bad"), config={"no_such_setting": 1})
    with pytest.raises(RuntimeError, match="already mounted"):
        Stagecast(app, url_prefix="/again", config={"data_dir": str(tmp_path)})


def test_dashboard_under_the_prefix_with_its_files_beside_it(tmp_path: Path) -> None:
    app = _host("host")
    Stagecast(app, url_prefix="/ai", dashboard=True, config={"data_dir": str(tmp_path)})
    client = app.test_client()
    page = client.get("/ai/dashboard/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-api="/ai"' in html
    assert 'href="/ai/dashboard/static/dashboard/dashboard.css"' in html
    assert 'src="/ai/dashboard/static/dashboard/dashboard.js"' in html
    assert 'href="/ai/dashboard/runs"' in html
    for path in ("dashboard/dashboard.js", "dashboard/auth.js", "stagecast.js", "sse.js", "state.js"):
        served = client.get(f"/ai/dashboard/static/{path}")
        assert served.status_code == 200, path
    # The dashboard's script finds the client one folder up, as under the service's /static/.
    assert "from '../stagecast.js'" in client.get("/ai/dashboard/static/dashboard/dashboard.js").text
    assert client.get("/ai/dashboard/runs").mimetype == "text/html"
    assert client.get("/ai/runs").json == {"runs": [], "next_cursor": None}  # the API, not the page
    assert client.get("/static/stagecast.js").status_code == 404  # the host's static route: its own


def test_cross_site_rules_know_the_prefix(tmp_path: Path) -> None:
    app = _host("host")
    stagecast = Stagecast(app, url_prefix="/ai", protocols=["openai"], config={"data_dir": str(tmp_path)})
    state = stagecast.init_app(_host("other"), url_prefix="/x/y")
    assert state.service_path("/x/y/chat/stream") == "/api/chat/stream"
    assert state.service_path("/x/y/v1/chat/completions") == "/v1/chat/completions"
    assert state.service_path("/hello") == "/hello"
    client = app.test_client()
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    # The EventSource form starts a run, so another site may not send it; reading may.
    assert client.get("/ai/chat/stream?message=hi", headers=cross_site).status_code == 403
    evil = {"Origin": "https://evil.test"}
    assert client.post("/ai/v1/chat/completions", json={}, headers=evil).status_code == 403
    assert client.get("/ai/agents", headers=cross_site).status_code == 200
