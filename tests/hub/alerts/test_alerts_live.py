"""A running Hub on the real broker: agent status and camera health over MQTT become one grouped notice, and
its recovery one resolved notice; the alert list and live events follow."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from devtools.services import Service
from hub.alerts.config import AlertsConfig
from hub.compose import Hub
from hub.core.facts import FactKind
from tests.fixtures_hub import Publisher, make_hub_config, wait_for
from tests.hub.alerts.test_alerts_service import RecordingSink

BASE = "ops/v1/soc-son/phu-linh"


def health(online: bool, seq: int) -> dict[str, object]:
    return {
        "ts": time.time(),
        "seq": seq,
        "online": online,
        "agent": "box-1",
        "problems": [] if online else ["unreachable"],
        "reason": None if online else "Kết nối bị từ chối",
    }


async def test_cameras_down_then_back_over_mqtt(
    tmp_path: Path, mosquitto: Service, publisher: Publisher
) -> None:
    fast = {"group_wait_s": 0.5, "group_interval_s": 0.5, "clear_s": 0.5}
    cfg = make_hub_config(tmp_path, mosquitto.port, None).model_copy(
        update={
            "alerts": AlertsConfig.model_validate(
                {"eval_interval_s": 0.2, "startup_grace_s": 0, "rules": {"camera_offline": fast}}
            )
        }
    )
    hub = Hub(cfg)
    sink = RecordingSink()
    hub.alerts.sink = sink
    await hub.start()
    seen: list[dict[str, object]] = []

    async def collect() -> None:
        async for ev in hub.events.subscribe():
            seen.append(ev)

    reader = asyncio.create_task(collect())
    await asyncio.sleep(0)
    try:
        publisher.publish(
            f"{BASE}/edge/box-1/status",
            {"state": "online", "ts": time.time(), "version": "1", "disk_free_mb": 20000},
            retain=True,
        )
        for i in range(3):
            publisher.publish(f"{BASE}/camera/cam-{i}/health", health(False, i))
        firing = await wait_for(
            lambda: [n for n in sink.notices if n.status == "firing"], 15, "firing notice"
        )
        assert len(firing) == 1 and firing[0].kind == FactKind.CAMERA_OFFLINE
        assert sorted(i.device for i in firing[0].items) == [f"soc-son/phu-linh/cam-{i}" for i in range(3)]
        assert hub.store.agents["soc-son/phu-linh/box-1"].disk_free_mb == 20000
        alert_events = await wait_for(lambda: [e for e in seen if e["type"] == "alert"], 5, "alert events")
        assert alert_events[0]["alert"]["district"] == "soc-son"  # type: ignore[index]
        for i in range(3):
            publisher.publish(f"{BASE}/camera/cam-{i}/health", health(True, 10 + i))
        await wait_for(lambda: [n for n in sink.notices if n.status == "resolved"], 15, "resolved notice")
        assert [n.status for n in sink.notices] == ["firing", "resolved"]
    finally:
        reader.cancel()
        await hub.stop()
