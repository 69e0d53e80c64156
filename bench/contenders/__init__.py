"""The contenders: how to start each server and how to ask it for one streamed answer.

All of them serve the same graph (Stagecast's default chat agent, its nodes and ChatOpenAI
writer) against the same paced upstream, on the same CPU, in the same run:

1. ``stagecast`` — this repo, gunicorn + gevent, one worker (``gunicorn.conf.py``), with its
   default chat model (``app.agent.fast_openai``). ``stagecast-stock`` is the same server with
   langchain-openai's stock ``ChatOpenAI`` (``STAGECAST_CHAT_MODEL=stock``), ``stagecast-tls``
   the default one reading the upstream over HTTPS (the harness's CA in ``SSL_CERT_FILE``).
   ``stagecast-distributed`` and ``stagecast-distributed-2w`` are the same server in its
   distributed mode (Redis + PostgreSQL, see ``bench.stores``), with one and two workers.
   ``floor`` is not a contender but the limit: the cheapest relay of tokens on the same
   stack, one gevent worker and no LangGraph or Flask (``bench.contenders.floor_app``).
2. ``flask-sync`` — the seeds' pattern: Flask returns a generator over ``graph.stream()``,
   gunicorn sync workers (2 x cores + 1, gunicorn's recommendation).
3. ``fastapi`` — FastAPI + sse-starlette on uvicorn (uvloop, httptools), ``graph.astream()``.
4. ``langgraph-server`` — LangGraph Server in memory (``langgraph dev``), ``POST /runs/stream``.

The peers (2-4) serve the graph with the stock ``ChatOpenAI``, what a user would pick instead.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LGS_VENV = REPO / "bench" / ".venv-langgraph-server"
"""LangGraph Server's own environment (bench/requirements-langgraph-server.txt says why)."""
QUESTION = "ABC-12345 부품의 재고는?"


@dataclass(frozen=True)
class Launch:
    """What a contender needs to start: its port, the upstream, a scratch dir, a size hint."""

    port: int
    upstream_url: str  # http://127.0.0.1:<port>/v1, or https:// for a contender with ``tls``
    workdir: Path
    max_streams: int
    ca_file: Path | None = None  # the CA of the upstream's certificate, for ``tls``


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    protocol: str  # how the load generator checks the stream (see bench.loadgen)
    path: str
    health_path: str
    command: Callable[[Launch], list[str]]
    extra_env: Callable[[Launch], dict[str, str]]
    body: dict[str, Any]
    in_workdir: bool = False  # run in the scratch dir (the server writes state to its cwd)
    distributed: bool = False  # uses Redis + PostgreSQL: their CPU and connections are measured
    all_cpus: bool = False  # may use every CPU, the harness's too (several workers)
    tls: bool = False  # reads the upstream over HTTPS
    peer: bool = True  # what a user would pick instead of Stagecast: the targets compare with these


