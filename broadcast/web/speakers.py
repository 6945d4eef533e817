"""Loudspeakers on the web: the list with their health (`/speakers`, refreshed live by static/speakers.js) and
the JSON API (`/api/v1/speakers`, stop and volume commands). Commands go to the receiver through the running
hub's dispatcher, are limited to the caller's scope and recorded in the audit log.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from broadcast.airings.dispatcher import HubDispatcher
from broadcast.config import broadcast_settings
from broadcast.service import BROADCAST
from broadcast.speakers.registry import AMPLIFIER_LABELS, SPEAKER_STATUS_LABELS
from broadcast.web import speaker_history
from contract.topics import is_slug
from hub.core import keyset
from hub.core.audit import record_change
from hub.core.auth import Principal
from hub.core.geo import Village
from hub.core.openapi import ApiRoute, Param, json_body
from hub.core.serialize import iso
from hub.core.speaker_models import Speaker
from hub.web import params, queries, schemas
from hub.web.access import Perm, has_perm, in_scope, principal, requires, scope_where
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found
from hub.web.jsonout import json_response
from hub.web.render import render

SLUG = params.SLUG_PATTERN
MAX_BODY_KEYS = 4


def speaker_row_dict(r: Speaker, villages: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    return {
        "key": r.key, "district": r.district, "commune": r.commune, "id": r.slug, "name": r.name,
        "village": r.village, "village_name": villages.get((r.district, r.commune, r.village or "")),
        "status": r.status, "status_since": iso(r.status_since), "version": r.version, "volume": r.volume,
        "amplifier": r.amplifier, "signal_dbm": r.signal_dbm, "disk_free_mb": r.disk_free_mb,
        "playing": r.playing, "last_seen": iso(r.last_seen),
    }  # fmt: skip


# The list's order and keyset: a speaker without a village sorts first in its commune (on every database).
SPEAKER_ORDER = (
    (Speaker.district, False),
    (Speaker.commune, False),
    (func.coalesce(Speaker.village, ""), False),
    (Speaker.slug, False),
)
SPEAKERS_LIMIT, SPEAKERS_MAX = 500, 1000


def _speaker_filter(
    p: Principal, district: str | None, commune: str | None, status: str | None
) -> list[ColumnElement[bool]]:
    cond = [scope_where(p, Speaker.district, Speaker.commune)]
    if district:
        cond.append(Speaker.district == district)
    if commune:
        cond.append(Speaker.commune == commune)
    if status:
        cond.append(Speaker.status == status)
    return cond


def load_speakers(
    s: Session,
    p: Principal,
    district: str | None,
    commune: str | None,
    status: str | None,
    after: keyset.Key | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Sorted by district, commune, village, id; with `limit`, at most limit + 1 rows after the key `after`."""
    q = select(Speaker).where(*_speaker_filter(p, district, commune, status))
    if after is not None:
        q = q.where(keyset.after(SPEAKER_ORDER, after))
    q = q.order_by(*keyset.order_by(SPEAKER_ORDER))
    rows = list(s.scalars(q if limit is None else q.limit(limit + 1)))
    villages = {
        (v.district, v.commune, v.slug): v.name
        for v in s.scalars(select(Village).where(Village.commune.in_({r.commune for r in rows})))
    }
    return [speaker_row_dict(r, villages) for r in rows]


def _filters(request: web.Request) -> tuple[str | None, str | None, str | None]:
    return (
        params.slug(request, "district"),
        params.slug(request, "commune"),
        params.choice(request, "status", tuple(SPEAKER_STATUS_LABELS)),
    )


@requires(Perm.VIEW_SPEAKERS)
async def list_speakers(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    d, co, st = _filters(request)
    limit = params.integer(request, "limit", SPEAKERS_LIMIT, 1, SPEAKERS_MAX)
    after = params.cursor(request, (str, str, str, str))

    def load(s: Session) -> tuple[list[dict[str, Any]], int]:
        total = s.scalar(select(func.count()).select_from(Speaker).where(*_speaker_filter(p, d, co, st)))
        return load_speakers(s, p, d, co, st, after, limit), total or 0

    rows, total = await c.db.run(load)
    items, nxt = keyset.page(
        rows, limit, lambda x: (x["district"], x["commune"], x["village"] or "", x["id"])
    )
    return json_response({"speakers": items, "total": total, "limit": limit, "next_cursor": nxt})


async def _target(request: web.Request) -> tuple[str, str, str, dict[str, Any]]:
    """The speaker in the path (404 outside scope or unknown) and the JSON body."""
    c, p = ctx(request), principal(request)
    d, co, sp = request.match_info["district"], request.match_info["commune"], request.match_info["speaker"]
    key = f"{d}/{co}/{sp}"
    if not in_scope(p, d, co) or await c.db.run(lambda s: s.get(Speaker, key)) is None:
        raise not_found("Không tìm thấy loa")
    body: Any = {}
    if request.body_exists:  # read (and checked) already: aiohttp keeps the bytes
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "bad_json", "Nội dung gửi lên không phải JSON hợp lệ") from None
    if not isinstance(body, dict) or len(body) > MAX_BODY_KEYS:
        raise ApiError(400, "bad_json", "Cần một đối tượng JSON")
    return d, co, key, body


