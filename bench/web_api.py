"""Web/API figures at province scale: 20,000 cameras in SQLite, the web app in a child process.

Measures: GET /api/v1/cameras (everything, admin) and one district (police), the wall page of one district,
the live stream's fan-out (events delivered per second to many SSE clients), and one argon2 password check.
Run from the repo root: `.venv/bin/python bench/web_api.py`. Prints one JSON line at the end.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from hub.compose import open_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.services import free_port
from hub.compose import HubConfig
from hub.core import auth
from hub.core.db import Camera, utcnow

DISTRICTS, COMMUNES, PER_COMMUNE = 30, 20, 34  # 30 × 20 × 34 = 20,400 cameras
SSE_CLIENTS, SSE_EVENTS = 100, 1000
STATUSES = ("ok", "ok", "ok", "problem", "offline", "stale")


def seed(url: str) -> tuple[str, str]:
    db = open_database(url)
    db.create_all()
    now = utcnow()
    with db.session() as s, s.begin():
        n = 0
        for d in range(DISTRICTS):
            for c in range(COMMUNES):
                for i in range(PER_COMMUNE):
                    key = f"d{d:02d}/c{c:02d}/cam{i:03d}"
                    s.add(
                        Camera(
                            key=key,
                            district=f"d{d:02d}",
                            commune=f"c{c:02d}",
                            slug=f"cam{i:03d}",
                            name=f"Camera số {i} xã {c}",
                            status=STATUSES[n % len(STATUSES)],
                            problems=["frozen"] if n % 6 == 3 else [],
                            status_since=now,
                            fps=12.0,
                        )
                    )
                    n += 1
        h = auth.hash_password("mat-khau-bench-1")
        auth.add_user(s, "admin", h, "admin", now=now)
        auth.add_user(s, "police", h, "police", district="d07", now=now)
        admin_tok = auth.create_token(s, "admin", "bench", now)[1]
        police_tok = auth.create_token(s, "police", "bench", now)[1]
    db.close()
    return admin_tok, police_tok


def serve(url: str, port: int, ready: Any) -> None:
    """Child process: the web app, plus a burst of camera events on the bus when it gets SIGUSR1."""
    from aiohttp import web

    from hub.compose import create_app
    from hub.core.events import EventBus

    async def main() -> None:
        db, events = open_database(url), EventBus(queue_size=SSE_EVENTS * 2)
        app = create_app(HubConfig(), db, events, lambda: {})
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        burst = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, burst.set)
        ready.set()
        await burst.wait()
        for i in range(SSE_EVENTS):
            events.publish(
                {
                    "type": "camera",
                    "camera": {
                        "key": f"d07/c01/cam{i % 34:03d}",
                        "district": "d07",
                        "commune": "c01",
                        "status": "ok",
                        "seq": i,
                    },
                }
            )
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the writers drain, as real ingest would
        await asyncio.sleep(3600)

    asyncio.run(main())


async def timed(session: aiohttp.ClientSession, url: str, token: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
            body = await r.read()
            assert r.status == 200, (url, r.status)
        times.append((time.perf_counter() - t) * 1000)
        size = len(body)
    return times, size


def p(values: list[float], q: float) -> float:
    return round(sorted(values)[min(len(values) - 1, int(q * len(values)))], 1)


async def sse_client(
    session: aiohttp.ClientSession, url: str, token: str, ready: asyncio.Event, counter: list[int]
) -> None:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
        got = 0
        async for line in r.content:
            if line.startswith(b"event: hello"):
                counter[1] += 1
                if counter[1] == SSE_CLIENTS:
                    ready.set()
            elif line.startswith(b"event: camera"):
                got += 1
                counter[0] += 1
                if got == SSE_EVENTS:
                    return


async def measure(base: str, admin: str, police: str, child_pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conn = aiohttp.TCPConnector(limit=SSE_CLIENTS + 10)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as s:
        all_t, all_size = await timed(s, base + "/api/v1/cameras", admin, 8)
        out["cameras_all_ms_p50"], out["cameras_all_ms_max"] = p(all_t, 0.5), round(max(all_t), 1)
        out["cameras_all_bytes"] = all_size
        d_t, _ = await timed(s, base + "/api/v1/cameras", police, 40)
        out["cameras_district_ms_p50"], out["cameras_district_ms_p95"] = p(d_t, 0.5), p(d_t, 0.95)
        w_t, w_size = await timed(s, base + "/", police, 10)  # bearer works on pages too
        out["wall_district_ms_p50"], out["wall_district_bytes"] = p(w_t, 0.5), w_size
        wa_t, wa_size = await timed(s, base + "/", admin, 3)  # the whole province on one page
        out["wall_all_ms_p50"], out["wall_all_bytes"] = p(wa_t, 0.5), wa_size
        one_t, _ = await timed(s, base + "/api/v1/cameras/d07/c01/cam001", police, 100)
        out["camera_one_ms_p50"] = p(one_t, 0.5)

        ready, counter = asyncio.Event(), [0, 0]
        url = base + "/api/v1/events?cameras=false"
        tasks = [asyncio.create_task(sse_client(s, url, police, ready, counter)) for _ in range(SSE_CLIENTS)]
        await asyncio.wait_for(ready.wait(), 60)
        t = time.perf_counter()
        os.kill(child_pid, signal.SIGUSR1)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        dt = time.perf_counter() - t
        out["sse_clients"], out["sse_events"] = SSE_CLIENTS, SSE_EVENTS
        out["sse_delivered"] = counter[0]
        out["sse_deliveries_per_s"] = round(counter[0] / dt)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        admin, police = seed(url)
        seeded_s = time.perf_counter() - t
        port = free_port()
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        child = ctx.Process(target=serve, args=(url, port, ready), daemon=True)
        child.start()
        try:
            if not ready.wait(60):
                raise SystemExit("web app did not start")
            assert child.pid is not None
            result = asyncio.run(measure(f"http://127.0.0.1:{port}", admin, police, child.pid))
        finally:
            child.terminate()
            child.join(10)
    t = time.perf_counter()
    h = auth.hash_password("mat-khau-bench-1")
    hash_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    auth.verify_password(h, "mat-khau-bench-1")
    verify_ms = (time.perf_counter() - t) * 1000
    result.update(
        cameras=DISTRICTS * COMMUNES * PER_COMMUNE,
        seed_s=round(seeded_s, 1),
        argon2_hash_ms=round(hash_ms, 1),
        argon2_verify_ms=round(verify_ms, 1),
        cpu_count=os.cpu_count(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
