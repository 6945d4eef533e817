"""/api/v1/reports/…: availability (uptime %) and outage lists as JSON or CSV, and the `/reports` page.

The log is read in the shared SQL thread (only the rows of the period, plus each camera's last change before
it); the numbers are computed by hub.reports in a worker thread. A district or commune outside the caller's
scope is a 404, like a camera outside it.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hub.core import reports
from hub.core.auth import Principal
from hub.core.db import Camera, Transition
from hub.core.openapi import ApiRoute, Param
from hub.web import params, queries
from hub.web.access import Perm, in_scope, principal, province_wide, requires, scope_where
from hub.web.context import ctx
from hub.web.errors import bad_parameter, not_found
from hub.web.jsonout import json_response
from hub.web.report_format import (
    area_dict,
    camera_dict,
    csv_response,
    outage_csv_rows,
    outage_dict,
    period_dict,
    uptime_csv_rows,
)

SLUG = params.SLUG_PATTERN
MAX_WORST = 100
MAX_OUTAGES = 50_000


@dataclass(frozen=True)
class ReportQuery:
    period: reports.Period
    district: str | None
    commune: str | None


def _date(request: web.Request) -> date | None:
    v = params.one(request, "date")
    if v is None or v == "":
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise bad_parameter("date", f"{v[:70]!r}: cần ngày dạng YYYY-MM-DD (giờ địa phương)") from None


def report_query(request: web.Request) -> ReportQuery:
    """Period and area from the query string; every bad value is a 400 naming its parameter."""
    c, p = ctx(request), principal(request)
    now = c.clock()
    kind = params.choice(request, "period", reports.PERIODS) or "day"
    day, start, end = _date(request), params.time(request, "from"), params.time(request, "to")
    if kind == "custom":
        if start is None:
            raise bad_parameter("from", "bắt buộc khi period=custom")
        if end is None:
            raise bad_parameter("to", "bắt buộc khi period=custom")
        if day is not None:
            raise bad_parameter("date", "không dùng cùng period=custom (dùng from/to)")
        try:
            period = reports.custom_period(start, end, now, c.tz)
        except ValueError as exc:
            raise bad_parameter("to" if end <= start else "from", str(exc)) from None
    else:
        for name, v in (("from", start), ("to", end)):
            if v is not None:
                raise bad_parameter(name, "chỉ dùng khi period=custom")
        try:
            period = reports.calendar_period(kind, day or reports.local_date(now, c.tz), now, c.tz)
        except ValueError as exc:
            raise bad_parameter("date", str(exc)) from None
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    _check_scope(p, district, commune)
    return ReportQuery(period, district, commune)


def _check_scope(p: Principal, district: str | None, commune: str | None) -> None:
    if province_wide(p):
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


def _wants_csv(request: web.Request, path_csv: bool) -> bool:
    fmt = params.choice(request, "format", ("json", "csv"))
    return path_csv or fmt == "csv"


def _filename(kind: str, q: ReportQuery) -> str:
    area = "-".join(x for x in (q.district, q.commune) if x) or "tat-ca"
    return f"{kind}-{area}-{q.period.kind}-{q.period.start:%Y%m%dT%H%M}Z.csv"


# handlers ---------------------------------------------------------------------------------------------------


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


async def _uptime(request: web.Request, path_csv: bool) -> web.Response:
    c = ctx(request)
    as_csv = _wants_csv(request, path_csv)
    n = params.integer(request, "worst", 10, 0, MAX_WORST)
    q, cams, changes, names = await load_report(request)
    rep = await asyncio.to_thread(reports.uptime, cams, changes, q.period)
    if as_csv:
        return csv_response(uptime_csv_rows(rep, names), _filename("kha-dung", q))
    return json_response(
        {
            "period": period_dict(q.period, c.tz),
            "total": area_dict(rep.total, names),
            "districts": [area_dict(a, names) for a in rep.districts],
            "communes": [area_dict(a, names) for a in rep.communes],
            "cameras": [camera_dict(x) for x in rep.cameras],
            "worst": [camera_dict(x) for x in reports.worst(rep.cameras, n)],
        }
    )


def _kinds(request: web.Request) -> tuple[str, ...]:
    kind = params.choice(request, "kind", (*reports.OUTAGE_KINDS, "all")) or "offline"
    return reports.OUTAGE_KINDS if kind == "all" else (kind,)


async def _outages(request: web.Request, path_csv: bool) -> web.Response:
    c = ctx(request)
    as_csv = _wants_csv(request, path_csv)
    kinds = _kinds(request)
    limit = params.integer(request, "limit", 1000, 1, MAX_OUTAGES)
    camera = params.slug(request, "camera")
    q, cams, changes, names = await load_report(request)
    if camera is not None:
        changes = [ch for ch in changes if ch.camera.rsplit("/", 1)[-1] == camera]
    items = await asyncio.to_thread(reports.outages, changes, q.period, kinds)
    cam_names = {x.key: x.name for x in cams}
    if as_csv:
        return csv_response(outage_csv_rows(items, names, cam_names, c.tz), _filename("mat-ket-noi", q))
    return json_response(
        {
            "period": period_dict(q.period, c.tz),
            "items": [outage_dict(o, cam_names) for o in items[:limit]],
            "total": len(items),
        }
    )


@requires(Perm.VIEW_REPORTS)
async def uptime_report(request: web.Request) -> web.Response:
    return await _uptime(request, False)


@requires(Perm.VIEW_REPORTS)
async def uptime_report_csv(request: web.Request) -> web.Response:
    return await _uptime(request, True)


@requires(Perm.VIEW_REPORTS)
async def outage_report(request: web.Request) -> web.Response:
    return await _outages(request, False)


@requires(Perm.VIEW_REPORTS)
async def outage_report_csv(request: web.Request) -> web.Response:
    return await _outages(request, True)


_S: dict[str, Any] = {"type": "string"}
_NS: dict[str, Any] = {"type": ["string", "null"]}
_I: dict[str, Any] = {"type": "integer"}
_B: dict[str, Any] = {"type": "boolean"}
_T: dict[str, Any] = {"type": "string", "format": "date-time"}
_PCT = {"type": ["number", "null"], "description": "null without data"}
_DUR = {
    "availability_pct": {
        **_PCT,
        "description": "(ok + problem) / (ok + problem + offline); null without data",
    },
    "healthy_pct": {**_PCT, "description": "ok / (ok + problem + offline)"},
    "seconds": {
        "type": "object",
        "description": "ok, problem, offline, no_data (stale/unknown/before first report)",
    },
}
_PERIOD = {"type": "object", "description": "kind, start, end (UTC; end is never after now), label, timezone"}
_AREA = {
    "type": "object",
    "properties": {"district": _S, "commune": _NS, "name": _NS, "cameras": _I, "outages": _I, **_DUR},
}
_CAM = {
    "type": "object",
    "properties": {"key": _S, "district": _S, "commune": _S, "id": _S, "name": _NS, "outages": _I, **_DUR},
}
UPTIME_SCHEMA = {
    "type": "object",
    "properties": {
        "period": _PERIOD,
        "total": _AREA,
        "districts": {"type": "array", "items": _AREA},
        "communes": {"type": "array", "items": _AREA},
        "cameras": {"type": "array", "items": _CAM},
        "worst": {"type": "array", "items": _CAM},
    },
}
OUTAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "period": _PERIOD,
        "total": _I,
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "camera": _S,
                    "district": _S,
                    "commune": _S,
                    "name": _NS,
                    "status": {"enum": list(reports.OUTAGE_KINDS)},
                    "start": _T,
                    "end": _T,
                    "duration_s": {"type": "number"},
                    "started_before": _B,
                    "ongoing": _B,
                    "problems": {"type": "array", "items": _S},
                    "reason": _NS,
                },
            },
        },
    },
}

_DATE = Param(
    "date",
    "A local day (YYYY-MM-DD) inside the day/week/month; default today",
    {"type": "string", "format": "date"},
)
_COMMON = (
    Param(
        "period",
        "day (default), week (from Monday), month, or custom",
        {"type": "string", "enum": list(reports.PERIODS)},
    ),
    _DATE,
    Param("from", "period=custom: start (inclusive), ISO 8601 with offset or epoch s", {"type": "string"}),
    Param("to", "period=custom: end (exclusive), ISO 8601 with offset or epoch s", {"type": "string"}),
    Param(
        "district",
        "Only this district (outside the caller's scope: 404)",
        {"type": "string", "pattern": f"^{SLUG}$"},
    ),
    Param(
        "commune",
        "Only this commune (outside the caller's scope: 404)",
        {"type": "string", "pattern": f"^{SLUG}$"},
    ),
)
_FORMAT = Param("format", "json (default) or csv", {"type": "string", "enum": ["json", "csv"]})
_UPTIME_PARAMS = (
    *_COMMON,
    Param(
        "worst",
        "How many worst cameras (default 10)",
        {"type": "integer", "minimum": 0, "maximum": MAX_WORST},
    ),
)
_OUTAGE_PARAMS = (
    *_COMMON,
    Param("camera", "Only cameras with this id", {"type": "string", "pattern": f"^{SLUG}$"}),
    Param(
        "kind",
        "offline (default), problem, or all",
        {"type": "string", "enum": [*reports.OUTAGE_KINDS, "all"]},
    ),
    Param(
        "limit", "Most items in JSON (CSV has all)", {"type": "integer", "minimum": 1, "maximum": MAX_OUTAGES}
    ),
)
_ERRORS = (400, 401, 403, 404)
_CSV_SCHEMA = {"type": "string", "description": "UTF-8 CSV with BOM, local times"}

ROUTES = [
    ApiRoute(
        "GET",
        "/reports/uptime",
        uptime_report,
        "Availability and healthy % per camera, commune, district and overall, plus the worst cameras",
        params=(*_UPTIME_PARAMS, _FORMAT),
        response=UPTIME_SCHEMA,
        errors=_ERRORS,
    ),
    ApiRoute(
        "GET",
        "/reports/uptime.csv",
        uptime_report_csv,
        "Availability per camera as CSV",
        params=_UPTIME_PARAMS,
        response=_CSV_SCHEMA,
        content_type="text/csv",
        errors=_ERRORS,
    ),
    ApiRoute(
        "GET",
        "/reports/outages",
        outage_report,
        "Outages (offline runs; problem runs with kind) in the period, newest first",
        params=(*_OUTAGE_PARAMS, _FORMAT),
        response=OUTAGE_SCHEMA,
        errors=_ERRORS,
    ),
    ApiRoute(
        "GET",
        "/reports/outages.csv",
        outage_report_csv,
        "Outages as CSV",
        params=_OUTAGE_PARAMS,
        response=_CSV_SCHEMA,
        content_type="text/csv",
        errors=_ERRORS,
    ),
]
