"""InfluxDB's layout: tiers, downsampling and Grafana's choice of tier, on a real influxd (1.x) and as pure
functions (the 2.x side cannot run here: its Flux is checked as text)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contract import CameraHealth
from devtools.services import Service, influx_query
from hub import cli
from hub.core.config import InfluxConfig, InfluxRetention
from hub.core.influx import InfluxWriter
from hub.core.influx_downsample import PREFIX, all_groups, flux_task, hub_stats_group, static_groups
from hub.core.influx_retention import RetentionV1, cq_statements, duration_s, rp_statements
from hub.core.influx_retention_v2 import bucket_names, wanted_tasks
from hub.core.influx_tiers import H1, M5, RAW, RP_VARIABLE_QUERY, pick_tier, rp_config_lines
from hub.core.ingest import Ingest
from hub.core.state import StateStore
from hub.core.stats import HubStats

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
R = InfluxRetention()  # raw 7 d, 5 min 30 d, 1 h 400 d
FIELDS = {"received": int, "mqtt_connected": bool, "sql_flush_ms_max": float, "last_error": str}


def rows(influxd: Service, db: str, q: str) -> list[dict[str, Any]]:
    res = influx_query(influxd.port, db, q)["results"][0]  # type: ignore[index]
    assert "error" not in res, res
    out = []
    for s in res.get("series") or []:
        for v in s.get("values") or []:
            out.append({**s.get("tags", {}), **dict(zip(s["columns"], v, strict=True))})
    return out


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="raw_days <= m5_days <= h1_days"):
        InfluxRetention(raw_days=30, m5_days=7)
    with pytest.raises(ValidationError, match="retention_policy"):
        InfluxConfig(retention_policy="autogen")
    InfluxConfig(retention_policy="autogen", retention=InfluxRetention(manage=False))
    with pytest.raises(ValidationError, match="raw_days"):
        InfluxRetention(raw_days=0)


def test_tier_by_range_and_age() -> None:
    assert pick_tier(NOW - timedelta(hours=6), NOW, NOW, R) is RAW
    assert pick_tier(NOW - timedelta(hours=24), NOW, NOW, R) is RAW
    assert pick_tier(NOW - timedelta(days=7), NOW, NOW, R) is M5
    assert pick_tier(NOW - timedelta(days=30), NOW, NOW, R) is H1
    # a short range whose raw points have expired reads the 5-minute series, then the hourly one
    old = NOW - timedelta(days=10)
    assert pick_tier(old, old + timedelta(hours=2), NOW, R) is M5
    older = NOW - timedelta(days=200)
    assert pick_tier(older, older + timedelta(hours=2), NOW, R) is H1
    short = InfluxRetention(raw_days=1, m5_days=3, h1_days=30)
    assert pick_tier(NOW - timedelta(days=5), NOW, NOW, short) is H1


def test_policy_statements_follow_the_config() -> None:
    cfg = InfluxConfig(database="ops")
    fresh = rp_statements({"autogen": (0, 7 * 86400, True)}, cfg)
    assert fresh == [
        'CREATE RETENTION POLICY "raw" ON "ops" DURATION 7d REPLICATION 1 SHARD DURATION 24h DEFAULT',
        'CREATE RETENTION POLICY "m5" ON "ops" DURATION 30d REPLICATION 1 SHARD DURATION 168h',
        'CREATE RETENTION POLICY "h1" ON "ops" DURATION 400d REPLICATION 1 SHARD DURATION 720h',
        'CREATE RETENTION POLICY "forever" ON "ops" DURATION INF REPLICATION 1',
    ]
    same = {
        "raw": (7 * 86400, 86400, True),
        "m5": (30 * 86400, 7 * 86400, False),
        "h1": (400 * 86400, 30 * 86400, False),
        "forever": (0, 7 * 86400, False),
    }
    assert rp_statements(same, cfg) == []
    # someone made another policy the default; the raw horizon shrank to 2 days (shards no longer than that)
    changed = InfluxConfig(database="ops", retention=InfluxRetention(raw_days=2))
    assert rp_statements({**same, "raw": (7 * 86400, 86400, False)}, changed) == [
        'ALTER RETENTION POLICY "raw" ON "ops" DURATION 2d SHARD DURATION 24h DEFAULT'
    ]
    tiny = InfluxConfig(database="ops", retention=InfluxRetention(raw_days=1, m5_days=3, h1_days=5))
    assert "SHARD DURATION 72h" in rp_statements(same, tiny)[1]
    assert duration_s("168h0m0s") == 7 * 86400 and duration_s("0s") == 0 and duration_s("1h30m0s") == 5400


def test_continuous_queries_replace_only_their_own() -> None:
    cfg = InfluxConfig(database="ops")
    first = cq_statements([], cfg, FIELDS)
    assert all(q.startswith("CREATE CONTINUOUS QUERY") for q in first)
    assert len(first) == 2 * len(all_groups(FIELDS))
    names = [q.split('"')[1] for q in first]
    assert cq_statements([*names, "someone_elses"], cfg, FIELDS) == []
    # a gauge appeared: only the hub_stats queries change; an old query of ours goes, a foreign one stays
    more = cq_statements([*names, "someone_elses", f"{PREFIX}m5_gone_main_0000"], cfg, {**FIELDS, "x": int})
    drops = [q for q in more if q.startswith("DROP")]
    creates = [q for q in more if q.startswith("CREATE")]
    assert len(creates) == 2 and all("hub_stats" in q and 'max("x") AS "x"' in q for q in creates)
    assert len(drops) == 3 and not any("someone_elses" in q for q in drops)


def test_hub_stats_downsampling_keeps_numbers_and_booleans() -> None:
    g = hub_stats_group(FIELDS)
    assert g is not None
    by_name = {o.name: o.fn for o in g.outs}
    assert by_name == {"received": "max", "mqtt_connected": "last", "sql_flush_ms_max": "max"}
    assert hub_stats_group({"last_error": str}) is None


def test_flux_tasks_mirror_the_continuous_queries() -> None:
    cfg = InfluxConfig(api="v2", token="t", org="ops", bucket="ops")
    tasks = wanted_tasks(cfg, FIELDS)
    assert len(tasks) == 2 * len(all_groups(FIELDS))
    assert bucket_names("ops") == {"raw": "ops", "m5": "ops_5m", "h1": "ops_1h", "forever": "ops_meta"}
    online = next(g for g in static_groups() if g.key == "online")
    name, flux = flux_task(online, M5, bucket_names("ops"), "ops")
    assert name.startswith(f"{PREFIX}m5_camera_health_online_") and name in tasks
    assert 'option task = {name: "' + name + '", every: 300s' in flux
    # whole buckets, the one that just closed and the one before (like RESAMPLE … FOR 10m)
    assert "range(start: date.sub(d: 600s, from: date.truncate(t: now(), unit: 300s)), " in flux
    assert "stop: date.truncate(t: now(), unit: 300s))" in flux and flux.startswith('import "date"')
    assert 'from(bucket: "ops")' in flux and 'to(bucket: "ops_5m", org: "ops")' in flux
    assert 'filter(fn: (r) => r._field == "online" and r._value == true)' in flux
    assert "fn: count" in flux and 'set(key: "_field", value: "online_probes")' in flux
    _, hourly = flux_task(online, H1, bucket_names("ops"), "ops")
    assert 'from(bucket: "ops_5m")' in hourly and "fn: sum" in hourly and "r._value" not in hourly


def health_lines(camera: str, probes: list[dict[str, Any]]) -> bytes:
    """Through the hub's own line builder (hub/core/ingest.py)."""
    store = StateStore(180)
    ingest = Ingest(store, HubStats(), None)
    cam = store.camera("yen_dinh", "dinh_long", camera)
    return "\n".join(ingest.health_line(cam, CameraHealth.model_validate(p)) for p in probes).encode()


