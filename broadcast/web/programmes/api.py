"""/api/v1/programmes: create, edit, submit, approve/reject, cancel, review, emergency air-now, calendar.

Writes take JSON bodies (session cookie + X-CSRF-Token header, or a bearer token). A save that collides with
another programme on the same speakers answers 409 with the conflicts and a suggested resolution; the client
sends it again with `"resolution": "after"` (play after: shifted later until free) or `"replace"` (take the
other occurrences' place on the shared speakers).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from broadcast.config import broadcast_settings
from broadcast.programmes.input import ProgrammeError, parse_programme
from broadcast.programmes.models import STATES
from broadcast.programmes.overlap import Conflict
from broadcast.programmes.save import SaveResult, save_programme
from broadcast.programmes.schedule import MAX_YEAR, MIN_YEAR
from broadcast.programmes.store import (
    approve_programme,
    cancel_programme,
    reject_programme,
    review_emergency,
    submit_programme,
)
from broadcast.web.programmes import schemas, views
from broadcast.web.programmes.emergency import air_now, create_emergency
from broadcast.web.programmes.http import (
    comment_of,
    count_refusal,
    error_response,
    loaded,
    read_body,
    reload_scheduler,
)
from hub.core.openapi import ApiRoute, Param, json_body
from hub.web import params
from hub.web.access import Perm, has_perm, in_scope, principal, requires
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found, unprocessable
from hub.web.jsonout import json_response

log = logging.getLogger("broadcast.web")
RESOLUTIONS = ("none", "after", "replace")
ID = "{id:[0-9]{1,9}}"


def _conflict_response(conflicts: list[Conflict], inp_priority: str) -> web.Response:
    suggestion = "replace" if any(c.suggestion == "replace" for c in conflicts) else "after"
    n = len({(c.other_id, c.other_start) for c in conflicts})
    return json_response(
        {
            "error": {
                "code": "conflict",
                "message": f"Trùng giờ phát với {n} lượt phát khác trên cùng cụm loa; chọn phát sau, thay thế "
                "hoặc huỷ",
            },
            "conflicts": [c.to_json() for c in conflicts[:100]],
            "suggestion": suggestion,
            "priority": inp_priority,
        },
        status=409,
    )


# writes ------------------------------------------------------------------------------------------------------


async def _save(request: web.Request, programme_id: int | None) -> web.Response:
    c, who = ctx(request), principal(request)
    body = await read_body(request)
    now = c.clock()
    cfg = broadcast_settings(c.config).schedule
    resolution = body.get("resolution", "none")
    submit = body.get("submit", False)
    version = body.get("version")
    try:
        if resolution not in RESOLUTIONS:
            raise ProgrammeError("resolution", "Cách xử lý trùng lịch phải là: none, after hoặc replace")
        if not isinstance(submit, bool):
            raise ProgrammeError("submit", "submit phải là true hoặc false")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise ProgrammeError("version", "version phải là số nguyên")
        inp = parse_programme(body, now.replace(tzinfo=UTC), c.tz)
        if not in_scope(who, inp.district, inp.commune):
            raise ProgrammeError("commune", "Xã này nằm ngoài phạm vi quản lý của bạn", 403, "forbidden")

        def run(s: Any) -> tuple[SaveResult, dict[str, Any] | None]:
            if programme_id is not None:
                loaded(s, who, programme_id)
            res = save_programme(
                s,
                inp,
                who.username,
                now,
                c.tz,
                cfg.conflict_horizon_days,
                programme_id=programme_id,
                submit=submit,
                resolution=resolution,
                version=version,
            )
            detail = views.programme_detail(s, res.programme, now, c.tz) if res.programme else None
            return res, detail

        res, detail = await c.db.run(run)
    except ProgrammeError as exc:
        count_refusal(request, "save", exc)
        return error_response(exc)
    if detail is None:
        c.count("programme_conflicts")
        return _conflict_response(res.conflicts, str(inp.priority))
    await reload_scheduler(request)
    detail["shifted_by_s"] = res.shifted_by_s
    detail["replaced"] = [x.to_json() for x in res.conflicts]
    return json_response(detail, status=201 if programme_id is None else 200)


@requires(Perm.EDIT_BROADCASTS)
async def create_programme(request: web.Request) -> web.Response:
    return await _save(request, None)


@requires(Perm.EDIT_BROADCASTS)
async def update_programme(request: web.Request) -> web.Response:
    return await _save(request, int(request.match_info["id"]))


async def _act(request: web.Request, what: str) -> web.Response:
    c, who = ctx(request), principal(request)
    body = await read_body(request)
    pid = int(request.match_info["id"])
    now = c.clock()
    try:
        comment = comment_of(body)

        def run(s: Any) -> dict[str, Any]:
            p = loaded(s, who, pid)
            if what == "submit":
                submit_programme(s, p, who.username, now)
            elif what == "approve":
                approve_programme(s, p, who, comment, now, c.tz)
            elif what == "reject":
                reject_programme(s, p, who, comment, now)
            elif what == "cancel":
                cancel_programme(s, p, who.username, comment, now)
            elif what == "review":
                review_emergency(s, p, who, comment, now)
            return views.programme_detail(s, p, now, c.tz)

        detail = await c.db.run(run)
    except ProgrammeError as exc:
        count_refusal(request, what, exc)
        return error_response(exc)
    await reload_scheduler(request)
    return json_response(detail)


@requires(Perm.EDIT_BROADCASTS)
async def submit(request: web.Request) -> web.Response:
    return await _act(request, "submit")


@requires(Perm.APPROVE_BROADCASTS)
async def approve(request: web.Request) -> web.Response:
    return await _act(request, "approve")


@requires(Perm.APPROVE_BROADCASTS)
async def reject(request: web.Request) -> web.Response:
    return await _act(request, "reject")


@requires(Perm.VIEW_BROADCASTS)
async def cancel(request: web.Request) -> web.Response:
    who = principal(request)
    if not (has_perm(who, Perm.EDIT_BROADCASTS) or has_perm(who, Perm.APPROVE_BROADCASTS)):
        raise ApiError(403, "forbidden", "Chỉ người soạn hoặc người duyệt mới huỷ được chương trình")
    return await _act(request, "cancel")


@requires(Perm.APPROVE_BROADCASTS)
async def review(request: web.Request) -> web.Response:
    return await _act(request, "review")


# reads -------------------------------------------------------------------------------------------------------


@requires(Perm.VIEW_BROADCASTS)
async def list_programmes(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    f = views.ListFilter(
        district=params.slug(request, "district"),
        commune=params.slug(request, "commune"),
        state=params.choice(request, "state", STATES),
        needs_review=params.boolean(request, "needs_review", False)
        if params.one(request, "needs_review")
        else None,
        limit=params.integer(request, "limit", 100, 1, views.MAX_LIST),
    )
    items = await c.db.run(lambda s: views.list_programmes(s, who, f))
    return json_response({"items": items})


@requires(Perm.VIEW_BROADCASTS)
async def get_programme(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    pid = int(request.match_info["id"])
    try:
        detail = await c.db.run(lambda s: views.programme_detail(s, loaded(s, who, pid), c.clock(), c.tz))
    except ProgrammeError as exc:
        raise not_found(exc.message) from None
    return json_response(detail)


def week_param(request: web.Request) -> datetime:
    c = ctx(request)
    day = params.day(request, "week")
    if day is None:
        return c.clock().replace(tzinfo=UTC).astimezone(c.tz)
    if not MIN_YEAR <= day.year <= MAX_YEAR:  # the week's days and their UTC bounds must exist
        raise unprocessable("week", f"năm phải từ {MIN_YEAR} đến {MAX_YEAR}")
    return datetime.combine(day, datetime.min.time(), c.tz)


@requires(Perm.VIEW_BROADCASTS)
async def get_calendar(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    monday = views.week_start(week_param(request).date())
    data = await c.db.run(lambda s: views.calendar(s, who, district, commune, monday, c.tz))
    return json_response(data)


_AREA = (
    Param("district", "Only this district (slug)", params.SLUG),
    Param("commune", "Only this commune (slug)", params.SLUG),
)
_ID = (
    Param(
        "id",
        "Programme id",
        {"type": "integer", "minimum": 0, "maximum": 999_999_999},
        where="path",
        example=1,
    ),
)
_PROGRAMME = schemas.PROGRAMME_DETAIL
# 422: refused on meaning (a reference that does not exist, a time already past, a schedule without what its
# kind needs); 409: conflicts with other programmes, a stale version or a state that does not allow it
_WRITE_ERRORS = (400, 401, 403, 404, 409, 415, 422)
_ACTION = json_body(schemas.action_input(), required=False)

ROUTES = [
    ApiRoute(
        "GET",
        "/programmes",
        list_programmes,
        "Programmes in scope, newest first",
        (
            *_AREA,
            Param("state", "Only this state", {"type": "string", "enum": list(STATES)}),
            Param(
                "needs_review", "Emergencies aired without approval, not reviewed yet", {"type": "boolean"}
            ),
            Param(
                "limit",
                "At most this many (default 100)",
                {"type": "integer", "minimum": 1, "maximum": views.MAX_LIST},
            ),
        ),
        schemas.PROGRAMME_LIST,
    ),
    ApiRoute(
        "POST",
        "/programmes",
        create_programme,
        "Create a programme; 409 lists conflicts with a suggested resolution to send back",
        (),
        _PROGRAMME,
        body=json_body(schemas.PROGRAMME_INPUT),
        status=201,
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        "/programmes/emergency",
        create_emergency,
        "Emergency: create a programme and air it at once without prior approval; recorded and listed for review",
        (),
        _PROGRAMME,
        body=json_body(schemas.EMERGENCY_INPUT),
        status=201,
        errors=(*_WRITE_ERRORS, 503),
    ),
    ApiRoute(
        "GET",
        "/programmes/calendar",
        get_calendar,
        "Occurrences and airings of one local week (Monday first)",
        (*_AREA, Param("week", "Any date of the week (default: this week; years 1900–2999)", params.DATE)),
        schemas.CALENDAR,
        errors=(400, 401, 403, 422),
    ),
    ApiRoute(
        "GET",
        f"/programmes/{ID}",
        get_programme,
        "One programme",
        _ID,
        _PROGRAMME,
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "PUT",
        f"/programmes/{ID}",
        update_programme,
        "Edit a programme (same body as create, plus version); an approved one goes back to pending approval",
        _ID,
        _PROGRAMME,
        body=json_body(schemas.PROGRAMME_INPUT),
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"/programmes/{ID}/submit",
        submit,
        "Send for approval",
        _ID,
        _PROGRAMME,
        body=_ACTION,
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"/programmes/{ID}/approve",
        approve,
        "Approve (not by its creator or last editor: 403)",
        _ID,
        _PROGRAMME,
        body=_ACTION,
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"/programmes/{ID}/reject",
        reject,
        "Reject, with the reason in comment (blank: 422)",
        _ID,
        _PROGRAMME,
        body=json_body(schemas.action_input(comment_required=True)),
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"/programmes/{ID}/cancel",
        cancel,
        "Cancel",
        _ID,
        _PROGRAMME,
        body=_ACTION,
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"/programmes/{ID}/review",
        review,
        "Mark an emergency aired without approval as reviewed",
        _ID,
        _PROGRAMME,
        body=_ACTION,
        errors=_WRITE_ERRORS,
    ),
    ApiRoute(
        "POST",
        f"/programmes/{ID}/air-now",
        air_now,
        "Emergency: air at once without prior approval",
        _ID,
        _PROGRAMME,
        body=json_body(schemas.action_input(confirm_required=True)),
        status=201,
        errors=(*_WRITE_ERRORS, 503),
    ),
]
