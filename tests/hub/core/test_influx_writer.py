"""Line protocol and the buffered InfluxDB writer against a real influxd (1.6.7)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from influxdb_client import Point, WritePrecision

from devtools.services import Service, free_port, influx_query
from hub.core.config import InfluxConfig, InfluxRetention
from hub.core.influx import InfluxWriter
from hub.core.influx_send import InfluxRejected, V1Sender, partial_write_rejected
from hub.core.lineproto import line, series_key
from hub.core.stats import HubStats
from tests.fixtures_hub import wait_for


def count(port: int, db: str, q: str) -> int:
    res: Any = influx_query(port, db, q)
    series = res["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def _normalised(lp: str) -> tuple[str, list[str], str]:
    series, fields, ts = lp.rsplit(" ", 2)
    return series, sorted(fields.split(",")), ts


def test_line_protocol_matches_influxdb_client_point() -> None:
    tags = {"district": "yen dinh", "commune": "a,b=c", "camera": "cam-01", "agent": None}
    fields: dict[str, Any] = {"online": True, "fps": 14.5, "width": 640, "problems": 'say"hi"\\bye,x=1'}
    ours = line(series_key("camera_health", tags), fields, 1763880012500)
    p = Point("camera_health")
    for k, v in tags.items():
        if v:
            p = p.tag(k, v)
    for k, v in fields.items():
        p = p.field(k, v)
    theirs = p.time(1763880012500, WritePrecision.MS).to_line_protocol()
    assert _normalised(ours) == _normalised(theirs)


def test_partial_write_answer_is_counted() -> None:
    assert partial_write_rejected('{"error":"partial write: field type conflict: … dropped=3"}') == 3
    text = "partial write: unable to parse 'a': bad; unable to parse 'b': bad dropped=0"
    assert partial_write_rejected(text) == 2
    assert partial_write_rejected('{"error":"unable to parse"}') is None


def cfg(url: str, db: str, **kw: Any) -> InfluxConfig:
    # Points at fixed past times: the managed layout's raw policy (7 days) would refuse them as expired.
    kw.setdefault("retention", InfluxRetention(manage=False))
    return InfluxConfig(
        url=url, database=db, flush_interval_s=0.1, batch_size=kw.pop("batch_size", 100), **kw
    )


def points(n: int, measurement: str = "m", value: str = "1i", t0: int = 1763880000000) -> list[str]:
    return [f"{measurement},camera=c{i} v={value} {t0 + i}" for i in range(n)]


async def test_bad_points_rejected_good_ones_written(influxd: Service, influx_db: str) -> None:
    stats = HubStats()
    w = InfluxWriter(cfg(influxd.url, influx_db), stats)
    w.start()
    for p in points(10):
        w.add(p)
    await wait_for(lambda: stats.influx_written == 10)
    # 3 points whose field type conflicts with the stored integer, mixed with 5 good ones.
    for i, p in enumerate(points(8, t0=1763880001000)):
        w.add(p.replace("v=1i", "v=1.5") if i % 3 == 0 else p)
    await wait_for(lambda: stats.influx_written == 15 and stats.influx_rejected == 3)
    await w.stop()
    assert count(influxd.port, influx_db, "SELECT count(v) FROM m") == 15
    assert "refused" in (stats.last_error or "")


class WholeBatchRefusal(V1Sender):
    """InfluxDB 2.x refuses a batch with a bad line without saying which points it kept: hide 1.x's count so
    the writer has to find the bad line by splitting (every request still goes to the real influxd)."""

    async def send(self, body: bytes) -> None:
        try:
            await super().send(body)
        except InfluxRejected as exc:
            raise InfluxRejected(exc.status, exc.text, None) from exc


async def test_unknown_bad_line_is_found_by_splitting(influxd: Service, influx_db: str) -> None:
    stats = HubStats()
    c = cfg(influxd.url, influx_db, batch_size=64)
    w = InfluxWriter(c, stats, WholeBatchRefusal(c))
    w.start()
    batch = points(64)
    batch[37] = "m,camera=broken v= 1763880000037"  # not line protocol
    for p in batch:
        w.add(p)
    await wait_for(lambda: stats.influx_written + stats.influx_rejected == 64)
    await w.stop()
    assert (stats.influx_written, stats.influx_rejected) == (63, 1)
    assert count(influxd.port, influx_db, "SELECT count(v) FROM m") == 63


async def test_v2_api_against_influx_1x_keeps_points(influxd: Service, influx_db: str) -> None:
    """1.6.7 has no /api/v2/write (404): a configuration error, so points stay buffered, never dropped."""
    stats = HubStats()
    w = InfluxWriter(cfg(influxd.url, influx_db, api="v2", token="t", org="o", bucket=influx_db), stats)
    w.start()
    for p in points(5):
        w.add(p)
    await wait_for(lambda: stats.influx_failed_writes >= 1)
    assert w.buffered == 5 and stats.influx_written == 0 and stats.influx_dropped == 0
    assert "404" in (stats.last_error or "")
    await w.stop(grace_s=0.5)


async def test_down_at_start_bounded_buffer_then_written(tmp_path: Path) -> None:
    """InfluxDB not running when the writer starts: oldest points beyond the buffer are dropped and counted;
    once InfluxDB is up (and its database created by the writer) the rest is written."""
    port = free_port()
    stats = HubStats()
    w = InfluxWriter(cfg(f"http://127.0.0.1:{port}", "late", batch_size=500, buffer_max_points=1000), stats)
    w.start()
    for p in points(1300):
        w.add(p)
    await wait_for(lambda: stats.influx_failed_writes >= 1)
    assert stats.influx_dropped == 300 and w.buffered == 1000
    from devtools.services import start_influxd

    svc = start_influxd(tmp_path / "influxd", port=port)
    try:
        await wait_for(lambda: stats.influx_written == 1000, within=40)
        await w.stop()
        assert count(port, "late", "SELECT count(v) FROM m") == 1000
        # The oldest 300 (c0..c299) were the ones dropped.
        assert count(port, "late", "SELECT count(v) FROM m WHERE camera = 'c299'") == 0
        assert count(port, "late", "SELECT count(v) FROM m WHERE camera = 'c300'") == 1
    finally:
        svc.stop()


async def test_stop_counts_what_could_not_be_written() -> None:
    stats = HubStats()
    w = InfluxWriter(cfg(f"http://127.0.0.1:{free_port()}", "x"), stats)
    w.start()
    for p in points(7):
        w.add(p)
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    await w.stop(grace_s=1.0)
    assert time.monotonic() - t0 < 3
    assert stats.influx_dropped == 7 and w.buffered == 0
