"""Maintenance windows (hub/core/maintenance_rules.py): fixed times in Asia/Ho_Chi_Minh (UTC+7, no DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from hub.core.maintenance_rules import Recurrence, Window, in_window, merge, occurrences, window_intervals

VN = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def vn(*a: int) -> datetime:
    return datetime(*a, tzinfo=VN).astimezone(UTC)  # type: ignore[misc]


def w(**rule: object) -> Window:
    return Window(YEAR.starts_at, YEAR.ends_at, Recurrence.model_validate(rule))


def test_weekly_on_sunday_mornings_local_time() -> None:
    win = w(every="weekly", weekdays=[7], start="06:00", duration_min=120)  # Sun 06:00–08:00 local
    assert in_window(win, vn(2026, 12, 6, 6, 0), VN)  # Sunday 6 Dec 2026, 06:00 local = Sat 23:00 UTC
    assert in_window(win, vn(2026, 12, 6, 7, 59), VN)
    assert not in_window(win, vn(2026, 12, 6, 8, 0), VN)  # the end is outside
    assert not in_window(win, vn(2026, 12, 6, 5, 59), VN)
    assert not in_window(win, vn(2026, 12, 7, 6, 30), VN)  # Monday
    assert not in_window(win, datetime(2026, 12, 6, 6, 30, tzinfo=UTC), VN)  # 06:30 UTC is 13:30 local


def test_an_occurrence_past_midnight_belongs_to_the_day_it_starts() -> None:
    win = w(every="weekly", weekdays=[6], start="22:00", duration_min=240)  # Sat 22:00 → Sun 02:00
    assert in_window(win, vn(2026, 12, 6, 1, 30), VN)  # Sunday 01:30 local
    assert not in_window(win, vn(2026, 12, 7, 1, 30), VN)  # Monday 01:30: Sunday is not chosen


def test_monthly_and_a_day_the_month_lacks() -> None:
    win = w(every="monthly", monthdays=[31], start="00:00", duration_min=60)
    assert in_window(win, vn(2026, 2, 28, 0, 30), VN)  # February has no 31st: its last day
    assert in_window(win, vn(2026, 3, 31, 0, 30), VN)
    assert not in_window(win, vn(2026, 3, 30, 0, 30), VN)


def test_a_list_of_dates_like_the_power_cut_schedule() -> None:
    cuts = w(
        every="dates", dates=["2026-12-09", "2026-12-16"], start="07:30", duration_min=570
    )  # 07:30–17:00
    assert in_window(cuts, vn(2026, 12, 9, 12, 0), VN)
    assert not in_window(cuts, vn(2026, 12, 10, 12, 0), VN)
    assert window_intervals(cuts, vn(2026, 12, 1), vn(2027, 1, 1), VN) == [
        (vn(2026, 12, 9, 7, 30), vn(2026, 12, 9, 17, 0)),
        (vn(2026, 12, 16, 7, 30), vn(2026, 12, 16, 17, 0)),
    ]


def test_a_one_off_window_and_the_validity_bounds() -> None:
    once = Window(vn(2026, 12, 9, 8), vn(2026, 12, 9, 11))
    assert in_window(once, vn(2026, 12, 9, 10, 59), VN) and not in_window(once, vn(2026, 12, 9, 11), VN)
    ended = Window(
        vn(2026, 12, 1),
        vn(2026, 12, 7),
        w(every="weekly", weekdays=[7], start="06:00", duration_min=120).recurrence,
    )
    assert in_window(ended, vn(2026, 12, 6, 6, 30), VN)
    assert not in_window(ended, vn(2026, 12, 13, 6, 30), VN)  # after the window was ended
    # clipped to the asked range and to the validity
    assert window_intervals(ended, vn(2026, 12, 6, 7), vn(2026, 12, 31), VN) == [
        (vn(2026, 12, 6, 7), vn(2026, 12, 6, 8))
    ]


def test_occurrences_merge_and_refusals() -> None:
    rule = Recurrence(every="weekly", weekdays=[1, 2], start="23:00", duration_min=1500)  # 25 h: they overlap
    got = occurrences(rule, vn(2026, 12, 7), vn(2026, 12, 10), VN)
    assert merge(got) == [
        (vn(2026, 12, 7, 23), vn(2026, 12, 10))
    ]  # Mon 23:00 → Wed 00:00, Tue 23:00 → Thu 00:00
    with pytest.raises(ValidationError, match="weekdays"):
        Recurrence(every="weekly", start="06:00", duration_min=60)
    with pytest.raises(ValidationError, match="1 \\(Monday\\)"):
        Recurrence(every="weekly", weekdays=[0], start="06:00", duration_min=60)
    with pytest.raises(ValidationError, match="colour"):
        Recurrence.model_validate(
            {"every": "dates", "dates": ["2026-12-09"], "start": "06:00", "duration_min": 5, "colour": 1}
        )
    assert not Recurrence(every="dates", dates=[date(2026, 12, 9)], start="06:00", duration_min=5).occurs_on(
        date(2026, 12, 8)
    )
