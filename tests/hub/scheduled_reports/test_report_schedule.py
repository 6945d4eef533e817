"""When reports fall due: pure functions of `now` in Asia/Ho_Chi_Minh, with fixed times."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from hub.scheduled_reports.schedule import due_periods, next_due_at

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AT = time(7, 0)


def at(s: str) -> float:
    return datetime.fromisoformat(s).replace(tzinfo=TZ).timestamp()


def labels(now: str, kinds: tuple[str, ...] = ("weekly", "monthly")) -> list[str]:
    return [p.label for p in due_periods(at(now), TZ, AT, kinds)]


def test_the_week_is_due_on_monday_at_seven_local_not_a_minute_before() -> None:
    # Monday 7 Dec 2026: at 06:59 the last report due is still the week before last
    assert labels("2026-12-07T06:59", ("weekly",)) == ["Tuần 23/11–29/11/2026"]
    assert labels("2026-12-07T07:00", ("weekly",)) == ["Tuần 30/11–06/12/2026"]
    assert labels("2026-12-13T23:59", ("weekly",)) == ["Tuần 30/11–06/12/2026"]


def test_the_week_covers_local_monday_to_sunday_in_utc() -> None:
    (p,) = due_periods(at("2026-12-07T08:00"), TZ, AT, ("weekly",))
    assert (p.start, p.end) == (datetime(2026, 11, 29, 17, 0), datetime(2026, 12, 6, 17, 0))


def test_the_month_is_due_on_the_first_at_seven_and_crosses_the_year() -> None:
    assert labels("2026-12-01T06:00", ("monthly",)) == ["Tháng 10/2026"]
    assert labels("2026-12-01T07:00", ("monthly",)) == ["Tháng 11/2026"]
    assert labels("2027-01-01T07:30", ("monthly",)) == ["Tháng 12/2026"]
    (p,) = due_periods(at("2027-01-01T07:30"), TZ, AT, ("monthly",))
    assert (p.start, p.end) == (datetime(2026, 11, 30, 17, 0), datetime(2026, 12, 31, 17, 0))


def test_a_monday_that_is_also_the_first_makes_both() -> None:
    # 1 March 2027 is a Monday
    assert labels("2027-03-01T07:00") == ["Tuần 22/02–28/02/2027", "Tháng 02/2027"]


def test_next_due_is_the_nearest_of_the_kinds() -> None:
    nxt = next_due_at(at("2026-12-07T07:00"), TZ, AT, ("weekly", "monthly"))
    assert nxt == at("2026-12-14T07:00")
    assert next_due_at(at("2026-12-29T12:00"), TZ, AT, ("weekly", "monthly")) == at("2027-01-01T07:00")
    assert next_due_at(at("2026-12-01T06:59"), TZ, AT, ("monthly",)) == at("2026-12-01T07:00")
