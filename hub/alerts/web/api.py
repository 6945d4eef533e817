"""/api/v1/alerts…, /api/v1/silences…: the alert list, acknowledgement, silences and maintenance windows
(the per-district rule settings are in rules.py). Scoped per district/commune like everything else; every change
is audited. The running engine is nudged after a change so it applies within a round, without a restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from contract.topics import is_slug
from hub.alerts import queries as q
from hub.alerts.silences import SILENCE_TYPES
from hub.alerts.web.requests import KINDS, SEVERITIES, SLUG, json_body, nudge, text_field, time_field
from hub.core.auth import Principal
from hub.core.maintenance_rules import Recurrence
from hub.core.openapi import ApiRoute, Param
from hub.core.openapi import json_body as body_of
from hub.web import params, schemas
from hub.web.access import Perm, in_scope, principal, province_wide, requires
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found, unprocessable
from hub.web.jsonout import json_response

# alerts -----------------------------------------------------------------------------------------------------


@requires(Perm.VIEW_ALERTS)
async def list_alerts(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    f = q.AlertFilter(
        status=params.choice(request, "status", (*q.STATUSES, "active")),
        district=params.slug(request, "district"),
        commune=params.slug(request, "commune"),
        kind=params.choice(request, "kind", KINDS),
        severity=params.choice(request, "severity", SEVERITIES),
    )
    limit = params.integer(request, "limit", 500, 1, 5000)
    after = params.cursor(request, q.ALERT_CURSOR)
    return json_response(await c.db.run(lambda s: q.list_alerts(s, p, f, limit, after)))


@requires(Perm.VIEW_ALERTS)
async def get_alert(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    alert_id = request.match_info["alert_id"]
    found = await c.db.run(lambda s: q.get_alert(s, p, alert_id))
    if found is None:
        raise not_found(f"Không có cảnh báo {alert_id}")
    return json_response(q.row_dict(*found))


@requires(Perm.ACK_ALERTS)
async def ack_alert(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    alert_id = request.match_info["alert_id"]
    note = text_field(await json_body(request), "note", 500) or ""
    now = c.clock()
    try:
        out = await c.db.run(lambda s: q.acknowledge(s, p, alert_id, note, now))
    except q.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    if out is None:
        raise not_found(f"Không có cảnh báo {alert_id}")
    nudge(request)
    return json_response(out)


# silences ---------------------------------------------------------------------------------------------------


def _silence_values(p: Principal, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    kind = text_field(data, "type", 16) or "silence"
    if kind not in SILENCE_TYPES:
        raise ApiError(400, "bad_body", f"Trường 'type' phải là một trong: {', '.join(SILENCE_TYPES)}")
    district, commune = text_field(data, "district", 64), text_field(data, "commune", 64)
    for name, v in (("district", district), ("commune", commune)):
        if v is not None and not is_slug(v):
            raise ApiError(400, "bad_body", f"Trường '{name}' không phải mã hợp lệ")
    if not province_wide(p):
        district = district or p.district
        if p.commune is not None:
            commune = commune or p.commune
    if district is None and commune is not None:
        raise unprocessable("district", "chọn huyện khi chọn xã", "bad_body")
    if district is None and not province_wide(p):  # a cluster across districts has no district to default to
        raise unprocessable("district", "chọn huyện: lệnh cho toàn tỉnh chỉ dành cho người có phạm vi toàn tỉnh",
                            "bad_body")  # fmt: skip
    if district is not None and not in_scope(p, district, commune or p.commune or ""):
        raise ApiError(403, "forbidden", "Khu vực này không thuộc phạm vi của bạn")
    alert_kind = text_field(data, "kind", 32)
    if alert_kind is not None and alert_kind not in KINDS:
        raise ApiError(400, "bad_body", f"Trường 'kind' phải là một trong: {', '.join(KINDS)}")
    device = text_field(data, "device", 300)
    starts = time_field(data, "starts_at") or now
    ends = time_field(data, "ends_at")
    minutes = data.get("duration_min")
    if ends is None:
        if (
            not isinstance(minutes, int | float)
            or isinstance(minutes, bool)
            or not 1 <= minutes <= MAX_MINUTES
        ):  # the schema asks for one of the two; only reachable if it drifts
            raise ApiError(400, "bad_body", "Cần 'ends_at' hoặc 'duration_min' (1 phút đến 366 ngày)")
        try:
            ends = starts + timedelta(minutes=minutes)
        except OverflowError:
            raise unprocessable("duration_min", "quá xa trong tương lai", "bad_body") from None
    if ends <= starts:
        raise unprocessable("ends_at", "phải sau 'starts_at'", "bad_body")
    if ends <= now:
        raise unprocessable("ends_at", "đã qua", "bad_body")
    recurrence = _recurrence(data, kind)
    if recurrence is None and ends - starts > q.MAX_SILENCE:
        raise unprocessable("ends_at", "một lệnh tắt cảnh báo dài nhiều nhất 90 ngày", "bad_body")
    if ends - starts > q.MAX_RECURRING:
        raise unprocessable("ends_at", "một lịch bảo trì định kỳ có hiệu lực nhiều nhất 366 ngày", "bad_body")
    reason = text_field(data, "reason", 500)
    if reason is None or len(reason) < 3:
        raise unprocessable("reason", "hãy ghi lý do (ít nhất 3 ký tự ngoài dấu cách)", "bad_body")
    return {
        "type": kind,
        "district": district,
        "commune": commune,
        "kind": alert_kind,
        "device": device,
        "starts_at": starts,
        "ends_at": ends,
        "reason": reason,
        "recurrence": recurrence,
    }


def _recurrence(data: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """A recurring maintenance window's rule, checked by the same model the engine reads it with."""
    given = data.get("recurrence")
    if given is None:
        return None
    if kind != "maintenance":
        raise unprocessable("recurrence", "chỉ lịch bảo trì (type maintenance) mới lặp lại", "bad_body")
    try:
        return Recurrence.model_validate(given).model_dump(mode="json")
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in ("recurrence", *err["loc"]))
        raise unprocessable(where, err["msg"], "bad_body") from None


