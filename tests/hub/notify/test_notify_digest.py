"""The daily digest: who gets it, what it says, when it is due, and that a day is sent once per receiver."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from broadcast.airings.models import Airing
from hub.core.db import Database, Transition
from hub.notify.config import GroupDirectory
from hub.notify.digest import digest_targets, due_today, next_digest_at
from tests.fixtures_hub import wait_for
from tests.notify_support import NotifierFactory, add_camera, db, make_notifier, notify_config, rows

__all__ = ["db", "make_notifier"]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC).timestamp()  # 07:30 in Hà Nội
GROUPS = GroupDirectory(
    police={"yen_dinh": "gp"}, officers={"yen_dinh/dinh_long": "go"}, oncall={"*": ["c1"]}
)


def u(text: str) -> datetime:
    return datetime.fromisoformat(text)  # naive UTC, as stored


def seed(d: Database) -> None:
    add_camera(
        d, "yen_dinh/dinh_long/cam1", "Cổng UBND xã", status="offline", status_since=u("2026-11-20 12:00")
    )
    add_camera(d, "yen_dinh/dinh_long/cam2", "Chợ Định Long", status="ok", status_since=u("2026-11-22 02:00"))
    with d.session() as s, s.begin():
        for key, at, to in (
            ("cam1", "2026-11-20 12:00", "offline"),
            ("cam2", "2026-11-20 00:00", "ok"),
            ("cam2", "2026-11-22 01:00", "offline"),
            ("cam2", "2026-11-22 02:00", "ok"),
        ):
            s.add(
                Transition(
                    subject_kind="camera",
                    subject_key=f"yen_dinh/dinh_long/{key}",
                    district="yen_dinh",
                    commune="dinh_long",
                    at=u(at),
                    to_status=to,
                    problems=[],
                )
            )
        for i, (at, status, played, reason) in enumerate(
            (
                ("2026-11-22 00:00", "aired", 5, None),
                ("2026-11-22 04:00", "partial", 3, None),
                ("2026-11-22 10:00", "missed", 0, "hub ngừng quá thời gian cho phép"),
                ("2026-11-23 00:00", "aired", 5, None),  # today: not in yesterday's digest
            )
        ):
            s.add(
                Airing(
                    id=f"a{i}",
                    programme_id=i,
                    occurrence_at=u(at),
                    start_at=u(at),
                    district="yen_dinh",
                    commune="dinh_long",
                    title=f"Bản tin số {i}",
                    priority="normal",
                    status=status,
                    targeted=5,
                    played=played,
                    reason=reason,
                )
            )


def test_digest_times() -> None:
    assert (
        datetime.fromtimestamp(next_digest_at(NOW, "07:00", TZ), TZ).isoformat()
        == "2026-11-24T07:00:00+07:00"
    )
    assert (
        datetime.fromtimestamp(next_digest_at(NOW - 3600, "07:00", TZ), TZ).isoformat()
        == "2026-11-23T07:00:00+07:00"
    )
    assert due_today(NOW, "07:00", TZ) == date(2026, 11, 22)
    assert due_today(NOW - 3600, "07:00", TZ) is None  # 06:30: not yet
    assert due_today(NOW + 13 * 3600, "07:00", TZ) is None  # 20:30: too late to catch up


def test_each_group_gets_its_area() -> None:
    targets = digest_targets(notify_config(None, groups=GROUPS))
    got = {(t.target.target, t.districts, t.communes, t.cameras, t.broadcasts) for t in targets}
    # The on-call routes have digest: false by default.
    assert got == {
        ("gp", ("yen_dinh",), (), True, False),
        ("go", ("yen_dinh",), ("yen_dinh/dinh_long",), False, True),
    }


async def test_digest_content_and_once_per_day(db: Database, make_notifier: NotifierFactory) -> None:
    seed(db)
    n = await make_notifier(notify_config(None, groups=GROUPS), start=False, clock=lambda: NOW)
    assert await n.send_digest(date(2026, 11, 22)) == 2
    assert await n.send_digest(date(2026, 11, 22)) == 0
    police, officers = rows(db)
    assert (
        police.target == "gp"
        and police.state == "dry_run"
        and police.event_id == "digest:2026-11-22:yen_dinh"
    )
    text = police.text
    assert text.startswith("📋 Báo cáo ngày 22/11/2026 — Huyện Yên Định")
    assert "Camera mất kết nối quá 1 ngày (1):" in text
    assert "• Cổng UBND xã (Xã Định Long) — 2 ngày 12 giờ, từ 19:00 20/11" in text
    assert "• Xã Định Long: 47,92 % (2 camera, 2 lần mất kết nối)" in text
    assert "Phát thanh" not in text
    assert text.endswith("/reports?period=day&date=2026-11-22")

    assert officers.target == "go" and officers.commune == "dinh_long"
    text = officers.text
    assert text.startswith("📋 Báo cáo ngày 22/11/2026 — Xã Định Long, Huyện Yên Định")
    assert "Phát thanh hôm qua: 3 buổi — 1 phát đủ, 2 có vấn đề." in text
    assert "• 11:00 Bản tin số 1 — phát thiếu loa (3/5 loa)" in text
    assert "• 17:00 Bản tin số 2 — bị lỡ: hub ngừng quá thời gian cho phép" in text
    assert "Camera" not in text


async def test_a_hub_started_after_the_digest_time_sends_that_days_digest(
    db: Database, make_notifier: NotifierFactory
) -> None:
    seed(db)
    await make_notifier(notify_config(None, groups=GROUPS, digest={"at": "07:00"}), clock=lambda: NOW)
    await wait_for(lambda: len(rows(db)) == 2, what="digest rows")
    assert {r.event_id for r in rows(db)} == {
        "digest:2026-11-22:yen_dinh",
        "digest:2026-11-22:yen_dinh/dinh_long",
    }


async def test_the_digest_leaves_maintenance_out_of_availability(
    db: Database, make_notifier: NotifierFactory
) -> None:
    """cam2's hour offline on 22/11 (08:00–09:00 local) fell in a maintenance window from the power-cut list."""
    from hub.alerts.maintenance_lookup import maintenance_intervals
    from hub.alerts.models import Silence
    from hub.core.maintenance_rules import MaintenanceWindows

    seed(db)
    with db.session() as s, s.begin():
        s.add(Silence(type="maintenance", district="yen_dinh", commune="dinh_long", kind=None,
                      device="yen_dinh/dinh_long/cam2", starts_at=u("2026-11-01 00:00"), ends_at=u("2026-12-01 00:00"),
                      author="a", reason="lịch cắt điện", created_at=u("2026-11-01 00:00"),
                      recurrence={"every": "dates", "dates": ["2026-11-22"], "start": "08:00", "duration_min": 60}))  # fmt: skip
    n = await make_notifier(notify_config(None, groups=GROUPS), start=False, clock=lambda: NOW)
    n.daily.maintenance = lambda: MaintenanceWindows(lambda s, c, a, b: maintenance_intervals(s, c, a, b, TZ))
    assert await n.send_digest(date(2026, 11, 22)) == 2
    police = rows(db)[0]
    assert "• Xã Định Long: 48,94 % (2 camera, 2 lần mất kết nối)" in police.text  # 23 h of 47 instead of 48
