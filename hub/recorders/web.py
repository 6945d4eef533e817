"""/api/v1/recorders and the /recorders page: every recorder in the caller's scope, read from SQL (so a web-only
hub process answers too), newest state first, worst first."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.access import scope_where
from hub.core.auth import Principal
from hub.core.config import CoreConfig
from hub.core.openapi import ApiRoute, Param
from hub.recorders.models import RecorderRow
from hub.recorders.service import view_of
from hub.web import params, queries
from hub.web.access import Perm, principal, requires
from hub.web.context import ctx
from hub.web.jsonout import json_response
from hub.web.recorder_view import epoch, recorder_dict
from hub.web.render import render


def _list(
    s: Session, p: Principal, district: str | None, commune: str | None, now: float
) -> list[dict[str, Any]]:
    q = select(RecorderRow).where(scope_where(p, RecorderRow.district, RecorderRow.commune))
    if district:
        q = q.where(RecorderRow.district == district)
    if commune:
        q = q.where(RecorderRow.commune == commune)
    out = []
    for row in s.scalars(q.order_by(RecorderRow.district, RecorderRow.commune, RecorderRow.slug)):
        try:
            out.append(recorder_dict(view_of(row), now))
        except ValueError:
            continue  # a report the current contract cannot read: left out rather than failing the list
    return out


def _worst_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def bad(r: dict[str, Any]) -> int:
        disks = any(d["state"] != "ok" for d in r["disks"])
        idle = any(c["recording"] is False for c in r["channels"] if c["camera"])
        return 0 if not r["online"] or r["stale"] else 1 if disks or idle else 2

    return sorted(items, key=bad)


@requires(Perm.VIEW_CAMERAS)
async def list_recorders(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    now = epoch(c.clock())
    items = await c.db.run(lambda s: _list(s, p, district, commune, now))
    return json_response({"items": items})


@requires(Perm.VIEW_CAMERAS)
async def recorders_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ())
    now = epoch(c.clock())
    items, names = await c.db.run(lambda s: (_list(s, p, None, None, now), queries.area_names(s, c.config)))
    return render(request, "recorders.html", recorders=_worst_first(items), names=names)


def add_pages(app: web.Application, config: CoreConfig) -> None:
    app.router.add_get("/recorders", recorders_page)


_NT: dict[str, Any] = {"type": ["string", "null"]}
_NN: dict[str, Any] = {"type": ["number", "null"]}
RECORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "district": {"type": "string"},
        "commune": {"type": "string"},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "api": {"enum": ["isapi", "dahua", "onvif"]},
        "online": {"type": "boolean"},
        "stale": {"type": "boolean", "description": "no report for an hour"},
        "error": _NT,
        "ts": {"type": "string", "format": "date-time"},
        "received": {"type": "string", "format": "date-time"},
        "days_kept": _NN,
        "oldest_ts": _NT,
        "free_gb": _NN,
        "capacity_gb": _NN,
        "disks": {"type": "array", "items": {"type": "object"}},
        "channels": {"type": "array", "items": {"type": "object"}},
    },
}
ROUTES = [
    ApiRoute(
        "GET",
        "/recorders",
        list_recorders,
        "Recorders (NVR/DVR) in the caller's scope: disks, recording per channel, days of footage kept",
        params=(
            Param("district", "Only this district", params.SLUG),
            Param("commune", "Only this commune", params.SLUG),
        ),
        response={"type": "object", "properties": {"items": {"type": "array", "items": RECORDER_SCHEMA}}},
    )
]
