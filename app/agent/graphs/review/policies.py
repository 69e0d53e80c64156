"""The standards and policies a parts request is checked against, one function each.

Each check reads the bundled inventory (stock, usage, suppliers) and answers a finding:
``pass``, or ``warn`` with what to do. The rules restate the bundled policy documents
(reorder policy, purchase approval limits, emergency orders, hazardous materials).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ....knowledge import KnowledgeBase
from ....knowledge.labels import money, pick, quantity
from .prompts import CHECK_TITLES, FINDINGS
from .state import CheckTask, Finding, RequestLine

USAGE_MONTHS = 6
"""Months of usage history a request is compared with."""

MAX_MONTHS_OF_USAGE = 3
"""A request beyond this many months of average usage is trimmed (reorder policy)."""

EMERGENCY_LEAD_TIME_DAYS = 7
HAZARDOUS_CATEGORIES = frozenset({"lubricants"})


@dataclass(frozen=True)
class Rules:
    knowledge: KnowledgeBase
    approval_threshold: int
    """KRW; above it an order needs a human's approval (the purchase approval limits)."""


Check = Callable[[CheckTask, Rules], list[str]]
"""A check answers its warnings (empty: the request passes)."""


def order_value(lines: list[RequestLine], *, requested: bool = False) -> int:
    """KRW of the recommended quantities (or of the ``requested`` ones)."""
    return sum(
        line["unit_price"] * (line["quantity"] if requested else line["recommended"]) for line in lines
    )


def monthly_average(rules: Rules, part_number: str) -> float:
    store = rules.knowledge.store
    usage = store.usage(part_number, store.months()[-USAGE_MONTHS:])
    return sum(usage) / len(usage) if usage else 0.0


def _approval_limit(task: CheckTask, rules: Rules) -> list[str]:
    value = order_value(task["lines"], requested=True)
    if value <= rules.approval_threshold:
        return []
    language = task["language"]
    return [
        FINDINGS["approval"][language].format(
            value=money(value, language), limit=money(rules.approval_threshold, language)
        )
    ]


def _stock_level(task: CheckTask, rules: Rules) -> list[str]:
    if task["purpose"] in ("emergency", "maintenance"):
        return []  # a named job needs the parts whatever the network holds
    warnings = []
    language = task["language"]
    parts = rules.knowledge.store.parts([line["part_number"] for line in task["lines"]])
    for line in task["lines"]:
        held = sum(level.quantity for level in rules.knowledge.store.stock_levels(line["part_number"]))
        reorder_point = parts[line["part_number"]].reorder_point
        if held >= reorder_point:
            warnings.append(
                FINDINGS["stock"][language].format(
                    part=line["part_number"],
                    held=quantity(held, line["unit"], language),
                    reorder=quantity(reorder_point, line["unit"], language),
                )
            )
    return warnings


def _usage_rate(task: CheckTask, rules: Rules) -> list[str]:
    warnings = []
    language = task["language"]
    for line in task["lines"]:
        cap = usage_cap(rules, line)
        if line["quantity"] > cap:
            warnings.append(
                FINDINGS["usage"][language].format(
                    part=line["part_number"],
                    months=MAX_MONTHS_OF_USAGE,
                    cap=quantity(cap, line["unit"], language),
                )
            )
    return warnings


def usage_cap(rules: Rules, line: RequestLine) -> int:
    """The most a request should ask for: a few months of average use (at least one unit)."""
    return max(1, round(monthly_average(rules, line["part_number"]) * MAX_MONTHS_OF_USAGE))


def _lead_time(task: CheckTask, rules: Rules) -> list[str]:
    if task["purpose"] != "emergency":
        return []
    language = task["language"]
    parts = rules.knowledge.store.parts([line["part_number"] for line in task["lines"]])
    return [
        FINDINGS["lead_time"][language].format(part=number, days=part.lead_time_days)
        for number, part in parts.items()
        if part.lead_time_days > EMERGENCY_LEAD_TIME_DAYS
    ]


def _hazardous(task: CheckTask, rules: Rules) -> list[str]:
    language = task["language"]
    parts = rules.knowledge.store.parts([line["part_number"] for line in task["lines"]])
    return [
        FINDINGS["hazardous"][language].format(part=number)
        for number, part in parts.items()
        if part.category in HAZARDOUS_CATEGORIES
    ]


CHECKS: dict[str, Check] = {
    "approval": _approval_limit,
    "stock": _stock_level,
    "usage": _usage_rate,
    "lead_time": _lead_time,
    "hazardous": _hazardous,
}


def run_check(task: CheckTask, rules: Rules) -> Finding:
    language = task["language"]
    warnings = CHECKS[task["check"]](task, rules)
    return Finding(
        check=task["check"],
        title=CHECK_TITLES[task["check"]][language],
        verdict="warn" if warnings else "pass",
        detail=" ".join(warnings) or pick(language, "이상 없음.", "No issues."),
    )
