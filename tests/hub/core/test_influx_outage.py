"""InfluxDB goes away under a running hub: state keeps being served, points go to the spill file (more than the
memory buffer holds: nothing dropped) and are all written on return; messages are acknowledged meanwhile."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from devtools.services import Service, influx_query, start_influxd
from hub.compose import Hub
from hub.core.db import Camera
from tests.fixtures_hub import Publisher, make_hub_config, wait_for


def count(port: int, db: str) -> int:
    res: Any = influx_query(port, db, "SELECT count(problem_count) FROM camera_health")
    series = res["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def test_influx_outage_hub_keeps_serving_then_catches_up(tmp_path: Path, mosquitto: Service) -> None:
    influx = start_influxd(tmp_path / "influxd")  # this test's own instance: it gets stopped
    cfg = make_hub_config(tmp_path, mosquitto.port, influx.url, "outage")
    cfg.influx.buffer_max_points = 1000
    hub = Hub(cfg)
    hub.stats_period_s = 3600  # no hub_stats points: the counts below are camera_health only
    await hub.start()
    pub = Publisher(mosquitto.port)
    topic = "ops/v1/yen_dinh/dinh_long/camera/cam-{}/health"
    t0 = time.time() - 3600
    seq = 0

    def send(n: int) -> None:
        nonlocal seq
        for _ in range(n):
            pub.client.publish(
                topic.format(seq % 50), f'{{"ts":{t0 + seq},"seq":{seq},"online":true}}', qos=1
            )
            seq += 1
        pub.publish(topic.format("last"), {"ts": t0 + seq, "seq": seq, "online": True})
        seq += 1

    try:
        send(100)
        await wait_for(lambda: hub.stats.influx_written == 101, what="first points written")

        influx.stop()
        send(1199)  # 1200 points while InfluxDB is down: 200 more than the memory buffer holds
        await wait_for(lambda: hub.stats.accepted == 1301, what="all messages ingested during the outage")
        await wait_for(lambda: hub.stats.influx_failed_writes >= 1, what="a failed write")
        assert hub.influx is not None and hub.influx.spill is not None
        spill = hub.influx.spill
        # Spilled, hence acknowledged: nothing of the outage waits in the broker's session or in memory.
        await wait_for(lambda: spill.spilled == 1200, what="the outage's points on disk")
        await wait_for(lambda: not hub.acks.waiting, what="every message acknowledged")
        snap = hub.stats.snapshot()
        assert snap["influx_up"] is False and snap["influx_dropped"] == 0 and snap["influx_buffered"] == 0

        # State is still served: SQL has the latest health of every camera.
        await hub.flush()
        row = await hub.db.run(lambda s: s.get(Camera, "yen_dinh/dinh_long/cam-last"))
        assert row is not None and row.last_seq == 1300

        influx = start_influxd(tmp_path / "influxd", port=influx.port)  # same port, same data
        await wait_for(
            lambda: hub.stats.snapshot()["influx_buffered"] == 0 and hub.stats.influx_up, within=40
        )
        await wait_for(lambda: count(influx.port, "outage") == 1301, what="spilled points written")
        assert hub.stats.influx_written == 1301 and hub.stats.influx_dropped == 0
        await wait_for(lambda: len(spill) == 0, what="the spill file emptied")
        assert spill.unspilled == 1200
    finally:
        pub.close()
        await hub.stop()
        influx.stop()
