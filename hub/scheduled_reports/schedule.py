"""When reports are due: pure functions of `now` (epoch seconds) in the hub's time zone (Asia/Ho_Chi_Minh).

A weekly report covers the local week Monday–Sunday and is due on the following Monday at `at`; a monthly one
covers the local month and is due on the 1st of the next at `at`. `due_periods` names the latest finished
period of each kind whose time has come: the service makes any of those it has not made yet, so a hub that
was down at 07:00 on Monday makes the week's report when it comes back, and never makes it twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.core import reports

PERIOD_OF = {"weekly": "week", "monthly": "month"}


def _first_of(kind: str, day: date) -> date:
    if kind == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _previous_first(kind: str, first: date) -> date:
    if kind == "weekly":
        return first - timedelta(days=7)
    return (first - timedelta(days=1)).replace(day=1)


def due_periods(now: float, tz: ZoneInfo, at: time, kinds: Sequence[str]) -> list[reports.Period]:
    """The latest finished week/month (per kind asked) whose report time is not after `now`."""
    local = datetime.fromtimestamp(now, tz)
    now_dt = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
    out = []
    for kind in kinds:
        first = _first_of(kind, local.date())
        if local < datetime.combine(first, at, tz):
            first = _previous_first(kind, first)  # this period's report is not due yet: the one before
        covered = _previous_first(kind, first)
        out.append(reports.calendar_period(PERIOD_OF[kind], covered, now_dt, tz))
    return out


def next_due_at(now: float, tz: ZoneInfo, at: time, kinds: Sequence[str]) -> float | None:
    """The next time (epoch s) a report falls due after `now` (shown on the reports page)."""
    local = datetime.fromtimestamp(now, tz)
    best: float | None = None
    for kind in kinds:
        first = _first_of(kind, local.date())
        send = datetime.combine(first, at, tz)
        if send <= local:
            nxt = (
                first + timedelta(days=7) if kind == "weekly" else (first + timedelta(days=32)).replace(day=1)
            )
            send = datetime.combine(nxt, at, tz)
        ts = send.timestamp()
        best = ts if best is None else min(best, ts)
    return best
