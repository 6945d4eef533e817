"""Pure schedule expansion, conflicts and misfire decisions, all with fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broadcast.orders import Priority
from broadcast.programmes.overlap import find_conflicts, play_after_delta, programme_length_s, slots_for
from broadcast.programmes.schedule import ScheduleError, describe, occurrences, parse_schedule
from broadcast.scheduling.misfire import Action, MisfirePolicy, decide

HN = ZoneInfo("Asia/Ho_Chi_Minh")  # UTC+7, no daylight saving
NY = ZoneInfo("America/New_York")  # with daylight saving, to show wall-clock times are kept


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def local(tz: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(UTC)


def test_daily_in_local_time() -> None:
    s = parse_schedule({"kind": "daily", "times": ["17:00", "05:00"]})
    got = occurrences(s, HN, utc(2026, 11, 23, 0), utc(2026, 11, 25, 0))
    # 05:00 local on the 23rd is 22:00 UTC on the 22nd: before the window
    assert got == [
        local(HN, 2026, 11, 23, 17),
        local(HN, 2026, 11, 24, 5),
        local(HN, 2026, 11, 24, 17),
        local(HN, 2026, 11, 25, 5),  # 22:00 UTC on the 24th: inside
    ]
    assert got[0] == utc(2026, 11, 23, 10)


def test_window_is_half_open_and_needs_aware_times() -> None:
    s = parse_schedule({"kind": "daily", "times": ["17:00"]})
    at = utc(2026, 11, 23, 10)
    assert occurrences(s, HN, at, at + timedelta(seconds=1)) == [at]
    assert occurrences(s, HN, at - timedelta(hours=1), at) == []
    with pytest.raises(ValueError):
        occurrences(s, HN, datetime(2026, 11, 23), datetime(2026, 11, 24))


def test_weekdays_monday_to_saturday() -> None:
    s = parse_schedule({"kind": "weekly", "times": ["05:00"], "weekdays": [1, 2, 3, 4, 5, 6]})
    got = occurrences(s, HN, local(HN, 2026, 11, 23), local(HN, 2026, 11, 30, 23))  # Mon 23 .. Mon 30
    days = [t.astimezone(HN).day for t in got]
    assert days == [23, 24, 25, 26, 27, 28, 30]  # no Sunday 29
    assert describe(s).startswith("Thứ Hai, Thứ Ba, Thứ Tư, Thứ Năm, Thứ Sáu, Thứ Bảy lúc 05:00")


def test_date_range_inclusive_across_month_and_year_ends() -> None:
    s = parse_schedule(
        {"kind": "daily", "times": ["06:30"], "start_date": "2026-12-30", "end_date": "2027-01-02"}
    )
    got = occurrences(s, HN, utc(2026, 12, 1), utc(2027, 2, 1))
    assert [t.astimezone(HN).strftime("%d/%m/%Y %H:%M") for t in got] == [
        "30/12/2026 06:30",
        "31/12/2026 06:30",
        "01/01/2027 06:30",
        "02/01/2027 06:30",
    ]
    feb = parse_schedule(
        {"kind": "daily", "times": ["23:59"], "start_date": "2028-02-28", "end_date": "2028-03-01"}
    )
    assert [t.astimezone(HN).day for t in occurrences(feb, HN, utc(2028, 2, 1), utc(2028, 3, 5))] == [
        28,
        29,
        1,
    ]


def test_once_and_now() -> None:
    s = parse_schedule({"kind": "once", "date": "2026-11-30", "times": ["17:00"]})
    assert occurrences(s, HN, utc(2026, 11, 1), utc(2026, 12, 31)) == [local(HN, 2026, 11, 30, 17)]
    now = parse_schedule({"kind": "now"})
    anchor = utc(2026, 11, 23, 3, 4, 5)
    assert occurrences(now, HN, utc(2026, 11, 23), utc(2026, 11, 24)) == []
    assert occurrences(now, HN, utc(2026, 11, 23), utc(2026, 11, 24), anchor) == [anchor]


def test_wall_clock_kept_across_daylight_saving() -> None:
    s = parse_schedule({"kind": "daily", "times": ["09:00"]})
    got = occurrences(s, NY, utc(2026, 3, 7), utc(2026, 3, 10))  # DST starts 8 March 2026
    assert [t.hour for t in got] == [14, 13, 13]  # 09:00 EST = 14:00 UTC, 09:00 EDT = 13:00 UTC


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (None, "schedule"),
        ({"kind": "hourly"}, "kind"),
        ({"kind": "daily"}, "times"),
        ({"kind": "daily", "times": ["7pm"]}, "times"),
        (
            {"kind": "daily", "times": ["1:00"] * 1 + ["2:00", "3:00", "4:00", "5:00", "6:00", "7:00"]},
            "times",
        ),
        ({"kind": "once", "times": ["17:00"]}, "date"),
        ({"kind": "once", "times": ["17:00"], "date": "30/11/2026"}, "date"),
        ({"kind": "weekly", "times": ["17:00"], "weekdays": [0]}, "weekdays"),
        (
            {"kind": "daily", "times": ["17:00"], "start_date": "2026-12-02", "end_date": "2026-12-01"},
            "end_date",
        ),
        ({"kind": "daily", "times": ["17:00"], "every": 2}, "schedule"),
    ],
)
def test_bad_schedules_name_the_field(data: object, field: str) -> None:
    with pytest.raises(ScheduleError) as exc:
        parse_schedule(data)
    assert exc.value.field == field
    assert exc.value.message  # Vietnamese text for people


def test_shift_for_play_after() -> None:
    s = parse_schedule({"kind": "daily", "times": ["17:00"]})
    assert s.shifted(timedelta(seconds=61)).to_json()["times"] == ["17:02"]
    late = parse_schedule({"kind": "daily", "times": ["23:58"]})
    with pytest.raises(ScheduleError):
        late.shifted(timedelta(minutes=5))


def test_conflicts_need_time_overlap_and_a_shared_speaker() -> None:
    t = utc(2026, 11, 23, 10)
    length = programme_length_s([60, 30], repeats=3, gap_s=10)
    assert length == 290
    mine = slots_for(None, "Mới", Priority.PRIORITY, "draft", [t], 60, frozenset({"a", "b"}), False)
    others = [
        *slots_for(
            1,
            "Trùng",
            Priority.NORMAL,
            "approved",
            [t - timedelta(seconds=30)],
            length,
            frozenset({"b"}),
            False,
        ),
        *slots_for(2, "Loa khác", Priority.NORMAL, "approved", [t], length, frozenset({"c"}), False),
        *slots_for(
            3,
            "Đã xong",
            Priority.NORMAL,
            "approved",
            [t - timedelta(seconds=290)],
            length,
            frozenset({"a"}),
            False,
        ),
        *slots_for(
            4,
            "Khẩn",
            Priority.EMERGENCY,
            "pending_approval",
            [t + timedelta(seconds=59)],
            5,
            frozenset({"a"}),
            False,
        ),
    ]
    got = find_conflicts(mine, others)
    assert [(c.other_id, c.speakers, c.suggestion) for c in got] == [
        (1, ("b",), "replace"),
        (4, ("a",), "after"),
    ]
    assert play_after_delta(got) == timedelta(seconds=260)  # the later end: programme 1 at t+260 s


def test_whole_commune_targets_conflict_without_speakers() -> None:
    t = utc(2026, 11, 23, 10)
    a = slots_for(None, "A", Priority.NORMAL, "draft", [t], 60, frozenset(), True)
    b = slots_for(1, "B", Priority.NORMAL, "approved", [t], 60, frozenset(), True)
    c = slots_for(2, "C", Priority.NORMAL, "approved", [t], 60, frozenset(), False)
    assert [x.speakers for x in find_conflicts(a, b + c)] == [("",)]


POLICY = MisfirePolicy(prepare_lead_s=120, misfire_grace_s=300, late_start_lead_s=15, min_start_lead_s=2)
T = 1_795_428_000.0  # 17:00 on 23 Nov 2026 in Hà Nội


@pytest.mark.parametrize(
    ("priority", "now", "action", "start"),
    [
        (Priority.NORMAL, T - 600, Action.PREPARE_AT, T),  # ahead: a job at T - 120
        (Priority.NORMAL, T - 120, Action.DISPATCH_NOW, T),  # the job fires on time
        (Priority.NORMAL, T - 1, Action.DISPATCH_NOW, T + 1),  # never start sooner than 2 s after dispatch
        (Priority.NORMAL, T + 60, Action.DISPATCH_NOW, T + 75),  # late within grace: airs now
        (Priority.PRIORITY, T + 300, Action.DISPATCH_NOW, T + 315),  # grace is inclusive
        (Priority.PRIORITY, T + 301, Action.MISSED, T),  # past grace: reported missed
        (Priority.NORMAL, T + 86_400, Action.MISSED, T),
        (Priority.EMERGENCY, T + 86_400, Action.DISPATCH_NOW, T + 86_402),  # emergency always airs
    ],
)
def test_misfire_decisions(priority: Priority, now: float, action: Action, start: float) -> None:
    d = decide(T, priority, now, POLICY)
    assert d.action == action
    assert d.start_at == start
    if action == Action.PREPARE_AT:
        assert d.fire_at == T - 120
    assert d.late_s == max(0.0, now - T)
