"""/api/v1/scheduled-reports…: the reports made on schedule (list, PDF and CSV downloads, make again) and their
deliveries (send again). Rows are limited to the caller's scope: the whole-hub report only for province-wide
users, a commune's report for its district's and its own users."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.audit import record_change
from hub.core.auth import Principal
from hub.core.openapi import ApiRoute, Param
from hub.core.serialize import iso
from hub.scheduled_reports import store
from hub.scheduled_reports.files import report_filename, report_path, reports_dir
from hub.scheduled_reports.models import ReportDelivery, ReportRun
from hub.scheduled_reports.service import REPORTS, ReportService
from hub.web import params
from hub.web.access import Perm, principal, requires, scope_where
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found
from hub.web.jsonout import json_response

MAX_LIMIT = 200
STATE_LABELS = {
    "pending": "Chờ gửi",
    "sent": "Đã gửi",
    "failed": "Lỗi, đã dừng thử",
    "skipped": "Kênh chưa cấu hình",
}
CHANNEL_LABELS = {"zalo": "Nhóm Zalo", "email": "Thư điện tử"}
KIND_LABELS = {"weekly": "Tuần", "monthly": "Tháng"}
FILE_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def run_dict(r: ReportRun, deliveries: list[ReportDelivery]) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "district": r.district,
        "commune": r.commune,
        "label": r.label,
        "period_start": iso(r.period_start),
        "period_end": iso(r.period_end),
        "created_at": iso(r.created_at),
        "cameras": r.cameras,
        "availability_pct": r.availability,
        "pdf_bytes": r.pdf_bytes,
        "csv_bytes": r.csv_bytes,
        "error": r.error,
        "deliveries": [
            {
                "id": d.id,
                "channel": d.channel,
                "target": d.target,
                "state": d.state,
                "attempts": d.attempts,
                "next_try_at": iso(d.next_try_at),
                "last_error": d.last_error,
                "sent_at": iso(d.sent_at),
            }
            for d in deliveries
        ],
    }


def list_runs(s: Session, p: Principal, limit: int) -> list[tuple[ReportRun, list[ReportDelivery]]]:
    runs = list(
        s.scalars(
            select(ReportRun)
            .where(scope_where(p, ReportRun.district, ReportRun.commune))
            .order_by(ReportRun.period_start.desc(), ReportRun.kind, ReportRun.district, ReportRun.commune)
            .limit(limit)
        )
    )
    by: dict[int, list[ReportDelivery]] = {r.id: [] for r in runs}
    if runs:
        for d in s.scalars(
            select(ReportDelivery).where(ReportDelivery.report_id.in_(by)).order_by(ReportDelivery.id)
        ):
            by[d.report_id].append(d)
    s.expunge_all()
    return [(r, by[r.id]) for r in runs]


def _run_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def visible_run(s: Session, p: Principal, run_id: int) -> ReportRun | None:
    run = s.scalars(
        select(ReportRun).where(ReportRun.id == run_id, scope_where(p, ReportRun.district, ReportRun.commune))
    ).first()
    if run is not None:
        s.expunge(run)
    return run


def _service(request: web.Request) -> ReportService:
    svc = ctx(request).services.find(REPORTS)
    if svc is None:
        raise ApiError(503, "unavailable", "Chức năng báo cáo định kỳ không chạy trong tiến trình này")
    return svc


@requires(Perm.VIEW_REPORTS)
async def list_reports(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ("limit",))
    limit = params.integer(request, "limit", 50, 1, MAX_LIMIT)
    rows = await c.db.run(lambda s: list_runs(s, p, limit))
    return json_response({"items": [run_dict(r, ds) for r, ds in rows]})


async def report_file(request: web.Request, ext: str) -> web.Response:
    """The stored PDF or CSV of a report in the caller's scope (shared by the API and the page)."""
    c, p = ctx(request), principal(request)
    rid = _run_id(request)
    run = await c.db.run(lambda s: visible_run(s, p, rid))
    if run is None:
        raise not_found(f"Không có báo cáo {rid}")
    try:
        body = await asyncio.to_thread(report_path(reports_dir(c.config), rid, ext).read_bytes)
    except FileNotFoundError:
        raise not_found(f"Báo cáo {rid} chưa có tệp {ext.upper()}; hãy lập lại") from None
    return web.Response(
        body=body,
        headers={
            "Content-Type": FILE_TYPES[ext],
            "Content-Disposition": f'attachment; filename="{report_filename(run, ext)}"',
            "Cache-Control": "private, no-store",
        },
    )


