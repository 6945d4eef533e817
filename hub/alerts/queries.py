"""SQL reads and people's writes for the alert pages and API (run in the SQL thread). Every change a person
makes is written with its audit row in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from hub.alerts.labels import alert_dict
from hub.alerts.models import AlertAck, AlertRow, AlertRuleOverride, Silence
from hub.alerts.rules import alert_id, alert_key
from hub.alerts.silences import VN
from hub.alerts.store import state_of
from hub.core import keyset
from hub.core.access import in_scope, scope_where
from hub.core.audit import record_change
from hub.core.auth import Principal
from hub.core.db import utc
from hub.core.maintenance_rules import Recurrence, Window, in_window
from hub.core.serialize import iso

STATUSES = ("pending", "firing", "resolved")


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None  # pending / firing / resolved / active (pending + firing)
    district: str | None = None
    commune: str | None = None
    kind: str | None = None
    severity: str | None = None


def ack_dict(a: AlertAck | None) -> dict[str, Any] | None:
    return None if a is None else {"by": a.by, "at": iso(a.at), "note": a.note}


def row_dict(r: AlertRow, ack: AlertAck | None) -> dict[str, Any]:
    return alert_dict(state_of(r), r.silenced_by, r.inhibited, ack_dict(ack))


# Active before resolved, then (as before paging came) non-critical before critical, newest first; the id
# makes the order total, so a cursor (hub/core/keyset.py) names one place in it.
ALERT_ORDER = (
    (case((AlertRow.status == "resolved", 1), else_=0), False),
    (case((AlertRow.severity == "critical", 1), else_=0), False),
    (func.coalesce(AlertRow.resolved_at, AlertRow.fired_at, AlertRow.since), True),
    (AlertRow.id, True),
)
ALERT_CURSOR = (int, int, datetime, str)


def alert_page_key(r: AlertRow) -> keyset.Key:
    return (
        int(r.status == "resolved"),
        int(r.severity == "critical"),
        r.resolved_at or r.fired_at or r.since,
        r.id,
    )


def list_alerts(
    s: Session, p: Principal, f: AlertFilter, limit: int, after: keyset.Key | None = None
) -> dict[str, Any]:
    cond = [scope_where(p, AlertRow.district, AlertRow.commune)]
    for col, v in ((AlertRow.district, f.district), (AlertRow.commune, f.commune), (AlertRow.kind, f.kind)):
        if v is not None:
            cond.append(col == v)
    if f.severity is not None:
        cond.append(AlertRow.severity == f.severity)
    counts = dict.fromkeys(STATUSES, 0)
    for st, n in s.execute(select(AlertRow.status, func.count()).where(*cond).group_by(AlertRow.status)):
        counts[st] = n
    if f.status == "active":
        cond.append(AlertRow.status.in_(("pending", "firing")))
    elif f.status is not None:
        cond.append(AlertRow.status == f.status)
    if after is not None:
        cond.append(keyset.after(ALERT_ORDER, after))
    join = and_(AlertAck.alert_id == AlertRow.id, AlertAck.episode == AlertRow.episode)
    rows = s.execute(
        select(AlertRow, AlertAck)
        .outerjoin(AlertAck, join)
        .where(*cond)
        .order_by(*keyset.order_by(ALERT_ORDER))
        .limit(limit + 1)
    ).all()
    page, nxt = keyset.page(rows, limit, lambda ra: alert_page_key(ra[0]))
    return {"items": [row_dict(r, a) for r, a in page], "counts": counts, "next_cursor": nxt}


def get_alert(s: Session, p: Principal, alert_id: str) -> tuple[AlertRow, AlertAck | None] | None:
    r = s.get(AlertRow, alert_id)
    if r is None or not in_scope(p, r.district, r.commune):
        return None
    return r, s.get(AlertAck, (r.id, r.episode))


class Conflict(Exception):
    pass


def acknowledge(s: Session, p: Principal, alert_id: str, note: str, now: datetime) -> dict[str, Any] | None:
    found = get_alert(s, p, alert_id)
    if found is None:
        return None
    r, ack = found
    if r.status == "resolved":
        raise Conflict("Cảnh báo đã hết, không cần xác nhận")
    if ack is not None:
        raise Conflict(f"Đã được {ack.by} xác nhận lúc {iso(ack.at)}")
    ack = AlertAck(alert_id=r.id, episode=r.episode, by=p.username, at=now, note=note)
    s.add(ack)
    record_change(
        s,
        actor=p.username,
        action="alert.ack",
        target=f"alert:{r.id}",
        now=now,
        after={"episode": r.episode, "note": note, "kind": r.kind, "device": r.device},
        district=r.district,
        commune=r.commune,
    )
    return row_dict(r, ack)


# silences ---------------------------------------------------------------------------------------------------


def silence_dict(x: Silence, now: datetime) -> dict[str, Any]:
    end = x.expired_at or x.ends_at
    state = "expired" if end <= now else ("active" if x.starts_at <= now else "scheduled")
    return {
        "id": x.id,
        "type": x.type,
        "district": x.district,
        "commune": x.commune,
        "kind": x.kind,
        "device": x.device,
        "starts_at": iso(x.starts_at),
        "ends_at": iso(x.ends_at),
        "author": x.author,
        "reason": x.reason,
        "created_at": iso(x.created_at),
        "expired_at": iso(x.expired_at),
        "expired_by": x.expired_by,
        "state": state,
        "recurrence": x.recurrence,
        "holding": state == "active" and holds(x, now),
    }


def holds(x: Silence, now: datetime, tz: ZoneInfo = VN) -> bool:
    """Whether the silence or window holds alerts at `now` (a recurring one: inside an occurrence)."""
    try:
        rule = Recurrence.model_validate(x.recurrence) if x.recurrence else None
    except ValueError:
        return False
    end = x.expired_at or x.ends_at
    return in_window(Window(_aware(x.starts_at), _aware(end), rule), _aware(now), tz)


def _aware(dt: datetime) -> datetime:
    u = utc(dt)
    assert u is not None
    return u


def _silence_scope(p: Principal) -> Any:
    # A province-wide silence (district NULL) is seen by everyone it applies to.
    return scope_where(
        p, func.coalesce(Silence.district, p.district or ""), func.coalesce(Silence.commune, p.commune or "")
    )


SILENCE_ORDER = ((Silence.starts_at, True), (Silence.id, True))
SILENCE_CURSOR = (datetime, int)


def list_silences(
    s: Session, p: Principal, current: bool, now: datetime, limit: int, after: keyset.Key | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest start first; the page and the cursor of the next one."""
    q = select(Silence).where(_silence_scope(p))
    if current:
        q = q.where(Silence.ends_at > now, Silence.expired_at.is_(None))
    if after is not None:
        q = q.where(keyset.after(SILENCE_ORDER, after))
    rows = list(s.scalars(q.order_by(*keyset.order_by(SILENCE_ORDER)).limit(limit + 1)))
    page, nxt = keyset.page(rows, limit, lambda x: (x.starts_at, x.id))
    return [silence_dict(x, now) for x in page], nxt


