"""What the admin pages share: the tab bar, form reading, refusing a change, notices after a redirect."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.orm import Session

from hub.web.access import Perm, has_perm, principal
from hub.web.context import ctx
from hub.web.render import render

log = logging.getLogger("hub.web.admin")

TABS = (
    ("/admin/users", "Người dùng", Perm.MANAGE_USERS),
    ("/admin/areas", "Địa bàn", Perm.MANAGE_DEVICES),
    ("/admin/devices", "Thiết bị", Perm.MANAGE_DEVICES),
    ("/admin/points", "Điểm camera", Perm.MANAGE_DEVICES),
    ("/admin/accounts", "Tài khoản thiết bị", Perm.MANAGE_DEVICES),
    ("/admin/import", "Nhập CSV", Perm.MANAGE_DEVICES),
    ("/admin/public-status", "Trang công khai", Perm.MANAGE_DEVICES),
    ("/admin/audit", "Nhật ký thay đổi", Perm.VIEW_AUDIT),
)

# Shown after a redirect (`?msg=`): codes, never free text, so a link cannot put words in the page.
NOTICES = {
    "user_created": "Đã tạo người dùng.",
    "user_saved": "Đã lưu người dùng.",
    "user_disabled": "Đã khoá tài khoản; mọi phiên đăng nhập của người này đã kết thúc.",
    "user_enabled": "Đã mở lại tài khoản.",
    "user_unlocked": "Đã mở khoá đăng nhập.",
    "password_reset": "Đã đặt lại mật khẩu; các phiên đăng nhập cũ của người này đã kết thúc.",
    "area_saved": "Đã lưu địa bàn.",
    "area_deleted": "Đã xoá địa bàn.",
    "area_merged": "Đã gộp xã: thiết bị, người dùng, chương trình, cảnh báo và lịch sử đã chuyển sang xã mới.",
    "public_saved": "Đã lưu trang công khai.",
    "village_saved": "Đã lưu thôn/xóm.",
    "village_deleted": "Đã xoá thôn/xóm.",
    "device_saved": "Đã lưu thiết bị.",
    "device_removed": "Đã gỡ thiết bị khỏi danh mục.",
    "point_saved": "Đã lưu điểm camera.",
    "point_removed": "Đã xoá điểm camera; các camera của điểm không còn gắn điểm nào.",
    "speaker_approved": "Đã duyệt loa: loa được đưa vào chương trình phát và cảnh báo của xã.",
    "imported": "Đã nhập tệp CSV.",
    "account_revoked": "Đã thu hồi tài khoản broker; thiết bị đã bị ngắt kết nối.",
    "password_changed": "Đã đổi mật khẩu; các phiên đăng nhập khác đã kết thúc.",
    "token_revoked": "Đã thu hồi token.",
    "sessions_ended": "Đã kết thúc các phiên đăng nhập khác.",
}


class FormError(ValueError):
    """A field a person filled in is wrong; the message names it (Vietnamese)."""


def field(
    form: MultiDictProxy[Any], name: str, label: str, *, max_len: int = 200, required: bool = True
) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError(f"{label}: giá trị không hợp lệ")
    value = value.strip()
    if required and not value:
        raise FormError(f"{label}: không được để trống")
    if len(value) > max_len:
        raise FormError(f"{label}: dài quá {max_len} ký tự")
    if any(ord(ch) < 32 for ch in value):
        raise FormError(f"{label}: có ký tự điều khiển")
    return value


def optional(form: MultiDictProxy[Any], name: str, label: str, max_len: int = 200) -> str | None:
    return field(form, name, label, max_len=max_len, required=False) or None


def known_communes(names: dict[tuple[str, str], str]) -> set[tuple[str, str]]:
    return {k for k in names if k[1]}


def rejected(request: web.Request, what: str, message: str) -> None:
    c = ctx(request)
    c.count(f"admin_rejected_{what}")
    log.info("admin %s rejected for %s: %s", what, principal(request).username, message)


# A page that shows itself again with an error: (request, status, error message).
PageAgain = Callable[[web.Request, int, str | None], Awaitable[web.Response]]


async def refuse(
    request: web.Request, what: str, message: str, page: PageAgain, status: int = 400
) -> web.Response:
    """A change refused (bad form, or the data does not allow it): counted, logged, and the page shown again."""
    rejected(request, what, message)
    return await page(request, status, message)


async def apply_change(
    request: web.Request, what: str, change: Callable[[Session], str | None], page: PageAgain, done: str
) -> web.Response:
    """Runs a change in the SQL thread: a problem it returns is refused, otherwise see the `done` page."""
    problem = await ctx(request).db.run(change)
    if problem:
        return await refuse(request, what, problem, page)
    return see_other(done)


def admin_page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    p = principal(request)
    tabs = [
        {"href": href, "label": label, "active": request.path.startswith(href)}
        for href, label, perm in TABS
        if has_perm(p, perm)
    ]
    notice = NOTICES.get(request.query.get("msg", ""))
    values.setdefault("error", None)
    return render(request, template, status=status, tabs=tabs, notice=notice, **values)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
