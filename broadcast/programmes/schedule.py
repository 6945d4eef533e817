"""When a programme airs: the schedule model and its expansion into occurrences (PURE, no I/O, no clock).

Schedules are defined in local time (Asia/Ho_Chi_Minh): "17:00 every weekday" means 17:00 on the wall clock of
the commune, whatever UTC says. Occurrences come out as aware UTC datetimes, at whole seconds.

Kinds:
- `now`: one occurrence at the programme's anchor (the moment it was approved or aired as an emergency);
- `once`: one occurrence on `date` at each of `times`;
- `daily`: every day at each of `times`, optionally within `start_date`..`end_date` (inclusive);
- `weekly`: on the chosen ISO `weekdays` (1 = Monday … 7 = Sunday) at each of `times`, optionally in a range.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

KINDS = ("now", "once", "daily", "weekly")
MAX_TIMES = 6  # e.g. 05:00, 11:00, 17:00 — a commune rarely airs more often than that
MAX_RANGE_DAYS = 366 * 2
MIN_YEAR, MAX_YEAR = 1900, 2999
WEEKDAY_LABELS = {
    1: "Thứ Hai",
    2: "Thứ Ba",
    3: "Thứ Tư",
    4: "Thứ Năm",
    5: "Thứ Sáu",
    6: "Thứ Bảy",
    7: "Chủ nhật",
}
Day = date  # the dataclass below has a field named `date`
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A schedule that cannot be used; `field` names the input key, the message is Vietnamese."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Schedule:
    kind: str
    times: tuple[time, ...] = ()
    date: Day | None = None  # once
    weekdays: frozenset[int] = field(default_factory=frozenset)  # weekly, ISO numbers
    start_date: Day | None = None  # daily/weekly range (local dates, inclusive)
    end_date: Day | None = None

    @property
    def recurring(self) -> bool:
        return self.kind in ("daily", "weekly")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "times": [t.strftime("%H:%M") for t in self.times],
            "date": self.date.isoformat() if self.date else None,
            "weekdays": sorted(self.weekdays),
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
        }

    def shifted(self, delta: timedelta) -> Schedule:
        """The same schedule `delta` later in the day (the "play after" resolution of a conflict)."""
        if self.kind == "now":
            raise ScheduleError("schedule", "Lịch 'phát ngay' không dời được")
        out = []
        for t in self.times:
            minutes = t.hour * 60 + t.minute + _ceil_minutes(delta)
            if minutes >= 24 * 60:
                raise ScheduleError("times", "Dời giờ phát sẽ sang ngày hôm sau; hãy chọn giờ khác")
            out.append(time(minutes // 60, minutes % 60))
        return Schedule(
            self.kind, tuple(sorted(set(out))), self.date, self.weekdays, self.start_date, self.end_date
        )


def _ceil_minutes(delta: timedelta) -> int:
    s = int(delta.total_seconds())
    return -(-s // 60)


def _parse_time(value: Any) -> time:
    if not isinstance(value, str) or not (m := _TIME_RE.match(value.strip())):
        raise ScheduleError("times", f"Giờ phát {str(value)[:20]!r} không hợp lệ (dạng HH:MM, ví dụ 17:00)")
    return time(int(m.group(1)), int(m.group(2)))


def _parse_date(value: Any, name: str, label: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ScheduleError(name, f"{label} phải là ngày dạng YYYY-MM-DD")
    try:
        d = date.fromisoformat(value.strip())
    except ValueError:
        raise ScheduleError(name, f"{label} {value[:20]!r} không hợp lệ (dạng YYYY-MM-DD)") from None
    if (
        not MIN_YEAR <= d.year <= MAX_YEAR
    ):  # occurrences are computed a day either side, in UTC and local time
        raise ScheduleError(name, f"{label} phải trong các năm {MIN_YEAR}–{MAX_YEAR}")
    return d


def parse_schedule(data: Any) -> Schedule:
    """Validates a schedule given as JSON (API/form). Raises ScheduleError naming the first problem."""
    if not isinstance(data, Mapping):
        raise ScheduleError("schedule", "Thiếu lịch phát")
    unknown = set(data) - {"kind", "times", "date", "weekdays", "start_date", "end_date"}
    if unknown:
        raise ScheduleError(
            "schedule", f"Lịch phát có mục không hỗ trợ: {', '.join(sorted(map(str, unknown)))}"
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise ScheduleError(
            "kind", "Kiểu lịch phải là: phát ngay, một lần, hằng ngày hoặc theo thứ trong tuần"
        )
    if kind == "now":
        return Schedule("now")
    raw_times = data.get("times")
    if isinstance(raw_times, str):
        raw_times = [raw_times]
    if not isinstance(raw_times, list) or not raw_times:
        raise ScheduleError("times", "Cần ít nhất một giờ phát")
    if len(raw_times) > MAX_TIMES:
        raise ScheduleError("times", f"Tối đa {MAX_TIMES} giờ phát mỗi ngày")
    times = tuple(sorted({_parse_time(t) for t in raw_times}))
    if kind == "once":
        d = _parse_date(data.get("date"), "date", "Ngày phát")
        if d is None:
            raise ScheduleError("date", "Cần ngày phát cho lịch phát một lần")
        return Schedule("once", times, date=d)
    start = _parse_date(data.get("start_date"), "start_date", "Ngày bắt đầu")
    end = _parse_date(data.get("end_date"), "end_date", "Ngày kết thúc")
    if start and end:
        if end < start:
            raise ScheduleError("end_date", "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu")
        if (end - start).days > MAX_RANGE_DAYS:
            raise ScheduleError("end_date", "Khoảng ngày phát dài quá 2 năm")
    weekdays: frozenset[int] = frozenset()
    if kind == "weekly":
        raw = data.get("weekdays")
        if not isinstance(raw, list) or not raw:
            raise ScheduleError("weekdays", "Chọn ít nhất một thứ trong tuần")
        try:
            weekdays = frozenset(int(x) for x in raw)
        except (TypeError, ValueError):
            raise ScheduleError(
                "weekdays", "Thứ trong tuần phải là số từ 1 (Thứ Hai) đến 7 (Chủ nhật)"
            ) from None
        if not weekdays <= set(WEEKDAY_LABELS):
            raise ScheduleError("weekdays", "Thứ trong tuần phải là số từ 1 (Thứ Hai) đến 7 (Chủ nhật)")
    return Schedule(kind, times, weekdays=weekdays, start_date=start, end_date=end)


def schedule_from_json(data: Mapping[str, Any]) -> Schedule:
    """From the stored JSON (already validated when saved)."""
    return parse_schedule(dict(data))


def _local_dates(start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[date]:
    d = start.astimezone(tz).date() - timedelta(days=1)  # a time late in the day may still fall in the window
    last = end.astimezone(tz).date()
    while d <= last:
        yield d
        d += timedelta(days=1)


def _day_matches(s: Schedule, d: date) -> bool:
    if s.kind == "once":
        return d == s.date
    if s.start_date and d < s.start_date:
        return False
    if s.end_date and d > s.end_date:
        return False
    return s.kind == "daily" or d.isoweekday() in s.weekdays


def occurrences(
    s: Schedule, tz: ZoneInfo, start: datetime, end: datetime, anchor: datetime | None = None
) -> list[datetime]:
    """Occurrences in [start, end) as aware UTC datetimes, ascending. `start`/`end` are aware.

    `anchor` is the moment a `now` programme was approved or aired; without it a `now` schedule has none.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if s.kind == "now":
        if anchor is None:
            return []
        a = anchor if anchor.tzinfo else anchor.replace(tzinfo=UTC)
        return [a.astimezone(UTC)] if start <= a < end else []
    out: list[datetime] = []
    for d in _local_dates(start, end, tz):
        if not _day_matches(s, d):
            continue
        for t in s.times:
            at = datetime.combine(d, t, tzinfo=tz).astimezone(UTC)
            if start <= at < end:
                out.append(at)
    return sorted(out)


