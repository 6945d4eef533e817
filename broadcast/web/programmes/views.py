"""Read side of programmes for the API and pages (SQL in the SQL thread): lists, detail, week calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings.models import Airing
from broadcast.content.models import BroadcastContent
from broadcast.programmes import targets
from broadcast.programmes.models import (
    PRIORITY_LABELS,
    STATE_APPROVED,
    STATE_LABELS,
    STATE_PENDING,
    STEP_LABELS,
    TARGET_LABELS,
    ApprovalStep,
    Programme,
    ProgrammeItem,
    ProgrammeSkip,
)
from broadcast.programmes.overlap import programme_length_s
from broadcast.programmes.schedule import Schedule, ScheduleError, describe, occurrences, schedule_from_json
from hub.core.auth import Principal
from hub.core.serialize import iso
from hub.web.access import scope_where

MAX_LIST = 500
MAX_CALENDAR = 3000
AIRING_STATUS_LABELS = {
    "scheduled": "Đã lên lịch",
    "dispatched": "Đã gửi tới loa",
    "playing": "Đang phát",
    "aired": "Đã phát",
    "partial": "Phát một phần",
    "failed": "Không phát được",
    "missed": "Bỏ lỡ",
    "cancelled": "Đã huỷ",
    "interrupted": "Bị ngắt",
}


@dataclass(frozen=True)
class ListFilter:
    district: str | None = None
    commune: str | None = None
    state: str | None = None
    needs_review: bool | None = None
    limit: int = 100


def _items(s: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rows = s.execute(
        select(ProgrammeItem.programme_id, ProgrammeItem.content_id, BroadcastContent)
        .outerjoin(BroadcastContent, BroadcastContent.id == ProgrammeItem.content_id)
        .where(ProgrammeItem.programme_id.in_(ids))
        .order_by(ProgrammeItem.programme_id, ProgrammeItem.position)
    )
    for pid, cid, c in rows:
        out[pid].append(
            {
                "content_id": cid,
                "title": c.title if c is not None else None,
                "duration_s": c.duration_s if c is not None else None,
                "deleted": c is None or c.deleted_at is not None,
            }
        )
    return out


def stored_schedule(p: Programme) -> Schedule | None:
    """The programme's schedule; None if the stored JSON is unusable (written outside the API)."""
    try:
        return schedule_from_json(p.schedule if isinstance(p.schedule, dict) else {})
    except ScheduleError:
        return None


def programme_json(p: Programme, items: list[dict[str, Any]]) -> dict[str, Any]:
    sched = stored_schedule(p)
    durations = [i["duration_s"] or 0.0 for i in items]
    return {
        "id": p.id,
        "district": p.district,
        "commune": p.commune,
        "title": p.title,
        "note": p.note,
        "items": items,
        "length_s": round(programme_length_s(durations, p.repeats, p.gap_s), 1),
        "target_kind": p.target_kind,
        "target_label": TARGET_LABELS.get(p.target_kind, p.target_kind),
        "target_ids": list(p.target_ids or []),
        "schedule": p.schedule,
        "schedule_text": describe(sched) if sched else "Lịch không hợp lệ",
        "repeats": p.repeats,
        "gap_s": p.gap_s,
        "priority": p.priority,
        "priority_label": PRIORITY_LABELS.get(p.priority, p.priority),
        "state": p.state,
        "state_label": STATE_LABELS.get(p.state, p.state),
        "needs_review": p.needs_review,
        "anchor_at": iso(p.anchor_at),
        "created_by": p.created_by,
        "created_at": iso(p.created_at),
        "updated_by": p.updated_by,
        "updated_at": iso(p.updated_at),
        "submitted_at": iso(p.submitted_at),
        "approved_by": p.approved_by,
        "approved_at": iso(p.approved_at),
        "cancelled_at": iso(p.cancelled_at),
        "version": p.version,
    }


def list_programmes(s: Session, who: Principal, f: ListFilter) -> list[dict[str, Any]]:
    q = select(Programme).where(scope_where(who, Programme.district, Programme.commune))
    if f.district:
        q = q.where(Programme.district == f.district)
    if f.commune:
        q = q.where(Programme.commune == f.commune)
    if f.state:
        q = q.where(Programme.state == f.state)
    if f.needs_review is not None:
        q = q.where(Programme.needs_review == f.needs_review)
    rows = list(s.scalars(q.order_by(Programme.id.desc()).limit(f.limit)))
    items = _items(s, [p.id for p in rows])
    return [programme_json(p, items[p.id]) for p in rows]


def airing_json(a: Airing) -> dict[str, Any]:
    return {
        "id": a.id,
        "occurrence_at": iso(a.occurrence_at),
        "start_at": iso(a.start_at),
        "status": a.status,
        "status_label": AIRING_STATUS_LABELS.get(a.status, a.status),
        "reason": a.reason,
        "targeted": a.targeted,
        "played": a.played,
        "skew_ms": a.skew_ms,
        "priority": a.priority,
        "interrupted_by": a.interrupted_by,
        "url": f"/broadcasts/airings/{a.id}",
    }


