"""Hubs joining and leaving (in-process `Hub` objects, each with its own MQTT sessions and database pool):
the first hub takes every partition; a second one joining gets its fair share handed over gracefully; when it
stops cleanly it gives them back at once (no waiting for a lease to expire). Device traffic runs the whole time
and every message is exactly one transition. A web-only hub sees the ingest hubs' live events, and the reply
to an edge command it sends reaches it although another hub reads that agent's partition."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from devtools.hubcluster import Traffic, compare, districts, holdings, transitions
from devtools.services import Service, free_port
from hub.compose import Hub, HubConfig
from tests.fixtures_hub import wait_for

N = 4
CAMERAS = [(f"d{i}", "x", f"cam-{j}") for i in range(1, N + 1) for j in (1, 2)]


def config(tmp: Path, hub_id: str, db_url: str, mqtt_port: int, ttl_s: float = 2) -> HubConfig:
    return HubConfig.model_validate(
        {
            "data_dir": str(tmp / hub_id),
            "mqtt": {"port": mqtt_port, "keepalive": 5},
            "influx": {"enabled": False},
            "database": {"url": db_url},
            "http": {"port": free_port()},
            "ingest": {"state_flush_s": 0.2, "legacy_reports": True},  # hand-made reports name no box
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
    # Leases of a minute: partitions that move within seconds were handed over, not left to expire.
    a = Hub(config(tmp_path, "a", cluster_db, mosquitto.port, ttl_s=60))
    b = Hub(config(tmp_path, "b", cluster_db, mosquitto.port, ttl_s=60))
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
        await b.stop()
        b_running = False
        await wait_for(lambda: len(a.cluster.manager.held) == N, 10, "b's partitions given back to a")
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
        agent = FakeAgent(mosquitto.port, "d1", "x", "box-1")
        try:
            outcome = await web.commands.send("d1/x/box-1", "probe", "cam-1", wait_s=10)
        finally:
            agent.close()
        assert (
            outcome.result == "ok" and outcome.reply is not None and outcome.reply.data == {"probed": "cam-1"}
        )
        assert a.commands.unmatched == 1  # the owner of d1 saw the reply too, and nothing waited for it there
    finally:
        if traffic.is_alive():
            traffic.finish()
        if b_running:
            await b.stop()
        await web.stop()
        await a.stop()


class FakeAgent:
    """Answers every command on its `cmd` topic with an ok reply (what an edge agent does; the order is the
    `order` of the hub's signed envelope, whose signature the real agent checks: tests/security covers that)."""

    def __init__(self, port: int, district: str, commune: str, agent: str) -> None:
        base = f"ops/v1/{district}/{commune}/edge/{agent}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"agent-{agent}", protocol=mqtt.MQTTv5
        )
        ready = threading.Event()

        def on_message(c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            doc = json.loads(msg.payload)
            cmd = doc.get("order", doc)
            reply = {"transaction": cmd["transaction"], "status": "ok", "ts": time.time(),
                     "data": {"probed": cmd.get("camera")}}  # fmt: skip
            c.publish(f"{base}/reply", json.dumps(reply), qos=1)

        self.client.on_message = on_message
        self.client.on_subscribe = lambda *_a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{base}/cmd", qos=1)
        self.client.loop_start()
        assert ready.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def collect(hub: Hub, seen: list[dict[str, Any]]) -> None:
    async for ev in hub.events.subscribe():
        if ev.get("type") == "camera":
            seen.append(ev["camera"])


async def test_a_clean_stop_leaves_nothing_to_receive_again(
    cluster_db: str, mosquitto: Service, tmp_path: Path
) -> None:
    """Every message applied before a clean stop is acknowledged on its partition's session before the session
    is left (the last PUBACKs go out with the DISCONNECT): the next start receives none of them again."""
    hub = Hub(config(tmp_path, "a", cluster_db, mosquitto.port))
    await hub.start()
    try:
        assert hub.cluster is not None
        await wait_for(lambda: len(hub.cluster.manager.held) == N, 10, "every partition held")
        traffic = Traffic(mosquitto.port, [(f"d{1 + i % N}", "x", f"c{i}") for i in range(2000)], period_s=1)
        await asyncio.to_thread(traffic.send_round)
        traffic.finish()
        await wait_for(lambda: hub.stats.accepted >= 2000, 30, "every message applied")
    finally:
        await hub.stop()
    again = Hub(config(tmp_path, "a", cluster_db, mosquitto.port))
    await again.start()
    try:
        assert again.cluster is not None
        await wait_for(lambda: len(again.cluster.manager.held) == N, 10, "every partition held again")
        await asyncio.sleep(1)
        assert again.stats.received == 0
    finally:
        await again.stop()


async def test_registry_edits_made_on_another_hub_stick(
    cluster_db: str, mosquitto: Service, tmp_path: Path
) -> None:
    """An administrator renames or removes a camera through another hub's web (SQL): the hub holding its
    partition follows, so its next flush does not write the old name back nor the removed camera again."""
    from sqlalchemy import delete, update

    from hub.core.db import Camera

    hub = Hub(config(tmp_path, "a", cluster_db, mosquitto.port))
    await hub.start()
    try:
        assert hub.cluster is not None
        await wait_for(lambda: len(hub.cluster.manager.held) == N, 10, "every partition held")
        traffic = Traffic(mosquitto.port, [("d1", "x", "cam-1"), ("d1", "x", "cam-2")], period_s=1)
        await asyncio.to_thread(traffic.send_round)
        await wait_for(lambda: hub.stats.accepted >= 2, 10, "the cameras registered")
        await hub.flush()
        with hub.db.session() as s, s.begin():  # what another hub's admin page does
            s.execute(update(Camera).where(Camera.key == "d1/x/cam-1").values(name="Cổng UBND"))
            s.execute(delete(Camera).where(Camera.key == "d1/x/cam-2"))
        await wait_for(
            lambda: (
                hub.store.cameras["d1/x/cam-1"].name == "Cổng UBND" and "d1/x/cam-2" not in hub.store.cameras
            ),
            10,
            "the holder to follow the registry",
        )
        await asyncio.to_thread(traffic.send_round)  # cam-1 changes status: its whole row is written again
        await wait_for(lambda: hub.stats.accepted >= 4, 10, "the next messages")
        await hub.flush()
        with hub.db.session() as s:
            names = dict(s.execute(select(Camera.key, Camera.name)).all())
        assert names["d1/x/cam-1"] == "Cổng UBND"
        traffic.finish()
    finally:
        await hub.stop()
