"""End to end on real parts: RTSP simulator → edge agent → Mosquitto → hub → SQL + InfluxDB → JSON API.

The hub and the agent run as real processes with their own CLIs, exactly as deployed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.camsim_client import CamSim, start_camsim
from devtools.lifeline import die_with_parent
from devtools.services import Service, free_port, http_ok, influx_query, terminate, wait_until

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = "yen_dinh"

CAMERAS = {
    "cam-ok-1": "normal",
    "cam-ok-2": "normal",
    "cam-black": "black",
    "cam-frozen": "frozen",
    "cam-flaky": "normal",
}


@dataclass
class Stack:
    camsim: CamSim
    hub_port: int
    token: str
    influx_port: int
    influx_db: str
    agent: subprocess.Popen[bytes]
    hub: subprocess.Popen[bytes]
    workdir: Path

    def api(self, path: str) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.hub_port}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            body = r.read()
            return json.loads(body) if r.headers.get_content_type() == "application/json" else body

    def cameras(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.api("/cameras?limit=500")["items"]}


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("ab")
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=fh,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent(),
    )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    terminate(proc, 15)
    return proc.returncode


def _healthz(port: int) -> bool:
    return http_ok(f"http://127.0.0.1:{port}/healthz")


def _cli(config: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "hub", "--config", str(config), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


@pytest.fixture
def stack(tmp_path: Path, mosquitto: Service, influxd: Service, influx_db: str) -> Iterator[Stack]:
    cams = start_camsim(tmp_path / "camsim", CAMERAS)
    hub_port = free_port()
    hub_cfg = tmp_path / "hub.yaml"
    hub_cfg.write_text(
        f"""data_dir: {tmp_path / "hub"}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: hub-e2e}}
influx: {{url: "http://127.0.0.1:{influxd.port}", database: {influx_db}, flush_interval_s: 0.5}}
database: {{url: "sqlite:///{tmp_path / "hub.db"}"}}
http: {{host: 127.0.0.1, port: {hub_port}, public_url: "http://127.0.0.1:{hub_port}"}}
ingest: {{stale_after_s: 60, state_flush_s: 0.5}}
districts:
  {DISTRICT}: {{name: "Yên Định", communes: {{dinh_long: "Định Long", dinh_tan: "Định Tân"}}}}
"""
    )
    _cli(
        hub_cfg, "user", "add", "ops", "--role", "admin", "--password-stdin", stdin="mật-khẩu-rất-dài-2026\n"
    )
    token = (
        _cli(hub_cfg, "token", "create", "--user", "ops", "--name", "e2e").strip().splitlines()[-1].strip()
    )

    cam_lines = []
    for i, name in enumerate(CAMERAS):
        commune = "dinh_long" if i % 2 == 0 else "dinh_tan"
        cam_lines.append(f"  - {{id: {name}, url: '{cams.url(name)}', commune: {commune}, expected_fps: 10}}")
    cam_lines.append(f"  - {{id: cam-dead, url: '{cams.hang_url}', commune: dinh_tan}}")
    edge_cfg = tmp_path / "edge.yaml"
    edge_cfg.write_text(
        f"""agent: {{id: box-e2e, district: {DISTRICT}, commune: dinh_long}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}}}
probe: {{interval_s: 2, open_timeout_s: 3, read_timeout_s: 3, frames: 8, analysed_frames: 3, concurrency: 4,
        snapshot_every: 1}}
