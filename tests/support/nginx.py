"""Debian's nginx in front of a test server, running the shipped ``deploy/nginx.conf``.

The site file is used as shipped except for two lines: the upstream points at the test's
gunicorn and nginx listens on a free local port. nginx runs as its own process with its
own prefix, configuration and temporary paths in a scratch directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import REPO, Server, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def site_config(upstreams: Sequence[str], port: int) -> str:
    """``deploy/nginx.conf`` with its upstream and listen lines pointed at the test."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    servers = "\n    ".join(f"server {upstream};" for upstream in upstreams)
    for old, new in (
        ("server 127.0.0.1:8000;", servers),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
    ):
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


@contextmanager
def run_nginx(servers: Server | Sequence[Server], scratch: Path) -> Iterator[str]:
    """Serve ``servers`` (one, or several app hosts) through nginx; yield nginx's base URL."""
    port = free_port()
    scratch.mkdir(parents=True, exist_ok=True)
    hosts = [servers] if isinstance(servers, Server) else list(servers)
    (scratch / "site.conf").write_text(site_config([h.url.removeprefix("http://") for h in hosts], port))
    temp_paths = "".join(
        f"    {name}_temp_path {scratch / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (scratch / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\ndaemon off;\npid {scratch / 'nginx.pid'};\n"
        + f"error_log {scratch / 'error.log'} info;\n"
        + "events { worker_connections 1024; }\n"
        + f"http {{\n    access_log {scratch / 'access.log'};\n{temp_paths}"
        + f"    include {scratch / 'site.conf'};\n}}\n"
    )
    with (scratch / "nginx.out").open("wb") as out:
        process = subprocess.Popen(
            [NGINX, "-p", str(scratch), "-c", str(scratch / "nginx.conf")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(scratch / 'nginx.out').read_text()}")
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
