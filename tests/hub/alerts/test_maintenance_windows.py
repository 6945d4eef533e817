"""Recurring maintenance windows: the API (validated, scoped, audited), the engine holding alerts only inside an
occurrence, and the uptime reports counting that time as maintenance. Fixed times; T0 is Monday 2 Nov 2026,
14:00 in Hà Nội."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.alerts.maintenance_lookup import maintenance_intervals
from hub.alerts.models import Silence
from hub.alerts.rules import AlertState
from hub.alerts.silences import SilenceRule, silenced_by
from hub.core import reports
from hub.core.audit import AuditEntry
from hub.core.facts import FactKind, Severity
from hub.core.maintenance_rules import MAINTENANCE_WINDOWS, MaintenanceWindows, Recurrence
from tests.fixtures_web import T0, WebEnv
from tests.hub.alerts.test_alerts_api import as_user, post

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY_1300 = {"every": "weekly", "weekdays": [1], "start": "13:00", "duration_min": 120}


def at(*a: int) -> float:
    return datetime(*a, tzinfo=VN).timestamp()  # type: ignore[misc]


async def test_a_weekly_window_through_the_api(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    csrf = await as_user(env, "congan", "police", district="soc-son")
    body = {"type": "maintenance", "commune": "phu-linh", "duration_min": 200 * 24 * 60,
            "reason": "Cắt điện định kỳ thứ Hai", "recurrence": MONDAY_1300}  # fmt: skip
    r = await post(env, "/api/v1/silences", body, csrf)
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["recurrence"]["weekdays"] == [1] and made["holding"] is True  # Monday 14:00 local
    env.set_clock(lambda: T0 + timedelta(hours=2))  # 16:00: valid, but outside the occurrence
    listed = (await (await env.client.get("/api/v1/silences")).json())["items"]
    assert [(x["state"], x["holding"]) for x in listed] == [("active", False)]
    env.set_clock(lambda: T0)
    for bad, field in (
        ({**body, "type": "silence"}, "recurrence"),  # only maintenance recurs
        ({**body, "recurrence": {**MONDAY_1300, "weekdays": []}}, "recurrence"),
        ({**body, "duration_min": 400 * 24 * 60}, "duration_min"),  # the schema caps it at 90 days
    ):
        got = await post(env, "/api/v1/silences", bad, csrf)
        assert got.status in (400, 422) and field in (await got.json())["error"].get("field", ""), (
            await got.text()
        )
    unknown = await post(env, "/api/v1/silences", {**body, "recurrence": {**MONDAY_1300, "colour": 1}}, csrf)
    assert unknown.status == 400
    long = {**body, "duration_min": None, "ends_at": (T0 + timedelta(days=400)).isoformat() + "Z"}
    del long["duration_min"]
    assert (await post(env, "/api/v1/silences", long, csrf)).status == 422  # over 366 days
    with env.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "maintenance.create")).one()
        assert "recurrence" in str(entry.after)


def _alert() -> AlertState:
    t = at(2026, 11, 2, 14)
    return AlertState(id="a", key="k", kind=FactKind.CAMERA_OFFLINE, district="soc-son", commune="phu-linh",
                      device="soc-son/phu-linh/cong", status="firing", episode=1, since=t, last_true=t,
                      severity=Severity.WARNING)  # fmt: skip


def test_the_engine_holds_alerts_only_inside_an_occurrence() -> None:
    rule = SilenceRule(7, "maintenance", "soc-son", "phu-linh", None, None, at(2026, 11, 1), at(2027, 1, 1),
                       Recurrence.model_validate(MONDAY_1300), VN)  # fmt: skip
    a = _alert()
    assert silenced_by(a, [rule], at(2026, 11, 2, 13, 30)) == 7
    assert silenced_by(a, [rule], at(2026, 11, 2, 15, 0)) is None  # the occurrence ended at 15:00
    assert silenced_by(a, [rule], at(2026, 11, 3, 13, 30)) is None  # Tuesday
    assert silenced_by(a, [rule], at(2026, 11, 9, 14, 59)) == 7  # next Monday


async def test_reports_count_maintenance_apart(web: WebEnv) -> None:
    """Offline all Monday 2 Nov (local): the two hours of the weekly window are maintenance, not downtime."""
    env = web
    with env.db.session() as s, s.begin():
        s.add(Silence(type="maintenance", district="soc-son", commune=None, kind=None, device=None,
                      starts_at=datetime(2026, 10, 1), ends_at=datetime(2026, 12, 1), author="a", reason="định kỳ",
                      created_at=datetime(2026, 10, 1), recurrence=MONDAY_1300))  # fmt: skip
        s.add(Silence(type="silence", district="soc-son", commune=None, kind=None, device=None,
                      starts_at=datetime(2026, 10, 1), ends_at=datetime(2026, 12, 1), author="a", reason="tắt",
                      created_at=datetime(2026, 10, 1)))  # fmt: skip
    day_start, day_end = datetime(2026, 11, 1, 17), datetime(2026, 11, 2, 17)  # naive UTC of the local day
    cams = [("soc-son/phu-linh/cong", "soc-son", "phu-linh"), ("dong-anh/uy-no/x", "dong-anh", "uy-no")]
    with env.db.session() as s:
        held = maintenance_intervals(s, cams, day_start, day_end, VN)
    assert held == {
        "soc-son/phu-linh/cong": [
            (datetime(2026, 11, 2, 6, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC))
        ]
    }
    period = reports.Period(day_start, day_end, "day", "02/11/2026")
    down = [
        reports.StatusChange(
            "soc-son/phu-linh/cong", "soc-son", "phu-linh", day_start - timedelta(hours=1), "offline"
        )
    ]
    spans = {k: [(a.replace(tzinfo=None), b.replace(tzinfo=None)) for a, b in v] for k, v in held.items()}
    d = reports.uptime([reports.CameraInfo(*cams[0])], down, period, spans).cameras[0].durations
    assert (d.maintenance, d.offline, d.availability) == (7200, 22 * 3600, 0.0)


async def test_the_camera_page_lists_the_windows_ahead(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    env.ctx.services.provide(
        MAINTENANCE_WINDOWS, MaintenanceWindows(lambda s, c, a, b: maintenance_intervals(s, c, a, b, VN))
    )
    env.add_camera("soc-son", "phu-linh", "cong", "ok", name="Cổng")
    await as_user(env, "congan", "police", district="soc-son")
    with env.db.session() as s, s.begin():
        s.add(Silence(type="maintenance", district="soc-son", commune="phu-linh", kind=None, device=None,
                      starts_at=T0, ends_at=T0 + timedelta(days=30), author="a", reason="định kỳ",
                      created_at=T0, recurrence=MONDAY_1300))  # fmt: skip
    html = await (await env.client.get("/cameras/soc-son/phu-linh/cong")).text()
    # from T0 (14:00, inside Monday's occurrence) to its end, then the next Monday's
    assert (
        "14:00:00 02/11/2026 – 15:00:00 02/11/2026" in html
        and "13:00:00 09/11/2026 – 15:00:00 09/11/2026" in html
    )