def create_silence(s: Session, p: Principal, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    x = Silence(author=p.username, created_at=now, **values)
    s.add(x)
    s.flush()
    record_change(
        s,
        actor=p.username,
        action=f"{x.type}.create",
        target=f"silence:{x.id}",
        now=now,
        after=silence_dict(x, now),
        district=x.district,
        commune=x.commune,
    )
    return silence_dict(x, now)


def expire_silence(s: Session, p: Principal, silence_id: int, now: datetime) -> dict[str, Any] | None:
    x = s.scalar(select(Silence).where(Silence.id == silence_id, _silence_scope(p)))
    if x is None:
        return None
    if x.district is None and p.district is not None and p.role != "admin":
        raise Conflict("Chỉ quản trị viên được kết thúc một lệnh tắt áp dụng cho toàn tỉnh")
    before = silence_dict(x, now)
    if x.expired_at is not None or x.ends_at <= now:
        raise Conflict("Lệnh tắt cảnh báo này đã kết thúc")
    x.expired_at, x.expired_by = now, p.username
    record_change(
        s,
        actor=p.username,
        action=f"{x.type}.expire",
        target=f"silence:{x.id}",
        now=now,
        before=before,
        after=silence_dict(x, now),
        district=x.district,
        commune=x.commune,
    )
    return silence_dict(x, now)


# rule overrides ---------------------------------------------------------------------------------------------


def overrides_of(s: Session, district: str) -> dict[str, AlertRuleOverride]:
    return {
        o.kind: o for o in s.scalars(select(AlertRuleOverride).where(AlertRuleOverride.district == district))
    }


def set_override(
    s: Session, p: Principal, district: str, kind: str, settings: dict[str, Any] | None, now: datetime
) -> None:
    """`settings` None removes the district's override of that kind (back to the configured values)."""
    row = s.get(AlertRuleOverride, (district, kind))
    before = dict(row.settings) if row is not None else None
    if settings is None:
        if row is not None:
            s.delete(row)
    elif row is None:
        s.add(
            AlertRuleOverride(
                district=district, kind=kind, settings=settings, updated_by=p.username, updated_at=now
            )
        )
    else:
        row.settings, row.updated_by, row.updated_at = settings, p.username, now
    record_change(
        s,
        actor=p.username,
        action="alert_rule.reset" if settings is None else "alert_rule.update",
        target=f"alert_rule:{district}/{kind}",
        now=now,
        before=before,
        after=settings,
        district=district,
    )


MAX_SILENCE = timedelta(days=90)
MAX_RECURRING = timedelta(days=366)


def open_unacknowledged(
    s: Session, kind: str, district: str, commune: str, devices: Sequence[str]
) -> list[str]:
    """The devices whose alert of this kind still fires and whose current episode nobody acknowledged (what the
    notifier escalates, hub/core/escalation.py)."""
    ids = {alert_id(alert_key(kind, district, commune, d)): d for d in devices}
    if not ids:
        return []
    firing = s.execute(
        select(AlertRow.id, AlertRow.episode).where(AlertRow.id.in_(ids), AlertRow.status == "firing")
    ).all()
    acked = {
        (a, e)
        for a, e in s.execute(select(AlertAck.alert_id, AlertAck.episode).where(AlertAck.alert_id.in_(ids)))
    }
    return sorted(ids[i] for i, ep in firing if (i, ep) not in acked)
