"""The quick run's regression check: Stagecast's CPU per event and memory per stream against
the committed baseline (the ``quick`` block of docs/benchmarks.md).

Absolute figures move with the host (the same code is ~1.3x slower in CPU per event on one
machine than on another, docs/benchmarks.md), so the check compares *ratios*: Stagecast's
figure divided by FastAPI's in the same run, against the same ratio in the baseline. FastAPI
serves the same graph through the same upstream in the same sitting, so a slower host or a
faster library moves both. A ratio more than ``TOLERANCE`` above the baseline's is a
regression. The absolute figures are shown beside the ratios, for the reader.

The baseline is read from the Markdown table the last accepted quick run wrote, so the check
needs no other file: a row is found by its scenario title and contender label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.contenders import CONTENDERS
from bench.scenarios import Scenario

TOLERANCE = 0.15
OURS, YARDSTICK = "stagecast", "fastapi"
CPU, MEMORY = "cpu_ms_per_1k_events", "kb_per_open_stream"
METRIC_NAMES = {CPU: "CPU ms per 1k events", MEMORY: "KB per open stream"}
# (scenario, metric) pairs checked. Not `c1`: two streams in a row are a few hundred events,
# and their peak RSS is one run's. Not memory at `c100`: 100 streams move the peak RSS by
# ~25 MB, within what the allocator's arenas swing between identical runs (267 and 342 KB
# per stream for Stagecast and FastAPI in the committed run, 40% apart at the same load).
CHECKS: tuple[tuple[str, str], ...] = (("c100", CPU), ("c500", CPU), ("c500", MEMORY))

Figures = dict[str, dict[str, dict[str, float | None]]]  # scenario -> contender -> metric -> value
_COLUMNS = {CPU: "Server CPU ms per 1k events", MEMORY: "Server KB per open stream"}


@dataclass(frozen=True)
class Check:
    """One checked figure: Stagecast's and FastAPI's, baseline and now, and the verdict."""

    scenario: str
    metric: str
    baseline: tuple[float | None, float | None]  # (Stagecast, FastAPI)
    current: tuple[float | None, float | None]

    @staticmethod
    def _ratio(pair: tuple[float | None, float | None]) -> float | None:
        ours, theirs = pair
        return ours / theirs if ours is not None and theirs else None

    @property
    def baseline_ratio(self) -> float | None:
        return self._ratio(self.baseline)

    @property
    def current_ratio(self) -> float | None:
        return self._ratio(self.current)

    @property
    def change(self) -> float | None:
        """Relative change of the ratio: +0.20 is 20% worse than the baseline."""
        before, now = self.baseline_ratio, self.current_ratio
        return now / before - 1 if before and now is not None else None

    @property
    def status(self) -> str:
        if self.current_ratio is None:
            return "missing"  # the run has no figure to judge: as bad as a regression
        if self.baseline_ratio is None:
            return "no baseline"
        assert self.change is not None
        return "REGRESSED" if self.change > TOLERANCE else "ok"

    @property
    def failed(self) -> bool:
        return self.status in ("REGRESSED", "missing")


def figures_from_rows(rows: Iterable[dict[str, Any]]) -> Figures:
    """The checked metrics of a run's rows (``Measurement.to_json()``); failed rows count as missing."""
    figures: Figures = {}
    for row in rows:
        if row.get("failure"):
            continue
        figures.setdefault(row["scenario"], {})[row["contender"]] = {m: row.get(m) for m in METRIC_NAMES}
    return figures


def _number(cell: str) -> float | None:
    text = cell.strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None  # "–": not measured


def figures_from_block(block: str, scenarios: Iterable[Scenario]) -> Figures:
    """The checked metrics of the results table in a ``quick`` (or ``full``) block of the docs."""
    titles = {s.title: s.key for s in scenarios}
    labels = {c.label: key for key, c in CONTENDERS.items()}
    figures: Figures = {}
    header: list[str] | None = None  # of the table being read; None between tables
    for line in block.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if not set(_COLUMNS.values()) <= set(header):
            continue  # another table with the same rows (the load ladder): not the results
        row = dict(zip(header, cells, strict=False))
        scenario = titles.get(row.get("Scenario", ""))
        contender = labels.get(row.get("Contender", "").removesuffix(" †"))
        if scenario is None or contender is None:
            continue  # the separator line, another table, or a row of a retired scenario
        figures.setdefault(scenario, {})[contender] = {
            metric: _number(row.get(column, "")) for metric, column in _COLUMNS.items()
        }
    return figures


def compare(baseline: Figures, current: Figures, checks: Iterable[tuple[str, str]] = CHECKS) -> list[Check]:
    def pair(figures: Figures, scenario: str, metric: str) -> tuple[float | None, float | None]:
        here = figures.get(scenario, {})
        return (here.get(OURS, {}).get(metric), here.get(YARDSTICK, {}).get(metric))

    return [
        Check(scenario, metric, pair(baseline, scenario, metric), pair(current, scenario, metric))
        for scenario, metric in checks
    ]


def _fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(checks: Iterable[Check]) -> str:
    """The verdict, as a Markdown table (it reads as plain text in a terminal too)."""
    lines = [
        f"Regression check: Stagecast ÷ FastAPI in this run against the same ratio in the baseline "
        f"(the quick block of docs/benchmarks.md); more than {TOLERANCE:.0%} above it fails.",
        "",
        "| Scenario | Metric | Baseline: Stagecast / FastAPI (ratio) | Now: Stagecast / FastAPI (ratio) "
        "| Change of ratio | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    for check in checks:
        change = check.change
        lines.append(
            f"| {check.scenario} | {METRIC_NAMES[check.metric]} "
            f"| {_fmt(check.baseline[0])} / {_fmt(check.baseline[1])} ({_fmt(check.baseline_ratio, 2)}) "
            f"| {_fmt(check.current[0])} / {_fmt(check.current[1])} ({_fmt(check.current_ratio, 2)}) "
            f"| {'–' if change is None else f'{change:+.0%}'} | {check.status} |"
        )
    return "\n".join(lines) + "\n"
