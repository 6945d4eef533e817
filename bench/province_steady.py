"""Province steady state: `.venv/bin/python bench/province_steady.py` (no arguments; under 4 minutes; the last
line is JSON).

Starts its own Mosquitto and InfluxDB and runs the hub (runtime and web app, as `python -m hub run` does) as a
child process over SQLite. Then:

0. Warm-up: every camera and speaker reports once, so all 20,000 cameras and 5,000 speakers are registered
   (in SQL, in the hub's memory, in InfluxDB's series), as on any day but the first; then `SETTLE_S` seconds
   so the alert engine has told about the cameras that were already broken (a hub that has been running
   has done so long ago: that first burst of notices is not the steady state).
1. Steady state for `STEADY_S` seconds at the real pace, not compressed: each of the 20,000 cameras sends its
   health every 30 s and each of the 5,000 speakers every 30 s (about 833 messages/s, spread evenly; one paced
   QoS 1 publisher as in bench/ingest.py). About 0.1 % of the cameras change status per round (a picture
   freezes or comes back), so commune counts change and summary deltas flow.
   Meanwhile 10 walls are open, as the wall page makes them: 6 province walls (an event stream of `summary`
   deltas, the summary fetched on connect and revalidated with its ETag every `WALL_RESYNC_S`) and 4 walls
   opened on one commune each (an event stream of that commune's cameras, its camera list fetched page by page
   and revalidated the same way). A prober times full answers (no If-None-Match) of the province summary and
   of one commune's camera list, one of each per second.
2. Counts the health points back from InfluxDB: every acknowledged message must be there.

Reports the hub process's CPU over the steady window as a share of one core (all its threads: MQTT, event
loop, SQL, InfluxDB writer, web), per thread as well, the p95 of both answers as the prober saw them and as the
hub's outermost middleware timed them (`server_*`: without the client's own waits, which on a shared machine
are most of it), the event loop's GC pauses, what the walls received, and points lost. Goals: CPU ≤ 15 % of a core, p95 ≤ 50 ms, nothing lost. Child roles (`--role hub|publish`) are
this same file run by the bench itself. For a diagnosis, `PROVINCE_PROFILE=FILE` runs the hub child under
cProfile (its event loop thread) and `PROVINCE_STEADY_S` shortens the steady window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DISTRICTS, COMMUNES = 25, 24  # 600 communes (the pre-2025 count; a merged province has fewer, larger ones)
CAMERAS, SPEAKERS = 20_000, 5_000
PER_AGENT = 20
INTERVAL_S = 30.0  # camera health and speaker health, each endpoint once per interval
STEADY_S = int(os.environ.get("PROVINCE_STEADY_S", "150"))  # five rounds of every endpoint
FLIP_SHARE = 0.001  # cameras whose status changes per round: 20 every 30 s, 40 status changes a minute
SETTLE_S = 20  # > the alerts' group_wait_s (10 s) plus an evaluation round
WALLS_SUMMARY, WALLS_COMMUNE = 6, 4
WALL_RESYNC_S = 60.0  # wall.js RESYNC_MS
PROBE_PERIOD_S = 1.0
HUB_ID = "bench-province"


def area(i: int, n: int) -> tuple[str, str]:
    a = i * DISTRICTS * COMMUNES // n
    d, c = divmod(a, COMMUNES)
    return f"h{d:02d}", f"x{d:02d}-{c:02d}"


def camera_topic(i: int) -> str:
    d, c = area(i, CAMERAS)
    return f"ops/v1/{d}/{c}/camera/cam{i:05d}/health"


def speaker_topic(i: int) -> str:
    d, c = area(i, SPEAKERS)
    return f"ops/v1/{d}/{c}/speaker/loa{i:04d}/health"


def camera_payload(i: int, seq: int, ts: float, broken: bool) -> bytes:
    if i % 37 == 0:  # a camera that never answers
        return (
            f'{{"ts":{ts:.3f},"seq":{seq},"online":false,"agent":"box{i // PER_AGENT:04d}","boot":"b1",'
            f'"problems":["unreachable"],"reason":"timeout"}}'
        ).encode()
    problems = '["frozen"]' if broken or i % 23 == 0 else "[]"
    return (
        f'{{"ts":{ts:.3f},"seq":{seq},"online":true,"agent":"box{i // PER_AGENT:04d}","boot":"b1",'
        f'"problems":{problems},"fps":14.8,"expected_fps":15,"width":640,"height":360,"open_ms":812.0,'
        f'"probe_ms":2140.0,"brightness":96.1,"contrast":41.7,"sharpness":311.2,"motion":1.5}}'
    ).encode()


def speaker_payload(seq: int, ts: float) -> bytes:
    return (
        f'{{"ts":{ts:.3f},"seq":{seq},"volume":70,"amplifier":"on","signal_dbm":-61.0,"disk_free_mb":812.0,'
        f'"cache_mb":40.5,"queue":0}}'
    ).encode()


# child roles ------------------------------------------------------------------------------------------------
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


def role_publish(args: argparse.Namespace) -> None:
    """Every camera and speaker once per `interval` s, evenly spread, for `seconds` (0: one round as fast as
    the broker acknowledges: the warm-up). Prints how many the broker acknowledged."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{args.round}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", args.port, 60)
    rng = random.Random(7)
    broken: set[int] = set()
    endpoints = [("c", i) for i in range(CAMERAS)] + [("s", i) for i in range(SPEAKERS)]
    rng.shuffle(endpoints)  # cameras and speakers interleaved, communes mixed, as real reports arrive
    rounds = 1 if args.seconds == 0 else max(1, round(args.seconds / args.interval))
    step = 0.0 if args.seconds == 0 else args.interval / len(endpoints)
    infos = []
    t0 = time.time()
    k = 0
    for rnd in range(rounds):
        flips = set(rng.sample(range(CAMERAS), int(CAMERAS * FLIP_SHARE))) if args.seconds else set()
        broken ^= flips
        seq = args.round + rnd + 1
        for kind, i in endpoints:
            target = t0 + k * step
            while step:
                delay = target - time.time()
                if delay <= 0:
                    break
                c.loop(min(delay, 0.01))
            now = time.time()
            if kind == "c":
                infos.append(c.publish(camera_topic(i), camera_payload(i, seq, now, i in broken), qos=1))
            else:
                infos.append(c.publish(speaker_topic(i), speaker_payload(seq, now), qos=1))
            k += 1
            if not step and k % 200 == 0:
                c.loop(0)
    deadline = time.time() + 120
    while not all(i.is_published() for i in infos) and time.time() < deadline:
        c.loop(0.05)
    c.disconnect()
    cams = sum(
        1 for i, (kind, _) in zip(infos, endpoints * rounds, strict=True) if kind == "c" and i.is_published()
    )
    acked = sum(1 for i in infos if i.is_published())
    print(json.dumps({"published": acked, "cameras": cams, "speakers": acked - cams}), flush=True)


