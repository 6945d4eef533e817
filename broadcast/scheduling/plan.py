"""What the scheduler reads about programmes (SQL, run in the SQL thread): approved programmes to plan, its play
items, the occurrences other programmes took over, and the airing row. The speakers a programme reaches are
broadcast/programmes/targets.py."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcast.airings.models import AIRING_SCHEDULED, Airing
from broadcast.content.models import BroadcastContent
from broadcast.orders import AiringOrder, PlayItem, Priority, RelaySpec
from broadcast.programmes.models import (
    STATE_APPROVED,
    Programme,
    ProgrammeItem,
    ProgrammeSkip,
)
from broadcast.programmes.schedule import Schedule, ScheduleError, schedule_from_json
from broadcast.programmes.targets import aware, naive
from broadcast.relays.allowlist import allowed_upstream

log = logging.getLogger("broadcast.scheduler")


def airing_id(programme_id: int, occurrence_at: datetime) -> str:
    """Stable per occurrence: the same occurrence always gets the same id (slug, used on MQTT)."""
    return f"p{programme_id}-{naive(occurrence_at):%Y%m%dt%H%M%S}"


@dataclass(frozen=True)
class PlanEntry:
    programme_id: int
    title: str
    priority: Priority
    schedule: Schedule
    anchor_at: datetime | None  # aware UTC
    approved_at: datetime  # aware UTC: occurrences before approval are never due


def approved_programmes(s: Session) -> list[PlanEntry]:
    """Columns, not ORM objects: at province scale this runs over thousands of rows in the shared SQL thread."""
    rows = s.execute(
        select(
            Programme.id,
            Programme.title,
            Programme.priority,
            Programme.schedule,
            Programme.anchor_at,
            Programme.approved_at,
            Programme.created_at,
        ).where(Programme.state == STATE_APPROVED)
    )
    out = []
    for pid, title, priority, sched, anchor, approved, created in rows:
        try:
            schedule = schedule_from_json(sched)
        except ScheduleError:
            log.error("programme %s has an unusable stored schedule; not planned", pid)
            continue
        out.append(
            PlanEntry(
                pid,
                title,
                Priority(priority),
                schedule,
                aware(anchor) if anchor else None,
                aware(approved or created),
            )
        )
    return out


def existing_occurrences(
    s: Session, programme_ids: Iterable[int], since: datetime
) -> set[tuple[int, datetime]]:
    ids = list(programme_ids)
    if not ids:
        return set()
    rows = s.execute(
        select(Airing.programme_id, Airing.occurrence_at).where(
            Airing.programme_id.in_(ids), Airing.occurrence_at >= naive(since)
        )
    )
    return {(pid, aware(at)) for pid, at in rows}


def skipped_speakers(s: Session, programme_id: int, occurrence_at: datetime) -> set[str] | None:
    """Speakers this occurrence gave up to an approved replacing programme; None means all of them."""
    rows = s.execute(
        select(ProgrammeSkip.speakers)
        .join(Programme, Programme.id == ProgrammeSkip.by_programme_id)
        .where(
            ProgrammeSkip.programme_id == programme_id,
            ProgrammeSkip.occurrence_at == naive(occurrence_at),
            Programme.state == STATE_APPROVED,
        )
    )
    out: set[str] = set()
    for (speakers,) in rows:
        if speakers is None or "" in speakers:
            return None
        out.update(speakers)
    return out


def programme_items(s: Session, programme_id: int) -> list[tuple[int, BroadcastContent | None]]:
    ids = list(
        s.scalars(
            select(ProgrammeItem.content_id)
            .where(ProgrammeItem.programme_id == programme_id)
            .order_by(ProgrammeItem.position)
        )
    )
    found = {c.id: c for c in s.scalars(select(BroadcastContent).where(BroadcastContent.id.in_(ids)))}
    return [(cid, found.get(cid)) for cid in ids]


def play_items(rows: list[tuple[int, BroadcastContent | None]]) -> tuple[tuple[PlayItem, ...], str | None]:
    """Items to play, or a Vietnamese reason why the programme cannot air (a relay plays no items: relay_of)."""
    items = []
    for cid, c in rows:
        if c is None or c.deleted_at is not None:
            return (), f"Nội dung #{cid} đã bị xoá khỏi thư viện"
        if c.source == "relay":
            return (), None if len(rows) == 1 else "Tiếp âm phải là nội dung duy nhất của chương trình"
        items.append(PlayItem(c.id, c.sha256, c.size, c.duration_s, c.title))
    if not items:
        return (), "Chương trình không có nội dung nào"
    return tuple(items), None


def relay_of(
    s: Session, rows: list[tuple[int, BroadcastContent | None]]
) -> tuple[RelaySpec | None, str | None]:
    """The relay a programme plays (its only item), or a Vietnamese reason why it cannot air."""
    c = rows[0][1] if len(rows) == 1 else None
    if c is None or c.source != "relay" or c.deleted_at is not None:
        return None, None
    upstream = allowed_upstream(s, c.relay_upstream_id)
    if upstream is None:
        return None, "Luồng tiếp âm không còn trong danh sách cho phép (hoặc đã bị tắt)"
    fallback = None
    fb = s.get(BroadcastContent, c.relay_fallback_id) if c.relay_fallback_id is not None else None
    if fb is not None and fb.deleted_at is None and fb.sha256:
        fallback = PlayItem(fb.id, fb.sha256, fb.size, fb.duration_s, fb.title)
    return RelaySpec(upstream.id, upstream.name, upstream.url, c.duration_s, fallback), None


def order_json(order: AiringOrder) -> dict[str, Any]:
    data = asdict(order)
    data["priority"] = str(order.priority)
    data["speakers"] = list(order.speakers)
    data["items"] = [dict(i) for i in data["items"]]
    return data


def insert_airing(s: Session, airing: Airing) -> bool:
    """INSERT guarded by the unique (programme_id, occurrence_at): False when the occurrence already has one
    (another worker, or this one before a restart, created it)."""
    try:
        with s.begin_nested():
            s.add(airing)
    except IntegrityError:
        return False
    return True


def new_airing(
    p: Programme, occurrence_at: datetime, start_at: datetime, status: str = AIRING_SCHEDULED
) -> Airing:
    return Airing(
        id=airing_id(p.id, occurrence_at),
        programme_id=p.id,
        occurrence_at=naive(occurrence_at),
        start_at=naive(start_at),
        district=p.district,
        commune=p.commune,
        title=p.title,
        priority=p.priority,
        status=status,
    )
