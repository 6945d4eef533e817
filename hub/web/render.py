"""Templates (Jinja2, autoescaped) and what every page gets: navigation, user, CSRF token, asset URLs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup

from hub.core.access import Perm, has_perm
from hub.core.auth import Principal
from hub.core.labels import browser_labels, local_time
from hub.web.context import CSRF, PRINCIPAL, ctx
from hub.web.home import home_for

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"
BRAND = "Giám sát vận hành"

ROLE_LABELS = {
    "admin": "Quản trị",
    "police": "Công an",
    "officer": "Cán bộ văn hoá xã",
    "approver": "Người duyệt",
    "technician": "Kỹ thuật viên",
    "leader": "Lãnh đạo (chỉ xem)",
}


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    perm: Perm
    or_perm: Perm | None = None  # shown to a role holding either (the map: cameras or speakers)

    def shown_to(self, p: Principal) -> bool:
        return has_perm(p, self.perm) or (self.or_perm is not None and has_perm(p, self.or_perm))


# Later pages (alerts, broadcasts, admin, reports) add their entry here; it shows only to roles allowed.
NAV = [
    NavItem("/", "Tường camera", Perm.VIEW_CAMERAS),
    NavItem("/recorders", "Đầu ghi", Perm.VIEW_CAMERAS),
    NavItem("/map", "Bản đồ", Perm.VIEW_CAMERAS, Perm.VIEW_SPEAKERS),
    NavItem("/reports", "Báo cáo", Perm.VIEW_REPORTS),
    NavItem("/alerts", "Cảnh báo", Perm.VIEW_ALERTS),
    NavItem("/broadcasts", "Phát thanh", Perm.VIEW_BROADCASTS),
    NavItem("/broadcasts/content", "Nội dung", Perm.VIEW_BROADCASTS),
    NavItem("/speakers", "Loa", Perm.VIEW_SPEAKERS),
    NavItem("/alerts/outbox", "Hộp thư Zalo", Perm.VIEW_ALERTS),
    NavItem("/admin", "Quản trị", Perm.MANAGE_USERS),
]


def asset_hashes() -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12]
        for p in sorted(STATIC_DIR.iterdir())
        if p.is_file()
    }


def json_for_html(data: Any) -> Markup:
    """JSON safe inside <script type="application/json"> (no '</script>' break-out)."""
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


def make_environment(assets: dict[str, str], tz: ZoneInfo) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def asset(name: str) -> str:
        return f"/static/{name}?v={assets[name]}"

    env.globals.update(asset=asset, brand=BRAND, role_labels=ROLE_LABELS, labels=browser_labels())
    env.filters["local"] = lambda v: local_time(v, tz)
    env.filters["local_short"] = lambda v: local_time(v, tz, with_date=False)
    env.filters["json_html"] = json_for_html
    return env


def scope_label(p: Principal, names: dict[tuple[str, str], str]) -> str:
    if p.role != "admin" and p.areas is not None and p.commune is None:
        if len(p.areas) == 1:
            return names.get(next(iter(p.areas)), next(iter(p.areas))[1])
        return f"{len(p.areas)} xã/phường"  # a grouping of the area tree
    if p.role == "admin" or p.district is None:
        return "Toàn tỉnh"
    if p.commune is None:
        return names.get((p.district, ""), p.district)
    return names.get((p.district, p.commune), p.commune)


def page_values(request: web.Request) -> dict[str, Any]:
    """What base.html needs, read from the request (on the event loop)."""
    c = ctx(request)
    p = request.get(PRINCIPAL)
    nav = []
    if p is not None:
        # The entry whose href is the longest prefix of the path is current (/alerts/outbox is not /alerts).
        under = [
            n.href
            for n in NAV
            if request.path == n.href or (n.href != "/" and request.path.startswith(n.href + "/"))
        ]
        current = max(under, key=len, default=None)
        nav = [{"href": n.href, "label": n.label, "active": n.href == current} for n in NAV if n.shown_to(p)]
    return {
        "principal": p,
        "csrf": request.get(CSRF, ""),
        "nav": nav,
        "home": home_for(p),
        "scope_label": "",
        "timezone": c.config.timezone,
    }


def html_response(html: str, status: int = 200) -> web.Response:
    return web.Response(text=html, status=status, content_type="text/html")


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    page = {**page_values(request), **values}
    return html_response(ctx(request).templates.get_template(template).render(**page), status)