def base_env(launch: Launch) -> dict[str, str]:
    """The environment of every contender: no inherited STAGECAST_/OPENAI_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGECAST_", "OPENAI_", "LANGSMITH_"))}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "OPENAI_BASE_URL": launch.upstream_url,
            "STAGECAST_DATA_DIR": str(launch.workdir / "data"),
            "STAGECAST_LLM_MAX_TOKENS": "8192",  # the long-answer scenario streams 4,000 tokens
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "BENCH_THREADS": "4096",
            # The peers build Stagecast's graph with its factory: they keep the stock model.
            "STAGECAST_CHAT_MODEL": "stock",
        }
    )
    if launch.ca_file is not None:
        env["SSL_CERT_FILE"] = str(launch.ca_file)
    return env


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _max_running_runs(streams: int) -> int:
    """Every stream may run at once, unless the open-file limit cannot hold that many upstream
    sockets beside the streams' own (10,000 streams and a hard limit of 20,000 on the bench's
    host): then the rest wait for their turn, as the setting intends."""
    open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(500, min(streams + 100, open_files - streams - 1024))


def _stagecast_env(
    launch: Launch, *, workers: int = 1, distributed: bool = False, chat_model: str = "fast"
) -> dict[str, str]:
    env = {
        "STAGECAST_BIND": f"127.0.0.1:{launch.port}",
        "STAGECAST_CHAT_MODEL": chat_model,
        "STAGECAST_WORKERS": str(workers),
        # Streams may hold 90% of the connections (STAGECAST_STREAM_CONNECTION_SHARE); no more
        # than that, so the worker's open-file need (about two per connection) stays in limits.
        "STAGECAST_WORKER_CONNECTIONS": str(max(2000, math.ceil((launch.max_streams + 100) / 0.9))),
        "STAGECAST_MAX_CONCURRENT_RUNS": str(max(500, launch.max_streams + 100)),
        "STAGECAST_MAX_RUNNING_RUNS": str(_max_running_runs(launch.max_streams)),
        # Every stream comes from the load generator's one address.
        "STAGECAST_MAX_STREAMS_PER_CLIENT": str(max(100, launch.max_streams + 100)),
        "STAGECAST_DISCONNECT_GRACE_S": "5",
        "STAGECAST_RUN_TIMEOUT_S": "600",
    }
    if distributed:
        # Imported here: the other contenders' servers import this package and need no store clients.
        from bench import stores

        database_url, prefix = stores.fresh_stores()
        env.update(
            {
                "STAGECAST_REDIS_URL": stores.REDIS_URL,
                "STAGECAST_DATABASE_URL": database_url,
                "STAGECAST_REDIS_PREFIX": prefix,
            }
        )
    return env


def _stagecast(
    key: str,
    label: str,
    *,
    workers: int = 1,
    distributed: bool = False,
    chat_model: str = "fast",
    tls: bool = False,
) -> Contender:
    return Contender(
        key=key,
        label=label,
        protocol="native",
        path="/api/chat/stream",
        health_path="/healthz",
        command=lambda launch: _python(
            "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "wsgi:app"
        ),
        extra_env=partial(_stagecast_env, workers=workers, distributed=distributed, chat_model=chat_model),
        body={"message": QUESTION},
        distributed=distributed,
        all_cpus=workers > 1,
        tls=tls,
        peer=False,
    )


def _floor_command(launch: Launch) -> list[str]:
    connections = str(max(2000, launch.max_streams + 100))
    return _python(
        "-m",
        "gunicorn",
        "-k",
        "gevent",
        "-w",
        "1",
        "--worker-connections",
        connections,
        "--backlog",
        "4096",
        "--timeout",
        "300",
        "--no-control-socket",
        "-b",
        f"127.0.0.1:{launch.port}",
        "bench.contenders.floor_app:app",
    )


def _lgs_command(launch: Launch) -> list[str]:
    config = launch.workdir / "langgraph.json"
    graph_file = REPO / "bench" / "contenders" / "lgs_graph.py"
    graphs = {"chat": f"{graph_file}:make_graph"}
    config.write_text(json.dumps({"dependencies": [str(REPO)], "graphs": graphs}))
    langgraph = LGS_VENV / "bin" / "langgraph"
    return [
        str(langgraph),
        "dev",
        "--no-browser",
        "--no-reload",
        "--allow-blocking",
        "--host",
        "127.0.0.1",
        "--port",
        str(launch.port),
        "--n-jobs-per-worker",
        str(max(100, launch.max_streams + 100)),
        "--config",
        str(config),
        "--server-log-level",
        "WARNING",
    ]


SYNC_WORKERS = 2 * (os.cpu_count() or 1) + 1

CONTENDERS: dict[str, Contender] = {
    c.key: c
    for c in (
        _stagecast("stagecast", "Stagecast (gunicorn+gevent, 1 worker)"),
        _stagecast("stagecast-stock", "Stagecast, stock ChatOpenAI (1 worker)", chat_model="stock"),
        _stagecast("stagecast-tls", "Stagecast, upstream over TLS (1 worker)", tls=True),
        Contender(
            key="floor",
            label="Floor: gevent relay, no LangGraph, no Flask (1 worker)",
            protocol="native",
            path="/relay",
            health_path="/healthz",
            command=_floor_command,
            extra_env=lambda launch: {},
            body={"message": QUESTION},
            peer=False,
        ),
        _stagecast("stagecast-distributed", "Stagecast on Redis + PostgreSQL, 1 worker", distributed=True),
        _stagecast(
            "stagecast-distributed-2w",
            "Stagecast on Redis + PostgreSQL, 2 workers",
            workers=2,
            distributed=True,
        ),
        Contender(
            key="flask-sync",
            label=f"Flask generator, gunicorn sync ({SYNC_WORKERS} workers)",
            protocol="native",
            path="/api/chat/stream",
            health_path="/healthz",
            command=lambda launch: _python(
                "-m",
                "gunicorn",
                "-k",
                "sync",
                "-w",
                str(SYNC_WORKERS),
                "--timeout",
                "300",
                "--backlog",
                "4096",
                "--no-control-socket",
                "-b",
                f"127.0.0.1:{launch.port}",
                "bench.contenders.flask_sync_app:app",
            ),
            extra_env=lambda launch: {},
            body={"message": QUESTION},
        ),
        Contender(
            key="fastapi",
            label="FastAPI + sse-starlette, uvicorn, astream",
            protocol="native",
            path="/api/chat/stream",
            health_path="/healthz",
            command=lambda launch: _python(
                "-m",
                "uvicorn",
                "bench.contenders.fastapi_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(launch.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--backlog",
                "4096",
                "--log-level",
                "warning",
            ),
            extra_env=lambda launch: {},
            body={"message": QUESTION},
        ),
        Contender(
            key="langgraph-server",
            label="LangGraph Server (langgraph dev, in-memory)",
            protocol="langgraph",
            path="/runs/stream",
            health_path="/ok",
            command=_lgs_command,
            extra_env=lambda launch: {},
            body={
                "assistant_id": "chat",
                "input": {"messages": [{"type": "human", "content": QUESTION}], "question": QUESTION},
                "stream_mode": ["updates", "messages-tuple", "custom"],
                "context": {},
            },
            in_workdir=True,  # langgraph dev keeps .langgraph_api/ in its working directory
        ),
    )
}