def write(influxd: Service, db: str, body: bytes, rp: str | None = None) -> None:
    url = f"http://127.0.0.1:{influxd.port}/write?db={db}&precision=ms" + (f"&rp={rp}" if rp else "")
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
        assert r.status == 204


async def test_layout_on_a_real_influxd(influxd: Service, influx_db: str) -> None:
    cfg = InfluxConfig(url=influxd.url, database=influx_db)
    layout = RetentionV1(cfg, lambda: FIELDS)
    ran = await layout.apply(int(NOW.timestamp() * 1000))
    assert len(ran) == 4 + 2 * len(all_groups(FIELDS))
    rps = {r["name"]: r for r in rows(influxd, influx_db, f'SHOW RETENTION POLICIES ON "{influx_db}"')}
    assert rps["raw"]["default"] is True and rps["raw"]["duration"] == "168h0m0s"
    assert rps["h1"]["duration"] == "9600h0m0s" and rps["forever"]["duration"] == "0s"
    assert await layout.apply(int(NOW.timestamp() * 1000)) == []  # idempotent
    cqs = [r for r in rows(influxd, "", "SHOW CONTINUOUS QUERIES") if r.get("name", "").startswith(PREFIX)]
    assert len(cqs) >= len(ran) - 4
    # the hub's writer puts raw points into "raw", which queries naming no policy read too
    writer = InfluxWriter(cfg, HubStats(), fields=lambda: FIELDS)
    writer.start()
    writer.add(health_lines("cam-1", [{"ts": time.time(), "seq": 1, "online": True, "fps": 9.0}]).decode())
    await writer.stop(5.0)
    assert rows(influxd, influx_db, 'SELECT "fps" FROM "raw"."camera_health"')[0]["fps"] == 9.0
    assert rows(influxd, influx_db, 'SELECT "fps" FROM "camera_health"')[0]["fps"] == 9.0


