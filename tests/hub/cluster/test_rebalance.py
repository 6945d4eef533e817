"""Hubs joining and leaving (in-process `Hub` objects, each with its own MQTT sessions and database pool):
the first hub takes every partition; a second one joining gets its fair share handed over gracefully; when it
stops cleanly it gives them back at once (no waiting for a lease to expire). Device traffic runs the whole time
and every message is exactly one transition. A web-only hub sees the ingest hubs' live events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from devtools.hubcluster import Traffic, compare, districts, holdings, transitions
from devtools.services import Service, free_port
from hub.compose import Hub, HubConfig
from tests.fixtures_hub import wait_for

N = 4
CAMERAS = [(f"d{i}", "x", f"cam-{j}") for i in range(1, N + 1) for j in (1, 2)]


def config(tmp: Path, hub_id: str, db_url: str, mqtt_port: int) -> HubConfig:
    return HubConfig.model_validate(
        {
            "data_dir": str(tmp / hub_id),
            "mqtt": {"port": mqtt_port, "keepalive": 5},
            "influx": {"enabled": False},
            "database": {"url": db_url},
            "http": {"port": free_port()},
            "ingest": {"state_flush_s": 0.2},
            "districts": districts(N),
            "cluster": {
                "enabled": True,
                "hub_id": hub_id,
                "lease_ttl_s": 2,
                "lease_renew_s": 0.3,
                "mirror_s": 0.5,
            },
            "alerts": {"enabled": False},
        }
    )


async def test_join_and_leave_hand_partitions_over(
    cluster_db: str, mosquitto: Service, tmp_path: Path
) -> None:
    a = Hub(config(tmp_path, "a", cluster_db, mosquitto.port))
    b = Hub(config(tmp_path, "b", cluster_db, mosquitto.port))
    web = Hub(config(tmp_path, "w", cluster_db, mosquitto.port), role="web")
    traffic = Traffic(mosquitto.port, CAMERAS, period_s=0.2)
    seen: list[dict[str, Any]] = []
    await a.start()
    await web.start()
    b_running = False
    try:
        assert a.cluster is not None and web.cluster is None and web.control is not None
        await wait_for(lambda: len(a.cluster.manager.held) == N, 10, "the first hub to take every partition")
        listener = asyncio.create_task(collect(web, seen))
        traffic.start()
        await asyncio.sleep(1)
        await b.start()
        b_running = True
        assert b.cluster is not None
        await wait_for(lambda: len(b.cluster.manager.held) == N // 2, 10, "the fair share to move to b")
        assert len(a.cluster.manager.held) == N // 2
        assert sorted(holdings(cluster_db).members) == ["a", "b"]  # the web hub is no member
        await asyncio.sleep(1)
        t0 = time.monotonic()
        await b.stop()
        b_running = False
        await wait_for(lambda: len(a.cluster.manager.held) == N, 5, "b's partitions back on a")
        assert time.monotonic() - t0 < 2  # given back, not expired
        await asyncio.sleep(1)
        await asyncio.to_thread(traffic.finish)

        def settled() -> tuple[int, int] | None:
            r = compare(traffic.sent, transitions(cluster_db))
            return r if r[0] == 0 else None

        result = await wait_for(settled, 15, "every message to be one transition")
        assert result == (0, 0)
        # The web-only hub runs no ingest, yet its pages got the cameras' changes from the ingest hubs.
        keys = {c["key"] for c in seen}
        assert keys == {f"{d}/{c}/{cam}" for d, c, cam in CAMERAS}
        assert web.leases.held() == {} and not web.store.cameras
        listener.cancel()
    finally:
        if traffic.is_alive():
            traffic.finish()
        if b_running:
            await b.stop()
        await web.stop()
        await a.stop()


async def collect(hub: Hub, seen: list[dict[str, Any]]) -> None:
    async for ev in hub.events.subscribe():
        if ev.get("type") == "camera":
            seen.append(ev["camera"])