@requires(Perm.VIEW_REPORTS)
async def report_pdf(request: web.Request) -> web.Response:
    return await report_file(request, "pdf")


@requires(Perm.VIEW_REPORTS)
async def report_csv(request: web.Request) -> web.Response:
    return await report_file(request, "csv")


async def regenerate_run(request: web.Request) -> ReportRun:
    """Makes the report's files again from the database as it is now (audited); its deliveries stay."""
    c, p = ctx(request), principal(request)
    rid = _run_id(request)
    run = await c.db.run(lambda s: visible_run(s, p, rid))
    if run is None:
        raise not_found(f"Không có báo cáo {rid}")
    await _service(request).render(rid)
    now = c.clock()

    def audit(s: Session) -> ReportRun | None:
        record_change(
            s, actor=p.username, action="report.regenerate", target=f"report:{rid}", now=now,
            district=run.district or None, commune=run.commune or None,
        )  # fmt: skip
        return visible_run(s, p, rid)

    got = await c.db.run(audit)
    assert got is not None
    return got


# Making again and sending again are changes (audited): for those who may act on alerts and resend the Zalo
# outbox (police, admins), not for read-only viewers of reports.
@requires(Perm.ACK_ALERTS)
async def regenerate(request: web.Request) -> web.Response:
    run = await regenerate_run(request)
    rows = await ctx(request).db.run(
        lambda s: list(s.scalars(select(ReportDelivery).where(ReportDelivery.report_id == run.id)))
    )
    return json_response(run_dict(run, rows))


async def retry_delivery(request: web.Request) -> ReportDelivery:
    c, p = ctx(request), principal(request)
    did = _run_id(request)
    now = c.clock()

    def change(s: Session) -> ReportDelivery | None:
        d = s.get(ReportDelivery, did)
        if d is None or visible_run(s, p, d.report_id) is None:
            return None
        before = {"state": d.state, "attempts": d.attempts}
        store.retry_delivery(s, did, now)
        record_change(
            s, actor=p.username, action="report.resend", target=f"report-delivery:{did}", now=now,
            before=before, after={"state": d.state},
        )  # fmt: skip
        s.flush()
        s.expunge(d)
        return d

    got = await c.db.run(change)
    if got is None:
        raise not_found(f"Không có lượt gửi {did}")
    svc = c.services.find(REPORTS)
    if svc is not None:  # elsewhere the hub that holds the duty finds it at its next round
        svc.wake()
    return got


@requires(Perm.ACK_ALERTS)
async def resend(request: web.Request) -> web.Response:
    d = await retry_delivery(request)
    return json_response({"id": d.id, "state": d.state, "attempts": d.attempts})


_ID = Param("id", "Report id", {"type": "integer", "minimum": 1}, where="path")
_DID = Param("id", "Delivery id", {"type": "integer", "minimum": 1}, where="path")
_RUN: dict[str, Any] = {"type": "object"}
ROUTES = [
    ApiRoute(
        "GET",
        "/scheduled-reports",
        list_reports,
        "Weekly and monthly reports made on schedule in the caller's scope, newest first, with their deliveries",
        params=(Param("limit", "How many", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),),
        response={"type": "object", "properties": {"items": {"type": "array", "items": _RUN}}},
    ),
    ApiRoute(
        "GET",
        r"/scheduled-reports/{id:\d{1,12}}/pdf",
        report_pdf,
        "The report as PDF (DejaVu Sans embedded)",
        params=(_ID,),
        content_type="application/pdf",
        response={"type": "string", "format": "binary"},
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "GET",
        r"/scheduled-reports/{id:\d{1,12}}/csv",
        report_csv,
        "The report as CSV, one row per camera (UTF-8 with BOM)",
        params=(_ID,),
        content_type="text/csv",
        response={"type": "string"},
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "POST",
        r"/scheduled-reports/{id:\d{1,12}}/regenerate",
        regenerate,
        "Make the report's files again from the database as it is now",
        params=(_ID,),
        response=_RUN,
        errors=(400, 401, 403, 404, 503),
    ),
    ApiRoute(
        "POST",
        r"/scheduled-reports/deliveries/{id:\d{1,12}}/retry",
        resend,
        "Send a delivery again (failed, skipped or sent)",
        params=(_DID,),
        response={"type": "object"},
        errors=(400, 401, 403, 404),
    ),
]
