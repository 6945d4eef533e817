"""Hub fixtures: a real `Hub` in-process against the real Mosquitto/InfluxDB fixtures, and an MQTT publisher."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devtools.pgserver import start_postgres
from devtools.services import Service, free_port
from hub.compose import Hub, HubConfig
from hub.core.config import DatabaseConfig, HttpConfig, InfluxConfig, IngestConfig
from hub.core.config_mqtt import MqttConfig

_ids = itertools.count(1)


def make_hub_config(
    tmp_path: Path, mqtt_port: int, influx_url: str | None, influx_db: str = "ops", **ingest: Any
) -> HubConfig:
    """Fast flush intervals so tests see results quickly; every value is still a valid production value."""
    return HubConfig(
        data_dir=tmp_path / "hub",
        mqtt=MqttConfig(port=mqtt_port, client_id=f"test-hub-{next(_ids)}"),
        influx=InfluxConfig(
            enabled=influx_url is not None,
            url=influx_url or "http://127.0.0.1:1",
            database=influx_db,
            flush_interval_s=0.2,
            batch_size=1000,
        ),
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'hub.db'}"),
        http=HttpConfig(port=free_port(), secure_cookies=False),
        # Hand-made reports here often name no box and carry fixed old times: legacy rules, no age limit to speak
        # of (tests/security checks the strict defaults).
        ingest=IngestConfig(
            **{"state_flush_s": 0.2, "legacy_reports": True, "max_age_s": 20 * 365 * 86400.0, **ingest}
        ),
    )


@pytest.fixture
def hub_config(tmp_path: Path, mosquitto: Service, influxd: Service, influx_db: str) -> HubConfig:
    return make_hub_config(tmp_path, mosquitto.port, influxd.url, influx_db)


@pytest.fixture
async def hub(hub_config: HubConfig) -> AsyncIterator[Hub]:
    async with started_hub(hub_config) as h:
        yield h


@asynccontextmanager
async def started_hub(cfg: HubConfig) -> AsyncIterator[Hub]:
    """A started `Hub` on `cfg`, stopped on the way out."""
    h = Hub(cfg)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


async def wait_for(cond: Callable[[], Any], within: float = 10.0, what: str = "condition") -> Any:
    """Polls `cond` (sync) until it returns something truthy; fails the test with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


class Publisher:
    """A paho MQTT 5 client in its own thread; `publish` blocks until the broker acknowledged (QoS 1)."""

    def __init__(
        self, port: int, client_id: str | None = None, will: tuple[str, bytes] | None = None
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{next(_ids)}", protocol=mqtt.MQTTv5
        )
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        if not connected.wait(10):
            raise TimeoutError("publisher could not connect")

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any],
        qos: int = 1,
        retain: bool = False,
        user_props: dict[str, str] | None = None,
    ) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        props = None
        if user_props:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = list(user_props.items())
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        info.wait_for_publish(10)

    def kill(self) -> None:
        """Drops the TCP connection without DISCONNECT, so the broker sends the Last Will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, for the portability tests; run in the foreground
    by devtools/pgserver.py, so it dies with a killed test run."""
    server = start_postgres()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """A database of its own in the session's PostgreSQL cluster, empty, dropped afterwards: for tests that
    must start from nothing (migrations, restores) while others share the cluster's default database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t{os.getpid()}_{next(_ids)}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def publisher(mosquitto: Service) -> Iterator[Publisher]:
    p = Publisher(mosquitto.port)
    yield p
    p.close()
