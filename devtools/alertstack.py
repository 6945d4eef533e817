"""A whole alert path on real parts, for the alert end-to-end tests and bench/alert_latency.py:

RTSP simulator → edge agent (process) → Mosquitto → hub (process: ingest, alert engine, notifier, SQL outbox)
→ the local fake Zalo server (process) that records every message it accepts.

The caller brings the broker (a test fixture or `start_mosquitto`); everything else lives in `workdir` and is
stopped by `stop()`. The hub can be killed (SIGKILL) and started again on the same database to test restarts.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.camsim_client import CamSim, start_camsim
from devtools.lifeline import die_with_parent
from devtools.services import free_port, http_ok, terminate, wait_until

ROOT = Path(__file__).resolve().parents[1]
DISTRICT = "yen_dinh"
POLICE_GROUP = "g-congan-yendinh"
ONCALL_CHAT = "chat-truc-ban"
REFRESH_TOKEN = "rt-alertstack-seed"


@dataclass
class StackSettings:
    """What differs between the tests (short periods) and the benchmark (the shipped defaults)."""

    cameras: Mapping[str, str]  # camera id → commune slug
    probe_interval_s: float | None = None  # None: the edge agent's default
    recheck_s: float | None = None
    camera_offline_rule: dict[str, float] = field(
        default_factory=dict
    )  # hub alerts.rules.camera_offline keys
    eval_interval_s: float | None = None
    startup_grace_s: float = 0.0
    retry_base_s: float = 1.0
    rate_limit_s: float = 60.0  # notify.retry.rate_limit_s: the wait after Zalo's -32
    frame: tuple[int, int, int] = (320, 180, 5)  # simulated cameras: width, height, fps
    agents: int = 1  # cameras are dealt round-robin to this many edge agent processes
    probe_concurrency: int = 6


def _yaml_map(d: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in d.items()) + "}"


class AlertStack:
    def __init__(self, workdir: Path, mqtt_port: int, settings: StackSettings) -> None:
        self.workdir = workdir
        self.mqtt_port = mqtt_port
        self.settings = settings
        self.hub_port = free_port()
        self.zalo_port = free_port()
        self.db_path = workdir / "hub.db"
        self.camsim: CamSim | None = None
        self.hub: subprocess.Popen[bytes] | None = None
        self.agents: list[subprocess.Popen[bytes]] = []
        self.zalo: subprocess.Popen[bytes] | None = None

    # lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        w, h, fps = self.settings.frame
        self.camsim = start_camsim(
            self.workdir / "camsim",
            {c: {"behaviour": "normal", "width": w, "height": h, "fps": fps} for c in self.settings.cameras},
        )
        self.zalo = self._spawn(
            [
                "-m",
                "devtools.fakezalo",
                "--port",
                str(self.zalo_port),
                "--refresh-token",
                REFRESH_TOKEN,
            ],
            "fakezalo.log",
        )
        wait_until(lambda: http_ok(f"{self.zalo_url}/_fake/messages"), 20, "fake zalo", self.zalo)
        self._write_configs()
        self._assign_cameras_next_door()
        self.start_hub()
        for i in range(self.settings.agents):
            cfg = self.workdir / f"edge-{i}.yaml"
            self.agents.append(self._spawn(["-m", "edge_agent", "--config", str(cfg)], f"agent-{i}.log"))

    def _box_commune(self, i: int) -> str:
        return next(c for n, c in enumerate(self.settings.cameras.values()) if n % self.settings.agents == i)

    def _assign_cameras_next_door(self) -> None:
        """What an administrator does before the boxes start: a box registers cameras of its own commune only, so
        those it watches in other communes are put in the registry, assigned to it (as a CSV import would)."""
        from hub.compose import open_database
        from hub.core.db import STATUS_UNKNOWN, Camera

        db = open_database(f"sqlite:///{self.db_path}")
        try:
            db.create_all()
            with db.session() as s, s.begin():
                for cam, commune in self.settings.cameras.items():
                    i = self.agent_of(cam)
                    home = self._box_commune(i)
                    if commune != home and s.get(Camera, f"{DISTRICT}/{commune}/{cam}") is None:
                        s.add(Camera(
                            key=f"{DISTRICT}/{commune}/{cam}", district=DISTRICT, commune=commune, slug=cam,
                            agent_key=f"{DISTRICT}/{home}/box-alerts-{i}", status=STATUS_UNKNOWN, problems=[],
                        ))  # fmt: skip
        finally:
            db.close()

    def agent_of(self, camera: str) -> int:
        return list(self.settings.cameras).index(camera) % self.settings.agents

    def stop(self) -> None:
        for p in (*self.agents, self.hub, self.zalo):
            if p is not None:
                terminate(p, 15)
        if self.camsim is not None:
            self.camsim.stop()

    def start_hub(self) -> None:
        self.hub = self._spawn(["-m", "hub", "--config", str(self.workdir / "hub.yaml")], "hub.log")
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.hub_port}/healthz"), 30, "hub", self.hub)

    def kill_hub(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the hub's machine."""
        assert self.hub is not None
        self.hub.send_signal(signal.SIGKILL)
        self.hub.wait(10)

    def alive(self) -> bool:
        return all(p is not None and p.poll() is None for p in (self.hub, *self.agents, self.zalo))

    # the fake Zalo -----------------------------------------------------------------------------------------
    @property
    def zalo_url(self) -> str:
        return f"http://127.0.0.1:{self.zalo_port}"

    def messages(self, channel: str = "oa") -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.zalo_url}/_fake/messages", timeout=5) as r:
            return [m for m in json.loads(r.read()) if m["channel"] == channel]

    def fault(self, endpoint: str, fault: str, times: int = 1) -> None:
        body = json.dumps({"endpoint": endpoint, "fault": fault, "times": times}).encode()
        req = urllib.request.Request(
            f"{self.zalo_url}/_fake/fault", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()

    # the hub's outbox, read straight from its SQLite file -----------------------------------------------------
    def outbox(self) -> list[dict[str, Any]]:
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                "SELECT id, event_id, channel, target, notice_status, state, attempts, text, commune "
                "FROM notify_outbox ORDER BY id"
            ).fetchall()
            return [dict(r) for r in rows]
        except sqlite3.OperationalError:
            return []  # the hub has not created its tables yet
        finally:
            con.close()

    def camera_status(self) -> dict[str, str]:
        """camera id → status, as the hub has written it to SQL."""
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(con.execute("SELECT slug, status FROM cameras"))
        except sqlite3.OperationalError:
            return {}
        finally:
            con.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {n}\n" + (self.workdir / n).read_text(errors="replace")[-4000:]
            for n in ("hub.log", *(f"agent-{i}.log" for i in range(len(self.agents))), "fakezalo.log")
            if (self.workdir / n).exists()
        )

    # internals ----------------------------------------------------------------------------------------------
    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        fh = (self.workdir / log).open("ab")
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )

    def _write_configs(self) -> None:
        s = self.settings
        communes = sorted(set(s.cameras.values()))
        commune_names = ", ".join(f'{c}: "Xã {c}"' for c in communes)
        rules = (
            f"\n    rules: {{camera_offline: {_yaml_map(s.camera_offline_rule)}}}"
            if s.camera_offline_rule
            else ""
        )
        eval_line = f"\n    eval_interval_s: {s.eval_interval_s}" if s.eval_interval_s is not None else ""
        (self.workdir / "hub.yaml").write_text(
            f"""data_dir: {self.workdir / "hub"}
mqtt: {{host: 127.0.0.1, port: {self.mqtt_port}, client_id: hub-alertstack}}
influx: {{enabled: false}}
database: {{url: "sqlite:///{self.db_path}"}}
http: {{host: 127.0.0.1, port: {self.hub_port}, public_url: "http://127.0.0.1:{self.hub_port}"}}
ingest: {{stale_after_s: 120, state_flush_s: 0.5, legacy_reports: true}}
districts:
  {DISTRICT}: {{name: "Yên Định", communes: {{{commune_names}}}}}
alerts:
    startup_grace_s: {s.startup_grace_s}{eval_line}{rules}
notify:
  oa: {{app_id: fake-app, secret_key: fake-secret, refresh_token: {REFRESH_TOKEN},
        base_url: "{self.zalo_url}", oauth_url: "{self.zalo_url}"}}
  bot: {{token: "123:fake-bot-token", base_url: "{self.zalo_url}"}}
  groups:
    police: {{{DISTRICT}: {POLICE_GROUP}}}
    oncall: {{"*": [{ONCALL_CHAT}]}}
  digest: {{enabled: false}}  # a first start after 07:00 would send yesterday's digest into the counts
  retry: {{base_s: {s.retry_base_s}, max_s: 30, rate_limit_s: {s.rate_limit_s}}}
"""
        )
        assert self.camsim is not None
        probe: dict[str, Any] = {"snapshot_every": 1, "concurrency": s.probe_concurrency}
        if s.probe_interval_s is not None:
            probe["interval_s"] = s.probe_interval_s
        if s.recheck_s is not None:
            probe["recheck_s"] = s.recheck_s
        for i in range(s.agents):
            mine = [(cam, commune) for n, (cam, commune) in enumerate(s.cameras.items()) if n % s.agents == i]
            cams = "\n".join(
                f"  - {{id: {cam}, url: '{self.camsim.url(cam)}', commune: {commune}}}"
                for cam, commune in mine
            )
            (self.workdir / f"edge-{i}.yaml").write_text(
                f"""agent: {{id: box-alerts-{i}, district: {DISTRICT}, commune: {mine[0][1]}}}
mqtt: {{host: 127.0.0.1, port: {self.mqtt_port}}}
probe: {_yaml_map(probe)}
cameras:
{cams}
"""
            )


def wait_for(stack: AlertStack, what: str, check: Any, timeout: float, poll: float = 0.5) -> Any:
    """Polls `check()` until it returns something truthy; fails with every log if a process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not stack.alive():
            raise AssertionError(
                f"a process of the alert stack died while waiting for {what}\n{stack.logs()}"
            )
        got = check()
        if got:
            return got
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{stack.logs()}")
