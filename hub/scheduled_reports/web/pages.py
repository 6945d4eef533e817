"""/reports/scheduled: the reports made on schedule for people (download PDF/CSV, make again, see and retry each
delivery); /admin/public-status: switch each commune's public status page on or off (audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from contract.topics import is_slug
from hub.core.areas import area_names
from hub.core.audit import record_change
from hub.core.config import CoreConfig
from hub.scheduled_reports.config import reports_settings
from hub.scheduled_reports.public_status import enabled_communes, set_enabled
from hub.scheduled_reports.schedule import next_due_at
from hub.scheduled_reports.web.api import (
    CHANNEL_LABELS,
    KIND_LABELS,
    STATE_LABELS,
    list_runs,
    regenerate_run,
    report_csv,
    report_pdf,
    retry_delivery,
)
from hub.scheduled_reports.web.public_page import forget
from hub.web import params, queries
from hub.web.access import Perm, has_perm, principal, requires
from hub.web.admin.common import FormError, admin_page, field, refuse, see_other
from hub.web.context import ctx
from hub.web.render import render

PAGE_SIZE = 60


@requires(Perm.VIEW_REPORTS)
async def scheduled_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ())
    rows = await c.db.run(lambda s: list_runs(s, p, PAGE_SIZE))
    names = await c.db.run(lambda s: area_names(s, c.config))
    cfg = reports_settings(c.config)
    nxt = (
        next_due_at(c.clock().replace(tzinfo=UTC).timestamp(), c.tz, cfg.at_time, cfg.kinds)
        if cfg.kinds
        else None
    )
    return render(
        request,
        "scheduled_reports.html",
        rows=rows,
        area=lambda d, co: names.get((d, co)) or co if co else "Toàn bộ địa bàn",
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        channels=CHANNEL_LABELS,
        enabled=cfg.enabled,
        next_due=None if nxt is None else datetime.fromtimestamp(nxt, c.tz),
        can_act=has_perm(p, Perm.ACK_ALERTS),
    )


@requires(Perm.ACK_ALERTS)
async def page_regenerate(request: web.Request) -> web.Response:
    await regenerate_run(request)
    return see_other("/reports/scheduled")


@requires(Perm.ACK_ALERTS)
async def page_retry(request: web.Request) -> web.Response:
    await retry_delivery(request)
    return see_other("/reports/scheduled")


async def _public_admin(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c, p = ctx(request), principal(request)

    def load(s: Session) -> dict[str, Any]:
        on = enabled_communes(s)
        communes = [a for a in queries.list_areas(s, p, c.config) if a["commune"]]
        return {"communes": [{**a, "on": (a["district"], a["commune"]) in on} for a in communes]}

    data = await c.db.run(load)
    return admin_page(request, "admin_public_status.html", status=status, error=error, **data)


@requires(Perm.MANAGE_DEVICES)
async def public_admin(request: web.Request) -> web.Response:
    params.reject_unknown(request, ("msg",))
    return await _public_admin(request)


@requires(Perm.MANAGE_DEVICES)
async def public_admin_save(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        district = field(form, "district", "Huyện", max_len=64)
        commune = field(form, "commune", "Xã", max_len=64)
        if not (is_slug(district) and is_slug(commune)):
            raise FormError("Mã huyện/xã không hợp lệ")
        on = field(form, "enabled", "Bật/tắt", max_len=3) == "1"
    except FormError as exc:
        return await refuse(request, "public_status", str(exc), _public_admin)
    now = c.clock()

    def change(s: Session) -> str | None:
        known = {(a["district"], a["commune"]) for a in queries.list_areas(s, p, c.config) if a["commune"]}
        if (district, commune) not in known:
            return f"Không có xã {district}/{commune} trong phạm vi của bạn"
        before = set_enabled(s, district, commune, on, now, p.username)
        record_change(
            s, actor=p.username, action="public_status.set", target=f"area:{district}/{commune}", now=now,
            before={"enabled": before}, after={"enabled": on}, district=district, commune=commune,
        )  # fmt: skip
        return None

    problem = await c.db.run(change)
    if problem:
        return await refuse(request, "public_status", problem, _public_admin)
    forget(request.app, district, commune)
    return see_other("/admin/public-status?msg=public_saved")


def add_pages(app: web.Application, config: CoreConfig) -> None:
    app.router.add_get("/reports/scheduled", scheduled_page)
    app.router.add_get(r"/reports/scheduled/{id:\d{1,12}}.pdf", report_pdf)
    app.router.add_get(r"/reports/scheduled/{id:\d{1,12}}.csv", report_csv)
    app.router.add_post(r"/reports/scheduled/{id:\d{1,12}}/regenerate", page_regenerate)
    app.router.add_post(r"/reports/scheduled/deliveries/{id:\d{1,12}}/retry", page_retry)
    app.router.add_get("/admin/public-status", public_admin)
    app.router.add_post("/admin/public-status", public_admin_save)
