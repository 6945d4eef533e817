"""/api/v1/reports/…: availability (uptime %) and outage lists as JSON or CSV.

The period, area and status log come from hub/web/api/report_query.py (read in the shared SQL thread); the
numbers are computed by hub.reports in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from hub.core import reports
from hub.core.openapi import ApiRoute, Param
from hub.web import params
from hub.web.access import Perm, requires
from hub.web.api.report_query import ReportQuery, load_maintenance, load_report
from hub.web.context import ctx
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

MAX_WORST = 100
MAX_OUTAGES = 50_000


def _wants_csv(request: web.Request, path_csv: bool) -> bool:
    fmt = params.choice(request, "format", ("json", "csv"))
    return path_csv or fmt == "csv"


def _filename(kind: str, q: ReportQuery) -> str:
    area = "-".join(x for x in (q.district, q.commune) if x) or "tat-ca"
    return f"{kind}-{area}-{q.period.kind}-{q.period.start:%Y%m%dT%H%M}Z.csv"


# handlers ---------------------------------------------------------------------------------------------------


async def _uptime(request: web.Request, path_csv: bool) -> web.Response:
    c = ctx(request)
    as_csv = _wants_csv(request, path_csv)
    n = params.integer(request, "worst", 10, 0, MAX_WORST)
    q, cams, changes, names = await load_report(request)
    held = await load_maintenance(request, q, cams)
    rep = await asyncio.to_thread(reports.uptime, cams, changes, q.period, held)
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
        "description": "ok, problem, offline, no_data (stale/unknown/before first report), maintenance (inside a "
        "maintenance window: in no status, left out of availability)",
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

_DATE = Param("date", "A local day (YYYY-MM-DD) inside the day/week/month; default today", params.DATE)
_COMMON = (
    Param(
        "period",
        "day (default), week (from Monday), month, or custom",
        {"type": "string", "enum": list(reports.PERIODS)},
    ),
    _DATE,
    Param("from", "period=custom (required there, refused otherwise: 422): start (inclusive)", params.TIME),
    Param("to", "period=custom (required there, refused otherwise: 422): end (exclusive)", params.TIME),
    Param("district", "Only this district (outside the caller's scope: 404)", params.SLUG),
    Param("commune", "Only this commune (outside the caller's scope: 404)", params.SLUG),
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
    Param("camera", "Only cameras with this id", params.SLUG),
    Param(
        "kind",
        "offline (default), problem, or all",
        {"type": "string", "enum": [*reports.OUTAGE_KINDS, "all"]},
    ),
    Param(
        "limit", "Most items in JSON (CSV has all)", {"type": "integer", "minimum": 1, "maximum": MAX_OUTAGES}
    ),
)
# 422: the period's parameters do not go together, it is longer than 400 days or has not started yet
_ERRORS = (400, 401, 403, 404, 422)
_CSV_SCHEMA = {"type": "string", "description": "UTF-8 CSV with BOM, local times"}
_AS_CSV = {"text/csv": _CSV_SCHEMA}  # with format=csv

ROUTES = [
    ApiRoute(
        "GET",
        "/reports/uptime",
        uptime_report,
        "Availability and healthy % per camera, commune, district and overall, plus the worst cameras",
        params=(*_UPTIME_PARAMS, _FORMAT),
        response=UPTIME_SCHEMA,
        alternatives=_AS_CSV,
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
        alternatives=_AS_CSV,
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
