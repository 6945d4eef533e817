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
are most of it), the event loop's lag and GC pauses, the alert engine's longest round, what the walls received,
and points lost. Goals: CPU ≤ 15 % of a core, p95 ≤ 50 ms, nothing lost.

The pieces are in bench/province/ (`fleet.py`: areas, payloads, the publisher; `hub_child.py`: the hub;
`walls.py`: the walls and the prober). Child roles (`--role hub|publish`) are this same file run by the bench
itself. For a diagnosis, `PROVINCE_PROFILE=FILE` runs the hub child under cProfile (its event loop thread) and
`PROVINCE_STEADY_S` shortens the steady window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from bench.province.fleet import CAMERAS, COMMUNES, DISTRICTS, INTERVAL_S, SPEAKERS, role_publish  # noqa: E402
from bench.province.hub_child import percentile, role_hub  # noqa: E402
from bench.province.walls import WALLS_COMMUNE, WALLS_SUMMARY, Walls  # noqa: E402

STEADY_S = int(os.environ.get("PROVINCE_STEADY_S", "150"))  # five rounds of every endpoint
SETTLE_S = 20  # > the alerts' group_wait_s (10 s) plus an evaluation round
HUB_ID = "bench-province"


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
        # The boxes never send their own status here (only camera reports): registered from those reports.
        "ingest": {"state_flush_s": 1.0, "legacy_reports": True},
        # Steady traffic only: a fresh hub would otherwise make last week's and last month's reports for all 600
        # communes during the measurement (a weekly burst, measured by bench/scheduled_reports.py).
        "scheduled_reports": {"enabled": False},
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
