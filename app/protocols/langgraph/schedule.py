"""Cron schedules: ``minute hour day-of-month month day-of-week`` (UTC), as crontab(5) reads them,
with an optional sixth field of seconds (croniter's extension). Standard library only.

Each field is ``*``, a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a list of those
(``1,15,30-40/5``). Day of week is 0-6 from Sunday (7 is Sunday too). As crontab, when both
day of month and day of week are restricted, a day matching either fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7), (0, 59))
_SEARCH_DAYS = 366 * 5  # a schedule that never fires (Feb 30) is refused, not searched forever


class ScheduleError(ValueError):
    """A schedule that is not a cron expression this parser reads."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    seconds: frozenset[int]
    any_day: bool
    any_weekday: bool

    def next_after(self, moment: float) -> float:
        """The first firing time strictly after ``moment`` (Unix seconds)."""
        start = datetime.fromtimestamp(moment, UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        for _ in range(_SEARCH_DAYS):
            if day.month in self.months and self._day_matches(day):
                today = day.date() == start.date()
                for hour in sorted(self.hours):
                    if today and hour < start.hour:
                        continue
                    for minute in sorted(self.minutes):
                        if today and hour == start.hour and minute < start.minute:
                            continue
                        for second in sorted(self.seconds):
                            candidate = day.replace(hour=hour, minute=minute, second=second)
                            if candidate >= start:
                                return candidate.timestamp()
            day += timedelta(days=1)
        raise ScheduleError("the schedule never fires")

    def _day_matches(self, day: datetime) -> bool:
        weekday = (day.weekday() + 1) % 7  # Python's Monday=0 -> cron's Sunday=0
        by_day = day.day in self.days
        by_weekday = weekday in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return by_weekday
        if self.any_weekday:
            return by_day
        return by_day or by_weekday


def parse(expression: str) -> Schedule:
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ScheduleError(f"a schedule has 5 fields (6 with seconds), not {len(fields)}: {expression!r}")
    values = [_field(text, *_BOUNDS[index]) for index, text in enumerate(fields)]
    seconds = values[5] if len(values) == 6 else frozenset({0})
    weekdays = frozenset(day % 7 for day in values[4])
    schedule = Schedule(
        values[0], values[1], values[2], values[3], weekdays, seconds, fields[2] == "*", fields[4] == "*"
    )
    schedule.next_after(0)  # refuses one that never fires
    return schedule


def _field(text: str, low: int, high: int) -> frozenset[int]:
    found: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = low, high
            elif "-" in span:
                first, last = (int(n) for n in span.split("-", 1))
            else:
                first = last = int(span)
                if step_text:
                    last = high
        except ValueError:
            raise ScheduleError(f"not a cron field: {text!r}") from None
        if step < 1 or not low <= first <= last <= high:
            raise ScheduleError(f"{text!r} is outside {low}-{high}")
        found.update(range(first, last + 1, step))
    return frozenset(found)
