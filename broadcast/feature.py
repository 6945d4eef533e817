"""Broadcasts as a hub feature: speakers, dispatch and the scheduler (one component), the config section,
the tables, alert facts (speakers, airings), gauges, the JSON API and the pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from broadcast.bulletins import emergency
from broadcast.bulletins.folder import FolderIntake
from broadcast.config import BroadcastConfig
from broadcast.content.store import ContentStore
from broadcast.content.tts import make_voices
from broadcast.digest import airings_digest
from broadcast.report_section import airings_report
from broadcast.service import BROADCAST, SCHEDULER, BroadcastService
from broadcast.web import airings, airings_export, bulletins, live, relays, speaker_history, speakers
from broadcast.web.content import api as content
from broadcast.web.content import pages as content_pages
from broadcast.web.programmes import api as programmes
from broadcast.web.programmes import pages as programme_pages
from hub.core.config import CoreConfig
from hub.core.db import utcnow
from hub.core.features import DIGEST_SECTIONS, FACT_SOURCES, REPORT_SECTIONS, Feature, FeatureContext


def setup(ctx: FeatureContext) -> None:
    service = BroadcastService(ctx)
    ctx.add_digest_section(airings_digest)
    ctx.add_report_section(airings_report)
    ctx.services.provide(BROADCAST, service)
    ctx.services.provide(SCHEDULER, service.scheduler)
    ctx.add_component(service)
    inbox = ctx.settings(BroadcastConfig).bulletins.directory(ctx.config.data_dir)
    if inbox is not None:
        ctx.add_component(folder_intake(ctx, inbox, service))


def folder_intake(ctx: FeatureContext, inbox: Path, service: BroadcastService) -> FolderIntake:
    cfg = ctx.settings(BroadcastConfig)
    store = ContentStore(cfg.content.directory(ctx.config.data_dir), cfg.content)
    policy = None
    if cfg.bulletins.emergency == "air_now":

        async def policy(rec: dict[str, Any]) -> dict[str, Any]:
            return await emergency.air_now(ctx.db, service.scheduler, rec, cfg.bulletins.account)

    return FolderIntake(
        inbox, cfg.bulletins, ctx.config, ctx.db, store, make_voices(cfg.content),
        cfg.schedule.conflict_horizon_days, utcnow, service.scheduler.reload, policy,
    )  # fmt: skip


def content_dirs(section: BroadcastConfig, data_dir: Path) -> tuple[Path, ...]:
    """Uploaded originals and the processed MP3s the receivers fetch: backups copy them."""
    return (section.content.directory(data_dir),)


def add_pages(app: web.Application, config: CoreConfig) -> None:
    programme_pages.add_routes(app)
    content_pages.add_pages(app, config)
    airings.add_pages(app)
    speakers.add_pages(app)
    relays.add_pages(app)
    live.add_pages(app)


FEATURE = Feature(
    name="broadcast",
    setup=setup,
    config_key="broadcast",
    config_model=BroadcastConfig,
    config_description="Smart-radio broadcasts (docs/BROADCAST.md)",
    tables=(
        "broadcast.content.models",
        "broadcast.airings.models",
        "broadcast.programmes.models",
        "broadcast.relays.models",
        "broadcast.bulletins.models",
    ),
    provides=(BROADCAST, SCHEDULER),
    needs=(FACT_SOURCES, DIGEST_SECTIONS, REPORT_SECTIONS),
    api_routes=(
        *programmes.ROUTES,
        *content.ROUTES,
        *airings.ROUTES,
        *airings_export.ROUTES,
        *bulletins.ROUTES,
        *speakers.ROUTES,
        *speaker_history.ROUTES,
        *relays.ROUTES,
    ),
    add_pages=add_pages,
    file_dirs=content_dirs,
)
