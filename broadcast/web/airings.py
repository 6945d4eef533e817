"""Proof of airing on the web: the airing report (`/broadcasts/airings/{id}`), the playout history of a commune
for a month (`/broadcasts/history`) with CSV and PDF exports, and their JSON API (`/api/v1/airings…`).

An airing or a commune outside the caller's scope is a 404, like a camera outside it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings import reports as reporting
from broadcast.airings.models import Airing
from broadcast.airings.playout_pdf import history_pdf
from broadcast.relays.report import relay_report
from broadcast.web.programmes.pages import tabs as programme_tabs
from hub.core import keyset
from hub.core.auth import Principal
from hub.core.openapi import ApiRoute, Param
from hub.core.speaker_models import Speaker
from hub.web import params, queries, schemas
from hub.web.access import Perm, in_scope, principal, requires, scope_where
from hub.web.context import ctx
from hub.web.errors import bad_parameter, not_found, unprocessable
from hub.web.jsonout import json_response
from hub.web.render import render

AIRING_ID = "[a-z0-9][a-z0-9_-]{0,63}"


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.month:02d}/{self.year}"

    @property
    def iso(self) -> str:
        return f"{self.year}-{self.month:02d}"

    def bounds(self, tz: Any) -> tuple[datetime, datetime]:
        """The local month as naive UTC [start, end)."""
        nxt = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        start = datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
        end = datetime(nxt[0], nxt[1], 1, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
        return start, end


MONTH_PATTERN = "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"  # years 1900–2999: every bound fits a datetime


def month_param(request: web.Request) -> Month:
    c = ctx(request)
    v = params.one(request, "month")
    if v is None or v == "":
        today = c.clock().replace(tzinfo=UTC).astimezone(c.tz).date()
        return Month(today.year, today.month)
    if not re.fullmatch(MONTH_PATTERN, v):
        raise bad_parameter("month", f"{v[:20]!r}: cần tháng dạng YYYY-MM (năm 1900–2999)")
    d = date.fromisoformat(v + "-01")
    return Month(d.year, d.month)


def commune_param(request: web.Request, p: Principal, required: bool) -> tuple[str, str] | None:
    """district + commune from the query; a commune-scoped user gets their own by default."""
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    if district is None and commune is None and p.district is not None and p.commune is not None:
        return p.district, p.commune
    if district is None and commune is not None and p.district is not None:
        district = p.district
    if district is None or commune is None:
        if required:  # the caller has no commune of their own to default to
            raise unprocessable("commune", "cần chọn huyện (district) và xã (commune)")
        return None
    if not in_scope(p, district, commune):
        raise not_found("Xã này không thuộc phạm vi của bạn")
    return district, commune


def commune_choices(s: Session, p: Principal) -> list[tuple[str, str]]:
    """Communes in scope that have speakers or airings."""
    pairs: set[tuple[str, str]] = set()
    for model in (Airing, Speaker):
        q = select(model.district, model.commune).where(scope_where(p, model.district, model.commune))
        pairs.update((d, c) for d, c in s.execute(q.distinct()))
    return sorted(pairs)


async def _report(request: web.Request) -> reporting.AiringReport:
    c, p = ctx(request), principal(request)
    airing_id = request.match_info["id"]
    rep = await c.db.run(lambda s: reporting.airing_report(s, airing_id))
    if rep is None or not in_scope(p, rep.airing.district, rep.airing.commune):
        raise not_found("Không tìm thấy lượt phát")
    return rep


@dataclass(frozen=True)
class History:
    district: str
    commune: str
    month: Month
    reports: list[reporting.AiringReport]
    names: dict[tuple[str, str], str]

    @property
    def commune_name(self) -> str:
        return self.names.get((self.district, self.commune), self.commune)

    @property
    def district_name(self) -> str:
        return self.names.get((self.district, ""), self.district)

    @property
    def filename(self) -> str:
        return f"lich-su-phat-{self.district}-{self.commune}-{self.month.iso}"


async def _history(
    request: web.Request,
    required: bool = True,
    area: tuple[str, str] | None = None,
    after: keyset.Key | None = None,
    limit: int | None = None,
) -> History | None:
    c, p = ctx(request), principal(request)
    month = month_param(request)
    if area is not None:
        if not in_scope(p, *area):
            raise not_found("Xã này không thuộc phạm vi của bạn")
    else:
        area = commune_param(request, p, required)
    if area is None:
        return None
    start, end = month.bounds(c.tz)

    def load(s: Session) -> tuple[list[reporting.AiringReport], dict[tuple[str, str], str]]:
        reports = reporting.history_reports(s, area[0], area[1], start, end, after, limit)
        return reports, queries.area_names(s, c.config)

    reports, names = await c.db.run(load)
    return History(area[0], area[1], month, reports, names)


def _history_item(rep: reporting.AiringReport) -> dict[str, Any]:
    d = reporting.report_dict(rep)
    d["not_played"] = [{"id": x.slug, "name": x.name, "reason": x.reason or x.state} for x in rep.not_played]
    offsets = [x.offset_ms for x in rep.speakers if x.played and x.offset_ms is not None]
    d["offset_ms_min"], d["offset_ms_max"] = (min(offsets), max(offsets)) if offsets else (None, None)
    del d["speakers"], d["timeline"]
    return d


# API ------------------------------------------------------------------------------------------------------


@requires(Perm.VIEW_BROADCASTS)
async def get_airing(request: web.Request) -> web.Response:
    return json_response(reporting.report_dict(await _report(request)))


AIRINGS_LIMIT, AIRINGS_MAX = 100, 500


@requires(Perm.VIEW_BROADCASTS)
async def list_airings(request: web.Request) -> web.Response:
    limit = params.integer(request, "limit", AIRINGS_LIMIT, 1, AIRINGS_MAX)
    after = params.cursor(request, (datetime, str))
    h = await _history(request, after=after, limit=limit)
    assert h is not None
    reports, nxt = keyset.page(h.reports, limit, lambda r: (r.airing.start_at, r.airing.id))
    return json_response(
        {
            "district": h.district,
            "commune": h.commune,
            "month": h.month.iso,
            "airings": [_history_item(r) for r in reports],
            "next_cursor": nxt,
        }
    )


@requires(Perm.VIEW_BROADCASTS)
async def airings_csv(request: web.Request) -> web.Response:
    c, h = ctx(request), await _history(request)
    assert h is not None
    body = await asyncio.to_thread(reporting.history_csv, h.reports, c.tz)
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{h.filename}.csv"'},
    )


@requires(Perm.VIEW_BROADCASTS)
async def airings_pdf(request: web.Request) -> web.Response:
    c, h = ctx(request), await _history(request)
    assert h is not None
    now = c.clock()
    body = await asyncio.to_thread(
        history_pdf, h.reports, c.tz, h.commune_name, h.district_name, h.month.label, now
    )
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{h.filename}.pdf"'},
    )


# pages ----------------------------------------------------------------------------------------------------


@requires(Perm.VIEW_BROADCASTS)
async def airing_page(request: web.Request) -> web.Response:
    c = ctx(request)
    params.reject_unknown(request, ())
    rep = await _report(request)
    a = rep.airing
    names = await c.db.run(lambda s: queries.area_names(s, c.config))
    relay = await c.db.run(lambda s: relay_report(s, principal(request), a.id))
    offsets = [x.offset_ms for x in rep.speakers if x.offset_ms is not None]
    return render(
        request,
        "airing.html",
        tabs=programme_tabs(request),
        a=a,
        rep=rep,
        relay=relay,
        commune_name=names.get((a.district, a.commune), a.commune),
        status_labels=reporting.AIRING_STATUS_LABELS,
        receipt_labels=reporting.RECEIPT_LABELS,
        priority_labels=reporting.PRIORITY_LABELS,
        offset_range=(min(offsets), max(offsets)) if offsets else None,
        month=a.start_at.replace(tzinfo=UTC).astimezone(c.tz).strftime("%Y-%m"),
    )


@requires(Perm.VIEW_BROADCASTS)
async def history_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ("district", "commune", "month"))
    choices = await c.db.run(lambda s: (commune_choices(s, p), queries.area_names(s, c.config)))
    district = params.slug(request, "district")
    commune = params.slug(request, "commune")
    if district is None and commune is not None:
        # The form sends the commune only; its district is the one commune in scope with that slug.
        found = [d for d, co in choices[0] if co == commune]
        district = found[0] if len(found) == 1 else None
    h = await _history(request, required=False, area=(district, commune) if district and commune else None)
    query = f"district={h.district}&commune={h.commune}&month={h.month.iso}" if h else ""
    return render(
        request,
        "playout.html",
        tabs=programme_tabs(request),
        h=h,
        month=h.month.iso if h else month_param(request).iso,
        communes=[
            {"district": d, "commune": co, "name": choices[1].get((d, co), co)} for d, co in choices[0]
        ],
        status_labels=reporting.AIRING_STATUS_LABELS,
        priority_labels=reporting.PRIORITY_LABELS,
        csv_url=f"/api/v1/airings.csv?{query}",
        pdf_url=f"/api/v1/airings.pdf?{query}",
    )


def add_pages(app: web.Application) -> None:
    app.router.add_get("/broadcasts/history", history_page)
    app.router.add_get(f"/broadcasts/airings/{{id:{AIRING_ID}}}", airing_page)


_S: dict[str, Any] = {"type": "string"}
_NS: dict[str, Any] = {"type": ["string", "null"]}
_I: dict[str, Any] = {"type": "integer"}
_N: dict[str, Any] = {"type": ["number", "null"]}
_AIRING_PROPS: dict[str, Any] = {
    "id": _S, "programme_id": _I, "district": _S, "commune": _S, "title": _S,
    "priority": {"enum": ["normal", "priority", "emergency"]}, "status": _S, "reason": _NS,
    "start_at": {"type": "string", "format": "date-time"}, "targeted": _I, "played": _I,
    "skew_ms": {**_N, "description": "max − min of first-sample offsets among speakers that played"},
    "interrupted_by": _NS, "finished_at": _NS,
}  # fmt: skip
AIRING_SCHEMA = {
    "type": "object",
    "properties": {
        **_AIRING_PROPS,
        "speakers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": _S,
                    "id": _S,
                    "name": _S,
                    "village": _NS,
                    "state": _S,
                    "played": {"type": "boolean"},
                    "offset_ms": {**_N, "description": "first sample minus planned start"},
                    "started_at": _NS,
                    "ready_at": _NS,
                    "finished_at": _NS,
                    "played_s": _N,
                    "level_dbfs": {
                        **_N,
                        "description": "RMS level sent to the amplifier over the airing, dBFS",
                    },
                    "reason": _NS,
                },  # fmt: skip
            },
        },
        "timeline": {"type": "array", "items": {"type": "object", "properties": {"at": _S, "what": _S}}},
    },
}
HISTORY_SCHEMA = {
    "type": "object",
    "properties": {
        "district": _S,
        "commune": _S,
        "month": _S,
        "airings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **_AIRING_PROPS,
                    "offset_ms_min": {
                        **_N,
                        "description": "earliest first-sample offset of a speaker that played",
                    },
                    "offset_ms_max": {
                        **_N,
                        "description": "latest first-sample offset of a speaker that played",
                    },
                },
            },
        },
        "next_cursor": schemas.NEXT_CURSOR,
    },
}
_HISTORY_PARAMS = (
    Param("district", "District (default: the caller's)", params.SLUG),
    Param("commune", "Commune (default: the caller's; 422 without one for users above a commune)", params.SLUG),
    Param("month", "Local month YYYY-MM (default: this month)", {"type": "string", "pattern": MONTH_PATTERN}),
)  # fmt: skip
_ERRORS = (400, 401, 403, 404, 422)

ROUTES = [
    ApiRoute(
        "GET",
        f"/airings/{{id:{AIRING_ID}}}",
        get_airing,
        "One airing's proof: X of Y speakers played, which did not and why, start skew, per-speaker offsets",
        params=(Param("id", "Airing id", {"type": "string", "pattern": f"^{AIRING_ID}$"}, where="path"),),
        response=AIRING_SCHEMA,
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "GET",
        "/airings",
        list_airings,
        "Playout history of a commune for a month, in time order; paged by cursor",
        params=(*_HISTORY_PARAMS, *schemas.page_params(AIRINGS_LIMIT, AIRINGS_MAX)),
        response=HISTORY_SCHEMA,
        errors=_ERRORS,
    ),
    ApiRoute(
        "GET",
        "/airings.csv",
        airings_csv,
        "Playout history as CSV (UTF-8 with BOM, local times)",
        params=_HISTORY_PARAMS,
        response={"type": "string"},
        content_type="text/csv",
        errors=_ERRORS,
    ),
    ApiRoute(
        "GET",
        "/airings.pdf",
        airings_pdf,
        "Playout history as PDF (one table per airing, DejaVu Sans embedded)",
        params=_HISTORY_PARAMS,
        response={"type": "string", "format": "binary"},
        content_type="application/pdf",
        errors=_ERRORS,
    ),
]
