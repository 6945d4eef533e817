"""From alert states to notices: one group per (kind, district, commune), Alertmanager-style timing.

A group's first notice waits `group_wait_s` after its first alert fired, so a commune-wide outage is one notice
listing every camera. Later changes (more alerts, recoveries) are batched at most once per `group_interval_s`.
An unacknowledged group that stays unchanged is told again every `repeat_s`. Silenced or inhibited alerts are
left out; an alert that fired and ended before it was ever told is never told at all. Only alerts that were
told as firing are told as resolved.

Pure: the state is `GroupState`, the step takes `now`. `event_id` is derived from the group key and the group's
notice sequence number, so the same change computed again after a restart has the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlencode

from hub.alerts.rules import AlertState, Settings
from hub.core.facts import AlertNotice, FactKind, NoticeItem, Severity

CAMERA_KINDS = frozenset({FactKind.CAMERA_OFFLINE, FactKind.CAMERA_PROBLEM})


def group_key(kind: str, district: str, commune: str) -> str:
    return "|".join((kind, district, commune))


def group_key_of(a: AlertState) -> str:
    return group_key(a.kind, a.district, a.commune)


@dataclass(frozen=True, slots=True)
class Told:
    """An alert told as firing and not yet told as resolved."""

    device: str
    name: str
    summary: str
    since: float


@dataclass(frozen=True, slots=True)
class GroupState:
    key: str
    kind: FactKind
    district: str
    commune: str
    seq: int = 0  # notices sent so far (event ids derive from it)
    opened_at: float | None = None  # first alert waiting for the group's first notice
    last_notice_at: float | None = None
    told: dict[str, Told] = field(default_factory=dict)  # alert id → what was told


@dataclass(frozen=True, slots=True)
class GroupStep:
    groups: dict[str, GroupState]
    notices: list[AlertNotice]
    changed: set[str]


def event_id(key: str, seq: int, status: str) -> str:
    return hashlib.sha256(f"{key}|{seq}|{status}".encode()).hexdigest()[:32]


def link_path(kind: str, district: str, commune: str) -> str:
    q = {"kind": kind, "district": district}
    if commune:
        q["commune"] = commune
    return "/alerts?" + urlencode(q)


def _item(a: AlertState) -> NoticeItem:
    return NoticeItem(a.device, a.name, a.summary, a.since)


def _sorted(alerts: Iterable[AlertState]) -> list[AlertState]:
    return sorted(alerts, key=lambda a: (a.name or a.device, a.device))


def _notice(
    g: GroupState,
    status: Literal["firing", "resolved", "repeat"],
    items: list[NoticeItem],
    severity: Severity,
    now: float,
    open_items: int,
) -> AlertNotice:
    seq = g.seq + 1
    snapshot = items[0].device if g.kind in CAMERA_KINDS and items else None
    return AlertNotice(
        event_id=event_id(g.key, seq, status),
        group_key=g.key,
        status=status,
        kind=g.kind,
        severity=severity,
        district=g.district,
        commune=g.commune,
        items=tuple(items),
        created_at=now,
        link_path=link_path(g.kind, g.district, g.commune),
        snapshot_camera=snapshot,
        quiet_hours_exempt=severity == Severity.CRITICAL,
        open_items=open_items,
    )


def step_groups(
    groups: dict[str, GroupState],
    alerts: Iterable[AlertState],
    settings: Settings,
    now: float,
    *,
    suppressed: AbstractSet[str] = frozenset(),
    acked: AbstractSet[str] = frozenset(),
) -> GroupStep:
    """`suppressed`: ids of silenced or inhibited alerts; `acked`: ids acknowledged in their current episode."""
    members: dict[str, list[AlertState]] = {}
    by_id: dict[str, AlertState] = {}
    for a in alerts:
        by_id[a.id] = a
        members.setdefault(group_key_of(a), []).append(a)
    out = dict(groups)
    notices: list[AlertNotice] = []
    changed: set[str] = set()
    for key in set(members) | {k for k, g in groups.items() if g.told or g.opened_at is not None}:
        group_alerts = members.get(key, [])
        g = out.get(key)
        if g is None:
            first = group_alerts[0]
            g = GroupState(key, first.kind, first.district, first.commune)
        new_g, made = _step_one(g, group_alerts, by_id, settings, now, suppressed, acked)
        if new_g != g or key not in out:
            out[key] = new_g
            changed.add(key)
        notices += made
    return GroupStep(out, notices, changed)


def _step_one(
    g: GroupState,
    group_alerts: list[AlertState],
    by_id: dict[str, AlertState],
    settings: Settings,
    now: float,
    suppressed: AbstractSet[str],
    acked: AbstractSet[str],
) -> tuple[GroupState, list[AlertNotice]]:
    s = settings(g.kind, g.district)
    visible = _sorted(a for a in group_alerts if a.status == "firing" and a.id not in suppressed)
    new = [a for a in visible if a.id not in g.told]
    recovered = [i for i in g.told if (a := by_id.get(i)) is None or a.status == "resolved"]
    if not g.told:
        if not new:
            return replace(g, opened_at=None), []
        opened = g.opened_at if g.opened_at is not None else min(a.fired_at or now for a in new)
        if now < opened + s.group_wait_s:
            return replace(g, opened_at=opened), []
        n = _notice(g, "firing", [_item(a) for a in new], s.severity, now, len(new))
        told = {a.id: Told(a.device, a.name, a.summary, a.since) for a in new}
        return replace(g, seq=n_seq(g, 1), opened_at=None, last_notice_at=now, told=told), [n]
    last = g.last_notice_at if g.last_notice_at is not None else now
    notices: list[AlertNotice] = []
    if new or recovered:
        if now < last + s.group_interval_s:
            return g, []
        told = dict(g.told)
        seq = g.seq
        if recovered:
            items = [_recovered_item(i, g.told[i], by_id.get(i), now) for i in recovered]
            for i in recovered:
                del told[i]
            still = len(told) + len(new)
            notices.append(_notice(replace(g, seq=seq), "resolved", _by_name(items), s.severity, now, still))
            seq += 1
        if new:
            for a in new:
                told[a.id] = Told(a.device, a.name, a.summary, a.since)
            firing = [_item(a) for a in visible]
            notices.append(_notice(replace(g, seq=seq), "firing", firing, s.severity, now, len(firing)))
            seq += 1
        return replace(g, seq=seq, last_notice_at=now, told=told, opened_at=None), notices
    unacked = [a for a in visible if a.id not in acked]
    if unacked and now >= last + s.repeat_s:
        n = _notice(g, "repeat", [_item(a) for a in unacked], s.severity, now, len(visible))
        return replace(g, seq=n_seq(g, 1), last_notice_at=now), [n]
    return g, []


def n_seq(g: GroupState, n: int) -> int:
    return g.seq + n


def _recovered_item(alert_id: str, told: Told, a: AlertState | None, now: float) -> NoticeItem:
    until = a.resolved_at if a is not None and a.resolved_at is not None else now
    return NoticeItem(told.device, told.name, told.summary, told.since, until)


def _by_name(items: list[NoticeItem]) -> list[NoticeItem]:
    return sorted(items, key=lambda i: (i.name or i.device, i.device))
