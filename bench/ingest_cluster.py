"""Part 4 of bench/ingest.py: the same burst through hub processes on one PostgreSQL, with one hub and with two.

One database: first one hub (cluster.enabled, four partitions = the bench's four districts) takes them all and
a warm-up message per camera registers the 20,000 cameras; it stops cleanly (the partitions' sessions stay on
the broker). Then, per mode, 100,000 messages are published into those sessions and the hubs (one, then two:
two partitions each, the same client ids, so the same sessions) start and drain them. Rate = messages ÷ (first received → all applied and written to SQL by the hubs
together); CPU per message summed over the hub processes; `lost` counts what no hub received.
Run by bench/ingest.py (its default run prints both); on its own (`.venv/bin/python bench/ingest_cluster.py`, about
two minutes) it starts its own Mosquitto and InfluxDB and measures only this part, without the bare subscriber.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import PUBLISHERS  # noqa: E402
from bench.ingest_harness import HubProcess, child, influx_count, last_json, wait  # noqa: E402
from bench.ingest_workload import CAMERAS, PER_CAMERA  # noqa: E402
from devtools.hubcluster import fresh_database, holdings, start_postgres  # noqa: E402
from devtools.services import Service, free_port, influx_create_db  # noqa: E402

PARTITIONS = 4  # bench/ingest.py's districts d0…d3


def hub_config(work: Path, mode: int, i: int, db_url: str, mqtt_port: int, influx: Service) -> dict[str, Any]:
    return {
        "data_dir": str(work / f"pg{mode}-h{i}"),
        "mqtt": {"port": mqtt_port, "client_id": "bench-pg"},
        "influx": {
            "url": influx.url,
            "database": f"pg{mode}",
            "batch_size": 5000,
            "flush_interval_s": 1.0,
        },  # fmt: skip
        "database": {"url": db_url},
        "http": {"port": free_port()},
        "ingest": {"state_flush_s": 1.0, "legacy_reports": True},  # its reports name boxes it never announces
        "districts": {f"d{d}": {"name": f"Huyện {d}"} for d in range(PARTITIONS)},
        "cluster": {"enabled": True, "hub_id": f"h{i}", "lease_ttl_s": 6, "lease_renew_s": 2},
        "alerts": {"enabled": False},
    }


def publish(port: int, first_round: int, rounds: int) -> int:
    step = CAMERAS // PUBLISHERS
    pubs = [
        child(
            "publish",
            "--port",
            str(port),
            "--start",
            str(k * step),
            "--count",
            str(step),
            "--first-round",
            str(first_round),
            "--rounds",
            str(rounds),
        )  # fmt: skip
        for k in range(PUBLISHERS)
    ]
    return sum(last_json(p, 300).get("published", 0) for p in pubs)


def start(configs: list[dict[str, Any]], db_url: str) -> list[HubProcess]:
    hubs = [HubProcess(c, wait=False) for c in configs]  # started together, they split the partitions at once
    for h in hubs:
        h.wait_started()
    if not wait(lambda: len(holdings(db_url).partitions) == PARTITIONS, 60):
        raise RuntimeError("the hubs did not take every partition")
    return hubs


def warm_up(configs: list[dict[str, Any]], db_url: str, mqtt_port: int) -> int:
    """Once: the sessions of the four partitions, and the cameras in SQL. Returns the points it wrote."""
    hubs = start(configs, db_url)
    try:
        publish(mqtt_port, -1, 1)
        wait(lambda: sum(h.latest().get("accepted", 0) for h in hubs) >= CAMERAS, 180)
    finally:
        for h in hubs:
            h.stop()
    return CAMERAS


def drain(
    mode: int, db_url: str, configs: list[dict[str, Any]], influx: Service, warm: int
) -> dict[str, Any]:
    """Starts the hubs on the queued burst and measures until they applied and wrote all of it."""
    total = CAMERAS * PER_CAMERA
    hubs = start(configs, db_url)
    try:
        split = sorted(len(holdings(db_url).of(f"h{i}")) for i in range(1, mode + 1))
        cpu0 = sum(h.cpu_s() for h in hubs)
        wait(lambda: sum(h.latest().get("accepted", 0) for h in hubs) >= total, 300)
        t_done = time.time()
        cpu1 = sum(h.cpu_s() for h in hubs)
        first = min(
            max((ln["t"] for ln in h.lines if "received" in ln and ln["received"] == 0), default=t_done)
            for h in hubs
        )
        received = sum(h.latest().get("received", 0) for h in hubs)  # redelivered ones too: all written
        wait(lambda: sum(h.latest().get("influx_written", 0) for h in hubs) >= received, 120)
        points = influx_count(influx.port, f"pg{mode}") - warm  # a message received twice is one point
        flush_max = max(h.latest().get("sql_flush_ms_max", 0) for h in hubs)
    finally:
        for h in hubs:
            h.stop()
    return {
        "hubs": mode,
        "partitions_per_hub": split,
        "received": received,
        "redelivered": max(0, received - total),
        "influx_points": points,
        "lost": max(0, total - points),
        "msgs_per_s": round(total / max(t_done - first, 1e-3)),
        "cpu_us_per_msg": round((cpu1 - cpu0) / total * 1e6, 1),
        "sql_flush_ms_max": flush_max,
    }


def run_pg_modes(mqtt_port: int, influx: Service, work: Path, bare_rate: float | None) -> dict[str, Any]:
    pg = start_postgres()
    try:
        db_url = fresh_database(pg.url)
        out: dict[str, Any] = {}
        for mode in (1, 2):
            influx_create_db(influx.port, f"pg{mode}")
            configs = [hub_config(work, mode, i, db_url, mqtt_port, influx) for i in range(1, mode + 1)]
            warm = warm_up(configs, db_url, mqtt_port) if mode == 1 else 0
            published = publish(mqtt_port, 0, PER_CAMERA)  # queued in the partitions' sessions
            r = {"published": published, **drain(mode, db_url, configs, influx, warm)}
            if bare_rate:
                r["ratio_to_bare"] = round(r["msgs_per_s"] / bare_rate, 2)
            out[f"hubs_{mode}"] = r
        one, two = out["hubs_1"]["msgs_per_s"], out["hubs_2"]["msgs_per_s"]
        out["two_over_one"] = round(two / one, 2) if one else None
        return out
    finally:
        pg.remove()


def main() -> int:
    from devtools.services import start_influxd, start_mosquitto

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-pg-"))
    mosq, influx = start_mosquitto(work / "mosquitto"), start_influxd(work / "influxd")
    try:
        result = {
            "bench": "ingest_postgresql",
            "messages": CAMERAS * PER_CAMERA,
            **run_pg_modes(mosq.port, influx, work, None),
        }
    finally:
        mosq.stop()
        influx.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
