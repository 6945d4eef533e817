"""Several real hub processes (`python -m hub run`) on one PostgreSQL database and one Mosquitto: their config,
start and SIGKILL, steady device traffic whose every message is a status change, and what the lease table says
about who holds what. Used by tests/hub/cluster/ and bench/failover.py."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import make_url

from devtools.lifeline import die_with_parent
from devtools.pgserver import start_postgres as start_postgres  # the benches' server, dies with them
from devtools.services import free_port, http_ok

REPO = Path(__file__).resolve().parents[1]
_dbs = itertools.count(1)


def fresh_database(server_url: str) -> str:
    """A new empty database on the PostgreSQL server of `server_url`; its SQLAlchemy URL."""
    u = make_url(server_url)
    name = f"cluster_{os.getpid()}_{next(_dbs)}"
    with psycopg.connect(
        host=u.host, port=u.port, user=u.username, dbname=u.database or "postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return u.set(database=name).render_as_string(hide_password=False)


def districts(n: int) -> dict[str, dict[str, Any]]:
    return {f"d{i}": {"name": f"Huyện {i}", "communes": {"x": "Xã X"}} for i in range(1, n + 1)}


def hub_yaml(
    tmp: Path,
    hub_id: str,
    db_url: str,
    mqtt_port: int,
    n_districts: int,
    ttl_s: float = 2.0,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, int]:
    """A hub config file (fast intervals, InfluxDB off) and the hub's HTTP port."""
    port = free_port()
    cfg: dict[str, Any] = {
        "data_dir": str(tmp / hub_id),
        "mqtt": {"port": mqtt_port, "client_id": "hub", "keepalive": 5},
        "influx": {"enabled": False},
        "database": {"url": db_url},
        "http": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
        # Hand-made reports name no box: the legacy rules (hub/core/claims.py) accept them.
        "ingest": {"state_flush_s": 0.2, "stale_after_s": 600, "legacy_reports": True},
        "districts": districts(n_districts),
        "cluster": {
            "enabled": True,
            "hub_id": hub_id,
            "lease_ttl_s": ttl_s,
            "lease_renew_s": ttl_s / 4,
            "mirror_s": 0.5,
        },
        "broadcast": {"schedule": {"check_s": 0.5}},
    }
    for key, value in (extra or {}).items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp / f"{hub_id}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path, port


@dataclass
class HubProcess:
    hub_id: str
    config: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, role: str = "all") -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), **self.env}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "--config", str(self.config), "run", "--role", role],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )

    def wait_http(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"hub {self.hub_id} exited: {self.tail()}")
            if http_ok(f"http://127.0.0.1:{self.port}/login", timeout=0.5):
                return
            time.sleep(0.1)
        raise TimeoutError(f"hub {self.hub_id} did not answer HTTP: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean stop, no lease given back, sessions left as they are."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])


def start_hubs(
    tmp: Path, db_url: str, mqtt_port: int, n_hubs: int, n_districts: int, **kw: Any
) -> list[HubProcess]:
    hubs = []
    for i in range(1, n_hubs + 1):
        hub_id = f"h{i}"
        cfg, port = hub_yaml(tmp, hub_id, db_url, mqtt_port, n_districts, **kw)
        hubs.append(HubProcess(hub_id, cfg, port, tmp / f"{hub_id}.log"))
    for h in hubs:
        h.start()
    for h in hubs:
        h.wait_http()
    return hubs


@dataclass(frozen=True)
class Holdings:
    partitions: dict[str, str]  # partition → hub id of its live holder
    leaders: dict[str, str]  # duty → hub id
    members: list[str]

    def of(self, hub_id: str) -> list[str]:
        return sorted(p for p, h in self.partitions.items() if h == hub_id)


def holdings(db_url: str) -> Holdings:
    """Who holds what now, by the database's clock."""
    u = make_url(db_url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as conn:
        rows = conn.execute(
            "SELECT name, owner FROM leases WHERE owner IS NOT NULL "
            "AND expires_at > timezone('utc', clock_timestamp())"
        ).fetchall()
    parts, leaders, members = {}, {}, []
    for name, owner in rows:
        hub = owner.split("/", 1)[0]
        kind, _, what = name.partition(":")
        if kind == "partition":
            parts[what] = hub
        elif kind == "leader":
            leaders[what] = hub
        elif kind == "member":
            members.append(what)
    return Holdings(parts, leaders, sorted(members))


def sql(db_url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    u = make_url(db_url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as conn:
        return list(conn.execute(query, args).fetchall())


def transitions(db_url: str) -> dict[str, list[float]]:
    """Camera key → the device times of its recorded transitions."""
    out: dict[str, list[float]] = defaultdict(list)
    for key, at in sql(
        db_url, "SELECT subject_key, extract(epoch FROM at) FROM transitions WHERE subject_kind = 'camera'"
    ):
        out[key].append(round(float(at), 3))
    return out


class Traffic(threading.Thread):
    """Health messages for `cameras` ((district, commune, camera)), each camera every `period_s`, alternating
    online and offline so that every message is a status change (a transition row). `sent` holds each
    camera's device times, acknowledged by the broker."""

    def __init__(self, port: int, cameras: list[tuple[str, str, str]], period_s: float) -> None:
        super().__init__(name="traffic", daemon=True)
        self.cameras = cameras
        self.period_s = period_s
        self.sent: dict[str, list[float]] = defaultdict(list)
        self.stop_event = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"traffic-{os.getpid()}",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        self._seq = 0

    def send_round(self) -> None:
        for d, c, cam in self.cameras:
            self._seq += 1
            ts = round(time.time(), 3)
            key = f"{d}/{c}/{cam}"
            online = len(self.sent[key]) % 2 == 1
            body: dict[str, Any] = {"ts": ts, "seq": self._seq, "online": online}
            if not online:
                body.update(problems=["unreachable"], reason="kết nối bị từ chối")
            info = self.client.publish(f"ops/v1/{d}/{c}/camera/{cam}/health", json.dumps(body), qos=1)
            info.wait_for_publish(10)
            self.sent[key].append(ts)

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            self.send_round()
            self.stop_event.wait(max(0.0, self.period_s - (time.monotonic() - started)))

    def finish(self) -> None:
        self.stop_event.set()
        if self.ident is not None:
            self.join(10)
        self.client.loop_stop()
        self.client.disconnect()

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.sent.values())


def compare(sent: dict[str, list[float]], recorded: dict[str, list[float]]) -> tuple[int, int]:
    """(messages lost, transitions doubled): every sent message must be exactly one transition."""
    lost = doubled = 0
    for key, times in sent.items():
        have = recorded.get(key, [])
        lost += len(set(times) - set(have))
        doubled += len(have) - len(set(have))
    return lost, doubled
