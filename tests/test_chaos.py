"""The short version of ``make chaos`` (tests/chaos.py): a few randomized fault schedules
over three hosts, with every invariant checked (docs/faults.md)."""

from __future__ import annotations

from pathlib import Path

from tests.chaos import run_chaos, table


def test_a_short_chaos_run_violates_nothing(tmp_path: Path) -> None:
    report = run_chaos(seed=20, budget_s=60, workdir=tmp_path)
    print(table(report))
    violations = (tmp_path / "violations.jsonl").read_text() if report["violations"] else ""
    assert report["schedules"] >= 2, report
    assert not report["violations"], table(report) + "\n" + violations