@requires(Perm.VIEW_ALERTS)
async def list_silences(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    current = params.boolean(request, "current", True)
    limit = params.integer(request, "limit", 500, 1, 5000)
    after = params.cursor(request, q.SILENCE_CURSOR)
    now = c.clock()
    items, nxt = await c.db.run(lambda s: q.list_silences(s, p, current, now, limit, after))
    return json_response({"items": items, "next_cursor": nxt})


@requires(Perm.SILENCE_ALERTS)
async def create_silence(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    now = c.clock()
    values = _silence_values(p, await json_body(request), now)
    out = await c.db.run(lambda s: q.create_silence(s, p, values, now))
    nudge(request)
    return json_response(out, status=201)


@requires(Perm.SILENCE_ALERTS)
async def expire_silence(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    silence_id = int(request.match_info["silence_id"])
    now = c.clock()
    try:
        out = await c.db.run(lambda s: q.expire_silence(s, p, silence_id, now))
    except q.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    if out is None:
        raise not_found(f"Không có lệnh tắt cảnh báo {silence_id}")
    nudge(request)
    return json_response(out)


# rule settings ----------------------------------------------------------------------------------------------


# OpenAPI ----------------------------------------------------------------------------------------------------

_S: dict[str, Any] = {"type": "string"}
_NS: dict[str, Any] = {"type": ["string", "null"]}
_T: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _S,
        "kind": {"enum": list(KINDS)},
        "kind_label": _S,
        "district": _S,
        "commune": _S,
        "device": _S,
        "name": _S,
        "summary": _S,
        "parent": _NS,
        "severity": {"enum": list(SEVERITIES)},
        "status": {"enum": list(q.STATUSES)},
        "episode": {"type": "integer"},
        "since": _T,
        "fired_at": _T,
        "resolved_at": _T,
        "last_seen": _T,
        "flapping": {"type": "boolean"},
        "silenced_by": {"type": ["integer", "null"]},
        "inhibited": {"type": "boolean", "description": "held back: its edge agent is itself alerting"},
        "ack": {"type": ["object", "null"], "description": "by, at, note of the acknowledgement"},
        "detail": {"type": "object"},
    },
}
SILENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "type": {"enum": list(SILENCE_TYPES)},
        "district": _NS,
        "commune": _NS,
        "kind": _NS,
        "device": _NS,
        "starts_at": _T,
        "ends_at": _T,
        "author": _S,
        "reason": _S,
        "created_at": _T,
        "expired_at": _T,
        "expired_by": _NS,
        "state": {"enum": ["scheduled", "active", "expired"]},
        "recurrence": {"type": ["object", "null"], "description": "a recurring maintenance window's rule"},
        "holding": {"type": "boolean", "description": "it holds alerts now (inside an occurrence)"},
    },
}
RECURRENCE_BODY: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "maintenance only: open every chosen weekday / day of the month / date, at local `start` "
    "for `duration_min`, between starts_at and ends_at (at most 366 days)",
    "required": ["every", "start", "duration_min"],
    "properties": {
        "every": {"enum": ["weekly", "monthly", "dates"]},
        "weekdays": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 7},
            "maxItems": 7,
        },
        "monthdays": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 31},
            "maxItems": 31,
        },
        "dates": {"type": "array", "items": {"type": "string", "format": "date"}, "maxItems": 366},
        "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        "duration_min": {"type": "integer", "minimum": 1, "maximum": 7 * 24 * 60},
    },
    "additionalProperties": False,
}
_SLUGP = params.SLUG
_ID = Param("alert_id", "Alert id", {"type": "string", "pattern": "^[0-9a-f]{16}$"}, where="path")
_W = (400, 401, 403, 404, 409, 415)
MAX_MINUTES = 366 * 24 * 60  # a recurring maintenance window; others are checked against 90 days
_OPT_TEXT = {"type": ["string", "null"]}
ACK_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"note": {**_OPT_TEXT, "maxLength": 500}},
    "additionalProperties": False,
}
SILENCE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["reason"],
    "anyOf": [{"required": ["ends_at"]}, {"required": ["duration_min"]}],
    "properties": {
        "type": {"enum": [*SILENCE_TYPES, None], "description": "default silence"},
        "district": {"type": ["string", "null"], "pattern": f"^{SLUG}$"},
        "commune": {"type": ["string", "null"], "pattern": f"^{SLUG}$"},
        "kind": {"enum": [*KINDS, None], "description": "only alerts of this kind"},
        "device": {**_OPT_TEXT, "maxLength": 300, "description": "only this device key"},
        "starts_at": {"type": ["string", "null"], "format": "date-time", "description": "default now"},
        "ends_at": {"type": "string", "format": "date-time"},
        "duration_min": {"type": "number", "minimum": 1, "maximum": MAX_MINUTES},
        "reason": {"type": "string", "minLength": 3, "maxLength": 500},
        "recurrence": RECURRENCE_BODY,
    },
    "additionalProperties": False,
}

