"""The ten open walls and the prober of bench/province_steady.py, in the bench's own process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from typing import Any

from bench.province.fleet import CAMERAS, area

WALLS_SUMMARY, WALLS_COMMUNE = 6, 4
WALL_RESYNC_S = 60.0  # wall.js RESYNC_MS
PROBE_PERIOD_S = 1.0


class Walls:
    """Ten open walls and a prober, in this (the bench's) process, on one aiohttp session."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.h = {"Authorization": f"Bearer {token}"}
        self.events: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self.probe_ms: dict[str, list[float]] = {"summary": [], "commune": []}
        self.errors: list[str] = []

    async def _get(self, s: Any, path: str, etag: str | None, what: str) -> tuple[str | None, Any]:
        headers = {**self.h, **({"If-None-Match": etag} if etag else {})}
        async with s.get(self.base + path, headers=headers) as r:
            body = await r.read()
            self.requests[f"{what}_{r.status}"] = self.requests.get(f"{what}_{r.status}", 0) + 1
            if r.status not in (200, 304):
                self.errors.append(f"{path}: {r.status}")
            return r.headers.get("ETag"), json.loads(body) if r.status == 200 else None

    async def _list(self, s: Any, base: str, etags: dict[str, str]) -> None:
        """Every page of a camera list, each revalidated with the ETag it had (the browser's cache)."""
        path = base
        while True:
            etag, page = await self._get(s, path, etags.get(path), "commune_list")
            if etag:
                etags[path] = etag
            if page is None or not page["next_cursor"]:
                return
            path = f"{base}&cursor={page['next_cursor']}"

    async def _stream(self, s: Any, query: str, on_hello: Any, stop: asyncio.Event) -> None:
        async with s.get(self.base + "/api/v1/events?" + query, headers=self.h) as r:
            async for line in r.content:
                if line.startswith(b"event: "):
                    name = line[7:].strip().decode()
                    self.events[name] = self.events.get(name, 0) + 1
                    if name == "hello":
                        asyncio.ensure_future(on_hello())
                if stop.is_set():
                    return

    async def wall(self, s: Any, commune: tuple[str, str] | None, stop: asyncio.Event) -> None:
        etags: dict[str, str] = {}
        if commune is None:
            query = "cameras=false&types=summary"

            async def sync() -> None:
                etag, _ = await self._get(s, "/api/v1/cameras/summary", etags.get("s"), "summary")
                if etag:
                    etags["s"] = etag
        else:
            narrow = f"&district={commune[0]}&commune={commune[1]}"
            query = "cameras=false&types=camera,snapshot" + narrow

            async def sync() -> None:
                await self._list(s, "/api/v1/cameras?limit=500" + narrow, etags)

        task = asyncio.ensure_future(self._stream(s, query, sync, stop))
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WALL_RESYNC_S)
            if not stop.is_set():
                await sync()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def probe(self, s: Any, stop: asyncio.Event) -> None:
        rng = random.Random(3)
        while not stop.is_set():
            for what in ("summary", "commune"):
                if what == "summary":
                    path = "/api/v1/cameras/summary"
                else:
                    d, c = area(rng.randrange(CAMERAS), CAMERAS)
                    path = f"/api/v1/cameras?district={d}&commune={c}"
                t = time.perf_counter()
                async with s.get(self.base + path, headers=self.h) as r:
                    await r.read()
                    if r.status != 200:
                        self.errors.append(f"{path}: {r.status}")
                self.probe_ms[what].append((time.perf_counter() - t) * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_PERIOD_S)

    async def run(self, seconds: float) -> None:
        import aiohttp

        stop = asyncio.Event()
        communes = [area(i * CAMERAS // WALLS_COMMUNE + 7, CAMERAS) for i in range(WALLS_COMMUNE)]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as s:
            tasks = [asyncio.ensure_future(self.wall(s, None, stop)) for _ in range(WALLS_SUMMARY)]
            tasks += [asyncio.ensure_future(self.wall(s, c, stop)) for c in communes]
            tasks.append(asyncio.ensure_future(self.probe(s, stop)))
            await asyncio.sleep(seconds)
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
