"""The audit log: who changed what and when, with the record before and after; a page and a JSON route.

Filters: actor, action (exact or prefix such as "user."), target (substring), and a date range in local days.
Newest first; `before` (an entry id) pages back. Scoped users with VIEW_AUDIT see only their area's entries.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.audit import AuditEntry
from hub.core.auth import Principal
from hub.core.keyset import encode_cursor
from hub.core.openapi import ApiRoute, Param
from hub.web import params
from hub.web.access import Perm, principal, requires, scope_where
from hub.web.admin.common import admin_page
from hub.web.context import ctx
from hub.web.jsonout import json_response
from hub.web.schemas import NEXT_CURSOR, page_params

PAGE_SIZE = 100
# Vietnamese names for the fields and actions this part writes; others' show as recorded.
FIELD_LABELS = {
    "username": "Tên đăng nhập",
    "full_name": "Họ tên",
    "role": "Vai trò",
    "district": "Huyện",
    "commune": "Xã",
    "disabled": "Đã khoá",
    "name": "Tên",
    "id": "Mã",
    "agent": "Edge agent",
    "village": "Thôn",
    "state": "Trạng thái",
    "version": "Phiên bản",
    "client": "Địa chỉ máy",
    "reason": "Lý do",
    "prefix": "Mã đầu",
    "user": "Người dùng",
    "ended": "Số phiên đã kết thúc",
}
ACTION_LABELS = {
    "auth.login": "Đăng nhập",
    "auth.logout": "Đăng xuất",
    "auth.login_failed": "Đăng nhập thất bại",
    "user.create": "Tạo người dùng",
    "user.update": "Sửa người dùng",
    "user.disable": "Khoá tài khoản",
    "user.enable": "Mở lại tài khoản",
    "user.unlock": "Mở khoá đăng nhập",
    "user.password_reset": "Đặt lại mật khẩu",
    "user.password_change": "Tự đổi mật khẩu",
    "session.end_others": "Kết thúc các phiên khác",
    "token.create": "Tạo token API",
    "token.revoke": "Thu hồi token API",
    "area.create": "Thêm địa bàn",
    "area.update": "Đổi tên địa bàn",
    "area.delete": "Xoá địa bàn",
    "village.create": "Thêm thôn",
    "village.update": "Đổi tên thôn",
    "village.delete": "Xoá thôn",
    "camera.import": "Nhập camera (CSV)",
    "speaker.import": "Nhập loa (CSV)",
    "camera.update": "Sửa camera",
    "speaker.update": "Sửa loa",
    "camera.remove": "Gỡ camera",
    "speaker.remove": "Gỡ loa",
    "point.import": "Nhập điểm camera (CSV)",
    "point.create": "Thêm điểm camera",
    "point.update": "Sửa điểm camera",
    "point.remove": "Xoá điểm camera",
    "camera.details": "Sửa điểm, mục đích, chủ sở hữu, bảo trì của camera",
    "speaker.location": "Đặt vị trí loa",
    "agent.remove": "Gỡ edge agent",
}
MAX_ID = 2**62
FILTERS = ("actor", "action", "target", "from", "to", "before", "limit", "cursor")


def local_day_start(d: date, tz: ZoneInfo) -> datetime | None:
    """Start of a local calendar day as naive UTC (how times are stored); None past what datetime holds
    (0001-01-01 in a zone east of UTC, the day after 9999-12-31): no bound there."""
    try:
        return datetime.combine(d, time(), tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    except OverflowError:
        return None


def diff_rows(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per field: its value before and after, and whether it changed."""
    b, a = before or {}, after or {}
    keys = list(b) + [k for k in a if k not in b]
    return [
        {
            "field": k,
            "label": FIELD_LABELS.get(k, k),
            "before": b.get(k),
            "after": a.get(k),
            "changed": before is not None and after is not None and b.get(k) != a.get(k),
        }
        for k in keys
    ]


