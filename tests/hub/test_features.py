"""The feature registration API (hub/core/features.py) and the composition root (hub/compose.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from contract.configfile import StrictModel
from hub.compose import FEATURES, Hub, HubConfig, config_model, create_app
from hub.core.config import CoreConfig, DatabaseConfig, InfluxConfig
from hub.core.events import EventBus
from hub.core.features import (
    FACT_SOURCES,
    NOTICE_SINK,
    Feature,
    FeatureContext,
    ServiceKey,
    ServiceMissing,
    Services,
    setup_order,
)


class Thing:
    pass


A = ServiceKey("a", Thing)
B = ServiceKey("b", Thing)


def _noop(ctx: FeatureContext) -> None:
    return None


def test_setup_order_follows_needs_and_keeps_declared_order_otherwise() -> None:
    one = Feature("one", _noop, needs=(A,))
    two = Feature("two", _noop, provides=(A,), after=(B,))
    three = Feature("three", _noop)
    four = Feature("four", _noop, provides=(B,))
    assert [f.name for f in setup_order([one, two, three, four])] == ["three", "four", "two", "one"]


def test_setup_order_refuses_what_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="needs 'a', which no feature provides"):
        setup_order([Feature("one", _noop, needs=(A,))])
    with pytest.raises(ValueError, match="provided by both"):
        setup_order([Feature("one", _noop, provides=(A,)), Feature("two", _noop, provides=(A,))])
    with pytest.raises(ValueError, match="cycle"):
        setup_order(
            [
                Feature("one", _noop, provides=(A,), needs=(B,)),
                Feature("two", _noop, provides=(B,), needs=(A,)),
            ]
        )
    # Services the composition root gives up front count as provided.
    assert [f.name for f in setup_order([Feature("one", _noop, needs=(A,))], available=(A,))] == ["one"]


def test_services_are_typed_and_provided_once() -> None:
    s = Services()
    assert s.find(A) is None
    with pytest.raises(ServiceMissing):
        s.get(A)
    with pytest.raises(TypeError):
        s.provide(A, "not a thing")  # type: ignore[arg-type]
    t = Thing()
    s.provide(A, t)
    assert s.get(A) is t and A in s
    with pytest.raises(ValueError, match="twice"):
        s.provide(A, Thing())


def test_config_model_has_one_section_per_feature_and_refuses_clashes() -> None:
    cfg = HubConfig.model_validate({"alerts": {"enabled": False}})
    assert cfg.alerts.enabled is False
    with pytest.raises(ValidationError, match="nosuch"):
        HubConfig.model_validate({"nosuch": {}})

    class Section(StrictModel):
        x: int = 1

    with pytest.raises(ValueError, match="taken"):
        config_model([Feature("f", _noop, config_key="mqtt", config_model=Section)])
    model = config_model([Feature("f", _noop, config_key="extra", config_model=Section)])
    assert model().extra.x == 1


def test_the_hub_sets_up_every_feature_through_its_context(tmp_path: Path) -> None:
    cfg = HubConfig(
        data_dir=tmp_path,
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'hub.db'}"),
        influx=InfluxConfig(enabled=False),
    )
    hub = Hub(cfg)
    assert [f.name for f in hub.features] == [
        "notify",
        "commands",
        "broadcast",
        "recorders",
        "map",
        "alerts",
        "scheduled_reports",
    ]
    assert [c.name for c in hub.components] == [
        "notify",
        "edge-commands",
        "broadcast",
        "recorders",
        "alerts",
        "scheduled_reports",
    ]
    # The notifier is the alert engine's sink; broadcasts and the notifier add fact sources, and the engine its
    # recorder rules over the states the recorders feature provides.
    assert hub.alerts.sink is hub.services.get(NOTICE_SINK) is hub.notifier
    assert len(hub.services.get(FACT_SOURCES).items) == 6
    assert {"alerts_firing", "notify_sent", "commands_pending", "speakers"} <= set(hub.stats.gauges)
    # Every feature's tables are known to the database.
    hub.db.create_all()
    names = set(hub.db.engine.dialect.get_table_names(hub.db.engine.connect()))
    assert {"alerts", "notify_outbox", "airings", "programmes", "cameras", "recorders"} <= names
    hub.db.close()


def test_the_web_app_has_every_features_routes_without_a_running_hub(tmp_path: Path) -> None:
    from hub.compose import open_database

    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    app = create_app(CoreConfig(), db, EventBus(), lambda: {})
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    for expected in (
        "/api/v1/alerts",
        "/alerts/outbox",
        "/broadcasts/programmes",
        "/api/v1/cameras",
        "/recorders",
        "/map",
        "/api/v1/map/features",
        "/reports/scheduled",
        "/api/v1/scheduled-reports",
    ):
        assert expected in paths, expected
    assert len(FEATURES) == 7
    db.close()