ROUTES = [
    ApiRoute(
        "GET",
        "/alerts",
        list_alerts,
        "Alerts in the caller's scope (active first, then newest), with counts per status",
        params=(
            Param("status", "pending, firing, resolved or active", {"enum": [*q.STATUSES, "active"]}),
            Param("district", "Only this district", _SLUGP),
            Param("commune", "Only this commune", _SLUGP),
            Param("kind", "Only this kind", {"enum": list(KINDS)}),
            Param("severity", "Only this severity", {"enum": list(SEVERITIES)}),
            *schemas.page_params(500, 5000),
        ),
        response={
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": ALERT_SCHEMA},
                "counts": {"type": "object"},
                "next_cursor": schemas.NEXT_CURSOR,
            },
        },
        errors=(400, 401, 403, 422),
    ),
    ApiRoute(
        "GET",
        "/alerts/{alert_id:[0-9a-f]{16}}",
        get_alert,
        "One alert",
        params=(_ID,),
        response=ALERT_SCHEMA,
        errors=(401, 403, 404),
    ),
    ApiRoute(
        "POST",
        "/alerts/{alert_id:[0-9a-f]{16}}/ack",
        ack_alert,
        "Acknowledge the alert's current episode (no more repeats of it); JSON body {note?}",
        params=(_ID,),
        body=body_of(ACK_BODY, required=False),
        response=ALERT_SCHEMA,
        errors=_W,
    ),
    ApiRoute(
        "GET",
        "/silences",
        list_silences,
        "Silences and maintenance windows in the caller's scope",
        params=(
            Param("current", "Only active and scheduled ones (default true)", {"type": "boolean"}),
            *schemas.page_params(500, 5000),
        ),
        response={
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": SILENCE_SCHEMA},
                "next_cursor": schemas.NEXT_CURSOR,
            },
        },
        errors=(400, 401, 403, 422),
    ),
    ApiRoute(
        "POST",
        "/silences",
        create_silence,
        "Create a silence or maintenance window; 422 when it would end before it starts, has ended already, "
        "lasts more than 90 days or names a commune without its district",
        body=body_of(SILENCE_BODY),
        response=SILENCE_SCHEMA,
        status=201,
        errors=(*_W, 422),
    ),
    ApiRoute(
        "POST",
        "/silences/{silence_id:[0-9]{1,12}}/expire",
        expire_silence,
        "End a silence or maintenance window now",
        params=(
            Param(
                "silence_id",
                "Silence id",
                {"type": "integer", "minimum": 0, "maximum": 10**12 - 1},
                where="path",
            ),
        ),
        response=SILENCE_SCHEMA,
        errors=_W,
    ),
]
