"""Split a server's CPU into a fixed cost per run and a marginal cost per token.

Two loads on a fresh server each, on the same upstream: ``runs`` answers of 1 token, then
``runs`` answers of ``tokens`` tokens (fast pacing, ``concurrency`` at a time). Then

    per run   = CPU(1-token runs) / runs
    per token = (CPU(long runs) - CPU(1-token runs)) / (runs * (tokens - 1))

Run: ``python -m bench.costs --contenders stagecast,fastapi`` (from the repo root, with the
project's venv). Used for the before/after numbers of proposed changes in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench.contenders import CONTENDERS
from bench.harness import Harness, Measurement, results_dir
from bench.scenarios import Scenario
from bench.upstream import Profile


def measure_costs(
    harness: Harness, key: str, runs: int, tokens: int, concurrency: int
) -> tuple[float | None, float | None, list[Measurement]]:
    """(CPU ms per run, CPU µs per token, the two measurements)."""
    contender = CONTENDERS[key]
    results = []
    for count in (1, tokens):
        scenario = Scenario(
            key=f"cost-{count}",
            title=f"{runs} runs of {count} tokens",
            streams=runs,
            profile=Profile(ttft_s=0.01, tps=1000.0, tokens=count),
            concurrency=concurrency,
            deadline_s=120,
        )
        results.append(harness.measure(contender, scenario, runs))
    short, long = results
    if not (short.held and long.held) or short.cpu_s is None or long.cpu_s is None:
        return None, None, results
    per_run_ms = short.cpu_s / runs * 1000
    per_token_us = (long.cpu_s - short.cpu_s) / (runs * (tokens - 1)) * 1e6
    return per_run_ms, per_token_us, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contenders", default="stagecast")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log_dir = results_dir("logs-costs")
    lines = ["| Contender | CPU per run (ms) | CPU per token (µs) |", "|---|---|---|"]
    with Harness(Path(log_dir)) as harness:
        for key in args.contenders.split(","):
            costs = measure_costs(harness, key, args.runs, args.tokens, args.concurrency)
            per_run, per_token, results = costs
            if per_run is None or per_token is None:
                failures = [r.failure or (r.load or {}).get("errors") for r in results]
                lines.append(f"| {CONTENDERS[key].label} | failed: {failures} | |")
            else:
                lines.append(f"| {CONTENDERS[key].label} | {per_run:.2f} | {per_token:.0f} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
