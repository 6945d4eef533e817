"""Zalo notifications as a hub feature: the notifier takes alert notices (it provides `NOTICE_SINK`),
reports its own channels failing as alert facts, and brings its outbox API and page."""

from __future__ import annotations

from hub.core.escalation import ALERT_ACKS
from hub.core.features import DIGEST_SECTIONS, FACT_SOURCES, FILE_SINK, NOTICE_SINK, Feature, FeatureContext
from hub.core.maintenance_rules import MAINTENANCE_WINDOWS
from hub.notify.config import NotifyConfig
from hub.notify.files import ZaloFiles
from hub.notify.service import NOTIFIER, Notifier
from hub.notify.web import api, outbox_page


def setup(ctx: FeatureContext) -> None:
    notifier = Notifier(
        ctx, digest_sections=ctx.services.get(DIGEST_SECTIONS).items, lead=ctx.leases.leader("notify")
    )
    # Found when an escalation is due, not now: the alert engine is set up after the notifier.
    notifier.escalator.acks = lambda: ctx.services.find(ALERT_ACKS)
    notifier.daily.maintenance = lambda: ctx.services.find(MAINTENANCE_WINDOWS)
    ctx.add_fact_source(notifier.channel_facts)
    ctx.add_gauges(**notifier.channels.gauges())
    ctx.services.provide(NOTIFIER, notifier)
    ctx.services.provide(NOTICE_SINK, notifier)
    ctx.services.provide(FILE_SINK, ZaloFiles(notifier.channels))
    ctx.add_component(notifier)


FEATURE = Feature(
    name="notify",
    setup=setup,
    config_key="notify",
    config_model=NotifyConfig,
    config_description="Zalo notifications (docs/NOTIFY.md)",
    tables=("hub.notify.models",),
    provides=(NOTIFIER, NOTICE_SINK, FILE_SINK),
    needs=(FACT_SOURCES, DIGEST_SECTIONS),
    api_routes=api.ROUTES,
    add_pages=outbox_page.add_pages,
)
