"""Disk per camera per day in InfluxDB (raw, 5-minute, 1-hour) and for snapshots, and a province's totals:
`.venv/bin/python bench/disk_budget.py` (a few minutes; the last line is JSON).

Starts its own InfluxDB 1.x (compacting as soon as writes stop, so what is measured is the compressed TSM files,
not the write-ahead log), makes the hub's layout, writes a week of points exactly as the hub's line builders do
— `camera_health` every 30 s per camera (probe times jittered, metrics rounded as the edge agent rounds them, a
camera offline now and then), `edge_status` every 60 s per box, `speaker_health` every 30 s per speaker,
`hub_stats` every 10 s — one database per kind of device so each is measured alone, downsamples the days with the
continuous queries' own SELECT … INTO (timed: that is their CPU cost), waits for compaction and sums the `.tsm`
files per retention policy. Snapshots: a 640-pixel JPEG at the edge agent's quality, encoded from a noisy
synthetic scene, and the store's bound (keep_last + hourly_hours files per camera).

The province: 20,000 cameras, 800 edge boxes, 5,000 loudspeakers, at the default horizons of
config/hub.example.yaml. docs/OPERATIONS.md "Disk budget" quotes the result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from broadcast.speakers.registry import SpeakerLive, health_line
from contract import CameraHealth
from devtools.broker_limits import SNAPSHOT_BYTES
from devtools.services import start_influxd
from hub.core.config import InfluxConfig, InfluxRetention, SnapshotConfig
from hub.core.influx_retention import RetentionV1
from hub.core.ingest import Ingest
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.runtime import REJECT_REASONS
from hub.core.state import StateStore
from hub.core.stats import HubStats

DAY = 86400
PROVINCE = {"cameras": 20_000, "boxes": 800, "speakers": 5_000, "hubs": 1}
COMPACT_NOW = '  cache-snapshot-write-cold-duration = "1s"\n  compact-full-write-cold-duration = "2s"\n'
BATCH = 5000


def camera_lines(n: int, start: float, days: int, rng: random.Random) -> Iterator[str]:
    store = StateStore(180)
    ingest = Ingest(store, HubStats(), None)
    for c in range(n):
        cam = store.camera("d", f"c{c // 25}", f"cam-{c}")
        cam.agent_key = f"d/c{c // 25}/box-{c // 25}"
        base_fps, base_light = rng.choice((10.0, 15.0, 25.0)), rng.uniform(60, 180)
        for k in range(days * DAY // 30):
            ts = start + k * 30 + rng.uniform(0, 2)
            hour = (k * 30 // 3600) % 24
            light = base_light * (0.35 if hour < 6 or hour > 18 else 1.0)
            if rng.random() < 0.01:  # an outage now and then
                doc: dict[str, Any] = {"ts": ts, "seq": k, "online": False, "problems": ["unreachable"]}
            else:
                fps = round(base_fps * rng.uniform(0.93, 1.0), 2)
                doc = {"ts": ts, "seq": k, "online": True, "fps": fps, "width": 1280, "height": 720,
                       "open_ms": round(rng.uniform(300, 2500), 1), "probe_ms": round(rng.uniform(1800, 4000), 1),
                       "brightness": round(light + rng.gauss(0, 3), 2), "contrast": round(rng.uniform(30, 60), 2),
                       "sharpness": round(rng.uniform(80, 900), 2), "motion": round(rng.uniform(0, 12), 3),
                       "problems": ["low_fps"] if fps < base_fps * 0.94 else []}  # fmt: skip
            yield ingest.health_line(cam, CameraHealth.model_validate(doc))


def box_lines(n: int, start: float, days: int, rng: random.Random) -> Iterator[str]:
    for b in range(n):
        series = series_key("edge_status", {"district": "d", "commune": f"c{b}", "agent": f"box-{b}"})
        for k in range(days * DAY // 60):
            ts = start + k * 60 + rng.uniform(0, 1)
            queue = 0 if rng.random() < 0.97 else rng.randint(1, 500)
            fields = {"state": "online", "online": True, "version": "0.3.0", "cameras": 25, "queue": queue,
                      "seq_gaps": 0, "device_ts": round(ts, 3)}  # fmt: skip
            yield line(series, fields, ts_ms(ts))


def speaker_lines(n: int, start: float, days: int, rng: random.Random) -> Iterator[str]:
    for s in range(n):
        live = SpeakerLive(key=f"d/c{s // 6}/loa-{s}", district="d", commune=f"c{s // 6}", slug=f"loa-{s}",
                           status="online", volume=70, amplifier="on", disk_free_mb=900.0)  # fmt: skip
        for k in range(days * DAY // 30):
            live.signal_dbm = round(-75 + rng.gauss(0, 4), 1)
            live.amplifier = "on" if rng.random() < 0.995 else "fault"
            out = health_line(live, start + k * 30 + rng.uniform(0, 1))
            assert out is not None
            yield out


def hub_lines(n: int, start: float, days: int, rng: random.Random) -> Iterator[str]:
    stats = HubStats()
    for h in range(n):
        series = series_key("hub_stats", {"hub": f"hub-{h}"})
        for k in range(days * DAY // 10):
            stats.received += rng.randint(6000, 7500)
            stats.accepted = stats.received
            stats.influx_written += rng.randint(6000, 7500)
            stats.sql_flushes += 10
            snap = stats.snapshot()
            fields: dict[str, Any] = {k2: v for k2, v in snap.items() if isinstance(v, bool | int | float)}
            fields.pop("last_error_at", None)
            fields.update({f"rejected_{r}": 0 for r in REJECT_REASONS})
            fields["uptime_s"] = float(k * 10)
            yield line(series, fields, ts_ms(start + k * 10))


def write_all(port: int, db: str, lines: Iterator[str]) -> int:
    url = f"http://127.0.0.1:{port}/write?db={db}&precision=ms"
    n, batch = 0, []
    for ln in lines:
        batch.append(ln)
        if len(batch) >= BATCH:
            n += _post(url, batch)
    return n + (_post(url, batch) if batch else 0)


def _post(url: str, batch: list[str]) -> int:
    with urllib.request.urlopen(
        urllib.request.Request(url, data="\n".join(batch).encode()), timeout=120
    ) as r:
        assert r.status == 204
    n = len(batch)
    batch.clear()
    return n


def tsm_bytes(data_dir: Path, db: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for rp in ("raw", "m5", "h1"):
        out[rp] = sum(f.stat().st_size for f in (data_dir / db / rp).rglob("*.tsm"))
    return out


def wal_bytes(wal_dir: Path) -> int:
    return sum(f.stat().st_size for f in wal_dir.rglob("*.wal"))


def wait_compacted(wal_dir: Path, timeout_s: float) -> None:
    """Until the write-ahead log is empty (everything in TSM files), then the full compaction after it."""
    deadline = time.monotonic() + timeout_s
    while wal_bytes(wal_dir) > 0 and time.monotonic() < deadline:
        time.sleep(2)
    time.sleep(6)


def snapshot_bytes() -> int:
    """A 640x360 JPEG at the edge agent's default quality (75) of a noisy synthetic scene: shapes, gradients
    and sensor noise, which JPEG compresses about as badly as a real street."""
    rng = np.random.default_rng(7)
    img = np.zeros((360, 640, 3), np.uint8)
    img[:] = np.linspace(40, 200, 640, dtype=np.uint8)[None, :, None]
    for _ in range(40):
        x, y = int(rng.integers(0, 600)), int(rng.integers(0, 330))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(10, 120)), y + int(rng.integers(10, 80))), color, -1)
    noisy = np.clip(img.astype(np.int16) + rng.normal(0, 7, img.shape).astype(np.int16), 0, 255).astype(
        np.uint8
    )
    ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 75])
    assert ok
    return len(buf)


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    influx = start_influxd(work / "influxd", data_extra=COMPACT_NOW)
    days = args.days
    try:
        rng = random.Random(1)
        now = time.time()
        start = float(int(now // 3600) * 3600 - days * DAY - 3600)  # whole days, ending an hour ago
        kinds: dict[str, tuple[int, Callable[[int, float, int, random.Random], Iterator[str]]]] = {
            "camera": (args.cameras, camera_lines),
            "box": (max(1, args.cameras // 25), box_lines),
            "speaker": (max(1, args.cameras // 4), speaker_lines),
            "hub": (1, hub_lines),
        }
        out: dict[str, Any] = {"days": days, "devices": {k: n for k, (n, _) in kinds.items()}}
        cq_s: dict[str, float] = {}
        # a raw horizon that holds the whole measured span (the default 7 days would refuse its first hour)
        horizons = InfluxRetention(raw_days=days + 1)
        for kind, (n, gen) in kinds.items():
            cfg = InfluxConfig(url=influx.url, database=kind, retention=horizons)
            layout = RetentionV1(cfg, lambda: {})
            await layout.apply(int(now * 1000))
            points = write_all(influx.port, kind, gen(n, start, days, rng))
            t0 = time.perf_counter()  # hub_stats: the backfill downsamples the fields InfluxDB holds
            await layout.backfill(
                datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + days * DAY, UTC)
            )
            cq_s[kind] = time.perf_counter() - t0
            out.setdefault("points_per_day", {})[kind] = points // n // days
        await asyncio.to_thread(wait_compacted, work / "influxd" / "wal", 240)
        per_day: dict[str, dict[str, float]] = {}
        for kind, (n, _) in kinds.items():
            sizes = tsm_bytes(work / "influxd" / "data", kind)
            per_day[kind] = {rp: round(b / n / days) for rp, b in sizes.items()}
        out["bytes_per_device_day"] = per_day
        out["wal_left_bytes"] = wal_bytes(work / "influxd" / "wal")
        # CPU of downsampling: one camera-day through both tiers' queries, once (a continuous query with
        # RESAMPLE FOR 10m computes each 5-minute bucket twice)
        out["downsample_ms_per_camera_day"] = round(cq_s["camera"] * 1000 / args.cameras / days, 1)
        return out
    finally:
        influx.stop()


def province(per_day: dict[str, dict[str, float]], r: InfluxRetention, snap_bytes: int) -> dict[str, Any]:
    days = {"raw": r.raw_days, "m5": r.m5_days, "h1": r.h1_days}
    counts = {"camera": PROVINCE["cameras"], "box": PROVINCE["boxes"], "speaker": PROVINCE["speakers"],
              "hub": PROVINCE["hubs"]}  # fmt: skip
    influx = {rp: sum(per_day[k][rp] * counts[k] for k in counts) * days[rp] for rp in days}
    s = SnapshotConfig()
    files = s.keep_last + s.hourly_hours
    return {
        "horizons_days": days,
        "influx_gb": {rp: round(b / 1e9, 1) for rp, b in influx.items()},
        "influx_total_gb": round(sum(influx.values()) / 1e9, 1),
        "influx_per_day_gb": {
            rp: round(sum(per_day[k][rp] * counts[k] for k in counts) / 1e9, 2) for rp in days
        },
        "snapshot_files_per_camera": files,
        "snapshots_gb": round(PROVINCE["cameras"] * files * snap_bytes / 1e9, 1),
        "snapshots_written_gb_per_day": round(PROVINCE["cameras"] * 288 * snap_bytes / 1e9, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=12, help="cameras measured (boxes: /25, speakers: /4)")
    p.add_argument(
        "--days",
        type=int,
        default=7,
        help="days written: the 5-minute and hourly series compress better over more",
    )
    args = p.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="disk-budget-") as tmp:
        out = asyncio.run(measure(args, Path(tmp)))
    measured_jpeg = snapshot_bytes()
    out["snapshot_bytes_synthetic"] = measured_jpeg
    out["snapshot_bytes_planning"] = SNAPSHOT_BYTES
    out["province"] = province(out["bytes_per_device_day"], InfluxRetention(), SNAPSHOT_BYTES)
    out["elapsed_s"] = round(time.monotonic() - t0, 1)
    for kind, rps in out["bytes_per_device_day"].items():
        print(f"{kind:8s} bytes/day: " + ", ".join(f"{rp} {b:,.0f}" for rp, b in rps.items()))
    print(json.dumps({"bench": "disk_budget", **out}, ensure_ascii=False))


if __name__ == "__main__":
    main()
