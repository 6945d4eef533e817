"""A report's question and its data: period and area from the query string, then the status log of the cameras
in scope, read in the shared SQL thread (only the rows of the period, plus each camera's last change before it).

Used by the reports API (hub/web/api/reports.py), the `/reports` page and the camera page. A district or commune
outside the caller's scope is a 404, like a camera outside it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hub.core import reports
from hub.core.auth import Principal
from hub.core.db import Camera, Transition
from hub.core.maintenance_rules import MAINTENANCE_WINDOWS
from hub.web import params, queries
from hub.web.access import in_scope, principal, province_wide, scope_where
from hub.web.context import ctx
from hub.web.errors import not_found, unprocessable


@dataclass(frozen=True)
class ReportQuery:
    period: reports.Period
    district: str | None
    commune: str | None


def report_query(request: web.Request) -> ReportQuery:
    """Period and area from the query string: a malformed value is a 400 naming its parameter, values that do
    not go together (from/to without period=custom, a period too long or in the future) a 422 naming it."""
    c, p = ctx(request), principal(request)
    now = c.clock()
    kind = params.choice(request, "period", reports.PERIODS) or "day"
    day, start, end = params.day(request, "date"), params.time(request, "from"), params.time(request, "to")
    if kind == "custom":
        if start is None:
            raise unprocessable("from", "bắt buộc khi period=custom")
        if end is None:
            raise unprocessable("to", "bắt buộc khi period=custom")
        if day is not None:
            raise unprocessable("date", "không dùng cùng period=custom (dùng from/to)")
        try:
            period = reports.custom_period(start, end, now, c.tz)
        except ValueError as exc:
            raise unprocessable("to" if end <= start else "from", str(exc)) from None
    else:
        for name, v in (("from", start), ("to", end)):
            if v is not None:
                raise unprocessable(name, "chỉ dùng khi period=custom")
        try:
            period = reports.calendar_period(kind, day or reports.local_date(now, c.tz), now, c.tz)
        except (ValueError, OverflowError) as exc:
            raise unprocessable("date", str(exc)) from None
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    _check_scope(p, district, commune)
    return ReportQuery(period, district, commune)


def _check_scope(p: Principal, district: str | None, commune: str | None) -> None:
    if province_wide(p):
        return
    if p.areas is not None:  # scoped to a node of the area tree: its communes (scope_where narrows the rest)
        if district is not None and district not in {d for d, _ in p.areas}:
            raise not_found(f"Huyện {district} không thuộc phạm vi của bạn")
        if district is not None and commune is not None and (district, commune) not in p.areas:
            raise not_found(f"Xã {commune} không thuộc phạm vi của bạn")
        return
    if district is not None and district != p.district:
        raise not_found(f"Huyện {district} không thuộc phạm vi của bạn")
    if commune is not None and p.commune is not None and commune != p.commune:
        raise not_found(f"Xã {commune} không thuộc phạm vi của bạn")


_COLS = (
    Transition.subject_key,
    Transition.district,
    Transition.commune,
    Transition.at,
    Transition.to_status,
    Transition.problems,
    Transition.reason,
)
# A month of a busy province is hundreds of thousands of rows: they are read a group of cameras at a time, each
# group through the (subject_kind, subject_key, at) index, so the SQL thread shared with ingest is never held
# for seconds and no query scans the whole log.
KEYS_PER_READ = 50


def _area(p: Principal, q: ReportQuery, district: Any, commune: Any) -> list[ColumnElement[bool]]:
    cond = [scope_where(p, district, commune)]
    if q.district:
        cond.append(district == q.district)
    if q.commune:
        cond.append(commune == q.commune)
    return cond


def _wanted(p: Principal, q: ReportQuery, key: str) -> bool:
    parts = key.split("/")
    if len(parts) != 3:
        return False
    d, c, _ = parts
    return in_scope(p, d, c) and q.district in (None, d) and q.commune in (None, c)


def load_keys(s: Session, p: Principal, q: ReportQuery) -> tuple[list[reports.CameraInfo], list[str]]:
    """Cameras in scope, and every camera key to read: registered ones plus any with history before the
    period's end (a camera removed since still counts). The key scan reads only the index."""
    cams = [
        reports.CameraInfo(r[0], r[1], r[2], r[3])
        for r in s.execute(
            select(Camera.key, Camera.district, Camera.commune, Camera.name).where(
                *_area(p, q, Camera.district, Camera.commune)
            )
        )
    ]
    T = Transition
    logged = s.scalars(
        select(T.subject_key).where(T.subject_kind == "camera", T.at < q.period.end).distinct()
    )
    keys = {c.key for c in cams} | {k for k in logged if _wanted(p, q, k)}
    return cams, sorted(keys)


def load_changes(s: Session, q: ReportQuery, keys: list[str]) -> list[reports.StatusChange]:
    """For these cameras: the last transition before the period (the state at its start), then the
    period's transitions in log order. `keys` are already limited to the caller's scope."""
    T = Transition
    mine = (T.subject_kind == "camera", T.subject_key.in_(keys))
    rank = func.row_number().over(partition_by=T.subject_key, order_by=(T.at.desc(), T.id.desc()))
    before = select(*_COLS, rank.label("rn")).where(*mine, T.at < q.period.start).subquery()
    prior = select(*(before.c[c.key] for c in _COLS)).where(before.c.rn == 1)
    inside = select(*_COLS).where(*mine, T.at >= q.period.start, T.at < q.period.end).order_by(T.at, T.id)
    return [
        reports.StatusChange(r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), r[6])
        for stmt in (prior, inside)
        for r in s.execute(stmt)
    ]


async def load_report(
    request: web.Request,
) -> tuple[ReportQuery, list[reports.CameraInfo], list[reports.StatusChange], dict[tuple[str, str], str]]:
    c, p = ctx(request), principal(request)
    q = report_query(request)
    cams, keys, names = await c.db.run(lambda s: (*load_keys(s, p, q), queries.area_names(s, c.config)))
    changes: list[reports.StatusChange] = []
    for i in range(0, len(keys), KEYS_PER_READ):
        group = keys[i : i + KEYS_PER_READ]
        changes += await c.db.run(functools.partial(load_changes, q=q, keys=group))
    return q, cams, changes, names


async def load_maintenance(
    request: web.Request, q: ReportQuery, cams: list[reports.CameraInfo]
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per camera, when it was in a maintenance window during the period (naive UTC), from whoever keeps the
    windows (the alerts feature); nothing when no feature provides them (a bare web app)."""
    found = ctx(request).services.find(MAINTENANCE_WINDOWS)
    if found is None or not cams:
        return {}
    keys = [(x.key, x.district, x.commune) for x in cams]
    held = await ctx(request).db.run(lambda s: found.lookup(s, keys, q.period.start, q.period.end))
    return {k: [(a.replace(tzinfo=None), b.replace(tzinfo=None)) for a, b in v] for k, v in held.items()}
