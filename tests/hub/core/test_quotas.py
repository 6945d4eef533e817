"""Per-device quotas: the pure counter with fixed times, then the hub's ingest dropping and counting what goes
over (real broker and hub)."""

from __future__ import annotations

import asyncio
import time

from hub.compose import Hub
from hub.core.config_mqtt import QuotaConfig
from hub.core.quotas import CAMERAS, MESSAGES, SNAPSHOT_BYTES, Quotas
from tests.fixtures_hub import Publisher, make_hub_config, started_hub, wait_for
from tests.hub.core.test_hub_ingest import health, make_jpeg, status


def test_messages_and_snapshot_bytes_per_minute_window() -> None:
    q = Quotas(QuotaConfig(messages_per_min=3, snapshot_bytes_per_min=100, cameras_per_box=2))
    t0 = 6000.0  # the start of a minute
    assert [q.message("edge:a", t0 + i) for i in range(4)] == [None, None, None, MESSAGES]
    assert q.message("edge:b", t0 + 5) is None, "one device's flood is not another's"
    assert q.message("edge:a", t0 + 60) is None, "a new minute starts afresh"
    assert q.message("edge:c", t0 + 61, snapshot_bytes=80) is None
    assert q.message("edge:c", t0 + 62, snapshot_bytes=30) == SNAPSHOT_BYTES
    assert q.message("edge:c", t0 + 63, snapshot_bytes=20) is None, "a refused snapshot does not count"
    assert q.first_time("edge:a", MESSAGES) and not q.first_time("edge:a", MESSAGES)
    assert (q.cameras_allowed(0, 5), q.cameras_allowed(1, 5), q.cameras_allowed(2, 1)) == (2, 1, 0)
    assert Quotas(QuotaConfig(messages_per_min=0, cameras_per_box=0)).cameras_allowed(10**6, 7) == 7


async def test_ingest_drops_and_counts_what_goes_over(tmp_path, mosquitto, publisher: Publisher) -> None:  # type: ignore[no-untyped-def]
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg.ingest.quotas = QuotaConfig(messages_per_min=5, snapshot_bytes_per_min=1000, cameras_per_box=2)
    async with started_hub(cfg) as hub:
        assert await hub.bridge.wait_subscribed(10)
        await _over(hub, publisher)


async def _over(hub: Hub, publisher: Publisher) -> None:
    # Quotas count per minute of the clock: start early in one so the whole test falls in it.
    await asyncio.sleep(max(0.0, 60 - time.time() % 60) if time.time() % 60 > 40 else 0)
    base = "ops/v1/d1/c1"
    inventory = [{"id": f"cam{i}", "commune": "c1"} for i in range(3)]
    publisher.publish(f"{base}/edge/box/status", status(inventory=inventory), retain=True)
    await wait_for(lambda: hub.stats.rejected[CAMERAS] == 1, 10, "the third camera refused")
    assert sorted(hub.store.cameras_of("d1/c1/box")) == ["d1/c1/cam0", "d1/c1/cam1"]
    # A fourth camera reporting health for the same box is refused too.
    publisher.publish(f"{base}/camera/cam9/health", health(0, agent="box"))
    await wait_for(lambda: hub.stats.rejected[CAMERAS] == 2, 10, "health of a camera over the box's quota")
    assert "d1/c1/cam9" not in hub.store.cameras
    # Big snapshots of the box's cameras: over 1000 bytes a minute they are dropped.
    jpeg = make_jpeg()
    sent = 1 + 1000 // len(jpeg)  # the last one goes over 1000 bytes
    assert sent <= 4, "the status and the snapshots stay within 5 messages"
    for _ in range(sent):
        publisher.publish(f"{base}/camera/cam0/snapshot", jpeg, user_props={"ts": str(time.time())})
    await wait_for(lambda: hub.stats.rejected[SNAPSHOT_BYTES] == 1, 10, "the snapshot over the bytes")
    # Messages of the box (status, health, snapshots together) beyond 5 a minute are dropped.
    for i in range(4 - sent):  # with the status: 5 messages, the quota
        publisher.publish(f"{base}/camera/cam1/health", health(i + 1, agent="box"))
    for i in range(3):
        publisher.publish(f"{base}/camera/cam1/health", health(10 + i, agent="box"))
    await wait_for(lambda: hub.stats.rejected[MESSAGES] == 3, 10, "messages over the rate")
    snap = hub.stats.snapshot()
    assert snap["rejected"] == {CAMERAS: 2, SNAPSHOT_BYTES: 1, MESSAGES: 3}
