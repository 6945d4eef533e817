"""Maintenance windows: when one holds, pure functions of the rule and a time.

A window is valid from `starts_at` to `ends_at` (UTC). Without a recurrence it holds that whole time (a one-off
window). With one, it holds only during the occurrences inside that validity: every chosen weekday, every chosen
day of the month, or every date of a list (the power company's cut schedule), from a local start time for
`duration_min`. Local times are in the hub's zone (Asia/Ho_Chi_Minh by default: no daylight saving there, but
the functions do not assume it). An occurrence may run past midnight; it belongs to the day it starts on.

Who uses it: the alert engine holds alerts that match a window while it holds (hub/alerts/silences.py); the
uptime reports count the time a camera was inside one as maintenance, not as availability (hub/core/reports.py),
through the `MAINTENANCE_WINDOWS` service the alerts feature provides.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from sqlalchemy.orm import Session

from contract.configfile import StrictModel
from hub.core.features import ServiceKey

MAX_DURATION_MIN = 7 * 24 * 60
Interval = tuple[datetime, datetime]  # aware UTC, [start, end)


class Recurrence(StrictModel):
    """When a recurring window opens: `every` weekly (`weekdays`, 1 = Monday … 7 = Sunday), monthly
    (`monthdays`, 1–31; a day the month lacks is its last day) or on `dates`; at local `start` (HH:MM) for
    `duration_min` minutes."""

    every: Literal["weekly", "monthly", "dates"]
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    monthdays: list[int] = Field(default_factory=list, max_length=31)
    dates: list[date] = Field(default_factory=list, max_length=366)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local HH:MM")
    duration_min: int = Field(ge=1, le=MAX_DURATION_MIN)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in v):
            raise ValueError("weekdays run from 1 (Monday) to 7 (Sunday)")
        return sorted(set(v))

    @field_validator("monthdays")
    @classmethod
    def _monthdays(cls, v: list[int]) -> list[int]:
        if any(not 1 <= d <= 31 for d in v):
            raise ValueError("days of the month run from 1 to 31")
        return sorted(set(v))

    @model_validator(mode="after")
    def _has_days(self) -> Recurrence:
        needed = {"weekly": self.weekdays, "monthly": self.monthdays, "dates": self.dates}[self.every]
        if not needed:
            field = {"weekly": "weekdays", "monthly": "monthdays", "dates": "dates"}[self.every]
            raise ValueError(f"'{field}' must list at least one day for every={self.every}")
        return self

    @property
    def start_time(self) -> time:
        h, m = self.start.split(":")
        return time(int(h), int(m))

    def occurs_on(self, day: date) -> bool:
        if self.every == "weekly":
            return day.isoweekday() in self.weekdays
        if self.every == "monthly":
            last = calendar.monthrange(day.year, day.month)[1]
            return any(min(d, last) == day.day for d in self.monthdays)
        return day in self.dates


@dataclass(frozen=True, slots=True)
class Window:
    starts_at: datetime  # aware UTC
    ends_at: datetime  # aware UTC (an ended window carries the time it was ended)
    recurrence: Recurrence | None = None


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def occurrences(rule: Recurrence, start: datetime, end: datetime, tz: ZoneInfo) -> list[Interval]:
    """The rule's occurrences overlapping [start, end), clipped to it (aware UTC)."""
    start, end = _aware(start), _aware(end)
    span = timedelta(minutes=rule.duration_min)
    day = start.astimezone(tz).date() - timedelta(days=span.days + 1)  # one that began earlier may still run
    last = end.astimezone(tz).date()
    out: list[Interval] = []
    while day <= last:
        if rule.occurs_on(day):
            s = datetime.combine(day, rule.start_time, tz).astimezone(UTC)
            e = s + span
            if e > start and s < end:
                out.append((max(s, start), min(e, end)))
        day += timedelta(days=1)
    return out


def in_window(window: Window, now: datetime, tz: ZoneInfo) -> bool:
    """Whether the window holds at `now`."""
    now = _aware(now)
    if not _aware(window.starts_at) <= now < _aware(window.ends_at):
        return False
    if window.recurrence is None:
        return True
    return bool(occurrences(window.recurrence, now, now + timedelta(microseconds=1), tz))


def window_intervals(window: Window, start: datetime, end: datetime, tz: ZoneInfo) -> list[Interval]:
    """When the window holds within [start, end) (aware UTC)."""
    lo, hi = max(_aware(window.starts_at), _aware(start)), min(_aware(window.ends_at), _aware(end))
    if lo >= hi:
        return []
    if window.recurrence is None:
        return [(lo, hi)]
    return occurrences(window.recurrence, lo, hi, tz)


def merge(intervals: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# What the reports ask of whoever keeps the windows (the alerts feature): for each camera key, when it was in
# maintenance during [start, end). Runs in the SQL thread. Cameras: (key, district, commune).
MaintenanceLookup = Callable[
    [Session, Sequence[tuple[str, str, str]], datetime, datetime], dict[str, list[Interval]]
]


class MaintenanceWindows:
    def __init__(self, lookup: MaintenanceLookup) -> None:
        self.lookup = lookup


MAINTENANCE_WINDOWS = ServiceKey("maintenance-windows", MaintenanceWindows)
