"""Notifier benchmark: `.venv/bin/python bench/notify_delivery.py` (about a minute; the last line is JSON).

Runs the real notifier (hub/notify, SQLite outbox in a temp folder) against the fake Zalo server
(devtools/fakezalo.py) on loopback and measures, per notice, submit() → the fake server holding the message:

1. single: 20 notices one at a time (each waited for): one alert on an idle notifier.
2. burst: `--notices` camera notices to `--groups` police groups, each with a snapshot to upload (the path of a
   real camera alert: outbox insert, claim, token, upload, group message, result).
3. faults: the burst again while the fake answers a share of requests with -32, HTTP 502, -216 (expired
   token: refresh and resend) or hangs past the client timeout; retries start after 0.2 s here (production
   default 10 s, doubling).

Reports p50/p95/max latency and throughput per phase, and counts duplicates (a notice delivered twice to one
group) and lost notices (never delivered): goal zero of both. The alert engine's own delays (pending,
group_wait) come on top; bench/alert_latency.py (alerts) measures the whole fault → Zalo path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.compose import open_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from devtools.fakezalo import FakeZalo
from hub.compose import HubConfig
from hub.core.config import DistrictConfig
from hub.core.db import Camera, Database, to_db_time
from hub.core.facts import AlertNotice, FactKind, NoticeItem, Severity
from hub.core.snapshots import SnapshotStore, store_and_index
from hub.notify.config import NotifyConfig
from hub.notify.service import Notifier


@dataclass
class Parts:
    config: HubConfig
    db: Database


def snapshot_jpeg() -> bytes:
    rng = np.random.default_rng(7)
    img = cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8), (5, 5), 0)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(buf.tobytes())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def phase(
    name: str, n: Notifier, fake: FakeZalo, notices: list[AlertNotice], timeout_s: float
) -> dict[str, Any]:
    start_msgs = len(fake.messages())
    submitted: dict[str, float] = {}
    t0 = time.perf_counter()
    for nt in notices:
        submitted[nt.event_id] = time.time()
        await n.submit(nt)
    want = len(notices)
    deadline = time.monotonic() + timeout_s
    while len(fake.messages()) - start_msgs < want and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # anything arriving late would be a duplicate
    wall = time.perf_counter() - t0
    got = fake.messages()[start_msgs:]
    seen: Counter[tuple[str, str]] = Counter()
    latency: list[float] = []
    for m in got:
        ev = m.text.rsplit("#", 1)[-1].strip()
        seen[(ev, m.target)] += 1
        if seen[(ev, m.target)] == 1 and ev in submitted:
            latency.append(m.at - submitted[ev])
    delivered = {ev for ev, _ in seen}
    return {
        "phase": name,
        "notices": want,
        "delivered": len(delivered & set(submitted)),
        "lost": len(set(submitted) - delivered),
        "duplicates": sum(c - 1 for c in seen.values() if c > 1),
        "p50_ms": round(pct(latency, 0.5) * 1000, 1),
        "p95_ms": round(pct(latency, 0.95) * 1000, 1),
        "max_ms": round(max(latency) * 1000, 1) if latency else None,
        "mean_ms": round(statistics.fmean(latency) * 1000, 1) if latency else None,
        "per_s": round(len(latency) / wall, 1) if wall > 0 else None,
    }


async def one_by_one(n: Notifier, fake: FakeZalo, notices: list[AlertNotice]) -> dict[str, Any]:
    """One notice at a time, each waited for: the latency of a single alert on an idle notifier."""
    latency = []
    for nt in notices:
        before = len(fake.messages())
        t = time.time()
        await n.submit(nt)
        deadline = time.monotonic() + 30
        while len(fake.messages()) == before and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        if len(fake.messages()) > before:
            latency.append(fake.messages()[before].at - t)
    return {
        "phase": "single",
        "notices": len(notices),
        "delivered": len(latency),
        "p50_ms": round(pct(latency, 0.5) * 1000, 1),
        "p95_ms": round(pct(latency, 0.95) * 1000, 1),
        "max_ms": round(max(latency) * 1000, 1) if latency else None,
    }


def make_notices(prefix: str, count: int, groups: int) -> list[AlertNotice]:
    now = time.time()
    out = []
    for i in range(count):
        d = f"d{i % groups:02d}"
        cam = f"{d}/c00/cam{i + (0 if prefix == 's' else 20):04d}"
        out.append(
            AlertNotice(
                event_id=f"{prefix}-{i}",
                group_key=f"camera_offline:{d}:c00",
                status="firing",
                kind=FactKind.CAMERA_OFFLINE,
                severity=Severity.WARNING,
                district=d,
                commune="c00",
                items=(NoticeItem(cam, f"Camera {i}", "Mất tín hiệu", now - 30),),
                created_at=now,
                # the event id rides at the end of the link so the bench can match what arrived
                link_path=f"/alerts?bench=1#{prefix}-{i}",
                snapshot_camera=cam,
            )
        )
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    fake = FakeZalo()
    await fake.start()
    groups = {f"d{g:02d}": f"group-{g}" for g in range(args.groups)}
    notify = NotifyConfig.model_validate(
        {
            "oa": {
                "app_id": fake.state.app_id,
                "secret_key": fake.state.secret_key,
                "refresh_token": fake.state.refresh_token,
                "base_url": fake.url,
                "oauth_url": fake.url,
                "timeout_s": 1.0,
            },
            "groups": {"police": groups},
            "retry": {"base_s": 0.2, "max_s": 1.0, "rate_limit_s": 0.2, "max_attempts": 20},
            "digest": {"enabled": False},
        }
    )
    config = HubConfig(
        data_dir=work / "hub", districts={d: DistrictConfig(name=d) for d in groups}, notify=notify
    )
    db = open_database(f"sqlite:///{work / 'hub.db'}")
    db.create_all()
    jpeg = snapshot_jpeg()
    store = SnapshotStore.for_config(config)
    with db.session() as s, s.begin():
        for i in range(args.notices * 2 + 20):
            d = f"d{i % args.groups:02d}"
            key = f"{d}/c00/cam{i:04d}"
            s.add(Camera(key=key, district=d, commune="c00", slug=f"cam{i:04d}", problems=[]))
            s.flush()
            store_and_index(s, store, key, jpeg, to_db_time(time.time()), None, None)
    n = Notifier(Parts(config, db))
    await n.start()
    try:
        single = await one_by_one(n, fake, make_notices("s", 20, args.groups))
        clean = await phase("burst", n, fake, make_notices("a", args.notices, args.groups), 120)
        for fault, share in (("rate_limit", 0.1), ("http_502", 0.1), ("token_expired", 0.05), ("hang", 0.02)):
            fake.fail("group", fault, times=max(1, int(args.notices * share)))
        faults = await phase("faults", n, fake, make_notices("b", args.notices, args.groups), 180)
    finally:
        await n.stop()
        await fake.stop()
        db.close()
    return {
        "bench": "notify_delivery",
        "notices_per_phase": args.notices,
        "groups": args.groups,
        "snapshot_kb": len(jpeg) // 1024,
        "refreshes": fake.state.refreshes,
        "phases": [single, clean, faults],
        "duplicates": clean["duplicates"] + faults["duplicates"],
        "lost": clean["lost"] + faults["lost"],
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--notices", type=int, default=200, help="notices per phase")
    p.add_argument("--groups", type=int, default=20, help="distinct police groups (districts)")
    logging.basicConfig(level=logging.ERROR)  # the scripted faults would log a warning per retry
    result = asyncio.run(run(p.parse_args()))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
