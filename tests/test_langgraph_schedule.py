"""Cron schedules of the LangGraph API's crons (app/protocols/langgraph/schedule.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.protocols.langgraph.schedule import ScheduleError, parse


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", "2026-12-06 03:40:10", "2026-12-06 03:41:00"),
        ("*/15 * * * *", "2026-12-06 03:40:10", "2026-12-06 03:45:00"),
        ("0 9 * * 1-5", "2026-12-05 10:00:00", "2026-12-07 09:00:00"),  # Saturday -> Monday
        ("30 2 1 * *", "2026-12-06 00:00:00", "2027-01-01 02:30:00"),
        ("0 0 1 * 0", "2026-12-01 00:00:00", "2026-12-06 00:00:00"),  # day 1 or a Sunday
        ("0 0 * * 7", "2026-12-01 00:00:00", "2026-12-06 00:00:00"),  # 7 is Sunday too
        ("5,10-12 4 * * *", "2026-12-06 04:10:00", "2026-12-06 04:11:00"),
        ("* * * * * */5", "2026-12-06 03:40:10", "2026-12-06 03:40:15"),
        ("0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00:00"),
    ],
)
def test_next_firing(expression: str, after: str, expected: str) -> None:
    assert iso(parse(expression).next_after(at(after))) == expected


@pytest.mark.parametrize("expression", ["* * * *", "60 * * * *", "a * * * *", "*/0 * * * *", "0 0 30 2 *"])
def test_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression)
