"""Escalation of unacknowledged alerts (hub/notify/escalation.py) with fixed times over a real SQLite database,
with the alert engine's own acknowledgement query behind `ALERT_ACKS`; then once against the fake Zalo server."""

from __future__ import annotations

from sqlalchemy import select

from devtools.fakezalo import FakeZalo
from hub.alerts.models import AlertAck
from hub.alerts.queries import open_unacknowledged
from hub.alerts.rules import AlertState, alert_id, alert_key
from hub.alerts.store import write_alert
from hub.core.audit import AuditEntry
from hub.core.db import Database, to_db_time
from hub.core.escalation import AlertAcks
from hub.core.facts import FactKind, Severity
from hub.notify.models import EscalationRow
from hub.notify.service import Notifier
from tests.fixtures_hub import wait_for
from tests.notify_support import NotifierFactory, db, fake, make_notifier, notice, notify_config, rows

__all__ = ["db", "fake", "make_notifier"]

T0 = 1_780_000_000.0
ROUTES = [
    {"name": "xa-cong-an", "kinds": ["camera_offline"], "receivers": [{"oa_group": "@police"}],
     "escalate": {"after_min": 10, "receivers": [{"oa_group": "@province", "name": "Trung tâm chỉ huy tỉnh"}]}},
]  # fmt: skip


def cfg(fake: FakeZalo | None = None):  # type: ignore[no-untyped-def]
    c = notify_config(fake, routes=ROUTES)
    return c.model_copy(update={"groups": c.groups.model_copy(update={"province": "g-province"})})


def firing(d: Database, device: str, ack: bool = False) -> None:
    key = alert_key(FactKind.CAMERA_OFFLINE, "yen_dinh", "dinh_long", device)
    a = AlertState(id=alert_id(key), key=key, kind=FactKind.CAMERA_OFFLINE, district="yen_dinh",
                   commune="dinh_long", device=device, status="firing", episode=1, since=T0 - 600,
                   last_true=T0, severity=Severity.WARNING, fired_at=T0)  # fmt: skip
    with d.session() as s, s.begin():
        write_alert(s, a, None, False)
        if ack:
            s.add(AlertAck(alert_id=a.id, episode=1, by="congan", at=to_db_time(T0 + 60), note="đang xử lý"))


async def notifier(make: NotifierFactory, clock: list[float], fake: FakeZalo | None = None) -> Notifier:
    n = await make(cfg(fake), start=fake is not None, clock=lambda: clock[0])
    n.escalator.acks = lambda: AlertAcks(open_unacknowledged)
    return n


def escalations(d: Database) -> list[tuple[str, list[str] | None]]:
    with d.session() as s:
        return [(r.state, r.devices) for r in s.scalars(select(EscalationRow))]


async def test_unacknowledged_goes_up_once_after_n_minutes(
    db: Database, make_notifier: NotifierFactory
) -> None:
    clock = [T0]
    n = await notifier(make_notifier, clock)
    firing(db, "yen_dinh/dinh_long/cam1", ack=True)
    firing(db, "yen_dinh/dinh_long/cam2")
    await n.submit(notice("ev-esc", n=2, created_at=T0))
    assert escalations(db) == [("waiting", None)]
    clock[0] = T0 + 9 * 60
    assert await n.escalator.check() == 0  # not yet due
    clock[0] = T0 + 10 * 60 + 1
    assert await n.escalator.check() == 1
    assert escalations(db) == [("escalated", ["yen_dinh/dinh_long/cam2"])]
    up = [r for r in rows(db) if r.notice_status == "escalated"]
    assert [(r.target, r.target_name, r.route) for r in up] == [
        ("g-province", "Trung tâm chỉ huy tỉnh", "xa-cong-an (chuyển cấp)")
    ]
    assert "Chưa ai xác nhận sau 10 phút" in up[0].text and "Camera số 2" in up[0].text
    assert "Camera số 1" not in up[0].text  # acknowledged: not escalated
    clock[0] = T0 + 3600
    assert await n.escalator.check() == 0  # never twice
    with db.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.escalate")).one()
        assert audit.actor == "hệ thống" and audit.district == "yen_dinh"
    again = await notifier(make_notifier, clock)  # a restarted hub offered the same notice again
    await again.submit(notice("ev-esc", n=2, created_at=T0))
    assert len(escalations(db)) == 1 and await again.escalator.check() == 0


async def test_acknowledged_in_time_is_not_escalated_even_after_a_restart(
    db: Database, make_notifier: NotifierFactory
) -> None:
    clock = [T0]
    n = await notifier(make_notifier, clock)
    firing(db, "yen_dinh/dinh_long/cam1")
    await n.submit(notice("ev-ok", n=1, created_at=T0))
    firing(db, "yen_dinh/dinh_long/cam1", ack=True)  # acknowledged at T0 + 60
    clock[0] = T0 + 11 * 60
    restarted = await notifier(make_notifier, clock)  # the clock is in SQL, not in the process
    assert await restarted.escalator.check() == 0
    assert escalations(db) == [("closed", None)]
    assert not [r for r in rows(db) if r.notice_status == "escalated"]
    other = notice("ev-other", kind=FactKind.CAMERA_PROBLEM, created_at=T0)  # a route that does not escalate
    await n.submit(other)
    assert len(escalations(db)) == 1


async def test_escalation_reaches_the_province_group_on_the_fake_zalo(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    clock = [T0]
    n = await notifier(make_notifier, clock, fake)
    firing(db, "yen_dinh/dinh_long/cam1")
    await n.submit(notice("ev-zalo", n=1, created_at=T0))
    clock[0] = T0 + 11 * 60
    assert await n.escalator.check() == 1
    msgs = await wait_for(
        lambda: [m for m in fake.messages("oa") if m.target == "g-province"], 10, "escalation"
    )
    assert "Chuyển cấp" in msgs[0].text and "Camera số 1" in msgs[0].text
    assert [m.target for m in fake.messages("oa")].count("g-police") == 1  # the first level got the notice
