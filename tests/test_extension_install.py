"""Stagecast as a pip-installed Flask extension, in a host app of its own (docs/extension.md).

A wheel of this repository is built and installed into a clean virtualenv, beside a host
project whose own package is named ``app`` (as the wheel's must not be): ``/hello``, a login
of its own (a session cookie), and a graph of its own. The same requests then pass under
``gunicorn -k gevent app:app`` and under ``flask --app app run`` (threaded, no gevent), with no
Stagecast configuration file; each server runs in its own process group and is killed with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from tests.support.server import REPO, free_port
from tests.support.sse import SSEParser, parse

HOST_APP = '''\
"""A host app of its own: its package is named ``app``, like many."""

import os

from flask import Flask, session

from app.graph import graph
from stagecast import Stagecast

app = Flask(__name__)
app.secret_key = "the host app's own session key, for tests"


@app.get("/hello")
def hello():
    return {"hello": "world"}


@app.post("/login/<name>")
def login(name):
    session["user"] = name
    return {"user": name}


stagecast = Stagecast(
    app,
    url_prefix="/ai",
    agents={"support": graph},
    authenticate=lambda request: session.get("user"),
    config={"data_dir": os.environ["HOST_DATA_DIR"]},
    dashboard=True,
)
'''

HOST_GRAPH = '''\
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph


def look_up(state):
    get_stream_writer()({"message": "reading the order book"})
    return {}


def answer(state):
    return {"messages": [AIMessage("Order 42 ships on Monday.")]}


builder = StateGraph(MessagesState)
builder.add_node("look_up", look_up)
builder.add_node("answer", answer)
builder.add_edge(START, "look_up")
builder.add_edge("look_up", "answer")
builder.add_edge("answer", END)
graph = builder.compile(name="support")
'''

# A second app of the host's, whose agent takes its time: for the shutdown of a worker.
HOST_SLOW_APP = '''\
import os
import time

from flask import Flask
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph

from stagecast import Stagecast


def slow(state):
    for tick in range(60):
        get_stream_writer()({"message": f"tick {tick}"})
        time.sleep(0.5)
    return {"messages": [AIMessage("finally")]}


builder = StateGraph(MessagesState)
builder.add_node("slow", slow)
builder.add_edge(START, "slow")
builder.add_edge("slow", END)

app = Flask(__name__)
app.get("/hello")(lambda: "hello")
config = {"data_dir": os.environ["HOST_DATA_DIR"]}
Stagecast(app, url_prefix="/ai", agents={"slow": builder.compile()}, config=config)
'''


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with nothing but the wheel of this repository and its dependencies
    (built once per test session)."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the wheel is made of: setuptools writes build/ and *.egg-info
    # into the tree it builds.
    source = root / "source"
    skip = shutil.ignore_patterns("__pycache__", "node_modules")
    for folder in ("app", "clients/js"):
        shutil.copytree(REPO / folder, source / folder, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (root / "dist").glob("stagecast-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    return venv


@pytest.fixture(scope="session")
def host_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("host")
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text(HOST_APP)
    (project / "app" / "graph.py").write_text(HOST_GRAPH)
    (project / "app" / "slow.py").write_text(HOST_SLOW_APP)
    return project


def test_the_wheel_installs_stagecast_and_no_app_package(wheel_venv: Path) -> None:
    (site,) = wheel_venv.glob("lib/python3*/site-packages")
    assert (site / "stagecast" / "__init__.py").is_file()
    assert (site / "stagecast" / "gunicorn_conf.py").is_file()
    assert (site / "stagecast" / "templates" / "dashboard.html").is_file()
    assert (site / "stagecast" / "web" / "client" / "stagecast.js").is_file()
    assert (site / "stagecast" / "web" / "client" / "vendor" / "eventsource-parser.js").is_file()
    assert not (site / "app").exists()


@contextmanager
def serving(
    command: list[str],
    project: Path,
    port: int,
    data_dir: Path,
    probe: str = "/hello",
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Run ``command`` in ``project`` until ``probe`` answers; kill its process group after.
    Yields the server's URL and the process group (the server's pid)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGECAST_", "OPENAI_", "PYTHON"))}
    env["HOST_DATA_DIR"] = str(data_dir)
    env.update(extra_env or {})
    log_path = data_dir.parent / f"{data_dir.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            with suppress(httpx.TransportError):
                if httpx.get(url + probe, timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with suppress(ProcessLookupError):  # any worker the leader left behind
            os.killpg(process.pid, signal.SIGKILL)


def _commands(venv: Path, port: int) -> dict[str, list[str]]:
    return {
        "gunicorn": [str(venv / "bin" / "gunicorn"), "-k", "gevent", "-b", f"127.0.0.1:{port}", "app:app"],
        "flask": [str(venv / "bin" / "flask"), "--app", "app", "run", "--port", str(port)],
    }


@pytest.mark.parametrize("server", ["gunicorn", "flask"])
def test_a_host_app_serves_its_agent_under_its_prefix_with_its_login(
    server: str, wheel_venv: Path, host_project: Path, tmp_path: Path
) -> None:
    port = free_port()
    with (
        serving(_commands(wheel_venv, port)[server], host_project, port, tmp_path / "data") as (url, _),
        httpx.Client(base_url=url, timeout=30) as alice,
        httpx.Client(base_url=url, timeout=30) as bob,
    ):
        assert alice.get("/hello").json() == {"hello": "world"}

        refused = alice.post("/ai/chat/stream", json={"message": "When does order 42 ship?"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "Unauthorized"

        alice.post("/login/alice").raise_for_status()
        bob.post("/login/bob").raise_for_status()
        question = {"message": "When does order 42 ship?"}
        with alice.stream("POST", "/ai/chat/stream", json=question) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = [message.json() for message in parse(response.iter_bytes()).messages]

        kinds = [event["type"] for event in events]
        assert kinds[0] == "start" and kinds[-2:] == ["final", "done"], kinds
        assert events[0]["data"]["agent"] == "support"
        progress = [event["data"] for event in events if event["type"] == "progress"]
        assert {p["node"] for p in progress} >= {"look_up", "answer"}
        assert any(p["message"] == "reading the order book" for p in progress)
        tokens = "".join(event["data"]["content"] for event in events if event["type"] == "token")
        assert tokens == "Order 42 ships on Monday."
        assert events[-2]["data"]["content"] == "Order 42 ships on Monday."
        assert events[-1]["data"]["status"] == "success"

        thread_id = events[0]["data"]["thread_id"]
        assert alice.get(f"/ai/threads/{thread_id}").status_code == 200
        assert bob.get(f"/ai/threads/{thread_id}").status_code == 404
        assert bob.get(f"/ai/threads/{thread_id}/messages").status_code == 404

        agents = bob.get("/ai/agents").json()
        assert [agent["name"] for agent in agents["agents"]] == ["support"]
        assert agents["default"] == "support"

        # The dashboard, behind the host's login too, with the JS client the wheel ships.
        assert alice.get("/ai/dashboard/").status_code == 200
        assert alice.get("/ai/dashboard/static/stagecast.js").status_code == 200
        assert alice.get("/ai/dashboard/static/dashboard/dashboard.js").status_code == 200


def test_stagecast_serve_runs_the_service_from_the_wheel_without_a_checkout(
    wheel_venv: Path, tmp_path: Path
) -> None:
    port = free_port()
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    command = [str(wheel_venv / "bin" / "stagecast"), "serve", "--bind", f"127.0.0.1:{port}"]
    env = {"STAGECAST_DATA_DIR": str(tmp_path / "data")}
    with serving(command, empty, port, tmp_path / "data", probe="/healthz", extra_env=env) as (url, _):
        log = (tmp_path / "data.log").read_text(errors="replace")
        assert "Using worker: stagecast.gunicorn_worker.GeventWorker" in log
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/").status_code == 200
            assert client.get("/static/stagecast.js").status_code == 200
            body = client.post("/api/chat/stream", json={"message": "ABC-12345 재고?"}).content
            events = [message.json() for message in parse([body]).messages]
            assert events[-1]["type"] == "done" and events[-1]["data"]["status"] == "success"
            assert client.get("/v1/models").status_code == 200


def test_a_worker_shutting_down_drains_the_host_apps_streams_without_a_config_file(
    wheel_venv: Path, host_project: Path, tmp_path: Path
) -> None:
    """SIGTERM (or a HUP reload): each open stream ends at once with a ``retry:`` hint, so its
    client resumes elsewhere, instead of being held until gunicorn's graceful timeout and cut.
    ``init_app`` installs that in a gevent worker; no gunicorn hook is configured here."""
    port = free_port()
    command = [
        str(wheel_venv / "bin" / "gunicorn"), "-k", "gevent", "--graceful-timeout", "30",
        "-b", f"127.0.0.1:{port}", "app.slow:app",
    ]  # fmt: skip
    with (
        serving(command, host_project, port, tmp_path / "data") as (url, group),
        httpx.Client(base_url=url, timeout=30) as client,
        client.stream("POST", "/ai/chat/stream", json={"message": "take your time"}) as response,
    ):
        parser = SSEParser()
        signalled = 0.0
        for chunk in response.iter_bytes():
            parser.feed(chunk)
            if len(parser.messages) >= 3 and not signalled:
                os.killpg(group, signal.SIGTERM)
                signalled = time.monotonic()
        ended_after = time.monotonic() - signalled
    assert signalled and ended_after < 10, ended_after
    kinds = [message.json()["type"] for message in parser.messages]
    assert kinds[0] == "start" and "progress" in kinds and "done" not in kinds
    assert parser.retry is not None  # the hint to come back (a resume with Last-Event-ID)
