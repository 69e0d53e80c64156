"""The quick run's regression check (bench/regress.py), on fixed figures: no benchmark runs."""

from __future__ import annotations

from typing import Any

import pytest

from bench import regress
from bench.contenders import CONTENDERS
from bench.scenarios import QUICK

TITLES = {s.key: s.title for s in QUICK}
LABELS = {key: c.label for key, c in CONTENDERS.items()}
HEADER = (
    "| Scenario | Contender | OK / streams | Errors | Lost / dup | TTFE p50 / p99 (ms) "
    "| Added per token p50 / p99 (ms) | Events/s | Server CPU ms per 1k events "
    "| Server KB per open stream | Answer p50 (s) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def _line(scenario: str, contender: str, cpu: str, kb: str, mark: str = "") -> str:
    return (
        f"| {TITLES[scenario]} | {LABELS[contender]}{mark} | 100 / 100 | 0 | 0 / 0 | 4 / 16 "
        f"| 1.7 / 19.6 | 1,097 | {cpu} | {kb} | 3.0 |\n"
    )


# A baseline block as bench/run.py writes it: Stagecast 1.0x FastAPI's CPU, 1.5x its memory.
BASELINE = (
    "### Results (quick run)\n\n"
    + HEADER
    + _line("c1", "stagecast", "1,635", "40")
    + _line("c100", "stagecast", "500", "250")
    + _line("c100", "flask-sync", "1,016", "38")
    + _line("c100", "fastapi", "500", "300", mark=" †")
    + _line("c500", "stagecast", "1,200", "150")
    + _line("c500", "fastapi", "1,200", "100")
    + "\n#### Load ladder\n\n| Scenario | Contender | Offered tokens/s | Events/s |\n|---|---|---|---|\n"
    + f"| {TITLES['c500']} | {LABELS['stagecast']} | 9,756 | 1,782 |\n"
    + "\n#### Targets\n\n| Target | Stagecast | Best other contender | Ratio | Met |\n|---|---|---|---|---|\n"
    + "| p99 time to first event < 50 ms | 41.6 ms | 9,691.9 (FastAPI) | 0.00 | yes |\n"
)


def _row(scenario: str, contender: str, cpu: float | None, kb: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "contender": contender,
        "cpu_ms_per_1k_events": cpu,
        "kb_per_open_stream": kb,
        "failure": None,
        **extra,
    }


def _run(stagecast_c500_cpu: float, fastapi_c500_cpu: float = 1200.0) -> list[dict[str, Any]]:
    return [
        _row("c100", "stagecast", 500.0, 250.0),
        _row("c100", "fastapi", 500.0, 300.0),
        _row("c500", "stagecast", stagecast_c500_cpu, 150.0),
        _row("c500", "fastapi", fastapi_c500_cpu, 100.0),
    ]


def _verdicts(rows: list[dict[str, Any]], baseline: str = BASELINE) -> dict[tuple[str, str], regress.Check]:
    checks = regress.compare(regress.figures_from_block(baseline, QUICK), regress.figures_from_rows(rows))
    return {(c.scenario, c.metric): c for c in checks}


def test_reads_the_baseline_table_of_a_block() -> None:
    figures = regress.figures_from_block(BASELINE, QUICK)
    assert figures["c100"]["fastapi"] == {regress.CPU: 500.0, regress.MEMORY: 300.0}  # † dropped
    assert figures["c1"]["stagecast"][regress.CPU] == 1635.0  # thousands separators
    assert figures["c500"]["stagecast"] == {regress.CPU: 1200.0, regress.MEMORY: 150.0}
    assert set(figures) == {"c1", "c100", "c500"}  # the other tables are not read as results


def test_a_regression_beyond_the_tolerance_fails() -> None:
    checks = _verdicts(_run(stagecast_c500_cpu=1200.0 * 1.2))
    regressed = checks[("c500", regress.CPU)]
    assert regressed.status == "REGRESSED" and regressed.failed
    assert regressed.change == pytest.approx(0.2)
    assert not checks[("c100", regress.CPU)].failed
    assert (
        "| c500 | CPU ms per 1k events | 1,200 / 1,200 (1.00) | 1,440 / 1,200 (1.20) | +20% | REGRESSED |"
        in (regress.table(checks.values()))
    )


def test_a_change_within_the_tolerance_passes() -> None:
    assert not _verdicts(_run(stagecast_c500_cpu=1200.0 * 1.1))[("c500", regress.CPU)].failed


def test_an_improvement_passes() -> None:
    check = _verdicts(_run(stagecast_c500_cpu=800.0))[("c500", regress.CPU)]
    assert check.status == "ok" and check.change == pytest.approx(-1 / 3)


def test_a_slower_host_is_no_regression() -> None:
    """Both servers 40% slower in absolute terms: the ratio to FastAPI is what is judged."""
    check = _verdicts(_run(stagecast_c500_cpu=1680.0, fastapi_c500_cpu=1680.0))[("c500", regress.CPU)]
    assert check.status == "ok" and check.current == (1680.0, 1680.0)


def test_memory_per_stream_is_checked_too() -> None:
    rows = _run(stagecast_c500_cpu=1200.0)
    rows[2]["kb_per_open_stream"] = 200.0  # 2.0x FastAPI's against the baseline's 1.5x
    check = _verdicts(rows)[("c500", regress.MEMORY)]
    assert check.status == "REGRESSED" and check.change == pytest.approx(1 / 3)


def test_a_missing_or_failed_row_in_the_run_fails() -> None:
    rows = _run(stagecast_c500_cpu=1200.0)
    rows[2]["failure"] = "RuntimeError: warm-up failed"
    del rows[3]
    checks = _verdicts(rows)
    for metric in (regress.CPU, regress.MEMORY):
        assert checks[("c500", metric)].status == "missing" and checks[("c500", metric)].failed
    assert not checks[("c100", regress.CPU)].failed
    assert "| c500 | KB per open stream | 150 / 100 (1.50) | – / – (–) | – | missing |" in regress.table(
        checks.values()
    )


def test_a_row_missing_from_the_baseline_is_reported_not_failed() -> None:
    baseline = BASELINE.replace(_line("c500", "fastapi", "1,200", "100"), "")
    check = _verdicts(_run(stagecast_c500_cpu=5000.0), baseline)[("c500", regress.CPU)]
    assert check.status == "no baseline" and not check.failed
