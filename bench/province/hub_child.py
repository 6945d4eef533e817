"""The hub child of bench/province_steady.py (role `hub`): the runtime and its web app in one process, as
`python -m hub run`, printing its counters, thread CPU, GC pauses, event-loop lag and answer times every second."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 1)


def role_hub(args: argparse.Namespace) -> None:
    """The hub runtime and its web app in one process, as `python -m hub run`; a stats line every second."""
    from aiohttp import web

    from hub.compose import Hub, HubConfig, create_app

    cfg = HubConfig.model_validate(json.loads(args.config))

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        hub = Hub(cfg)
        await hub.start()
        app = create_app(cfg, hub.db, hub.events, hub.stats.snapshot, hub=hub)
        served: dict[str, list[float]] = {"summary": [], "commune": []}

        @web.middleware
        async def timing(request: web.Request, handler: Any) -> web.StreamResponse:
            """Time in the server (from its first middleware on), apart from the client's own waits."""
            t = time.perf_counter()
            try:
                return await handler(request)
            finally:
                what = "summary" if request.path == "/api/v1/cameras/summary" else None
                if request.path == "/api/v1/cameras" and "commune" in request.query:
                    what = "commune"
                if what and "If-None-Match" not in request.headers:
                    served[what].append((time.perf_counter() - t) * 1000)

        app.middlewares.insert(0, timing)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, cfg.http.host, cfg.http.port).start()
        print(json.dumps({"event": "started"}), flush=True)
        st = hub.stats
        started = [0.0, 0.0]  # start of the collection under way, total ms of all collections
        pauses: list[tuple[float, float, int]] = []  # (time, ms, generation) of collections over 5 ms

        def on_gc(phase: str, info: dict[str, int]) -> None:  # how long collections stop the event loop
            if phase == "start":
                started[0] = time.perf_counter()
                return
            ms = (time.perf_counter() - started[0]) * 1000
            started[1] += ms
            if ms > 5:
                pauses.append((round(time.time(), 2), round(ms, 1), info["generation"]))

        gc.callbacks.append(on_gc)
        lags: list[float] = []

        async def watch_loop() -> None:  # how late the event loop runs a 20 ms timer: what an answer waits
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.02)
                lags.append((time.perf_counter() - t - 0.02) * 1000)
                del lags[:-10_000]

        watcher = asyncio.ensure_future(watch_loop())
        while not stop.is_set():
            # The counters themselves, not snapshot(): its gauges (sums over 25,000 devices) would be the
            # bench's own load; the hub computes them every 10 s for hub_stats.
            line = {
                "t": time.time(), "threads": threads_cpu(), "influx_written": st.influx_written,
                "influx_dropped": st.influx_dropped, "rejected_total": sum(st.rejected.values()),
                "events": st.events, "sql_flush_ms_max": round(st.sql_flush_ms_max, 1),
                "gc_pauses": pauses[-300:],
                "gc_total_ms": round(started[1], 1),
                "served_p95_ms": {k: percentile(v, 0.95) for k, v in served.items()},
                "loop_lag_ms": {"p95": percentile(lags[-7_500:], 0.95), "max": round(max(lags[-7_500:], default=0), 1)},
                "alert_eval_ms_max": round(hub.alerts.counters.eval_ms_max, 1),
            }  # fmt: skip
            print(json.dumps(line), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        watcher.cancel()
        await runner.cleanup()
        await hub.stop()
        print(json.dumps({"event": "stopped"}), flush=True)

    asyncio.run(main())


def threads_cpu() -> dict[str, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for t in threading.enumerate():
        try:
            f = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "sql" if t.name.startswith("ThreadPoolExecutor") else t.name
        out[name] = round(out.get(name, 0.0) + (int(f[11]) + int(f[12])) / tick, 2)
    return out