async def test_backfill_and_grafana_tier_choice(influxd: Service, influx_db: str) -> None:
    cfg = InfluxConfig(url=influxd.url, database=influx_db)
    layout = RetentionV1(cfg, lambda: FIELDS)
    now = time.time()
    await layout.apply(int(now * 1000))
    base = int(now // 3600) * 3600 - 3 * 3600  # two whole hours, an hour ago
    probes = []
    for i in range(120):  # a probe a minute: fps 8/12, offline every 10th, frozen every 7th
        off = i % 10 == 9
        p: dict[str, Any] = {"ts": base + 60 * i + 5, "seq": i, "online": not off}
        if off:
            p["problems"] = ["unreachable"]
        else:
            p["fps"] = 8.0 if i % 2 else 12.0
            p["problems"] = ["frozen"] if i % 7 == 0 else []
        probes.append(p)
    write(influxd, influx_db, health_lines("cam-1", probes))
    assert (
        await layout.backfill(datetime.fromtimestamp(base, UTC), datetime.fromtimestamp(base + 7200, UTC)) > 0
    )

    five = rows(influxd, influx_db, 'SELECT * FROM "m5"."camera_health" GROUP BY *')
    assert len(five) == 24 and {r["camera"] for r in five} == {"cam-1"}
    first = five[0]  # probes 0-4: all online, fps 12, 8, 12, 8, 12; probe 0 frozen
    assert (first["probes"], first["online_probes"], first["problem_probes"]) == (5, 5, 1)
    assert (first["fps"], first["fps_min"], first["fps_max"]) == (pytest.approx(10.4), 8.0, 12.0)
    second = five[1]  # probes 5-9: the last offline, so its state ends offline
    assert (second["probes"], second["online_probes"], second["status"]) == (5, 4, "offline")
    hourly = rows(influxd, influx_db, 'SELECT * FROM "h1"."camera_health" GROUP BY *')
    assert [r["probes"] for r in hourly] == [60, 60]
    assert [r["online_probes"] for r in hourly] == [54, 54]
    assert hourly[0]["fps_min"] == 8.0 and hourly[0]["fps_max"] == 12.0
    assert hourly[0]["problem_probes"] == sum(1 for p in probes[:60] if p["problems"])

    def grafana_rp(span_s: float, ago_s: float) -> str:
        to_ms = int((now - ago_s) * 1000)
        q = RP_VARIABLE_QUERY.replace("$__to", str(to_ms)).replace("$__from", str(to_ms - int(span_s * 1000)))
        return str(rows(influxd, influx_db, q)[0]["first"])

    assert grafana_rp(6 * 3600, 0) == "raw"
    assert grafana_rp(86400, 0) == "raw"
    assert grafana_rp(7 * 86400, 0) == "m5"
    assert grafana_rp(30 * 86400, 0) == "h1"
    assert grafana_rp(3600, 8 * 86400) == "m5"  # an hour last week: raw points are gone
    assert grafana_rp(3600, 100 * 86400) == "h1"


def test_rp_config_points() -> None:
    now_ms = int(NOW.timestamp() * 1000)
    lines = rp_config_lines(now_ms, R)
    assert lines[0] == (
        f'rp_config,tier=raw rp="raw",max_span_ms=86400000i,oldest_ms={now_ms - 7 * 86400000}i 0'
    )
    assert lines[2].endswith(",oldest_ms=0i 2")


async def test_backfill_from_the_command_line(influxd: Service, influx_db: str, tmp_path: Path) -> None:
    """`python -m hub influx-backfill`: what an operator runs after an edge box replayed a long outage;
    hub_stats is downsampled with the fields InfluxDB holds (the command does not know the hub's gauges)."""
    now = time.time()
    await RetentionV1(InfluxConfig(url=influxd.url, database=influx_db), dict).apply(int(now * 1000))
    write(
        influxd, influx_db, health_lines("cam-9", [{"ts": now - 7200, "seq": 1, "online": True, "fps": 7.0}])
    )
    write(
        influxd,
        influx_db,
        f'hub_stats,hub=h received=5i,mqtt_connected=true,last_error="x" {int(now - 7100) * 1000}'.encode(),
    )
    conf = tmp_path / "hub.yaml"
    conf.write_text(f"influx:\n  url: {influxd.url}\n  database: {influx_db}\n", encoding="utf-8")
    assert await asyncio.to_thread(cli.main, ["influx-backfill", "--config", str(conf), "--hours", "3"]) == 0
    assert rows(influxd, influx_db, 'SELECT "fps_max" FROM "m5"."camera_health"')[0]["fps_max"] == 7.0
    stats = rows(influxd, influx_db, 'SELECT * FROM "h1"."hub_stats"')[0]
    assert stats["received"] == 5 and stats["mqtt_connected"] is True and "last_error" not in stats
    off = tmp_path / "off.yaml"
    off.write_text("influx:\n  enabled: false\n", encoding="utf-8")
    assert await asyncio.to_thread(cli.main, ["influx-backfill", "--config", str(off)]) == 2


async def test_hubs_with_other_gauges_agree(influxd: Service, influx_db: str) -> None:
    """Two hub processes registering different gauges must not replace each other's hub_stats queries every
    hour: both downsample the fields InfluxDB holds plus their own."""
    cfg = InfluxConfig(url=influxd.url, database=influx_db)
    now_ms = int(time.time() * 1000)
    await RetentionV1(cfg, lambda: {"a_gauge": int}).apply(now_ms)
    write(influxd, influx_db, f"hub_stats,hub=one a_gauge=1i {now_ms}".encode())
    write(influxd, influx_db, f"hub_stats,hub=two b_gauge=2i,b_flag=true {now_ms}".encode())
    changed = await RetentionV1(cfg, lambda: {"b_gauge": int, "b_flag": bool}).apply(now_ms)
    created = [q for q in changed if q.startswith("CREATE CONTINUOUS QUERY") and "hub_stats" in q]
    assert len(created) == 2 and all(
        '"a_gauge"' in q and '"b_gauge"' in q and 'last("b_flag")' in q for q in created
    )
    assert await RetentionV1(cfg, lambda: {"a_gauge": int}).apply(now_ms) == []
