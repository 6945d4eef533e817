"""`python -m hub run` killed with SIGKILL in the middle of a stream, then started again: every message is in SQL
and InfluxDB once, no transition twice (messages are acknowledged only once durable; a redelivered one changes
nothing)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devtools.lifeline import die_with_parent
from devtools.services import Service, free_port, influx_query, wait_until
from tests.fixtures_hub import Publisher

ROOT = Path(__file__).resolve().parents[3]
CAMERAS = 10
N = 3000  # messages; every one changes its camera's status, so each is one transition


def write_config(tmp_path: Path, mqtt_port: int, influx_url: str, db: str) -> Path:
    cfg = tmp_path / "hub.yaml"
    # InfluxDB batches of a second and more: without acknowledgement after durability the killed hub would take
    # its buffer with it.
    cfg.write_text(
        f"data_dir: {tmp_path}/hub\n"
        f"database:\n  url: sqlite:///{tmp_path}/hub.db\n"
        f"mqtt:\n  port: {mqtt_port}\n  client_id: hub-kill-test\n"
        f"influx:\n  url: {influx_url}\n  database: {db}\n  flush_interval_s: 1.0\n  batch_size: 5000\n"
        "  retention:\n    manage: false\n"
        f"http:\n  port: {free_port()}\n"
        "ingest:\n  state_flush_s: 1.0\n  legacy_reports: true\n  max_age_s: 631152000\n",
        encoding="utf-8",
    )
    return cfg


def start_hub(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", str(cfg), "run", "--role", "all"],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
    )


def sql(tmp_path: Path, q: str) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(tmp_path / "hub.db", timeout=5) as c:
            return c.execute(q).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def points(port: int, db: str) -> int:
    res: Any = influx_query(port, db, "SELECT count(problem_count) FROM camera_health")
    series = res["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def test_sigkill_mid_stream_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: Service, influxd: Service, influx_db: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.port, influxd.url, influx_db)
    log = tmp_path / "hub.log"
    hub = start_hub(cfg, log)
    pub = Publisher(mosquitto.port)
    t0 = time.time() - 7200
    topic = "ops/v1/yen_dinh/dinh_long/camera/cam-{}/health"

    def send(i: int) -> None:
        cam = i % CAMERAS
        body = {"ts": t0 + i, "seq": i, "online": (i // CAMERAS) % 2 == 0}
        pub.client.publish(topic.format(cam), json.dumps(body), qos=1)

    try:
        # The hub's session exists (subscribed) before the stream starts: the broker queues for it from then on.
        def first_in() -> bool:
            send(0)  # again until the hub is subscribed; repeats are duplicates, the same point
            time.sleep(0.2)
            return sql(tmp_path, "SELECT count(*) FROM cameras") == [(1,)]

        wait_until(first_in, 30, "first message", hub)  # type: ignore[arg-type]
        done = threading.Event()

        def stream() -> None:
            for i in range(1, N):
                send(i)
                if i % 50 == 0:
                    time.sleep(0.02)  # ~2,500 msg/s: the hub is mid-stream when it dies
            done.set()

        threading.Thread(target=stream, daemon=True).start()
        wait_until(
            lambda: (sql(tmp_path, "SELECT count(*) FROM transitions") or [(0,)])[0][0] >= N // 3,
            30,
            "a third of the stream in SQL",
            hub,  # type: ignore[arg-type]
        )
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        assert done.wait(30)
        hub = start_hub(cfg, log)

        def all_in() -> bool:
            return (
                points(influxd.port, influx_db) >= N
                and sql(tmp_path, "SELECT count(*) FROM transitions WHERE subject_kind = 'camera'")[0][0] >= N
            )

        wait_until(all_in, 60, "every message in SQL and InfluxDB", hub)  # type: ignore[arg-type]
        time.sleep(1.5)  # a redelivered message would have been written by now
        assert points(influxd.port, influx_db) == N
        rows = sql(tmp_path, "SELECT subject_key, at FROM transitions WHERE subject_kind = 'camera'")
        assert len(rows) == N and len(set(rows)) == N  # one transition per message, none twice
        last = dict(sql(tmp_path, "SELECT key, last_seq FROM cameras"))
        assert last == {f"yen_dinh/dinh_long/cam-{c}": N - CAMERAS + c for c in range(CAMERAS)}
    finally:
        pub.close()
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
            try:
                hub.wait(15)
            except subprocess.TimeoutExpired:
                hub.kill()