def _dispatcher(request: web.Request) -> HubDispatcher:
    service = ctx(request).services.find(BROADCAST)
    if service is None:
        raise ApiError(503, "unavailable", "Dịch vụ phát thanh chưa chạy trên máy chủ này")
    return service.dispatcher


async def _audit(
    request: web.Request, action: str, key: str, district: str, commune: str, after: dict[str, Any]
) -> None:
    c, p = ctx(request), principal(request)
    now = c.clock()
    await c.db.run(
        lambda s: record_change(
            s,
            actor=p.username,
            action=action,
            target=f"speaker:{key}",
            now=now,
            after=after,
            district=district,
            commune=commune,
        )  # fmt: skip
    )


@requires(Perm.CONTROL_SPEAKERS)
async def stop_speaker(request: web.Request) -> web.Response:
    d, co, key, body = await _target(request)
    unknown = set(body) - {"airing"}
    if unknown:
        raise ApiError(
            400, "bad_field", f"Trường không được hỗ trợ: {', '.join(sorted(map(str, unknown)))[:100]}"
        )
    airing = body.get("airing")
    if airing is not None and (not isinstance(airing, str) or not is_slug(airing)):
        raise ApiError(400, "bad_field", "Trường 'airing' phải là mã lượt phát hợp lệ")
    tx = await _dispatcher(request).stop_speaker(key, airing)
    await _audit(request, "speaker.stop", key, d, co, {"airing": airing, "transaction": tx})
    return json_response({"sent": True, "transaction": tx}, status=202)


@requires(Perm.CONTROL_SPEAKERS)
async def set_volume(request: web.Request) -> web.Response:
    d, co, key, body = await _target(request)
    unknown = set(body) - {"volume"}
    if unknown:
        raise ApiError(
            400, "bad_field", f"Trường không được hỗ trợ: {', '.join(sorted(map(str, unknown)))[:100]}"
        )
    vol = body.get("volume")
    if isinstance(vol, bool) or not isinstance(vol, int) or not 0 <= vol <= 100:
        raise ApiError(400, "bad_field", "Âm lượng ('volume') phải là số nguyên từ 0 đến 100")
    c, dispatcher = ctx(request), _dispatcher(request)
    await _audit(request, "speaker.volume", key, d, co, {"volume": vol})
    reply = await dispatcher.set_volume(
        key, vol, wait_s=broadcast_settings(c.config).dispatch.command_reply_s
    )
    if reply is None:
        return json_response(
            {
                "sent": True,
                "confirmed": False,
                "message": "Đã gửi lệnh; loa chưa xác nhận (có thể đang mất kết nối)",
            },
            status=202,
        )
    return json_response({"sent": True, "confirmed": True, "volume": reply.data.volume})


# page -----------------------------------------------------------------------------------------------------


@requires(Perm.VIEW_SPEAKERS)
async def speakers_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ("district", "commune", "status"))
    d, co, st = _filters(request)

    def load(s: Session) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str], list[tuple[str, str]]]:
        q = select(Speaker.district, Speaker.commune).where(scope_where(p, Speaker.district, Speaker.commune))
        areas = sorted((x, y) for x, y in s.execute(q.distinct()))
        return load_speakers(s, p, d, co, st), queries.area_names(s, c.config), areas

    items, names, communes = await c.db.run(load)
    counts = {k: sum(1 for x in items if x["status"] == k) for k in SPEAKER_STATUS_LABELS}
    return render(
        request,
        "speakers.html",
        speakers=items,
        counts=counts,
        form={"district": d or "", "commune": co or "", "status": st or ""},
        communes=[{"district": x, "commune": y, "name": names.get((x, y), y)} for x, y in communes],
        commune_names={f"{x}/{y}": n for (x, y), n in names.items() if y},
        status_labels=SPEAKER_STATUS_LABELS,
        amplifier_labels=AMPLIFIER_LABELS,
        can_control=has_perm(p, Perm.CONTROL_SPEAKERS),
        can_view_airings=has_perm(p, Perm.VIEW_BROADCASTS),
        trends=trend_options(c.config.influx.enabled),
        page_data={
            "status": SPEAKER_STATUS_LABELS,
            "amplifier": AMPLIFIER_LABELS,
            "timezone": c.config.timezone,
            "query": request.query_string,
            "can_control": has_perm(p, Perm.CONTROL_SPEAKERS),
            "airing_links": has_perm(p, Perm.VIEW_BROADCASTS),
        },
    )


