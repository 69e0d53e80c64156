"""Time periods in questions ("2026-03", "3월", "last 3 months", "작년") and the months they cover.

A period is kept as a short string so it survives JSON: ``YYYY-MM`` (a month), ``YYYY`` (a
year), ``YYYY-Qn`` (a quarter) or ``last-N-months``. Relative periods count back from the
newest month of data, not from today, so answers do not change with the calendar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_COUNT_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "nine": 9,
    "twelve": 12,
    "한": 1,
    "두": 2,
    "세": 3,
    "석": 3,
    "네": 4,
    "다섯": 5,
    "여섯": 6,
    "아홉": 9,
    "열두": 12,
}
_COUNT = r"(\d{1,2}|" + "|".join(sorted(_COUNT_WORDS, key=len, reverse=True)) + ")"
_YEAR = r"(?<!\d)(20[23]\d)(?!\d)"
_MONTH_NAME = r"\b(" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r")\b\.?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("last_n", re.compile(rf"\b(?:last|past|previous|recent)\s+{_COUNT}\s+months?\b")),
    ("last_n", re.compile(rf"(?:최근|지난)\s*{_COUNT}\s*(?:개월|달)")),
    ("last_month", re.compile(r"\blast month\b|지난\s*달|전월")),
    ("quarter", re.compile(rf"{_YEAR}\s*(?:년\s*)?(?:q([1-4])|([1-4])\s*분기)")),
    ("quarter", re.compile(rf"\bq([1-4])\s*(?:of\s+)?{_YEAR}")),
    ("quarter_only", re.compile(r"\bq([1-4])\b|([1-4])\s*분기")),
    ("year_month", re.compile(rf"{_YEAR}\s*(?:[-./]|년)\s*(\d{{1,2}})(?!\d)\s*월?")),
    ("name_year", re.compile(rf"{_MONTH_NAME}\s*,?\s*{_YEAR}")),
    ("month_only", re.compile(r"(?<!\d)(1[0-2]|0?[1-9])\s*월")),
    ("name_only", re.compile(_MONTH_NAME)),
    ("this_year", re.compile(r"\bthis year\b|올해|금년")),
    ("last_year", re.compile(r"\blast year\b|작년|지난\s*해|전년")),
    ("year", re.compile(rf"{_YEAR}\s*년?")),
]


def _count(token: str) -> int:
    return int(token) if token.isdigit() else _COUNT_WORDS[token]


def _month_in_window(month: int, months: Sequence[str]) -> str | None:
    """The month of the data window with this month number (the window spans 12 months)."""
    suffix = f"-{month:02d}"
    matches = [m for m in months if m.endswith(suffix)]
    return matches[-1] if matches else None


def parse_period(text: str, months: Sequence[str]) -> str | None:
    """The period a question mentions, normalised; None when it mentions none.

    ``text`` should already have part numbers removed, so "HYD-20310" is not read as 2031.
    """
    lowered = text.lower()
    latest_year = int(months[-1][:4]) if months else None
    for kind, pattern in _PATTERNS:
        match = pattern.search(lowered)
        if match is None:
            continue
        groups = [g for g in match.groups() if g is not None]
        if kind == "last_n" and _count(groups[0]) > 0:
            return f"last-{_count(groups[0])}-months"
        if kind == "last_month":
            return months[-1] if months else None
        if kind == "quarter":
            year, quarter = (groups[0], groups[1]) if len(groups[0]) == 4 else groups[::-1]
            return f"{year}-Q{quarter}"
        if kind == "quarter_only" and latest_year is not None:
            return f"{latest_year}-Q{groups[0]}"
        if kind == "year_month" and 1 <= int(groups[1]) <= 12:
            return f"{groups[0]}-{int(groups[1]):02d}"
        if kind == "name_year":
            return f"{groups[1]}-{_MONTH_NAMES[groups[0]]:02d}"
        if kind == "month_only":
            return _month_in_window(int(groups[0]), months)
        if kind == "name_only":
            # "may" is usually the verb ("May I ..."); only "in May" / "for May" name the month.
            if groups[0] == "may" and not re.search(r"\b(?:in|for|during|of)\s+may\b", lowered):
                continue
            return _month_in_window(_MONTH_NAMES[groups[0]], months)
        if kind == "this_year" and latest_year is not None:
            return str(latest_year)
        if kind == "last_year" and latest_year is not None:
            return str(latest_year - 1)
        if kind == "year":
            return groups[0]
    return None


def resolve_period(period: str | None, months: Sequence[str]) -> list[str]:
    """The months of data a period covers, oldest first; all months when period is None."""
    if period is None:
        return list(months)
    if match := re.fullmatch(r"last-(\d+)-months", period):
        count = int(match.group(1))
        return list(months[-count:]) if count else []
    if match := re.fullmatch(r"(\d{4})-Q([1-4])", period):
        first = (int(match.group(2)) - 1) * 3 + 1
        wanted = {f"{match.group(1)}-{m:02d}" for m in range(first, first + 3)}
        return [m for m in months if m in wanted]
    return [m for m in months if m == period or m.startswith(period + "-")]
