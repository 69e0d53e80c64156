"""Run Stagecast's benchmark: every contender, every scenario, one table.

    python bench/run.py            # the full set (about 30 minutes with the distributed contenders)
    python bench/run.py --quick    # 1, 100 and 500 streams, short answers (about 5 minutes)

Prints the table and writes it into docs/benchmarks.md (its ``full`` or ``quick`` block);
raw results and server logs go to bench/results/. A run with the distributed contenders
(Redis + PostgreSQL) also writes their comparison with the memory backend into the
``distributed-<mode>`` block, even when it runs a subset: that comparison is within the run.
Benchmark-only dependencies (bench/requirements.txt) are installed into this interpreter's
environment when missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.scenarios import Scenario

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REQUIRED_MODULES = ("fastapi", "sse_starlette", "uvicorn", "uvloop", "httptools", "psutil", "langgraph_api")


def ensure_requirements() -> None:
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        logging.info("installing benchmark requirements (missing: %s)", ", ".join(missing))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "-r",
                str(REPO / "bench" / "requirements.txt"),
            ],
            check=True,
        )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Stagecast benchmark")
    parser.add_argument("--quick", action="store_true", help="the reduced set (about 5 minutes)")
    parser.add_argument("--contenders", help="comma-separated subset, e.g. stagecast,fastapi")
    parser.add_argument("--scenarios", help="comma-separated subset of scenario keys")
    parser.add_argument("--no-direct", action="store_true", help="skip the harness-floor rows")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="py-spy record the first worker of each Stagecast contender in SCENARIO",
    )
    parser.add_argument("--no-install", action="store_true", help="do not pip install bench/requirements.txt")
    parser.add_argument(
        "--render", action="store_true", help="run nothing: rewrite the table from bench/results/<mode>.json"
    )
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if not args.no_install:
        ensure_requirements()
    signal.signal(signal.SIGTERM, _interrupt)

    from bench import report
    from bench.contenders import CONTENDERS
    from bench.harness import Harness, results_dir
    from bench.scenarios import FULL, QUICK

    mode = "quick" if args.quick else "full"
    scenarios = QUICK if args.quick else FULL
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        scenarios = tuple(s for s in scenarios if s.key in wanted)
    keys = args.contenders.split(",") if args.contenders else list(CONTENDERS)
    contenders = [CONTENDERS[key] for key in keys]

    results = results_dir()
    command = " ".join(["python bench/run.py", *sys.argv[1:]])
    if args.render:
        saved = json.loads((results / f"{mode}.json").read_text())
        command = saved.get("command", f"python bench/run.py{' --quick' if args.quick else ''}")
        block = report.results_block(
            mode, saved["rows"], scenarios, saved["machine"], command, saved["started"], saved["duration_s"]
        )
        print(block)
        report.write_doc(REPO / "docs" / "benchmarks.md", mode, block)
        _distributed(mode, saved["rows"], scenarios, saved["machine"], command, saved["started"], docs=True)
        return 0
    log_dir = results_dir(f"logs-{mode}")
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with Harness(log_dir) as harness:
        for scenario in scenarios:
            if not args.no_direct:
                direct = harness.measure(None, scenario, scenario.streams)
                rows.append(direct.to_json())
                logging.info("%s / harness floor: %s", scenario.key, _brief(direct.to_json()))
            for contender in contenders:
                if scenario.contenders and contender.key not in scenario.contenders:
                    continue
                profile = (
                    args.profile
                    if contender.key.startswith("stagecast") and args.profile == scenario.key
                    else None
                )
                if scenario.ceiling_steps:
                    rows.append(harness.ceiling(contender, scenario))
                else:
                    row = harness.measure(
                        contender, scenario, scenario.streams, profile_with=profile
                    ).to_json()
                    rows.append(row)
                logging.info("%s / %s: %s", scenario.key, contender.key, _brief(rows[-1]))
    duration = time.monotonic() - started

    info = report.machine()
    partial = bool(args.scenarios or args.contenders)
    (results / f"{mode}{'-partial' if partial else ''}.json").write_text(
        json.dumps(
            {
                "command": command,
                "started": started_at,
                "duration_s": duration,
                "machine": info,
                "rows": rows,
            },
            indent=2,
        )
    )
    block = report.results_block(mode, rows, scenarios, info, command, started_at, duration)
    print(block)
    if not args.no_docs and not partial:
        report.write_doc(REPO / "docs" / "benchmarks.md", mode, block)
    _distributed(mode, rows, scenarios, info, command, started_at, docs=not args.no_docs)
    return 0


def _distributed(
    mode: str,
    rows: list[dict[str, Any]],
    scenarios: tuple[Scenario, ...],
    info: dict[str, str],
    command: str,
    started: str,
    *,
    docs: bool,
) -> None:
    """The distributed mode's comparison, when the run has its contenders: printed, and
    written into the ``distributed-<mode>`` block even for a subset (it compares rows of
    the same run)."""
    from bench import report

    if not report.has_distributed(rows):
        return
    block = report.distributed_block(mode, rows, scenarios, info, command, started)
    print(block)
    if docs:
        report.write_doc(REPO / "docs" / "benchmarks.md", f"distributed-{mode}", block)


def _brief(row: dict[str, Any]) -> str:
    """One log line per measurement, while the run goes on."""
    load = row.get("load") or {}
    if row.get("failure"):
        return f"FAILED {row['failure']}"
    cpu, kb = row.get("cpu_ms_per_1k_events") or 0, row.get("kb_per_open_stream") or 0
    return (
        f"ok {load.get('ok')}/{row.get('streams')} errors {load.get('errors')} lost {load.get('lost')} "
        f"ttfe p99 {load.get('ttfe_ms_p99') or 0:.0f} ms, added p99 {load.get('added_ms_p99') or 0:.1f} ms, "
        f"cpu/1k ev {cpu:.0f} ms, KB/stream {kb:.0f}, events/s {load.get('events_per_s') or 0:.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
