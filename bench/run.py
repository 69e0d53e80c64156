"""Run Stagecast's benchmark: every contender, every scenario, one table.

    python bench/run.py            # the full set (about 70 minutes, 35 of them the 10,000-stream scenario)
    python bench/run.py --quick    # 1, 100 and 500 streams, short answers (about 8 minutes)

Prints the table; raw results and server logs go to bench/results/. With ``--docs`` it also
writes the table into docs/benchmarks.md (its ``full`` or ``quick`` block); without it a
checkout stays as it was. A quick run with Stagecast and FastAPI is checked against the
committed quick block (``bench.regress``): if Stagecast's CPU per event or memory per stream
regressed by more than 15%, relative to FastAPI's, it exits 1 (and with ``--docs`` leaves the
blocks as they were, the distributed one too, unless ``--accept`` makes this run the new
baseline). With ``--docs``, a run
with the distributed contenders (Redis + PostgreSQL) also writes their comparison with the
memory backend into the ``distributed-<mode>`` block, even when it runs a subset: that
comparison is within the run.
Benchmark-only dependencies (bench/requirements.txt) are installed into this interpreter's
environment when missing, before any module that needs them is imported (``bench.report``,
``bench.harness`` and ``bench.procs`` need psutil); LangGraph Server into
bench/.venv-langgraph-server.
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
    from bench import regress
    from bench.scenarios import Scenario

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REQUIRED_MODULES = ("fastapi", "sse_starlette", "uvicorn", "uvloop", "httptools", "psutil")


def ensure_requirements(contender_keys: list[str]) -> None:
    """bench/requirements.txt in this environment; LangGraph Server in its own (see
    bench/requirements-langgraph-server.txt for why)."""
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        logging.info("installing benchmark requirements (missing: %s)", ", ".join(missing))
        _pip(sys.executable, "-r", str(REPO / "bench" / "requirements.txt"))
    if "langgraph-server" in contender_keys:
        from bench.contenders import LGS_VENV

        python = LGS_VENV / "bin" / "python"
        if not (LGS_VENV / "bin" / "langgraph").exists():
            logging.info("creating %s for LangGraph Server", LGS_VENV)
            subprocess.run([sys.executable, "-m", "venv", str(LGS_VENV)], check=True)
            requirements = REPO / "bench" / "requirements-langgraph-server.txt"
            _pip(str(python), "-e", str(REPO), "-r", str(requirements))


def _pip(python: str, *args: str) -> None:
    subprocess.run([python, "-m", "pip", "install", "--quiet", *args], check=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stagecast benchmark")
    parser.add_argument("--quick", action="store_true", help="the reduced set (about 8 minutes)")
    parser.add_argument("--contenders", help="comma-separated subset, e.g. stagecast,fastapi")
    parser.add_argument("--scenarios", help="comma-separated subset of scenario keys")
    parser.add_argument("--no-direct", action="store_true", help="skip the harness-floor rows")
    parser.add_argument("--docs", action="store_true", help="write the result blocks into docs/benchmarks.md")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="py-spy record the first worker of each Stagecast contender in SCENARIO",
    )
    parser.add_argument("--no-install", action="store_true", help="do not pip install bench/requirements.txt")
    parser.add_argument(
        "--accept",
        action="store_true",
        help="quick run: write the block (the new baseline) even if the regression check fails",
    )
    parser.add_argument(
        "--render", action="store_true", help="run nothing: rewrite the table from bench/results/<mode>.json"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, _interrupt)

    # Only modules that need nothing from bench/requirements.txt until it is installed.
    from bench.contenders import CONTENDERS
    from bench.limits import raise_nofile
    from bench.scenarios import FULL, QUICK

    mode = "quick" if args.quick else "full"
    scenarios = QUICK if args.quick else FULL
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        scenarios = tuple(s for s in scenarios if s.key in wanted)
    keys = args.contenders.split(",") if args.contenders else list(CONTENDERS)
    contenders = [CONTENDERS[key] for key in keys]
    if not args.no_install:
        ensure_requirements(keys)
    from bench import regress, report
    from bench.harness import Harness, results_dir

    # Every process started from here inherits it: a server holds two sockets per stream
    # (its client's and its upstream's), plus its own files.
    raise_nofile(2 * max((s.max_streams for s in scenarios), default=0) + 1024)

    results = results_dir()
    command = " ".join(["python bench/run.py", *sys.argv[1:]])
    docs = REPO / "docs" / "benchmarks.md"
    baseline = report.read_doc_block(docs, mode)  # before this run rewrites it
    if args.render:
        saved = json.loads((results / f"{mode}.json").read_text())
        command = saved.get("command", f"python bench/run.py{' --quick' if args.quick else ''}")
        block = report.results_block(
            mode, saved["rows"], scenarios, saved["machine"], command, saved["started"], saved["duration_s"]
        )
        print(block)
        if args.docs:
            report.write_doc(docs, mode, block)
        _distributed(
            mode, saved["rows"], scenarios, saved["machine"], command, saved["started"], docs=args.docs
        )
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
    checked = _regression_check(mode, rows, scenarios, baseline, keys)
    regressed = checked is not None and any(check.failed for check in checked)
    if checked is not None:
        block += "\n#### Regression check\n\n" + regress.table(checked)
    print(block)
    if regressed:
        accepted = args.docs and args.accept
        outcome = "written as the new baseline (--accept)" if accepted else "docs left as they were"
        logging.error(
            "REGRESSION: Stagecast's CPU per event or memory per stream is more than %.0f%% worse, "
            "relative to FastAPI's, than in the committed quick block (table above); %s",
            regress.TOLERANCE * 100,
            outcome,
        )
    write_docs = docs_written(args, regressed)
    if write_docs and not partial:
        report.write_doc(docs, mode, block)
    _distributed(mode, rows, scenarios, info, command, started_at, docs=write_docs)
    return 1 if regressed else 0


def docs_written(args: argparse.Namespace, regressed: bool) -> bool:
    """Whether this run writes docs/benchmarks.md: asked with ``--docs``, and a failed check
    leaves every block as it was, the distributed one too, unless ``--accept``."""
    return bool(args.docs and (args.accept or not regressed))


def _regression_check(
    mode: str, rows: list[dict[str, Any]], scenarios: tuple[Scenario, ...], baseline: str, keys: list[str]
) -> list[regress.Check] | None:
    """The quick run's check against the baseline block, or None when this run cannot make it
    (the full set, or a run without Stagecast or FastAPI, the yardstick)."""
    from bench import regress
    from bench.scenarios import QUICK

    if mode != "quick" or not {regress.OURS, regress.YARDSTICK} <= set(keys):
        return None
    checks = [c for c in regress.CHECKS if c[0] in {s.key for s in scenarios}]
    if not checks:
        return None
    before = regress.figures_from_block(baseline, QUICK)
    return regress.compare(before, regress.figures_from_rows(rows), checks)


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