cameras:
"""
        + "\n".join(cam_lines)
        + "\n"
    )
    hub = _spawn(["-m", "hub", "--config", str(hub_cfg)], tmp_path / "hub.log")
    agent: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: _healthz(hub_port), 30, "hub", hub)
        # A box registers cameras of its own commune only: those it watches next door an administrator assigns.
        names = [*CAMERAS, "cam-dead"]
        rows = [
            f"{DISTRICT},dinh_tan,{n},{n},box-e2e" for i, n in enumerate(names) if i % 2 or n == "cam-dead"
        ]
        req = urllib.request.Request(
            f"http://127.0.0.1:{hub_port}/api/v1/devices/import?kind=cameras&dry_run=false",
            data=("district,commune,id,name,agent\n" + "\n".join(rows) + "\n").encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["created"] == len(rows)
        agent = _spawn(["-m", "edge_agent", "--config", str(edge_cfg)], tmp_path / "agent.log")
        yield Stack(cams, hub_port, token, influxd.port, influx_db, agent, hub, tmp_path)
    finally:
        if agent is not None:
            _stop(agent)
        _stop(hub)
        cams.stop()


def _wait_for(
    st: Stack,
    what: str,
    check: Callable[[dict[str, dict[str, Any]]], bool],
    timeout: float,
    agent_running: bool = True,
) -> None:
    deadline = time.monotonic() + timeout
    last: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for p in (st.agent, st.hub) if agent_running else (st.hub,):
            assert p.poll() is None, f"a process died; logs in {st.workdir}"
        try:
            last = st.cameras()
        except (urllib.error.URLError, OSError):
            last = {}
        if check(last):
            return
        time.sleep(0.5)
    summary = {k: (v["status"], v["problems"]) for k, v in last.items()}
    logs = "\n".join((st.workdir / n).read_text(errors="replace")[-3000:] for n in ("agent.log", "hub.log"))
    raise AssertionError(f"timed out waiting for {what}; cameras: {summary}\n{logs}")


def _status(cams: dict[str, dict[str, Any]], cam: str) -> str | None:
    return cams[cam]["status"] if cam in cams else None


def test_camera_to_api(stack: Stack) -> None:
    def all_judged(c: dict[str, dict[str, Any]]) -> bool:
        return (
            _status(c, "cam-ok-1") == "ok"
            and _status(c, "cam-ok-2") == "ok"
            and _status(c, "cam-flaky") == "ok"
            and _status(c, "cam-black") == "problem"
            and "black" in c["cam-black"]["problems"]
            and _status(c, "cam-frozen") == "problem"
            and "frozen" in c["cam-frozen"]["problems"]
            and _status(c, "cam-dead") == "offline"
            and "unreachable" in c["cam-dead"]["problems"]
        )

    _wait_for(stack, "every simulated behaviour judged", all_judged, 90)
    cams = stack.cameras()
    assert cams["cam-ok-2"]["commune"] == "dinh_tan"
    assert cams["cam-ok-1"]["fps"] and cams["cam-ok-1"]["fps"] > 3

    # A stopped stream turns offline, then back ok when it resumes.
    stack.camsim.stop_stream("cam-flaky")
    _wait_for(stack, "cam-flaky offline", lambda c: _status(c, "cam-flaky") == "offline", 45)
    stack.camsim.resume_stream("cam-flaky")
    _wait_for(stack, "cam-flaky back ok", lambda c: _status(c, "cam-flaky") == "ok", 45)

    trans = stack.api(f"/cameras/{DISTRICT}/dinh_long/cam-flaky/transitions")
    seq = [t["to"] for t in sorted(trans["items"], key=lambda t: (t["at"], t["id"]))]
    assert seq[-2:] == ["offline", "ok"], seq

    jpeg = stack.api(f"/cameras/{DISTRICT}/dinh_long/cam-ok-1/snapshot")
    assert isinstance(jpeg, bytes) and jpeg.startswith(b"\xff\xd8\xff")

    # Metrics reached InfluxDB with their tags, at device time.
    def points() -> int:
        res = influx_query(
            stack.influx_port,
            stack.influx_db,
            "SELECT count(fps) FROM camera_health WHERE camera='cam-ok-1' AND commune='dinh_long'",
        )
        series = res["results"][0].get("series")  # type: ignore[index]
        return int(series[0]["values"][0][1]) if series else 0

    wait_until(lambda: points() > 0, 20, "points in InfluxDB")

    # Stopping the agent cleanly makes the hub show its cameras as stale (unknown), not as offline.
    assert _stop(stack.agent) == 0
    _wait_for(
        stack,
        "cameras stale after the agent stopped",
        lambda c: _status(c, "cam-ok-1") == "stale",
        30,
        agent_running=False,
    )
