"""Programme pages: week calendar (/broadcasts), list, editor, detail, approval queue, emergency form.

Pages are rendered on the server; the buttons call the JSON API (broadcast/web/programmes/api.py) through
static/programme.js, so the rules live in one place.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.programmes import targets
from broadcast.programmes.models import (
    PRIORITY_LABELS,
    STATE_LABELS,
    STATE_PENDING,
    STATES,
    TARGET_LABELS,
    Programme,
)
from broadcast.programmes.schedule import WEEKDAY_LABELS
from broadcast.web.programmes import views
from broadcast.web.programmes.api import week_param
from hub.core.auth import Principal
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from hub.web import params, queries
from hub.web.access import Perm, has_perm, in_scope, principal, requires
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found
from hub.web.render import render

PAGE_LIMIT = 200


def tabs(request: web.Request) -> list[dict[str, Any]]:
    p = principal(request)
    items = [
        ("/broadcasts", "Lịch tuần", Perm.VIEW_BROADCASTS),
        ("/broadcasts/programmes", "Chương trình", Perm.VIEW_BROADCASTS),
        ("/broadcasts/content", "Thư viện nội dung", Perm.VIEW_BROADCASTS),
        ("/broadcasts/relays", "Tiếp âm", Perm.VIEW_BROADCASTS),
        ("/broadcasts/history", "Lịch sử phát", Perm.VIEW_BROADCASTS),
        ("/broadcasts/approvals", "Chờ duyệt", Perm.APPROVE_BROADCASTS),
        ("/broadcasts/programmes/new", "Soạn chương trình", Perm.EDIT_BROADCASTS),
        ("/broadcasts/emergency", "Phát khẩn cấp", Perm.AIR_EMERGENCY),
        ("/broadcasts/live", "Phát trực tiếp", Perm.AIR_EMERGENCY),
    ]
    return [
        {"href": h, "label": label, "active": request.path == h}
        for h, label, perm in items
        if has_perm(p, perm)
    ]


def _page(request: web.Request, template: str, **values: Any) -> web.Response:
    return render(
        request,
        template,
        tabs=tabs(request),
        priority_labels=PRIORITY_LABELS,
        state_labels=STATE_LABELS,
        **values,
    )


async def _names(request: web.Request) -> dict[tuple[str, str], str]:
    c = ctx(request)
    return await c.db.run(lambda s: queries.area_names(s, c.config))


@requires(Perm.VIEW_BROADCASTS)
async def calendar_page(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    params.reject_unknown(request, ("week", "district", "commune"))
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    monday = views.week_start(week_param(request).date())

    def load(s: Session) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return views.calendar(s, who, district, commune, monday, c.tz), views.commune_choices(s, who)

    data, communes = await c.db.run(load)
    today = c.clock().replace(tzinfo=UTC).astimezone(c.tz).date()
    by_day: dict[str, list[dict[str, Any]]] = {d: [] for d in data["days"]}
    for e in data["items"]:
        by_day.setdefault(e["local_day"], []).append(e)
    area_q = "".join(f"&{k}={v}" for k, v in (("district", district), ("commune", commune)) if v)
    return _page(
        request,
        "broadcast_calendar.html",
        monday=monday,
        days=[(monday + timedelta(days=i)) for i in range(7)],
        by_day=by_day,
        weekday_labels=WEEKDAY_LABELS,
        today=today,
        prev_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
        this_week=views.week_start(today).isoformat(),
        area_q=area_q,
        communes=communes,
        names=await _names(request),
        district=district or "",
        commune=commune or "",
        truncated=data["truncated"],
        shown=len(data["items"]),
        total=data["total"],
    )


@requires(Perm.VIEW_BROADCASTS)
async def list_page(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    params.reject_unknown(request, ("state", "district", "commune"))
    f = views.ListFilter(
        district=params.slug(request, "district"),
        commune=params.slug(request, "commune"),
        state=params.choice(request, "state", STATES),
        limit=PAGE_LIMIT,
    )
    items = await c.db.run(lambda s: views.list_programmes(s, who, f))
    return _page(
        request, "broadcast_programmes.html", items=items, state=f.state or "", names=await _names(request)
    )


@requires(Perm.APPROVE_BROADCASTS)
async def approvals_page(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    params.reject_unknown(request, ())

    def load(s: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pending = views.list_programmes(s, who, views.ListFilter(state=STATE_PENDING, limit=PAGE_LIMIT))
        review = views.list_programmes(s, who, views.ListFilter(needs_review=True, limit=PAGE_LIMIT))
        return pending, review

    pending, review = await c.db.run(load)
    return _page(
        request,
        "broadcast_approvals.html",
        pending=pending,
        review=review,
        me=who.username,
        names=await _names(request),
    )


def _loaded(s: Session, who: Principal, pid: int) -> Programme:
    p = s.get(Programme, pid)
    if p is None or not in_scope(who, p.district, p.commune):
        raise not_found("Không tìm thấy chương trình")
    return p


@requires(Perm.VIEW_BROADCASTS)
async def detail_page(request: web.Request) -> web.Response:
    c, who = ctx(request), principal(request)
    pid = int(request.match_info["id"])
    detail = await c.db.run(lambda s: views.programme_detail(s, _loaded(s, who, pid), c.clock(), c.tz))
    return _page(
        request,
        "broadcast_programme.html",
        p=detail,
        me=who.username,
        can_edit=has_perm(who, Perm.EDIT_BROADCASTS),
        can_approve=has_perm(who, Perm.APPROVE_BROADCASTS),
        can_air=has_perm(who, Perm.AIR_EMERGENCY),
        names=await _names(request),
    )


def _editor_data(s: Session, district: str, commune: str) -> dict[str, Any]:
    villages = s.scalars(
        select(Village).where(Village.district == district, Village.commune == commune).order_by(Village.name)
    )
    speakers = targets.commune_speakers(s, district, commune)
    return {
        "content": views.content_choices(s, district, commune),
        "villages": [{"id": v.slug, "name": v.name} for v in villages],
        "speakers": [_speaker(sp) for sp in speakers],
    }


def _speaker(sp: Speaker) -> dict[str, Any]:
    return {"id": sp.slug, "name": sp.name or sp.slug, "village": sp.village, "status": sp.status}


async def _editor(request: web.Request, mode: str, pid: int | None) -> web.Response:
    c, who = ctx(request), principal(request)
    params.reject_unknown(request, ("district", "commune"))
    existing: dict[str, Any] | None = None
    if pid is not None:
        existing = await c.db.run(lambda s: views.programme_detail(s, _loaded(s, who, pid), c.clock(), c.tz))
        district, commune = existing["district"], existing["commune"]
    else:
        district = params.slug(request, "district") or who.district or ""
        commune = params.slug(request, "commune") or who.commune or ""
    communes = await c.db.run(lambda s: views.commune_choices(s, who))
    names = await _names(request)
    choices = [
        (d, co) for (d, co) in {*communes, *((d, co) for (d, co) in names if co)} if in_scope(who, d, co)
    ]
    if not (district and commune):
        return _page(request, "broadcast_pick_commune.html", mode=mode, choices=sorted(choices), names=names)
    if not in_scope(who, district, commune):
        raise ApiError(403, "forbidden", "Xã này nằm ngoài phạm vi quản lý của bạn")
    data = await c.db.run(lambda s: _editor_data(s, district, commune))
    return _page(
        request,
        "broadcast_editor.html",
        mode=mode,
        programme=existing,
        district=district,
        commune=commune,
        commune_name=names.get((district, commune), commune),
        editor={**data, "programme": existing, "mode": mode, "district": district, "commune": commune},
        target_labels=TARGET_LABELS,
        weekday_labels=WEEKDAY_LABELS,
    )


@requires(Perm.EDIT_BROADCASTS)
async def new_page(request: web.Request) -> web.Response:
    return await _editor(request, "new", None)


@requires(Perm.EDIT_BROADCASTS)
async def edit_page(request: web.Request) -> web.Response:
    return await _editor(request, "edit", int(request.match_info["id"]))


@requires(Perm.AIR_EMERGENCY)
async def emergency_page(request: web.Request) -> web.Response:
    return await _editor(request, "emergency", None)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/broadcasts", calendar_page)
    app.router.add_get("/broadcasts/programmes", list_page)
    app.router.add_get("/broadcasts/programmes/new", new_page)
    app.router.add_get("/broadcasts/programmes/{id:[0-9]{1,9}}", detail_page)
    app.router.add_get("/broadcasts/programmes/{id:[0-9]{1,9}}/edit", edit_page)
    app.router.add_get("/broadcasts/approvals", approvals_page)
    app.router.add_get("/broadcasts/emergency", emergency_page)
