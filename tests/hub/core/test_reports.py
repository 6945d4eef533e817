"""Availability maths against a hand-computed transition log (hub.reports is pure: log, period, now in)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.core import reports
from hub.core.reports import CameraInfo, StatusChange

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 5)  # local day = 2026-11-04 17:00 → 2026-11-05 17:00 UTC
AFTER = datetime(2026, 11, 6, 3, 0)  # "now" once the day is over


def utc(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, d, h, m)


def sample_log(
    d1: str = "d1", c1: str = "c1", c2: str = "c2", d2: str = "d2", c3: str = "c3"
) -> tuple[list[CameraInfo], list[StatusChange]]:
    """a, b in d1/c1; c in d1/c2 (added mid-day); e in d2/c3 (always ok); f in d2/c3 (never reported)."""
    a, b, c, e, f = f"{d1}/{c1}/a", f"{d1}/{c1}/b", f"{d1}/{c2}/c", f"{d2}/{c3}/e", f"{d2}/{c3}/f"

    def ch(
        key: str, at: datetime, st: str, problems: tuple[str, ...] = (), reason: str | None = None
    ) -> StatusChange:
        d, co, _ = key.split("/")
        return StatusChange(key, d, co, at, st, problems, reason)

    log = [
        ch(a, utc(4, 10), "ok"),
        ch(a, utc(5, 1), "offline", ("unreachable",), "connection refused"),
        ch(a, utc(5, 3), "ok"),
        ch(a, utc(5, 5), "problem", ("frozen",)),
        ch(a, utc(5, 6), "ok"),
        ch(b, utc(4, 8), "ok"),
        ch(b, utc(4, 16), "offline", ("unreachable",), "timeout"),  # 23:00 local on the 4th
        ch(b, utc(4, 19), "ok"),  # 02:00 local on the 5th
        ch(b, utc(5, 2), "offline", ("unreachable",), "timeout"),  # overlaps a's outage
        ch(b, utc(5, 2, 30), "offline", ("no_frames",), "stream opened, no frames"),
        ch(b, utc(5, 4), "ok"),
        ch(b, utc(5, 10), "stale"),
        ch(b, utc(5, 12), "ok"),
        ch(c, utc(5, 11), "ok"),
        ch(c, utc(5, 14), "offline", ("auth_failed",), "401"),
        ch(e, utc(3, 0), "ok"),
    ]
    cams = [CameraInfo(k, k.split("/")[0], k.split("/")[1], k[-1].upper()) for k in (a, b, c, e, f)]
    return cams, log


H = 3600.0


def test_day_uptime_per_camera_commune_district() -> None:
    cams, log = sample_log()
    period = reports.calendar_period("day", DAY, AFTER, TZ)
    assert (period.start, period.end) == (utc(4, 17), utc(5, 17))
    rep = reports.uptime(cams, log, period)
    by = {c.info.key: c.durations for c in rep.cameras}
    a, b, c, e, f = (by[k] for k in ("d1/c1/a", "d1/c1/b", "d1/c2/c", "d2/c3/e", "d2/c3/f"))
    assert (a.ok, a.problem, a.offline, a.no_data) == (21 * H, 1 * H, 2 * H, 0)
    assert a.availability == pytest.approx(22 / 24 * 100) and a.healthy == pytest.approx(87.5)
    # b: 2 h of the outage begun the evening before, 2 h overlapping a's, 2 h stale (not counted)
    assert (b.ok, b.problem, b.offline, b.no_data) == (18 * H, 0, 4 * H, 2 * H)
    assert b.availability == pytest.approx(18 / 22 * 100)
    # c: added at 11:00 UTC; the 18 h before are no data, not downtime; offline to the end of the day
    assert (c.ok, c.offline, c.no_data) == (3 * H, 3 * H, 18 * H) and c.availability == pytest.approx(50)
    assert e.availability == 100 and e.ok == 24 * H
    assert f.availability is None and f.no_data == 24 * H
    communes = {(x.district, x.commune): x for x in rep.communes}
    c1 = communes[("d1", "c1")].durations
    assert (c1.ok, c1.problem, c1.offline, c1.no_data) == (39 * H, 1 * H, 6 * H, 2 * H)
    assert c1.availability == pytest.approx(40 / 46 * 100) and c1.healthy == pytest.approx(39 / 46 * 100)
    assert communes[("d1", "c1")].outages == 3  # a once, b twice (the same-status change does not split)
    d1 = {x.district: x for x in rep.districts}["d1"]
    assert d1.cameras == 3 and d1.durations.availability == pytest.approx(43 / 52 * 100)
    assert rep.total.cameras == 5 and rep.total.durations.known == 76 * H
    assert [w.info.key for w in reports.worst(rep.cameras, 10)] == ["d1/c2/c", "d1/c1/b", "d1/c1/a"]
    assert [w.info.key for w in reports.worst(rep.cameras, 1)] == ["d1/c2/c"]


def test_outage_list_clips_merges_and_marks_ongoing() -> None:
    _, log = sample_log()
    period = reports.calendar_period("day", DAY, AFTER, TZ)
    got = [(o.camera, o.start, o.end, o.started_before, o.ongoing) for o in reports.outages(log, period)]
    assert got == [
        ("d1/c2/c", utc(5, 14), utc(5, 17), False, True),
        ("d1/c1/b", utc(5, 2), utc(5, 4), False, False),
        ("d1/c1/a", utc(5, 1), utc(5, 3), False, False),
        ("d1/c1/b", utc(4, 17), utc(4, 19), True, False),  # crossed local midnight: only the 5th's part
    ]
    merged = reports.outages(log, period)[1]
    assert merged.problems == ("unreachable", "no_frames") and merged.reason == "stream opened, no frames"
    assert merged.seconds == 2 * H
    problems = reports.outages(log, period, ("problem",))
    assert [(o.camera, o.start, o.end, o.problems) for o in problems] == [
        ("d1/c1/a", utc(5, 5), utc(5, 6), ("frozen",))
    ]


def test_ongoing_outage_ends_at_now() -> None:
    cams, log = sample_log()
    now = utc(5, 15)  # 22:00 local, the day is not over
    period = reports.calendar_period("day", DAY, now, TZ)
    assert period.end == now
    c = {x.info.key: x for x in reports.uptime(cams, log, period).cameras}["d1/c2/c"].durations
    assert (c.ok, c.offline) == (3 * H, 1 * H) and c.availability == pytest.approx(75)
    first = reports.outages(log, period)[0]
    assert (first.camera, first.end, first.ongoing, first.seconds) == ("d1/c2/c", now, True, H)


def test_day_before_the_change_log_sees_only_earlier_state() -> None:
    cams, log = sample_log()
    period = reports.calendar_period("day", date(2026, 11, 4), AFTER, TZ)  # 11-03 17:00 → 11-04 17:00 UTC
    b = {x.info.key: x for x in reports.uptime(cams, log, period).cameras}["d1/c1/b"].durations
    # no data until 08:00, ok to 16:00, offline to 17:00
    assert (b.no_data, b.ok, b.offline) == (15 * H, 8 * H, 1 * H)


def test_local_week_month_and_custom_bounds() -> None:
    week = reports.calendar_period("week", DAY, AFTER, TZ)  # Thursday → Monday 2 Nov local
    assert week.start == utc(1, 17) and week.end == AFTER and week.label == "Tuần 02/11–08/11/2026"
    month = reports.calendar_period("month", DAY, AFTER, TZ)
    assert month.start == datetime(2026, 10, 31, 17) and month.label == "Tháng 11/2026"
    dec = reports.calendar_period("month", date(2026, 12, 31), datetime(2027, 2, 1), TZ)
    assert (dec.start, dec.end) == (datetime(2026, 11, 30, 17), datetime(2026, 12, 31, 17))
    with pytest.raises(ValueError, match="chưa bắt đầu"):
        reports.calendar_period("day", date(2026, 11, 7), AFTER, TZ)
    custom = reports.custom_period(utc(5, 0), utc(9, 0), AFTER, TZ)
    assert custom.end == AFTER and custom.label == "07:00 05/11/2026 – 10:00 06/11/2026"
    with pytest.raises(ValueError, match="'to'"):
        reports.custom_period(utc(5, 0), utc(5, 0), AFTER, TZ)
    with pytest.raises(ValueError, match="400"):
        reports.custom_period(datetime(2025, 1, 1), AFTER, AFTER, TZ)


def test_a_removed_camera_still_counts_and_no_cameras_is_empty() -> None:
    _, log = sample_log()
    period = reports.calendar_period("day", DAY, AFTER, TZ)
    rep = reports.uptime([], log, period)
    assert [c.info.key for c in rep.cameras] == ["d1/c1/a", "d1/c1/b", "d1/c2/c", "d2/c3/e"]
    empty = reports.uptime([], [], period)
    assert empty.cameras == [] and empty.total.durations.availability is None
