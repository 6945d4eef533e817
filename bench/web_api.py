"""Web/API figures at province scale: 20,000 cameras in SQLite, the web app in a child process.

The web app runs as in the hub process: the camera views (each camera's JSON, counts per commune) built once
at start from the registry, as the runtime does, then served without re-reading SQL.

Measures: every camera of the province through the paged list (admin, `limit=1000`, following `next_cursor`),
one district (police) and one commune, the same answers revalidated with their ETag (304), the province
summary, the wall page of one district and of the province (which starts from the summary), one camera, the
live stream's fan-out (events delivered per second to many SSE clients), and one argon2 password check.
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
    from hub.core.camera_views import CameraViews
    from hub.core.events import EventBus
    from hub.core.persist import load_registry
    from hub.core.serialize import camera_state_dict
    from hub.web.context import CTX
    from hub.web.views import ViewSource

    async def main() -> None:
        db, events = open_database(url), EventBus(queue_size=SSE_EVENTS * 2)
        cfg = HubConfig()
        app = create_app(cfg, db, events, lambda: {})
        # As in the hub process: the views built once from the registry, then kept by the runtime.
        views = CameraViews()
        cams, _ = await db.run(load_registry)
        for c in cams:
            views.put(camera_state_dict(c))
        app[CTX].views = ViewSource(db, cfg, views, 0.0)
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


async def timed(
    session: aiohttp.ClientSession, url: str, token: str, n: int, revalidate: bool = False
) -> tuple[list[float], int]:
    """`n` requests; with `revalidate`, each sends the ETag of a first answer and must get a 304."""
    times, size, etag = [], 0, None
    headers = {"Authorization": f"Bearer {token}"}
    if revalidate:
        async with session.get(url, headers=headers) as r:
            await r.read()
            etag = r.headers["ETag"]
        headers["If-None-Match"] = etag
    for _ in range(n):
        t = time.perf_counter()
        async with session.get(url, headers=headers) as r:
            body = await r.read()
            assert r.status == (304 if revalidate else 200), (url, r.status)
        times.append((time.perf_counter() - t) * 1000)
        size = len(body)
    return times, size


async def every_page(session: aiohttp.ClientSession, url: str, token: str) -> tuple[float, int, int, int]:
    """All cameras through the paged list: (ms, bytes, pages, cameras)."""
    t, size, pages, n, path = time.perf_counter(), 0, 0, 0, url
    while True:
        async with session.get(path, headers={"Authorization": f"Bearer {token}"}) as r:
            body = await r.read()
            assert r.status == 200, (path, r.status)
        page = json.loads(body)
        size, pages, n = size + len(body), pages + 1, n + len(page["items"])
        if not page["next_cursor"]:
            return (time.perf_counter() - t) * 1000, size, pages, n
        path = f"{url}&cursor={page['next_cursor']}"


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
        runs = [await every_page(s, base + "/api/v1/cameras?limit=1000", admin) for _ in range(4)]
        out["cameras_all_pages_ms_p50"] = p([r[0] for r in runs], 0.5)
        out["cameras_all_bytes"], out["cameras_all_pages"], out["cameras_all_items"] = runs[0][1:]
        first, first_size = await timed(s, base + "/api/v1/cameras", admin, 20)  # default page (200)
        out["cameras_first_page_ms_p50"], out["cameras_first_page_bytes"] = p(first, 0.5), first_size
        district = base + "/api/v1/cameras?limit=1000"  # the police user's district: 680 cameras
        d_t, _ = await timed(s, district, police, 40)
        out["cameras_district_ms_p50"], out["cameras_district_ms_p95"] = p(d_t, 0.5), p(d_t, 0.95)
        d304, _ = await timed(s, district, police, 40, revalidate=True)
        out["cameras_district_304_ms_p50"] = p(d304, 0.5)
        commune = base + "/api/v1/cameras?district=d07&commune=c01"
        c_t, _ = await timed(s, commune, police, 40)
        out["cameras_commune_ms_p50"], out["cameras_commune_ms_p95"] = p(c_t, 0.5), p(c_t, 0.95)
        sm_t, sm_size = await timed(s, base + "/api/v1/cameras/summary", admin, 40)
        out["summary_ms_p50"], out["summary_ms_p95"], out["summary_bytes"] = (
            p(sm_t, 0.5),
            p(sm_t, 0.95),
            sm_size,
        )
        sm304, _ = await timed(s, base + "/api/v1/cameras/summary", admin, 40, revalidate=True)
        out["summary_304_ms_p50"] = p(sm304, 0.5)
        w_t, w_size = await timed(s, base + "/", police, 10)  # bearer works on pages too
        out["wall_district_ms_p50"], out["wall_district_bytes"] = p(w_t, 0.5), w_size
        wa_t, wa_size = await timed(s, base + "/", admin, 10)  # the province: the summary first
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
