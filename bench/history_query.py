"""Camera history read path: `.venv/bin/python bench/history_query.py` (under a minute; last line is JSON).

Starts its own InfluxDB 1.x, writes 30 days of `camera_health` points (one probe every 30 s, the hub's own
line builder) for `--cameras` cameras of one commune, then times the queries the camera page sends
(hub/web/api/history.py through hub/core/influx_read.py) for every range: the status chart (two statements) and
one numeric chart (mean/min/max), `--repeat` times each, cold first run reported apart: once over every probe
(`<metric>_<range>_…`) and once over the tier the page now reads (`tiered_…`; 7 days from the 5-minute series,
30 days from the hourly one, built here with the continuous queries' SELECT … INTO). The camera page
sends six of them at once when it opens (status + five metrics), so `page_24h_ms` times those six in parallel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contract import CameraHealth
from devtools.services import influx_create_db, start_influxd
from hub.core.config import InfluxConfig, InfluxRetention
from hub.core.influx_read import InfluxReader
from hub.core.influx_retention import RetentionV1
from hub.core.ingest import Ingest
from hub.core.state import StateStore
from hub.core.stats import HubStats
from hub.web.api.history import RANGES, build_query

D, C = "soc-son", "phu-linh"
PERIOD_S = 30
DAYS = 30
BATCH = 5000
# The hub's tiers, with raw points kept long enough to hold the whole month (to compare both reads)
HORIZONS = InfluxRetention(raw_days=DAYS + 1, m5_days=DAYS + 1, h1_days=400)


def fill(port: int, db: str, cameras: int, now: float) -> int:
    store = StateStore(180)
    ingest = Ingest(store, HubStats(), None)
    start = now - DAYS * 86400
    lines: list[str] = []
    written = 0
    url = f"http://127.0.0.1:{port}/write?db={db}&precision=ms"

    def flush() -> None:
        nonlocal written
        body = "\n".join(lines).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as r:
            assert r.status == 204
        written += len(lines)
        lines.clear()

    for c in range(cameras):
        cam = store.camera(D, C, f"cam-{c}")
        for k in range(DAYS * 86400 // PERIOD_S):
            ts = start + k * PERIOD_S
            down = k % 2880 < 20  # ten minutes offline every day
            doc: dict[str, Any] = {"ts": ts, "seq": k, "online": not down}
            if down:
                doc["problems"] = ["unreachable"]
            else:
                doc.update(fps=10.0 + (k % 7) * 0.1, brightness=100.0 + k % 50, sharpness=250.0, motion=1.5)
            lines.append(ingest.health_line(cam, CameraHealth.model_validate(doc)))
            if len(lines) >= BATCH:
                flush()
    if lines:
        flush()
    return written


async def timed(reader: InfluxReader, q: str) -> float:
    t0 = time.perf_counter()
    res = await reader.query(q)
    ms = (time.perf_counter() - t0) * 1000
    assert res and res[0], "query returned nothing"
    return ms


async def measure(port: int, db: str, repeat: int) -> dict[str, Any]:
    reader = InfluxReader(InfluxConfig(url=f"http://127.0.0.1:{port}", database=db))
    tags = {"district": D, "commune": C, "camera": "cam-0"}
    now = datetime.now(UTC)
    out: dict[str, Any] = {}
    for rng in RANGES:
        for metric in ("status", "fps"):
            # every probe (what the page read before the tiers), then the tier the page reads now
            for prefix, retention in (("", None), ("tiered_", HORIZONS)):
                hq = build_query(metric, rng, tags, now, retention)
                cold = await timed(reader, hq.text)
                runs = [await timed(reader, hq.text) for _ in range(repeat)]
                out[f"{prefix}{metric}_{rng}_cold_ms"] = round(cold, 1)
                out[f"{prefix}{metric}_{rng}_median_ms"] = round(statistics.median(runs), 1)
                out[f"{prefix}{metric}_{rng}_max_ms"] = round(max(runs), 1)
                if retention is not None:
                    out[f"source_{rng}"] = hq.source
    page = [
        build_query(m, "24h", tags, now).text
        for m in ("status", "fps", "brightness", "sharpness", "motion", "open_ms")
    ]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await asyncio.gather(*(reader.query(q) for q in page))
        times.append((time.perf_counter() - t0) * 1000)
    out["page_24h_ms_median"] = round(statistics.median(times), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        influxd = start_influxd(Path(tmp))
        try:
            influx_create_db(influxd.port, "ops")
            now = time.time()
            layout = RetentionV1(InfluxConfig(url=influxd.url, database="ops", retention=HORIZONS), dict)
            asyncio.run(layout.apply(int(now * 1000)))
            t0 = time.perf_counter()
            points = fill(influxd.port, "ops", args.cameras, now)
            fill_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            end = datetime.fromtimestamp(now, UTC)
            asyncio.run(layout.backfill(end - timedelta(days=DAYS), end))
            downsample_s = time.perf_counter() - t0
            result = asyncio.run(measure(influxd.port, "ops", args.repeat))
        finally:
            influxd.stop()
    load1, load5, _ = os.getloadavg()
    print(
        json.dumps(
            {
                "bench": "history_query",
                "cameras": args.cameras,
                "days": DAYS,
                "points": points,
                "fill_s": round(fill_s, 1),
                "downsample_s": round(downsample_s, 1),
                **result,
                "loadavg_1": round(load1, 2),
                "loadavg_5": round(load5, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