def _query(request: web.Request, p: Principal, limit: int) -> Any:
    tz = ctx(request).tz
    stmt = select(AuditEntry).where(scope_where(p, AuditEntry.district, AuditEntry.commune))
    actor = params.text(request, "actor", 64)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    action = params.text(request, "action", 64)
    if action:
        stmt = stmt.where(
            AuditEntry.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    target = params.text(request, "target", 300)
    if target:
        stmt = stmt.where(AuditEntry.target.contains(target, autoescape=True))
    start, end = params.day(request, "from"), params.day(request, "to")
    if start and (lo := local_day_start(start, tz)) is not None:
        stmt = stmt.where(AuditEntry.at >= lo)
    if end and end < date.max and (hi := local_day_start(end + timedelta(days=1), tz)) is not None:
        stmt = stmt.where(AuditEntry.at < hi)
    before = params.integer(request, "before", 0, 0, MAX_ID)
    if before:
        stmt = stmt.where(AuditEntry.id < before)
    after = params.cursor(request, (int,))
    if after is not None:
        stmt = stmt.where(AuditEntry.id < after[0])
    return stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat() + "Z",
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "district": e.district,
        "commune": e.commune,
        "before": e.before,
        "after": e.after,
    }


async def _entries(request: web.Request, limit: int) -> tuple[list[AuditEntry], bool]:
    c, p = ctx(request), principal(request)
    stmt = _query(request, p, limit)

    def load(s: Session) -> list[AuditEntry]:
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows

    rows = await c.db.run(load)
    return rows[:limit], len(rows) > limit


@requires(Perm.VIEW_AUDIT)
async def audit_page(request: web.Request) -> web.StreamResponse:
    rows, more = await _entries(request, PAGE_SIZE)
    entries = [
        {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
         "action_label": ACTION_LABELS.get(e.action),
         "diff": diff_rows(e.before, e.after)}
        for e in rows
    ]  # fmt: skip
    form = {k: request.query.get(k, "") for k in ("actor", "action", "target", "from", "to")}
    older = None
    if more and rows:
        query = {k: v for k, v in form.items() if v}
        older = str(request.rel_url.with_query({**query, "before": str(rows[-1].id)}))
    return admin_page(request, "admin_audit.html", entries=entries, form=form, older=older)


@requires(Perm.VIEW_AUDIT)
async def api_audit(request: web.Request) -> web.Response:
    limit = params.integer(request, "limit", PAGE_SIZE, 1, 1000)
    rows, more = await _entries(request, limit)
    nxt = encode_cursor([rows[-1].id]) if more and rows else None
    return json_response({"items": [entry_dict(e) for e in rows], "more": more, "next_cursor": nxt})


_NULL_OBJ = {"type": ["object", "null"]}
AUDIT_PAGE = {
    "type": "object",
    "required": ["items", "more", "next_cursor"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "at", "actor", "action", "target"],
                "properties": {
                    "id": {"type": "integer"},
                    "at": {"type": "string", "format": "date-time"},
                    "actor": {"type": "string"},
                    "action": {"type": "string"},
                    "target": {"type": "string"},
                    "district": {"type": ["string", "null"]},
                    "commune": {"type": ["string", "null"]},
                    "before": _NULL_OBJ,
                    "after": _NULL_OBJ,
                },
            },
        },
        "more": {"type": "boolean", "description": "older entries exist: pass the last id as `before`"},
        "next_cursor": NEXT_CURSOR,
    },
}

ROUTES = [
    ApiRoute(
        "GET",
        "/audit",
        api_audit,
        "Audit log of changes made by people, newest first",
        (
            Param("actor", "Username (exact)", {"type": "string", "maxLength": 64}),
            Param(
                "action",
                "Action, exact (user.create) or a prefix ending in '.' (user.)",
                {"type": "string", "maxLength": 64},
            ),
            Param(
                "target", "Substring of the target, e.g. user:congan", {"type": "string", "maxLength": 300}
            ),
            Param("from", "First local day (YYYY-MM-DD)", params.DATE),
            Param("to", "Last local day (YYYY-MM-DD), inclusive", params.DATE),
            Param(
                "before",
                "Only entries with a smaller id (paging by id)",
                {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            ),
            *page_params(PAGE_SIZE, 1000),
        ),
        AUDIT_PAGE,
        errors=(400, 401, 403, 422),
    )
]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/audit", audit_page)
