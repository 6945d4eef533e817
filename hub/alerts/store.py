"""Alert engine state in SQL: load everything at start, write only what changed. Runs in the SQL thread."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.alerts.grouping import GroupState, Told
from hub.alerts.models import AlertAck, AlertGroupRow, AlertRow, AlertRuleOverride, Silence
from hub.alerts.rules import AlertState
from hub.alerts.silences import VN, SilenceRule
from hub.core.db import to_db_time, utc
from hub.core.facts import FactKind, Severity
from hub.core.maintenance_rules import Recurrence


def epoch(dt: datetime) -> float:
    d = utc(dt)
    assert d is not None
    return d.timestamp()


def epoch_or_none(dt: datetime | None) -> float | None:
    return None if dt is None else epoch(dt)


def db_time_or_none(ts: float | None) -> datetime | None:
    return None if ts is None else to_db_time(ts)


@dataclass
class Loaded:
    alerts: dict[str, AlertState] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)


@dataclass
class PeopleInput:
    """What people decided: re-read when they change something (and now and then)."""

    silences: list[SilenceRule] = field(default_factory=list)
    acks: set[tuple[str, int]] = field(default_factory=set)  # (alert id, episode)
    overrides: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (district, kind) → keys


def state_of(r: AlertRow) -> AlertState:
    return AlertState(
        id=r.id,
        key=r.key,
        kind=FactKind(r.kind),
        district=r.district,
        commune=r.commune,
        device=r.device,
        status=r.status,  # type: ignore[arg-type]
        episode=r.episode,
        since=epoch(r.since),
        last_true=epoch(r.last_true),
        severity=Severity(r.severity),
        name=r.name,
        summary=r.summary,
        parent=r.parent,
        fired_at=epoch_or_none(r.fired_at),
        resolved_at=epoch_or_none(r.resolved_at),
        flaps=tuple(r.flaps or ()),
        flapping=r.flapping,
        detail=dict(r.detail or {}),
    )


def group_of(r: AlertGroupRow) -> GroupState:
    told = {
        i: Told(
            str(t.get("device", "")), str(t.get("name", "")), str(t.get("summary", "")), float(t["since"])
        )
        for i, t in (r.told or {}).items()
    }
    return GroupState(
        key=r.key,
        kind=FactKind(r.kind),
        district=r.district,
        commune=r.commune,
        seq=r.seq,
        opened_at=epoch_or_none(r.opened_at),
        last_notice_at=epoch_or_none(r.last_notice_at),
        told=told,
    )


def load_state(s: Session) -> Loaded:
    out = Loaded()
    for r in s.scalars(select(AlertRow)):
        try:
            out.alerts[r.key] = state_of(r)
        except ValueError:
            continue  # a kind this version does not know: left alone in SQL
    for g in s.scalars(select(AlertGroupRow)):
        try:
            out.groups[g.key] = group_of(g)
        except (ValueError, KeyError, TypeError):
            continue
    return out


def load_people(s: Session, now: float, tz: ZoneInfo = VN) -> PeopleInput:
    cut = to_db_time(now)
    rules = []
    for x in s.scalars(select(Silence).where(Silence.ends_at > cut, Silence.expired_at.is_(None))):
        try:
            recurrence = Recurrence.model_validate(x.recurrence) if x.recurrence else None
        except ValueError:
            continue  # stored by another version and unreadable here: it holds nothing rather than everything
        rules.append(
            SilenceRule(
                x.id,
                x.type,
                x.district,
                x.commune,
                x.kind,
                x.device,
                epoch(x.starts_at),
                epoch(x.expired_at or x.ends_at),
                recurrence,
                tz,
            )  # fmt: skip
        )
    acks = {(a, e) for a, e in s.execute(select(AlertAck.alert_id, AlertAck.episode))}
    overrides = {(o.district, o.kind): dict(o.settings) for o in s.scalars(select(AlertRuleOverride))}
    return PeopleInput(rules, acks, overrides)


def write_alert(
    s: Session, a: AlertState, silenced: int | None, inhibited: bool, row: AlertRow | None = None
) -> None:
    row = row or s.get(AlertRow, a.id) or AlertRow(id=a.id)
    row.key = a.key
    row.kind = a.kind.value
    row.district = a.district
    row.commune = a.commune
    row.device = a.device
    row.name = a.name[:200]
    row.summary = a.summary[:500]
    row.parent = a.parent
    row.severity = a.severity.value
    row.status = a.status
    row.episode = a.episode
    row.since = to_db_time(a.since)
    row.last_true = to_db_time(a.last_true)
    row.fired_at = db_time_or_none(a.fired_at)
    row.resolved_at = db_time_or_none(a.resolved_at)
    row.flaps = list(a.flaps)
    row.flapping = a.flapping
    row.silenced_by = silenced
    row.inhibited = inhibited
    row.detail = dict(a.detail)
    s.add(row)


def write_group(s: Session, g: GroupState) -> None:
    row = s.get(AlertGroupRow, g.key) or AlertGroupRow(key=g.key)
    row.kind = g.kind.value
    row.district = g.district
    row.commune = g.commune
    row.seq = g.seq
    row.opened_at = db_time_or_none(g.opened_at)
    row.last_notice_at = db_time_or_none(g.last_notice_at)
    row.told = {
        i: {"device": t.device, "name": t.name, "summary": t.summary, "since": t.since}
        for i, t in g.told.items()
    }
    s.add(row)


def save(
    s: Session,
    alerts: Iterable[tuple[AlertState, int | None, bool]],
    groups: Iterable[GroupState],
    forget: Iterable[str],
) -> None:
    """One transaction: changed alerts (with their silence/inhibition), changed groups, pruned alert ids."""
    batch = list(alerts)
    ids = [a.id for a, _, _ in batch]
    rows = {r.id: r for r in s.scalars(select(AlertRow).where(AlertRow.id.in_(ids)))} if ids else {}
    for a, silenced, inhibited in batch:
        write_alert(s, a, silenced, inhibited, rows.get(a.id))
    for g in groups:
        write_group(s, g)
    gone = list(forget)
    if gone:
        s.execute(delete(AlertRow).where(AlertRow.id.in_(gone)))
        s.execute(delete(AlertAck).where(AlertAck.alert_id.in_(gone)))
