"""Scheduled reports and public status page benchmark: `.venv/bin/python bench/scheduled_reports.py` (well under
a minute; the last line is JSON).

Seeds a SQLite database in a temp folder with a province-sized month of status changes (`--communes` communes ×
`--cameras` cameras each, every camera going offline `--outages` times in November 2026), then measures:

1. make: the whole hub's monthly report (read the log, compute, PDF, CSV) and one commune's, through the real
   ReportService (files written, rows stored);
2. public: a commune's public status page over HTTP (aiohttp test server, the real app): the first request
   (figures computed: counts, month availability) and cached requests (the answer from memory), and a
   revalidation with If-None-Match (304).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer

from hub.compose import HubConfig, create_app, open_database
from hub.core.config import HttpConfig, InfluxConfig
from hub.core.db import Camera, Database, Transition
from hub.core.events import EventBus
from hub.scheduled_reports.models import PublicStatus
from hub.scheduled_reports.schedule import due_periods
from hub.scheduled_reports.service import ReportService

NOW = datetime(
    2026, 12, 1, 7, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")
).timestamp()  # November's report is due


def seed(db: Database, communes: int, cameras: int, outages: int) -> int:
    rows = 0
    start = datetime(2026, 10, 25)
    with db.session() as s, s.begin():
        for c in range(communes):
            commune = f"xa-{c:03d}"
            for k in range(cameras):
                key = f"tinh/{commune}/cam{k}"
                s.add(
                    Camera(
                        key=key,
                        district="tinh",
                        commune=commune,
                        slug=f"cam{k}",
                        name=f"Camera {k}",
                        status="ok",
                        problems=[],
                    )
                )
                s.add(Transition(subject_kind="camera", subject_key=key, district="tinh", commune=commune, at=start, to_status="ok", problems=[]))  # fmt: skip
                rows += 1
                for o in range(outages):
                    down = datetime(2026, 11, 1) + timedelta(hours=(o * 700 + k * 7 + c) % 700)
                    for at, st in ((down, "offline"), (down + timedelta(minutes=20 + k % 90), "ok")):
                        s.add(Transition(subject_kind="camera", subject_key=key, district="tinh", commune=commune, at=at, to_status=st, problems=[]))  # fmt: skip
                        rows += 1
        s.add(
            PublicStatus(
                district="tinh", commune="xa-000", enabled=True, updated_at=start, updated_by="bench"
            )
        )
    return rows


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        cfg = HubConfig.model_validate(
            {
                "data_dir": Path(tmp) / "hub",
                "http": HttpConfig(public_url="http://127.0.0.1:8080", secure_cookies=False),
                "influx": InfluxConfig(enabled=False),
                "scheduled_reports": {"kinds": ["monthly"], "communes": False},
            }
        )
        db = open_database(f"sqlite:///{Path(tmp) / 'hub.db'}")
        db.create_all()
        t = time.perf_counter()
        rows = seed(db, args.communes, args.cameras, args.outages)
        seed_s = time.perf_counter() - t
        svc = ReportService(cfg, db, [], lambda: None, clock=lambda: NOW)
        t = time.perf_counter()
        await svc.make_due()  # the whole hub, November 2026
        whole_s = time.perf_counter() - t
        (period,) = due_periods(NOW, svc.tz, svc.cfg.at_time, ["monthly"])
        t = time.perf_counter()
        await svc.make("monthly", "tinh", "xa-001", period)
        commune_s = time.perf_counter() - t
        pdf_kb = svc.path(1, "pdf").stat().st_size / 1024

        app = create_app(cfg, db, EventBus(), lambda: {})
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            t = time.perf_counter()
            first = await client.get("/cong-khai/tinh/xa-000")
            assert first.status == 200, first.status
            first_ms = (time.perf_counter() - t) * 1000
            etag = first.headers["ETag"]
            cached: list[float] = []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = await client.get("/cong-khai/tinh/xa-000")
                await r.read()
                cached.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            for _ in range(args.requests):
                r = await client.get("/cong-khai/tinh/xa-000", headers={"If-None-Match": etag})
                assert r.status == 304
            revalidate_ms = (time.perf_counter() - t) * 1000 / args.requests
        finally:
            await client.close()
        db.close()
    return {
        "bench": "scheduled_reports",
        "cameras": args.communes * args.cameras,
        "communes": args.communes,
        "transitions": rows,
        "seed_s": round(seed_s, 1),
        "monthly_whole_hub_s": round(whole_s, 2),
        "monthly_one_commune_s": round(commune_s, 3),
        "whole_hub_pdf_kb": round(pdf_kb, 1),
        "public_first_ms": round(first_ms, 1),
        "public_cached_p50_ms": round(statistics.median(cached), 2),
        "public_cached_rps": round(1000 / statistics.mean(cached)),
        "public_304_ms": round(revalidate_ms, 2),
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--communes", type=int, default=166, help="Thanh Hóa has 166 communes and wards since 2025"
    )
    p.add_argument("--cameras", type=int, default=20, help="cameras per commune")
    p.add_argument("--outages", type=int, default=4, help="offline runs per camera in the month")
    p.add_argument("--requests", type=int, default=300)
    print(json.dumps(asyncio.run(main(p.parse_args()))))
