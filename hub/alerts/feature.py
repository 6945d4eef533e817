"""Alerts as a hub feature: the engine (one component), its config section, tables, gauges, API and pages.

The engine takes its notices' sink from whichever feature provides `NOTICE_SINK` (the notifier) and reads
facts from its own sources (cameras, edge agents) and from `FACT_SOURCES`, where other features add theirs.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hub.alerts.config import AlertsConfig
from hub.alerts.maintenance_lookup import maintenance_intervals
from hub.alerts.queries import open_unacknowledged
from hub.alerts.recorder_rules import RecorderFacts
from hub.alerts.service import ALERTS, AlertService
from hub.alerts.web import api, pages, rules
from hub.core.escalation import ALERT_ACKS, AlertAcks
from hub.core.features import FACT_SOURCES, NOTICE_SINK, Feature, FeatureContext
from hub.core.maintenance_rules import MAINTENANCE_WINDOWS, MaintenanceWindows
from hub.core.recorder_state import RECORDER_STATES


def setup(ctx: FeatureContext) -> None:
    engine = AlertService(
        ctx.settings(AlertsConfig),
        ctx.db,
        ctx.events,
        ctx.stats,
        ctx.store,
        sink=ctx.services.find(NOTICE_SINK),
        others=ctx.services.get(FACT_SOURCES),
        lead=ctx.leases.leader("alerts"),
    )
    ctx.add_gauges(
        alerts_firing=lambda: engine.stats()["firing"],
        alerts_active=lambda: engine.stats()["active"],
    )
    engine.tz = tz = ZoneInfo(ctx.config.timezone)
    ctx.services.provide(
        MAINTENANCE_WINDOWS,
        MaintenanceWindows(lambda s, cams, a, b: maintenance_intervals(s, cams, a, b, tz)),
    )
    recorders = ctx.services.find(RECORDER_STATES)
    if recorders is not None:
        engine.add_source(RecorderFacts(recorders, ctx.store, engine.settings, ctx.settings(AlertsConfig)))
    ctx.services.provide(ALERT_ACKS, AlertAcks(open_unacknowledged))
    ctx.services.provide(ALERTS, engine)
    ctx.add_component(engine)


FEATURE = Feature(
    name="alerts",
    setup=setup,
    config_key="alerts",
    config_model=AlertsConfig,
    config_description="Alert rules (docs/ALERTS.md)",
    tables=("hub.alerts.models",),
    provides=(ALERTS, MAINTENANCE_WINDOWS, ALERT_ACKS),
    needs=(FACT_SOURCES,),
    after=(NOTICE_SINK, RECORDER_STATES),
    api_routes=(*api.ROUTES, *rules.ROUTES),
    add_pages=pages.add_pages,
)
