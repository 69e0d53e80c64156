"""Starting the real thing: gunicorn with gevent workers from the repo's gunicorn.conf.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from tests.support.client import StreamResult

REPO = Path(__file__).resolve().parents[2]
TEST_GRAPHS = ",".join(
    f"{name}=tests.graphs:{name}"
    for name in (
        "slow",
        "tools",
        "failing",
        "echo_config",
        "approval",
        "two_questions",
        "nested",
        "inner_question",
        "remember",
    )
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop_async(self, sig: int = signal.SIGTERM) -> None:
        """Signal the master and return at once (a test keeps reading its streams)."""
        self.process.send_signal(sig)

    def signal_after(self, count: int, sig: int) -> Callable[[StreamResult], bool]:
        """A ``read_stream`` ``stop_after`` that signals the master once ``count`` events are
        in and keeps reading. Events written in one turn of the worker can arrive in one
        read, so it tests ``>=``, once."""
        sent: list[bool] = []

        def check(result: StreamResult) -> bool:
            if len(result.messages) >= count and not sent:
                self.stop_async(sig)
                sent.append(True)
            return False

        return check

    def worker_pids(self) -> list[int]:
        """The gunicorn workers of this master (its child processes)."""
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def kill_all(self) -> None:
        """``kill -9`` the master and its workers: a lost host."""
        pids = self.worker_pids()
        self.process.kill()
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM ``process``'s whole process group (it was started with ``start_new_session``),
    then SIGKILL what is left; returns when no process of the group is alive."""
    group = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(group, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, so its pid leaves the group
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
    raise RuntimeError(f"process group {group} survived SIGKILL")


@contextmanager
def run_server(
    data_dir: Path, *, env_extra: dict[str, str] | None = None, **settings: object
) -> Iterator[Server]:
    """Run gunicorn with ``STAGECAST_<NAME>=value`` for each setting; stop it afterwards.
    A ``bind`` setting (e.g. ``0.0.0.0:<port>``) replaces the loopback one; it needs a port.

    ``env_extra``: more environment for this server only (``PYTHONPATH`` is put in front of
    the repo's, e.g. a ``sitecustomize`` that skews its clock)."""
    port = int(str(settings["bind"]).rpartition(":")[2]) if "bind" in settings else free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGECAST_", "OPENAI_"))}
    env.update(
        {
            "STAGECAST_BIND": f"127.0.0.1:{port}",
            "STAGECAST_DATA_DIR": str(data_dir),
            "STAGECAST_GRAPHS": TEST_GRAPHS,
            "STAGECAST_OFFLINE_TOKEN_DELAY_MS": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(
        {f"STAGECAST_{k.upper()}": str(v) for k, v in settings.items() if k.upper() != "OPENAI_BASE_URL"}
    )
    if "openai_base_url" in settings:
        env["OPENAI_BASE_URL"] = str(settings["openai_base_url"])
    for name, value in (env_extra or {}).items():
        env[name] = f"{value}{os.pathsep}{env[name]}" if name == "PYTHONPATH" else value
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"gunicorn-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not come up in {timeout}s:\n{server.log()}")
