"""Read queries shared by the JSON API, the pages and the live stream; every one is scoped to a Principal."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.core import keyset
from hub.core.access import in_scope, province_wide, scope_where
from hub.core.areas import area_names  # web handlers also call it as queries.area_names
from hub.core.auth import Principal
from hub.core.config import CoreConfig
from hub.core.db import STATUSES, Agent, Camera, Snapshot, Transition
from hub.core.labels import fold


@dataclass(frozen=True)
class CameraFilter:
    district: str | None = None
    commune: str | None = None
    status: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class CameraList:
    items: list[Camera]  # after every filter, sorted by district, commune, id
    counts: dict[str, int]  # per status, after every filter except status
    total: int  # len(items) before limit/offset


def _matches(c: Camera, q: str, names: dict[tuple[str, str], str]) -> bool:
    hay = " ".join([c.slug, c.name or "", c.commune, c.district, names.get((c.district, c.commune), "")])
    return q in fold(hay)


def fetch_cameras(s: Session, p: Principal, f: CameraFilter) -> list[Camera]:
    """The SQL part (scope, district, commune), kept short because the SQL thread is shared with ingest.

    Returns Core rows, which carry the same attribute names as `Camera` (so hub.serialize and the pages take
    them as is): loading 20,000 ORM objects costs ~3x as much as the rows themselves.
    """
    stmt = select(*Camera.__table__.columns).where(scope_where(p, Camera.district, Camera.commune))
    if f.district:
        stmt = stmt.where(Camera.district == f.district)
    if f.commune:
        stmt = stmt.where(Camera.commune == f.commune)
    stmt = stmt.order_by(Camera.district, Camera.commune, Camera.slug)
    return cast(list[Camera], list(s.execute(stmt)))


def filter_cameras(cams: list[Camera], f: CameraFilter, names: dict[tuple[str, str], str]) -> CameraList:
    """The pure part (search, counts, status): runs outside the SQL thread."""
    if f.q:
        # In Python rather than SQL: SQL lower()/LIKE do not fold Vietnamese diacritics.
        needle = fold(f.q)
        cams = [c for c in cams if _matches(c, needle, names)]
    counts = Counter(c.status for c in cams)
    if f.status:
        cams = [c for c in cams if c.status == f.status]
    return CameraList(cams, {st: counts.get(st, 0) for st in STATUSES}, len(cams))


def get_camera(s: Session, p: Principal, district: str, commune: str, slug: str) -> Camera | None:
    """None when missing or outside the caller's scope (the two are not told apart).

    The path names where the camera belongs (`district/commune/id`), or its key: the same until its commune is
    merged into another, after which the key (its topics') still finds it, so pages and links that use the key
    and bookmarks from before the merge keep working."""
    cam = s.scalar(
        select(Camera).where(Camera.district == district, Camera.commune == commune, Camera.slug == slug)
    ) or s.get(Camera, f"{district}/{commune}/{slug}")
    if cam is None or not in_scope(p, cam.district, cam.commune):
        return None
    return cam


@dataclass(frozen=True)
class SnapshotResult:
    etag: str
    ts: datetime
    path: str | None  # the file in the snapshot store; None when the caller's ETag matched (nothing to read)


def get_snapshot(s: Session, camera_key: str, if_none_match: str | None) -> SnapshotResult | None:
    row = s.execute(
        select(Snapshot.ts, Snapshot.width, Snapshot.height, Snapshot.path).where(
            Snapshot.camera_key == camera_key
        )
    ).first()
    if row is None:
        return None
    ts: datetime = row[0]
    etag = f'"{int(ts.replace(tzinfo=UTC).timestamp() * 1000)}-{row[1] or 0}x{row[2] or 0}"'
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return SnapshotResult(etag, ts, None)
    return SnapshotResult(etag, ts, row[3])


def transitions(
    s: Session,
    camera_key: str,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> tuple[list[Transition], tuple[datetime, int] | None]:
    """Newest first; returns the page and the (at, id) cursor of the next older page, if any."""
    stmt = select(Transition).where(Transition.subject_kind == "camera", Transition.subject_key == camera_key)
    if since is not None:
        stmt = stmt.where(Transition.at >= since)
    if until is not None:
        stmt = stmt.where(Transition.at < until)
    if before is not None:
        at, tid = before
        stmt = stmt.where(or_(Transition.at < at, and_(Transition.at == at, Transition.id < tid)))
    rows = list(s.scalars(stmt.order_by(Transition.at.desc(), Transition.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].at, rows[-1].id) if more and rows else None)


AGENT_ORDER = ((Agent.district, False), (Agent.commune, False), (Agent.slug, False))


def list_agents(
    s: Session,
    p: Principal,
    district: str | None,
    commune: str | None,
    after: keyset.Key | None = None,
    limit: int = 1_000_000,
) -> list[Agent]:
    """Sorted by district, commune, id; `after` the sort key to start after; at most `limit` + 1 rows (the
    extra one tells a next page exists)."""
    stmt = select(Agent).where(scope_where(p, Agent.district, Agent.commune))
    if district:
        stmt = stmt.where(Agent.district == district)
    if commune:
        stmt = stmt.where(Agent.commune == commune)
    if after is not None:
        stmt = stmt.where(keyset.after(AGENT_ORDER, after))
    return list(s.scalars(stmt.order_by(*keyset.order_by(AGENT_ORDER)).limit(limit + 1)))


def _has_district(p: Principal, district: str) -> bool:
    return p.areas is not None and any(d == district for d, _ in p.areas)


def list_areas(s: Session, p: Principal, config: CoreConfig) -> list[dict[str, Any]]:
    """Districts and communes in scope: named ones plus any that has a camera or agent."""
    names = area_names(s, config)
    keys: set[tuple[str, str]] = set(names)
    for model in (Camera, Agent):
        rows = s.execute(
            select(model.district, model.commune)
            .where(scope_where(p, model.district, model.commune))
            .distinct()
        )
        for d, c in rows:
            keys.update({(d, c), (d, "")})
    out = []
    for d, c in sorted(keys):
        visible = in_scope(p, d, c) if c else (province_wide(p) or d == p.district or _has_district(p, d))
        if visible:
            out.append({"district": d, "commune": c or None, "name": names.get((d, c), c or d)})
    return out