def last_possible(s: Schedule, tz: ZoneInfo) -> datetime | None:
    """The latest occurrence a schedule can ever have (None: open-ended, or `now`)."""
    last_day = s.date if s.kind == "once" else s.end_date
    if last_day is None or not s.times:
        return None
    return datetime.combine(last_day, max(s.times), tzinfo=tz).astimezone(UTC)


def describe(s: Schedule) -> str:
    """One line in Vietnamese, e.g. "Thứ Hai, Thứ Tư lúc 05:00, 17:00 (từ 01/12/2026 đến 31/12/2026)"."""
    times = ", ".join(t.strftime("%H:%M") for t in s.times)
    if s.kind == "now":
        return "Phát ngay"
    if s.kind == "once":
        assert s.date is not None
        return f"Một lần, {s.date.strftime('%d/%m/%Y')} lúc {times}"
    head = "Hằng ngày" if s.kind == "daily" else ", ".join(WEEKDAY_LABELS[w] for w in sorted(s.weekdays))
    text = f"{head} lúc {times}"
    if s.start_date and s.end_date:
        text += f" (từ {s.start_date.strftime('%d/%m/%Y')} đến {s.end_date.strftime('%d/%m/%Y')})"
    elif s.start_date:
        text += f" (từ {s.start_date.strftime('%d/%m/%Y')})"
    elif s.end_date:
        text += f" (đến {s.end_date.strftime('%d/%m/%Y')})"
    return text
