"""The real stack of a drill, on free ports in one temp folder: Mosquitto, InfluxDB, the hub (a process, on SQLite
or a given PostgreSQL URL), the fake Zalo, the RTSP camera simulator and one edge agent (a process, optionally in
its own network namespace: devtools/drills/netbox.py).

Every part can be stopped, killed and started again on the same files and ports, which is what the scenarios do.
Everything started is registered with the watchdog (reaper.py), so a runner killed hard leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.camsim_client import CamSim, start_camsim
from devtools.drills.netbox import NetBox
from devtools.drills.reaper import Reaper
from devtools.pgserver import PgServer
from devtools.services import (
    HOST,
    Service,
    free_port,
    http_ok,
    influx_create_db,
    influx_query,
    mosquitto_conf,
    start_influxd,
    start_mosquitto,
    terminate,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = "yen_dinh"
COMMUNE = "dinh_long"
AGENT = "box-drill"
AGENT_KEY = f"{DISTRICT}/{COMMUNE}/{AGENT}"
INFLUX_DB = "ops"
REFRESH_TOKEN = "rt-drills-seed"
POLICE_GROUP = "g-congan-yendinh"


@dataclass
class StackOptions:
    cameras: int = 3
    probe_interval_s: float = 1.0
    snapshot_every: int = 0  # 0: snapshots only when the picture changes
    netns: bool = False  # the edge box behind its own uplink (needs root)
    broker_persistence: bool = True  # as deployed (docker/mosquitto/mosquitto.conf)
    postgres: bool = False  # the hub on a PostgreSQL cluster of its own (devtools/pgserver.py), else SQLite
    keepalive_s: int = 5  # the box's MQTT keepalive: the Last Will comes 1.5 × this after a cut
    agent_offline_for_s: float = 2.0  # the hub's `agent_offline` pending time
    outbox_max_messages: int = 5000
    outbox_max_bytes: int = 32 * 1024 * 1024
    influx_buffer_points: int = 500_000
    box_disk_mb: int = 0  # >0: the box's queue on its own small disk (a tmpfs; needs root)
    min_free_mb: int = 16  # the queue's free-space floor (outbox.min_free_mb)


class Stack:
    def __init__(self, workdir: Path, opts: StackOptions) -> None:
        self.workdir = workdir
        self.opts = opts
        workdir.mkdir(parents=True, exist_ok=True)
        self.reaper = Reaper(workdir)
        self.mqtt_port = free_port()
        self.hub_port = free_port()
        self.zalo_port = free_port()
        self.influx_port = free_port()
        self.pg: PgServer | None = None
        self.db_url = f"sqlite:///{workdir / 'hub.db'}"
        self.cameras = [f"cam-{i + 1:02d}" for i in range(opts.cameras)]
        self.net: NetBox | None = None
        self.broker: Service | None = None
        self.influx: Service | None = None
        self.camsim: CamSim | None = None
        self.hub: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.zalo: subprocess.Popen[bytes] | None = None
        self.hub_starts = 0

    # --- whole stack -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.opts.netns:
            self.net = NetBox.create()
            self.reaper.add_netns(self.net.name)
        if self.opts.postgres:
            self.pg = PgServer()
            self.pg.start()
            assert self.pg.proc is not None
            self.reaper.add(self.pg.proc.pid)
            self.db_url = self.pg.url
        self.start_broker()
        self.start_influx()
        self.zalo = self._spawn(
            ["-m", "devtools.fakezalo", "--port", str(self.zalo_port), "--refresh-token", REFRESH_TOKEN],
            "fakezalo.log",
        )
        wait_until(lambda: http_ok(f"{self.zalo_url}/_fake/messages"), 20, "fake zalo", self.zalo)
        lan: dict[str, Any] = {"host": self.net.lan_host} if self.net else {}
        self.camsim = start_camsim(
            self.workdir / "camsim",
            {c: {"behaviour": "normal", "width": 320, "height": 180, "fps": 5} for c in self.cameras},
            verbose=False,
            **lan,
        )
        self.reaper.add(self.camsim.service.proc.pid)
        self.write_configs()
        if self.opts.box_disk_mb:
            self.queue_file.parent.mkdir(parents=True, exist_ok=True)
            disk = ["mount", "-t", "tmpfs", "-o", f"size={self.opts.box_disk_mb}m", "tmpfs"]
            subprocess.run([*disk, str(self.queue_file.parent)], check=True)
            self.reaper.add_mount(self.queue_file.parent)
        self.start_hub()
        self.start_agent()

    def stop(self) -> None:
        for p in (self.agent, self.hub, self.zalo):
            if p is not None:
                terminate(p, 15)
        for svc in (self.camsim.service if self.camsim else None, self.broker, self.influx):
            if svc is not None:
                svc.stop()
        if self.net is not None:
            self.net.destroy()
        if self.pg is not None:
            self.pg.remove()
        if self.opts.box_disk_mb:
            subprocess.run(["umount", "-l", str(self.queue_file.parent)], check=False)
        self.reaper.close()

    # --- parts -----------------------------------------------------------------------------------------------

    def start_broker(self) -> None:
        extra = f"listener {self.mqtt_port} {self.net.wan_host}\n" if self.net else ""
        if self.opts.broker_persistence:
            # As deployed (docker/mosquitto/mosquitto.conf): the hub's persistent session and what waits for it
            # survive a restart; saved at exit and every 5 minutes, so a SIGKILL loses what came since the save.
            extra += (
                f"persistence true\npersistence_location {self.workdir / 'broker'}/\nautosave_interval 300\n"
            )
            # As root mosquitto drops to its own user, which cannot write in a private temp folder.
            if os.geteuid() == 0 and "user root" not in mosquitto_conf(self.mqtt_port, self.workdir):
                extra += "user root\n"
        self.broker = start_mosquitto(self.workdir / "broker", self.mqtt_port, extra_conf=extra)
        self.reaper.add(self.broker.proc.pid)

    def kill_broker(self, sig: int = signal.SIGKILL) -> None:
        assert self.broker is not None
        if sig == signal.SIGKILL:
            self.broker.kill()
        else:
            self.broker.stop()

    def start_influx(self) -> None:
        self.influx = start_influxd(self.workdir / "influx", self.influx_port)
        self.reaper.add(self.influx.proc.pid)
        influx_create_db(self.influx_port, INFLUX_DB)

    def start_hub(self) -> None:
        self.hub = self._spawn(["-m", "hub", "--config", str(self.workdir / "hub.yaml")], "hub.log")
        self.hub_starts += 1
        wait_until(lambda: http_ok(f"http://{HOST}:{self.hub_port}/healthz"), 60, "hub", self.hub)

    def kill_hub(self) -> None:
        assert self.hub is not None
        self.hub.send_signal(signal.SIGKILL)
        self.hub.wait(10)

    def start_agent(self) -> None:
        prefix = self.net.exec_prefix() if self.net else []
        self.agent = self._spawn(
            ["-m", "edge_agent", "--config", str(self.workdir / "edge.yaml"), "--log-level", "DEBUG"],
            "agent.log",
            prefix,
        )

    def kill_agent(self) -> None:
        assert self.agent is not None
        self.agent.kill()
        self.agent.wait(10)

    def stop_agent(self) -> None:
        assert self.agent is not None
        terminate(self.agent, 20)

    @property
    def queue_file(self) -> Path:
        return self.workdir / "box" / "queue.sqlite"

    # --- reading the books -----------------------------------------------------------------------------------

    @property
    def zalo_url(self) -> str:
        return f"http://{HOST}:{self.zalo_port}"

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows from the hub's database (read-only for SQLite; any SQLAlchemy URL otherwise)."""
        if self.db_url.startswith("sqlite:///"):
            con = sqlite3.connect(f"file:{self.db_url[10:]}?mode=ro", uri=True, timeout=10)
            try:
                return [tuple(r) for r in con.execute(query, args)]
            except sqlite3.OperationalError:
                return []  # tables not created yet
            finally:
                con.close()
        import sqlalchemy as sa

        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as c:
                return [tuple(r) for r in c.exec_driver_sql(query.replace("?", "%s"), args)]
        except sa.exc.DBAPIError:
            return []  # the server is down (a drill) or the tables are not there yet
        finally:
            engine.dispose()

    def influx_rows(self, q: str) -> list[list[Any]]:
        out: list[list[Any]] = []
        results: Any = influx_query(self.influx_port, INFLUX_DB, q).get("results", [])
        for result in results:
            for series in result.get("series", []):
                out.extend(series["values"])
        return out

    def zalo_messages(self) -> list[dict[str, Any]]:
        import urllib.request

        with urllib.request.urlopen(f"{self.zalo_url}/_fake/messages", timeout=5) as r:
            return list(json.loads(r.read()))

    def zalo_fault(self, endpoint: str, fault: str, times: int = 1) -> None:
        import urllib.request

        body = json.dumps({"endpoint": endpoint, "fault": fault, "times": times}).encode()
        req = urllib.request.Request(
            f"{self.zalo_url}/_fake/fault", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()

    def alive(self) -> dict[str, bool]:
        procs = {"hub": self.hub, "agent": self.agent, "zalo": self.zalo}
        return {k: p is not None and p.poll() is None for k, p in procs.items()}

    def log(self, name: str, n: int = 4000) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    # --- internals -------------------------------------------------------------------------------------------

    def _spawn(
        self, args: list[str], log: str, prefix: list[str] | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with (self.workdir / log).open("ab") as fh:
            proc = subprocess.Popen(
                [*(prefix or []), sys.executable, *args],
                cwd=ROOT,
                env=None if env is None else {**os.environ, **env},
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.reaper.add(proc.pid)
        return proc

    def write_configs(self) -> None:
        o = self.opts
        (self.workdir / "hub.yaml").write_text(
            f"""data_dir: {self.workdir / "hub"}
mqtt: {{host: {HOST}, port: {self.mqtt_port}, client_id: hub-drills}}
influx: {{url: "http://{HOST}:{self.influx_port}", database: {INFLUX_DB}, flush_interval_s: 0.5,
          buffer_max_points: {o.influx_buffer_points}}}
database: {{url: "{self.db_url}"}}
http: {{host: {HOST}, port: {self.hub_port}, public_url: "http://{HOST}:{self.hub_port}"}}
ingest: {{stale_after_s: {max(3 * o.probe_interval_s, 5)}, state_flush_s: 0.5}}
districts:
  {DISTRICT}: {{name: "Yên Định", communes: {{{COMMUNE}: "Định Long"}}}}
alerts:
  startup_grace_s: 0
  eval_interval_s: 0.5
  rules:
    agent_offline: {{for_s: {o.agent_offline_for_s}, clear_s: 1, group_wait_s: 1, group_interval_s: 2}}
    camera_offline: {{clear_s: 1, group_wait_s: 1, group_interval_s: 2}}
notify:
  oa: {{app_id: fake-app, secret_key: fake-secret, refresh_token: {REFRESH_TOKEN},
        base_url: "{self.zalo_url}", oauth_url: "{self.zalo_url}"}}
  bot: {{token: "123:fake-bot-token", base_url: "{self.zalo_url}"}}
  groups:
    police: {{{DISTRICT}: {POLICE_GROUP}}}
  digest: {{enabled: false}}
  retry: {{base_s: 0.5, max_s: 5}}
"""
        )
        assert self.camsim is not None
        broker = self.net.wan_host if self.net else HOST
        cams = "\n".join(f"  - {{id: {c}, url: '{self.camsim.url(c)}'}}" for c in self.cameras)
        (self.workdir / "edge.yaml").write_text(
            f"""agent: {{id: {AGENT}, district: {DISTRICT}, commune: {COMMUNE}}}
mqtt: {{host: {broker}, port: {self.mqtt_port}, keepalive: {o.keepalive_s}, backoff_min_s: 0.5,
        backoff_max_s: 2}}
outbox: {{path: {self.queue_file}, max_messages: {o.outbox_max_messages}, max_bytes: {o.outbox_max_bytes},
          min_free_mb: {o.min_free_mb}}}
probe: {{interval_s: {o.probe_interval_s}, snapshot_every: {o.snapshot_every}, concurrency: {o.cameras},
         open_timeout_s: 3, read_timeout_s: 3, frames: 4}}
cameras:
{cams}
"""
        )
