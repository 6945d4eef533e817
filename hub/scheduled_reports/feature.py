"""Scheduled reports as a hub feature: the report maker and sender (under the `notify` leader lease), its tables,
its files (backups copy them), its API, the reports page, the public status pages and their admin switch.
Broadcast figures come from REPORT_SECTIONS; Zalo files go through the notifier's FILE_SINK when present."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hub.core.config import CoreConfig
from hub.core.features import FILE_SINK, REPORT_SECTIONS, Feature, FeatureContext
from hub.scheduled_reports.config import ScheduledReportsConfig
from hub.scheduled_reports.service import REPORTS, ReportService
from hub.scheduled_reports.web import api, pages, public_page


def setup(ctx: FeatureContext) -> None:
    service = ReportService(
        ctx.config,
        ctx.db,
        ctx.services.get(REPORT_SECTIONS).items,
        lambda: ctx.services.find(FILE_SINK),
        # The hub that sends Zalo messages (the `notify` duty) holds the OA token and alone may refresh it, so the
        # reports are made and sent by that same hub, like the daily digest.
        lead=ctx.leases.leader("notify"),
    )
    ctx.services.provide(REPORTS, service)
    ctx.add_component(service)
    ctx.add_gauges(
        reports_made=lambda: service.made,
        reports_sent=lambda: service.sent,
        reports_failed=lambda: service.failures,
    )


def report_dirs(section: ScheduledReportsConfig, data_dir: Path) -> tuple[Path, ...]:
    return (section.directory(data_dir),)


def add_pages(app: web.Application, config: CoreConfig) -> None:
    pages.add_pages(app, config)
    public_page.add_pages(app, config)


FEATURE = Feature(
    name="scheduled_reports",
    setup=setup,
    config_key="scheduled_reports",
    config_model=ScheduledReportsConfig,
    config_description="Weekly and monthly reports sent to Zalo and by e-mail; public status pages (docs/REPORTS.md)",
    tables=("hub.scheduled_reports.models",),
    provides=(REPORTS,),
    needs=(REPORT_SECTIONS,),
    after=(FILE_SINK,),
    api_routes=api.ROUTES,
    add_pages=add_pages,
    file_dirs=report_dirs,
)
