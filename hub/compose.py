"""The composition root: the one place that knows every feature. It builds the hub's config model (the core's
settings plus one section per feature), the core, then each feature in the order their needs give, and the
web app with the core's pages and every feature's routes.

Adding a feature: write its `feature.py` with a `FEATURE = Feature(...)` (hub/core/features.py says what it
may declare), then add it to `FEATURES` below. Nothing else in the hub changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import Field, create_model

from broadcast.feature import FEATURE as BROADCAST_FEATURE
from broadcast.service import BROADCAST, BroadcastService
from contract import Topic
from hub.alerts.feature import FEATURE as ALERTS_FEATURE
from hub.alerts.service import ALERTS, AlertService
from hub.commands.feature import FEATURE as COMMANDS_FEATURE
from hub.commands.service import COMMANDS, EdgeCommander
from hub.core import config as core_config
from hub.core.config import CoreConfig
from hub.core.db import Database
from hub.core.events import EventBus
from hub.core.features import (
    DIGEST_SECTIONS,
    FACT_SOURCES,
    REPORT_SECTIONS,
    DigestSections,
    FactSources,
    Feature,
    FeatureContext,
    ReportSections,
    Services,
    setup_order,
)
from hub.core.runtime import HubCore
from hub.map.feature import FEATURE as MAP_FEATURE
from hub.notify.feature import FEATURE as NOTIFY_FEATURE
from hub.notify.service import NOTIFIER, Notifier
from hub.recorders.feature import FEATURE as RECORDERS_FEATURE
from hub.scheduled_reports.feature import FEATURE as SCHEDULED_REPORTS_FEATURE
from hub.web.app import create_app as create_core_app

# Declared order; the set-up order follows from what each needs (the notifier before the alert engine).
FEATURES: tuple[Feature, ...] = (
    NOTIFY_FEATURE,
    COMMANDS_FEATURE,
    BROADCAST_FEATURE,
    RECORDERS_FEATURE,
    ALERTS_FEATURE,
    MAP_FEATURE,
    SCHEDULED_REPORTS_FEATURE,
)


def config_model(features: Sequence[Feature] = FEATURES) -> type[CoreConfig]:
    """The hub's config model: the core's settings plus each feature's section (unknown keys stay errors)."""
    sections: dict[str, Any] = {}
    for f in features:
        if f.config_key is None or f.config_model is None:
            continue
        if f.config_key in CoreConfig.model_fields or f.config_key in sections:
            raise ValueError(f"config section {f.config_key!r} of feature {f.name} is taken")
        sections[f.config_key] = (
            f.config_model,
            Field(default_factory=f.config_model, description=f.config_description),
        )
    model: type[CoreConfig] = create_model("HubConfig", __base__=CoreConfig, **sections)
    return model


HubConfig = config_model()


def load_config(path: str | Path) -> CoreConfig:
    return core_config.load_config(path, HubConfig)


def table_modules(features: Sequence[Feature] = FEATURES) -> tuple[str, ...]:
    return tuple(m for f in features for m in f.tables)


def file_dirs(config: CoreConfig, features: Sequence[Feature] = FEATURES) -> list[tuple[str, Path]]:
    """The folders of files the hub keeps, each with a name that stays the same from one install to another
    (`data_dir`, then each feature's, named after it), for backups."""
    found = [("data_dir", config.data_dir)]
    for f in features:
        section = getattr(config, f.config_key, None) if f.config_key else None
        dirs = list(f.file_dirs(section, config.data_dir))
        found += [(f.name if len(dirs) == 1 else f"{f.name}-{i}", d) for i, d in enumerate(dirs, 1)]
    return found


def open_database(url: str) -> Database:
    """A database that knows every table of the core and of each feature (for create_all)."""
    return Database(url, table_modules())


class Hub(HubCore):
    """The whole hub process: the core, with every feature set up on it and its components added."""

    def __init__(
        self,
        config: CoreConfig,
        features: Sequence[Feature] = FEATURES,
        prepare_schema: Callable[[Database], object] | None = None,
        role: str = "all",
    ) -> None:
        super().__init__(config, table_modules(features), prepare_schema, role=role)
        self.features = setup_order(features, available=(FACT_SOURCES, DIGEST_SECTIONS, REPORT_SECTIONS))
        self.services = Services()
        # Extension points every feature may add to (the alert engine's facts, the digest's sections).
        self.services.provide(FACT_SOURCES, FactSources())
        self.services.provide(DIGEST_SECTIONS, DigestSections())
        self.services.provide(REPORT_SECTIONS, ReportSections())
        for feature in self.features:
            section = getattr(config, feature.config_key, None) if feature.config_key else None
            ctx = FeatureContext(
                feature=feature.name,
                config=config,
                section=section,
                db=self.db,
                events=self.events,
                stats=self.stats,
                influx=self.influx,
                store=self.store,
                publish=self._publish_for_features,
                services=self.services,
                send_order=self.send_order,
                leases=self.leases,
                owns=self._owns,
                _add_handler=self.add_handler,
                _replies=self.control.replies if self.control is not None else None,
            )
            feature.setup(ctx)
            for component in ctx.components:
                self.add_component(component)

    def _owns(self, district: str) -> bool:
        owned = self.store.owned
        return owned is None or district in owned

    async def _publish_for_features(self, topic: Topic, payload: bytes, qos: int, retain: bool) -> None:
        await self.publish(topic, payload, qos=qos, retain=retain)

    # The composition root may name its features; tests and tools use these, features never do.
    @property
    def alerts(self) -> AlertService:
        return self.services.get(ALERTS)

    @property
    def notifier(self) -> Notifier:
        return self.services.get(NOTIFIER)

    @property
    def commands(self) -> EdgeCommander:
        return self.services.get(COMMANDS)

    @property
    def broadcast(self) -> BroadcastService:
        return self.services.get(BROADCAST)


def create_app(
    config: CoreConfig,
    db: Database,
    events: EventBus,
    stats: Callable[[], dict[str, Any]],
    hub: Hub | None = None,
    features: Sequence[Feature] = FEATURES,
) -> web.Application:
    """The web app: the core's pages and API, then each feature's routes and pages. Without a running hub
    (tests, a web-only process) the routes are all there and the handlers say what is unavailable."""
    return create_core_app(
        config,
        db,
        events,
        stats,
        hub=hub,
        services=hub.services if hub is not None else Services(),
        features=features,
    )
