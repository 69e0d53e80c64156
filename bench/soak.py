"""Soak: steady load on one Stagecast worker for a bounded time; its RSS over time, as a table.

    python bench/soak.py                      # 10 minutes, 100 concurrent streams (make soak)
    python bench/soak.py --minutes 3 --env STAGECAST_GC_THRESHOLD=0

A paced local upstream (``bench.upstream``) writes the answers; the load generator
(``bench.loadgen``) keeps ``--streams`` streams open, each a whole run that is checked to
the letter, round after round. After each round the worker's RSS is read from ``/proc``.
What matters is the shape: a worker whose memory is bounded plateaus after its first
minutes, one that leaks keeps climbing. Needs only the project's own dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.loadgen import LoadSpec  # noqa: E402
from bench.upstream import Profile  # noqa: E402

QUESTION = "ABC-12345 부품의 재고는?"
PROFILE = Profile(ttft_s=0.05, tps=400.0, tokens=40)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if not children:
        raise RuntimeError("gunicorn has no worker")
    return int(children[0])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


def _start(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _round(spec: LoadSpec, workdir: Path, env: dict[str, str]) -> dict[str, object]:
    spec_path, out_path = workdir / "spec.json", workdir / "load.json"
    spec_path.write_text(json.dumps(asdict(spec), ensure_ascii=False))
    out_path.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bench.loadgen", str(spec_path), str(out_path)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=spec.deadline_s + 60,
    )
    return dict(json.loads(out_path.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description="Stagecast soak: RSS of one worker under steady load")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=100, help="concurrent streams")
    parser.add_argument("--round-s", type=float, default=30.0, help="seconds between RSS readings")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    args = parser.parse_args()
    # A SIGTERM (timeout, CI) unwinds through the finally below, which stops the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    workdir = Path(tempfile.mkdtemp(prefix="stagecast-soak-"))
    upstream_port, port = free_port(), free_port()
    base = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    server_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("STAGECAST_", "OPENAI_", "LANGSMITH_"))
    }
    server_env.update(
        {
            **base,
            "STAGECAST_BIND": f"127.0.0.1:{port}",
            "STAGECAST_DATA_DIR": str(workdir / "data"),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
            "STAGECAST_LOG_LEVEL": "WARNING",
            **dict(item.split("=", 1) for item in args.env),
        }
    )
    upstream = _start(
        [
            sys.executable,
            "-m",
            "bench.upstream",
            "--port",
            str(upstream_port),
            "--ttft-s",
            str(PROFILE.ttft_s),
            "--tps",
            str(PROFILE.tps),
            "--tokens",
            str(PROFILE.tokens),
        ],
        base,
        workdir / "upstream.log",
    )
    server = _start(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        server_env,
        workdir / "server.log",
    )
    try:
        _wait_http(f"http://127.0.0.1:{upstream_port}/_bench/stats", upstream)
        _wait_http(f"http://127.0.0.1:{port}/healthz", server)
        worker = _worker_pid(server.pid)
        # The first round is short; later ones are sized to last about --round-s at the pace
        # of the one before. The deadline is generous: a slow round is data, not a failure.
        spec = LoadSpec(
            host="127.0.0.1",
            port=port,
            path="/api/chat/stream",
            body={"message": QUESTION},
            streams=args.streams * 2,
            concurrency=args.streams,
            deadline_s=max(120.0, args.round_s * 6),
            expected_tokens=PROFILE.tokens,
        )
        settings = " ".join(args.env) or "defaults"
        print(f"soak: {args.streams} concurrent streams, {args.minutes:g} min, {settings}; logs in {workdir}")
        print(f"{'elapsed s':>9} | {'runs ok':>8} | {'failed':>6} | {'runs/s':>6} | {'worker RSS MiB':>14}")
        print(f"{'-' * 9}-|-{'-' * 8}-|-{'-' * 6}-|-{'-' * 6}-|-{'-' * 14}")
        started = time.monotonic()
        print(f"{0:>9.0f} | {0:>8} | {0:>6} | {'':>6} | {_rss_mib(worker):>14.1f}", flush=True)
        ok = failed = 0
        readings = [_rss_mib(worker)]
        while time.monotonic() - started < args.minutes * 60:
            round_started = time.monotonic()
            result = _round(spec, workdir, base)
            ok += int(result["ok"])  # type: ignore[call-overload]
            failed += int(result["streams"]) - int(result["ok"])  # type: ignore[call-overload]
            rate = int(result["ok"]) / (time.monotonic() - round_started)  # type: ignore[call-overload]
            # Scale the next round to last about --round-s.
            spec.streams = max(args.streams, int(rate * args.round_s))
            elapsed = time.monotonic() - started
            rss = _rss_mib(worker)
            readings.append(rss)
            print(f"{elapsed:>9.0f} | {ok:>8} | {failed:>6} | {rate:>6.1f} | {rss:>14.1f}", flush=True)
        half = readings[len(readings) // 2 :]
        print(
            f"RSS MiB: start {readings[0]:.0f}, peak {max(readings):.0f}, end {readings[-1]:.0f}; "
            f"second half {min(half):.0f}..{max(half):.0f}; {ok} runs, {failed} failed"
        )
        return 0 if failed == 0 else 1
    finally:
        _stop(server)
        _stop(upstream)


if __name__ == "__main__":
    sys.exit(main())