TREND_RANGES = {"6h": "6 giờ", "24h": "24 giờ", "7d": "7 ngày", "30d": "30 ngày"}


def trend_options(enabled: bool) -> dict[str, Any]:
    """What the health-trend chart on the page offers (metrics of speaker_history, its ranges)."""
    return {
        "enabled": enabled,
        "metrics": [{"id": k, "label": m.label} for k, m in speaker_history.METRICS.items()],
        "ranges": [{"id": k, "label": v} for k, v in TREND_RANGES.items()],
        "range": "24h",
    }


def add_pages(app: web.Application) -> None:
    app.router.add_get("/speakers", speakers_page)


_S: dict[str, Any] = {"type": "string"}
_NS: dict[str, Any] = {"type": ["string", "null"]}
_NN: dict[str, Any] = {"type": ["number", "null"]}
SPEAKER_SCHEMA = {
    "type": "object",
    "properties": {
        "key": _S, "district": _S, "commune": _S, "id": _S, "name": _NS, "village": _NS, "village_name": _NS,
        "status": {"enum": list(SPEAKER_STATUS_LABELS)}, "status_since": _NS, "version": _NS,
        "volume": {"type": ["integer", "null"]}, "amplifier": {"enum": ["on", "off", "fault", None]},
        "signal_dbm": _NN, "disk_free_mb": _NN, "playing": {**_NS, "description": "airing id"}, "last_seen": _NS,
    },
}  # fmt: skip
_PATH = (
    Param("district", "District", params.SLUG, where="path", example="soc-son"),
    Param("commune", "Commune", params.SLUG, where="path", example="phu-linh"),
    Param("speaker", "Speaker id", params.SLUG, where="path", example="loa-cho"),
)
_SP_PATH = f"/speakers/{{district:{SLUG}}}/{{commune:{SLUG}}}/{{speaker:{SLUG}}}"
_CMD_ERRORS = (400, 401, 403, 404, 415, 503)
_CMD = {"type": "object", "properties": {"sent": {"type": "boolean"}, "transaction": _S}}
STOP_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "airing": {"type": ["string", "null"], "pattern": f"^{SLUG}$", "description": "only this airing"}
    },
    "additionalProperties": False,
}
VOLUME_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["volume"],
    "properties": {"volume": {"type": "integer", "minimum": 0, "maximum": 100}},
    "additionalProperties": False,
}
_VOLUME = {
    "type": "object",
    "properties": {
        "sent": {"type": "boolean"},
        "confirmed": {"type": "boolean"},
        "volume": {"type": "integer"},
    },
}
_UNCONFIRMED = {
    "type": "object",
    "properties": {"sent": {"type": "boolean"}, "confirmed": {"const": False}, "message": _S},
}

ROUTES = [
    ApiRoute(
        "GET",
        "/speakers",
        list_speakers,
        "Loudspeaker receivers in scope with their latest health, sorted by district, commune, village, id; "
        "paged by cursor",
        params=(
            Param("district", "Only this district", params.SLUG),
            Param("commune", "Only this commune", params.SLUG),
            Param("status", "Only this status", {"type": "string", "enum": list(SPEAKER_STATUS_LABELS)}),
            *schemas.page_params(SPEAKERS_LIMIT, SPEAKERS_MAX),
        ),
        response={
            "type": "object",
            "properties": {
                "speakers": {"type": "array", "items": SPEAKER_SCHEMA},
                "total": {"type": "integer", "description": "matches of the filters, on all pages"},
                "limit": {"type": "integer"},
                "next_cursor": schemas.NEXT_CURSOR,
            },
        },
        errors=(400, 401, 403, 422),
    ),
    ApiRoute(
        "POST",
        f"{_SP_PATH}/stop",
        stop_speaker,
        "Stop what the speaker plays (JSON {airing?}: only that airing); 202 once the command is sent",
        params=_PATH,
        body=json_body(STOP_BODY, required=False),
        response=_CMD,
        status=202,
        errors=_CMD_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"{_SP_PATH}/volume",
        set_volume,
        "Set the volume (JSON {volume: 0–100}); 200 with the receiver's confirmation, 202 when it did not answer in time",
        params=_PATH,
        body=json_body(VOLUME_BODY),
        response=_VOLUME,
        also={202: _UNCONFIRMED},
        errors=_CMD_ERRORS,
    ),
]