def programme_detail(s: Session, p: Programme, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    data = programme_json(p, _items(s, [p.id])[p.id])
    data["steps"] = [
        {
            "at": iso(st.at),
            "actor": st.actor,
            "action": st.action,
            "action_label": STEP_LABELS.get(st.action, st.action),
            "from_state": st.from_state,
            "to_state": st.to_state,
            "comment": st.comment,
        }
        for st in s.scalars(
            select(ApprovalStep).where(ApprovalStep.programme_id == p.id).order_by(ApprovalStep.id)
        )
    ]
    data["airings"] = [
        airing_json(a)
        for a in s.scalars(
            select(Airing).where(Airing.programme_id == p.id).order_by(Airing.occurrence_at.desc()).limit(200)
        )
    ]
    data["skips"] = [
        {"occurrence_at": iso(k.occurrence_at), "speakers": k.speakers, "by_programme_id": k.by_programme_id}
        for k in s.scalars(select(ProgrammeSkip).where(ProgrammeSkip.programme_id == p.id))
    ]
    start = now.replace(tzinfo=UTC)
    anchor = targets.aware(p.anchor_at) if p.anchor_at else None
    sched = stored_schedule(p)
    upcoming = occurrences(sched, tz, start, start + timedelta(days=31), anchor) if sched else []
    data["upcoming"] = [t.isoformat().replace("+00:00", "Z") for t in upcoming[:10]]
    return data


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def calendar(
    s: Session, who: Principal, district: str | None, commune: str | None, monday: date, tz: ZoneInfo
) -> dict[str, Any]:
    """Occurrences of pending/approved programmes in the local week from `monday`, merged with the airings
    that exist (past and prepared ones, emergencies included), for the week view."""
    start = datetime.combine(monday, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = start + timedelta(days=7)
    q = select(Programme).where(
        scope_where(who, Programme.district, Programme.commune),
        Programme.state.in_((STATE_PENDING, STATE_APPROVED)),
    )
    aq = select(Airing).where(
        scope_where(who, Airing.district, Airing.commune),
        Airing.occurrence_at >= targets.naive(start),
        Airing.occurrence_at < targets.naive(end),
    )
    if district:
        q, aq = q.where(Programme.district == district), aq.where(Airing.district == district)
    if commune:
        q, aq = q.where(Programme.commune == commune), aq.where(Airing.commune == commune)
    progs = {p.id: p for p in s.scalars(q)}
    airings = {(a.programme_id, targets.aware(a.occurrence_at)): a for a in s.scalars(aq)}
    items = _items(s, list(progs))
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, datetime]] = set()
    for p in progs.values():
        length = programme_length_s([i["duration_s"] or 0.0 for i in items[p.id]], p.repeats, p.gap_s)
        anchor = targets.aware(p.anchor_at) if p.anchor_at else None
        sched = stored_schedule(p)
        for t in occurrences(sched, tz, start, end, anchor) if sched else []:
            a = airings.get((p.id, t))
            seen.add((p.id, t))
            out.append(_entry(p.id, p.title, p.priority, p.state, (p.district, p.commune), t, length, a, tz))
    for (pid, t), a in airings.items():
        if (pid, t) not in seen:
            p2 = progs.get(pid)
            out.append(
                _entry(
                    pid, a.title, a.priority, p2.state if p2 else None, (a.district, a.commune), t, 0.0, a, tz
                )
            )
    out.sort(key=lambda e: (e["start"], e["programme_id"]))
    days = [(monday + timedelta(days=i)).isoformat() for i in range(7)]
    # A province-wide view of every commune's week would be tens of thousands of entries: cut, and say so.
    return {
        "week_start": monday.isoformat(),
        "days": days,
        "items": out[:MAX_CALENDAR],
        "truncated": len(out) > MAX_CALENDAR,
        "total": len(out),
    }


def _entry(
    pid: int,
    title: str,
    priority: str,
    state: str | None,
    area: tuple[str, str],
    t: datetime,
    length_s: float,
    a: Airing | None,
    tz: ZoneInfo,
) -> dict[str, Any]:
    local = t.astimezone(tz)
    return {
        "programme_id": pid,
        "title": title,
        "priority": priority,
        "priority_label": PRIORITY_LABELS.get(priority, priority),
        "state": state,
        "state_label": STATE_LABELS.get(state, "") if state else "",
        "district": area[0],
        "commune": area[1],
        "start": t.isoformat().replace("+00:00", "Z"),
        "local_day": local.date().isoformat(),
        "local_time": local.strftime("%H:%M"),
        "length_s": round(length_s, 1),
        "airing": airing_json(a) if a is not None else None,
    }


def commune_choices(s: Session, who: Principal) -> list[tuple[str, str]]:
    """(district, commune) pairs with programmes or speakers in scope, for filters."""
    from hub.core.speaker_models import Speaker

    pairs: set[tuple[str, str]] = set()
    for model in (Programme, Speaker):
        rows = s.execute(
            select(model.district, model.commune)
            .where(scope_where(who, model.district, model.commune))
            .distinct()
        )
        pairs.update((d, c) for d, c in rows)
    return sorted(pairs)


def content_choices(s: Session, district: str, commune: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(BroadcastContent)
        .where(
            BroadcastContent.district == district,
            BroadcastContent.commune == commune,
            BroadcastContent.deleted_at.is_(None),
        )
        .order_by(BroadcastContent.id.desc())
        .limit(MAX_LIST)
    )
    return [{"id": c.id, "title": c.title, "duration_s": c.duration_s, "source": c.source} for c in rows]