# orchestration ----------------------------------------------------------------------------------------------
def child(role: str, *extra: str) -> subprocess.Popen[str]:
    profile = os.environ.get("PROVINCE_PROFILE") if role == "hub" else None
    return subprocess.Popen(
        [
            sys.executable,
            *(["-m", "cProfile", "-o", profile] if profile else []),
            __file__,
            "--role",
            role,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=None if role == "hub" else subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )


def last_json(p: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = p.communicate(timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}


class HubProcess:
    def __init__(self, config: dict[str, Any]) -> None:
        self.proc = child("hub", "--config", json.dumps(config))
        self.lines: list[dict[str, Any]] = []
        self.started = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        if not self.started.wait(60):
            raise RuntimeError("hub child did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for ln in self.proc.stdout:
            if ln.startswith("{"):
                d = json.loads(ln)
                if d.get("event") == "started":
                    self.started.set()
                self.lines.append(d)

    def latest(self) -> dict[str, Any]:
        return self.lines[-1] if self.lines else {}

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._t.join(5)


def wait(cond: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


def influx_count(port: int, db: str, measurement: str, field: str) -> int:
    from devtools.services import influx_query

    try:
        res: Any = influx_query(port, db, f"SELECT count({field}) FROM {measurement}")
    except (OSError, ValueError):
        return -1
    series = res["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 1)


def seed_users(db_url: str) -> str:
    from hub.compose import open_database
    from hub.core import auth
    from hub.core.db import utcnow

    db = open_database(db_url)
    db.create_all()
    with db.session() as s, s.begin():
        auth.add_user(s, "chihuy", auth.hash_password("mat-khau-bench-1"), "police", now=utcnow())
        token = auth.create_token(s, "chihuy", "bench", utcnow())[1]
    db.close()
    return token


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


def main() -> int:
    from devtools.services import free_port, influx_create_db, start_influxd, start_mosquitto

    work = Path(tempfile.mkdtemp(prefix="bench-province-"))
    mosq = start_mosquitto(work / "mosquitto")
    influx = start_influxd(work / "influxd")
    influx_create_db(influx.port, "bench")
    db_url = f"sqlite:///{work / 'hub.db'}"
    port = free_port()
    config = {
        "data_dir": str(work / "hub"),
        "mqtt": {"port": mosq.port, "client_id": HUB_ID},
        "influx": {"url": influx.url, "database": "bench", "batch_size": 5000, "flush_interval_s": 1.0},
        "database": {"url": db_url},
        "http": {"port": port},
        "ingest": {"state_flush_s": 1.0},
        "districts": {
            f"h{d:02d}": {
                "name": f"Huyện {d + 1}",
                "communes": {f"x{d:02d}-{c:02d}": f"Xã {d + 1}.{c + 1}" for c in range(COMMUNES)},
            }
            for d in range(DISTRICTS)
        },
    }
    result: dict[str, Any] = {
        "bench": "province_steady",
        "cameras": CAMERAS,
        "speakers": SPEAKERS,
        "interval_s": INTERVAL_S,
        "steady_s": STEADY_S,
        "walls": WALLS_SUMMARY + WALLS_COMMUNE,
        "database": "sqlite",
        "cpu_count": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
    }
    hub: HubProcess | None = None
    published = {"cameras": 0, "speakers": 0}
    try:
        token = seed_users(db_url)
        hub = HubProcess(config)
        warm = last_json(child("publish", "--port", str(mosq.port), "--seconds", "0", "--round", "0"), 300)
        for k in published:
            published[k] += warm.get(k, 0)
        everything = CAMERAS + SPEAKERS
        wait(lambda: hub is not None and hub.latest().get("influx_written", 0) >= everything, 120)
        result["warmup_written"] = hub.latest().get("influx_written")
        time.sleep(SETTLE_S)

        t0, cpu0 = time.time(), hub.cpu_s()
        threads0 = hub.latest().get("threads", {})
        gc0 = hub.latest().get("gc_total_ms", 0.0)
        pub = child(
            "publish", "--port", str(mosq.port), "--seconds", str(STEADY_S), "--interval", str(INTERVAL_S),
            "--round", "1",
        )  # fmt: skip
        walls = Walls(f"http://127.0.0.1:{port}", token)
        asyncio.run(walls.run(STEADY_S))
        t1, cpu1 = time.time(), hub.cpu_s()
        threads1 = hub.latest().get("threads", {})
        result["gc_share_of_one_core_pct"] = round(
            (hub.latest().get("gc_total_ms", 0.0) - gc0) / 10 / (t1 - t0), 2
        )
        steady = last_json(pub, 180)
        for k in published:
            published[k] += steady.get(k, 0)
        result["hub_cpu_share_of_one_core_pct"] = round((cpu1 - cpu0) / (t1 - t0) * 100, 1)
        msgs = (steady.get("published") or 0) or 1
        result["hub_cpu_us_per_msg"] = round(
            (cpu1 - cpu0) / msgs * 1e6, 1
        )  # everything the hub did, per report
        result["hub_threads_cpu_pct"] = {
            k: round((v - threads0.get(k, 0.0)) / (t1 - t0) * 100, 1) for k, v in sorted(threads1.items())
        }
        result["steady_published"] = steady.get("published")
        result["steady_msgs_per_s"] = round((steady.get("published") or 0) / STEADY_S, 1)
        result["summary_p95_ms"] = percentile(walls.probe_ms["summary"], 0.95)
        result["summary_p50_ms"] = percentile(walls.probe_ms["summary"], 0.5)
        result["commune_list_p95_ms"] = percentile(walls.probe_ms["commune"], 0.95)
        result["commune_list_p50_ms"] = percentile(walls.probe_ms["commune"], 0.5)
        result["probes"] = {k: len(v) for k, v in walls.probe_ms.items()}
        result["wall_events"] = walls.events
        result["wall_requests"] = dict(sorted(walls.requests.items()))
        result["errors"] = walls.errors[:5]

        total = published["cameras"] + published["speakers"]
        wait(lambda: hub is not None and hub.latest().get("influx_written", 0) >= total, 60)
        counted = {"cameras": -1, "speakers": -1}
        for _ in range(50):  # InfluxDB may still be indexing the last batch
            counted = {
                "cameras": influx_count(influx.port, "bench", "camera_health", "problem_count"),
                "speakers": influx_count(influx.port, "bench", "speaker_health", "online"),
            }
            if counted["cameras"] >= published["cameras"] and counted["speakers"] >= published["speakers"]:
                break
            time.sleep(0.3)
        snap = hub.latest()
        result.update(
            published=published,
            influx_points=counted,
            points_lost=sum(published.values()) - sum(counted.values()),
            hub_rejected=snap.get("rejected_total"),
            hub_influx_dropped=snap.get("influx_dropped"),
            hub_events=snap.get("events"),
            sql_flush_ms_max=snap.get("sql_flush_ms_max"),
        )
        for what, p95 in snap.get("served_p95_ms", {}).items():
            result[f"server_{what}_p95_ms"] = p95
        result["event_loop_lag_ms"] = snap.get("loop_lag_ms")  # the last 150 s: the steady window
        result["alert_eval_ms_max"] = snap.get("alert_eval_ms_max")
        steady_pauses = [(ms, gen) for t, ms, gen in snap.get("gc_pauses", []) if t0 <= t <= t1]
        result["gc_pauses_over_5ms"] = len(steady_pauses)
        result["gc_pause_ms_max"] = max((ms for ms, _ in steady_pauses), default=0.0)
        result["gc_pauses_by_generation"] = {
            g: len([1 for _, gen in steady_pauses if gen == g]) for g in (0, 1, 2)
        }
    except Exception as exc:  # the JSON line still comes out, saying what broke
        result["error"] = repr(exc)
    finally:
        if hub is not None:
            hub.stop()
        mosq.stop()
        influx.stop()
    result["loadavg_end"] = round(os.getloadavg()[0], 2)
    result["goals"] = {
        "cpu_le_15pct": (result.get("hub_cpu_share_of_one_core_pct") or 999) <= 15,
        "summary_p95_le_50ms": (result.get("summary_p95_ms") or 999) <= 50,
        "commune_list_p95_le_50ms": (result.get("commune_list_p95_ms") or 999) <= 50,
        "nothing_lost": result.get("points_lost") == 0,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--role")
    ap.add_argument("--config")
    ap.add_argument("--port", type=int)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--interval", type=float, default=INTERVAL_S)
    ap.add_argument("--round", type=int, default=0)
    a = ap.parse_args()
    roles = {"hub": role_hub, "publish": role_publish}
    if a.role:
        roles[a.role](a)
        sys.exit(0)
    sys.exit(main())
