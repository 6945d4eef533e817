"""Shared fixtures: real services on free loopback ports in temp folders (never assumed to be running)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from devtools.services import Service, influx_create_db, start_influxd, start_mosquitto

_db_counter = itertools.count(1)

# Property-based tests (the fuzzers of the MQTT parsers, schemathesis) run the same examples on every run and
# machine: derandomized, no example database carried between runs, no deadline on a loaded 2-core machine.
settings.register_profile(
    "ops",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ops")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Service]:
    svc = start_mosquitto(tmp_path / "mosquitto")
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_influxd(tmp_path_factory.mktemp("influxd"))
    yield svc
    svc.stop()


@pytest.fixture
def influx_db(influxd: Service) -> str:
    """A fresh database name on the shared influxd (created)."""
    name = f"t{next(_db_counter)}"
    influx_create_db(influxd.port, name)
    return name


# Fixture modules owned by each part (camera simulator, hub); kept apart so they can grow independently.
pytest_plugins = [
    "tests.fixtures_camsim",
    "tests.fixtures_hub",
    "tests.fixtures_web",
]
