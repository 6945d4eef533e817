"""/readyz (readiness, with reasons) beside /healthz (liveness): the rules as a pure function with fixed times,
then a real hub losing its broker and its InfluxDB."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from devtools.services import Service, free_port, start_mosquitto
from hub.compose import Hub, HubConfig, create_app
from hub.core import health
from hub.core.config import InfluxConfig
from tests.fixtures_hub import make_hub_config

OK = health.HealthInputs(
    mqtt_connected=True,
    queue_depth=0,
    last_progress=100.0,
    sql_failing=False,
    influx_enabled=True,
    influx_up=True,
    influx_failed_writes=0,
    influx_buffered=10,
    influx_batch=5000,
    stall_after_s=30,
)


def test_reasons() -> None:
    assert health.reasons(OK, 1000.0) == []
    # messages waiting but none applied for longer than stall_after_s; an idle hub is not stalled
    waiting = health.HealthInputs(**{**OK.__dict__, "queue_depth": 5})
    assert health.reasons(waiting, 129.0) == []
    assert health.reasons(waiting, 131.0) == [health.INGEST_STALLED]
    assert health.reasons(OK, 10_000.0) == []
    down = health.HealthInputs(
        **{
            **OK.__dict__,
            "mqtt_connected": False,
            "influx_up": False,
            "influx_failed_writes": 3,
            "sql_failing": True,
        }
    )
    assert health.reasons(down, 100.0) == [
        health.MQTT_DISCONNECTED,
        health.SQL_FAILING,
        health.INFLUX_FAILING,
    ]
    # not written yet is not failing; a backlog of more than four batches is
    fresh = health.HealthInputs(**{**OK.__dict__, "influx_up": False, "influx_buffered": 20_001})
    assert health.reasons(fresh, 100.0) == [health.INFLUX_BACKLOG]
    off = health.HealthInputs(
        **{**OK.__dict__, "influx_enabled": False, "influx_up": False, "influx_failed_writes": 9}
    )
    assert health.reasons(off, 100.0) == []


async def _client(h: Hub, cfg: HubConfig) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(cfg, h.db, h.events, h.stats.snapshot, hub=h))
    )
    await client.start_server()
    return client


async def _ready(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    r = await client.get("/readyz")
    return r.status, await r.json()


async def test_broker_lost_then_back(
    tmp_path: Path, mosquitto: Service, influxd: Service, influx_db: str
) -> None:
    cfg = make_hub_config(tmp_path, mosquitto.port, influxd.url, influx_db)
    h = Hub(cfg)
    h.stats_period_s = 0.2
    await h.start()
    client = await _client(h, cfg)
    again: Service | None = None
    try:
        assert await _ready(client) == (200, {"status": "ok", "reasons": []})
        mosquitto.stop()
        status, body = await wait_for_ready(client, lambda s, b: s == 503)
        assert body == {"status": "degraded", "reasons": [health.MQTT_DISCONNECTED]}
        assert (await client.get("/healthz")).status == 200  # alive all along: nothing to restart
        again = start_mosquitto(mosquitto.workdir, mosquitto.port)
        await wait_for_ready(client, lambda s, b: s == 200, 30)
    finally:
        await client.close()
        await h.stop()
        if again is not None:
            again.stop()


async def test_influxdb_failing(tmp_path: Path, mosquitto: Service) -> None:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    dead = InfluxConfig(url=f"http://127.0.0.1:{free_port()}", flush_interval_s=0.2, batch_size=1000)
    cfg = cfg.model_copy(update={"influx": dead})
    h = Hub(cfg)
    h.stats_period_s = 0.2  # hub_stats points: something to write
    await h.start()
    client = await _client(h, cfg)
    try:
        _, body = await wait_for_ready(client, lambda s, b: health.INFLUX_FAILING in b["reasons"])
        assert body == {"status": "degraded", "reasons": [health.INFLUX_FAILING]}
    finally:
        await client.close()
        await h.stop()


async def wait_for_ready(
    client: TestClient[Any, Any], cond: Callable[[int, dict[str, Any]], bool], within: float = 15.0
) -> tuple[int, dict[str, Any]]:
    """Polls /readyz until `cond(status, body)`; fails with the last answer."""
    deadline = time.monotonic() + within
    while True:
        status, body = await _ready(client)
        if cond(status, body):
            return status, body
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz never matched; last {status} {body}")
        await asyncio.sleep(0.1)
