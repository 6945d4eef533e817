"""The whole `make demo` started as a subprocess on free ports in a temp run folder, checked through the hub's
API, and stopped with SIGINT leaving no process behind. Its pieces on their own: tests/e2e/test_demo_pieces.py."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from demo_map import POINTS  # noqa: E402
from demo_receivers import DEMO_SPEAKERS  # noqa: E402
from demo_supervisor import (  # noqa: E402
    pid_alive,
    processes_with_env,
)

from devtools.services import free_port, influx_query  # noqa: E402
from tests.broker_support import Client  # noqa: E402

# --- the whole demo -----------------------------------------------------------------------------------------


# Its own start is a few seconds; the rest is room for `make test`'s other workers sharing the two cores.
DEMO_TIMEOUT_S = 180


class DemoProcess:
    def __init__(self, run_dir: Path, ports: dict[str, int], *extra: str) -> None:
        args = [f"--{k}-port={v}" for k, v in ports.items()]
        cmd = [sys.executable, str(ROOT / "scripts" / "demo.py"), "--run-dir", str(run_dir), *args, *extra]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"demo exited ({self.proc.returncode}) before {text!r}:\n{self.output}")
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} after {timeout} s:\n{self.output}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(5)


def demo_ports() -> dict[str, int]:
    return {k: free_port() for k in ("mqtt", "influx", "rtsp", "control", "hang", "http", "nvr")}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[DemoProcess, Path, dict[str, int]]]:
    run_dir = tmp_path / "run"
    ports = demo_ports()
    d = DemoProcess(run_dir, ports, "--flaky-period=25")
    yield d, run_dir, ports
    if d.proc.poll() is None:
        d.stop()


def api_cameras(port: int, token: str) -> list[dict[str, Any]]:
    """Every camera, following the list's cursors as any client must."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = f"http://127.0.0.1:{port}/api/v1/cameras" + (f"?cursor={cursor}" if cursor else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            page = json.loads(r.read())
        out += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def expected_status(cam: dict[str, Any], behaviours: dict[str, str]) -> bool:
    """Whether a camera shows what its simulated behaviour should produce."""
    b = behaviours.get(cam["id"], "hang")
    if b == "normal":
        return bool(cam["status"] == "ok")
    if b == "flaky":  # the demo may already have stopped its stream
        return cam["status"] in ("ok", "offline")
    if b in ("black", "frozen"):
        return cam["status"] == "problem" and b in cam["problems"]
    return cam["status"] == "offline" and "unreachable" in cam["problems"]


def test_demo_end_to_end(demo: tuple[DemoProcess, Path, dict[str, int]]) -> None:
    d, run_dir, ports = demo
    d.wait_for("Demo ready", DEMO_TIMEOUT_S)
    token = (run_dir / "demo-token").read_text().strip()
    assert oct((run_dir / "demo-token").stat().st_mode & 0o777) == "0o600"

    # The broker runs as a deployment's: nobody without an account, nothing without TLS.
    ca = run_dir / "hub" / "ca" / "ca.crt"
    assert Client(port=ports["mqtt"], client_id="intruder", ca=ca).start().refused == "Not authorized"
    assert not Client(port=ports["mqtt"], client_id="plain").start().up
    files = list((run_dir / "provisioning").iterdir())
    assert len(files) == 1 + len(DEMO_SPEAKERS)
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)
    sim = json.loads((ROOT / "config/demo/camsim.json").read_text("utf-8"))
    behaviours = {c["name"]: c["behaviour"] for c in sim["cameras"]}

    # Every demo camera reaches the status its behaviour should give.
    deadline = time.monotonic() + 60
    cams: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        cams = api_cameras(ports["http"], token)
        if len(cams) == 9 and all(expected_status(c, behaviours) for c in cams):
            break
        time.sleep(1)
    wrong = {c["id"]: (c["status"], c["problems"]) for c in cams if not expected_status(c, behaviours)}
    assert len(cams) == 9 and not wrong, f"cameras not as expected: {wrong}\n{d.output}"
    # Định Tân was merged into Định Long (issue 16): its cameras still report on their old topics (their keys),
    # and belong to Định Long.
    assert {c["commune"] for c in cams} == {"dinh_long"}
    assert {c["key"].split("/")[1] for c in cams} == {"dinh_long", "dinh_tan"}
    assert "merged Định Tân into Định Long" in d.output
    assert all(c["name"] for c in cams), "display names come from the agent's inventory"

    # The flaky camera's stream is stopped by the demo, and the hub sees it go offline.
    d.wait_for("tram-y-te-dl: stream stopped", 40)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        flaky = next(c for c in api_cameras(ports["http"], token) if c["id"] == "tram-y-te-dl")
        if flaky["status"] == "offline":
            break
        time.sleep(1)
    assert flaky["status"] == "offline", f"{flaky}\n{d.output}"

    # The Grafana overview's queries run on the demo's InfluxDB, filled by the real hub.
    dash = json.loads((ROOT / "dashboards/camera-health-overview.json").read_text("utf-8"))
    # `$rp` as Grafana resolves it for the last hour, from the rp_config points the hub wrote: raw points
    to_ms = int(time.time() * 1000)
    rp_query = dash["templating"]["list"][0]["query"]
    rp_query = rp_query.replace("$__to", str(to_ms)).replace("$__from", str(to_ms - 3_600_000))
    rp = influx_query(ports["influx"], "ops", rp_query)["results"][0]["series"][0]["values"][0][1]  # type: ignore[index]
    assert rp == "raw"
    for panel in dash["panels"]:
        for t in panel["targets"]:
            q = (
                t["query"]
                .replace("$rp", rp)
                .replace("$timeFilter", "time > now() - 1h")
                .replace("$__interval", "10s")
                .replace("$district", ".*")
                .replace("$commune", ".*")
            )
            res = influx_query(ports["influx"], "ops", q)["results"][0]  # type: ignore[index]
            assert "error" not in res and res.get("series"), f"{panel['title']}: {res}"

    # The simulated loudspeakers air the demo's test broadcast and it comes back as a report.
    d.wait_for("speakers played, start skew", 120)
    # to Định Long's speakers, Định Tân's among them since the merge, on their own topics
    assert re.search(r"test broadcast \S+: aired, 4/4 speakers played", d.output), d.output

    # Every receiver reports (so it logged in with its own account: the broker lets nobody else in), each on
    # the provisioning file the registry issued for it.
    req = urllib.request.Request(
        f"http://127.0.0.1:{ports['http']}/api/v1/speakers", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        online = {sp["id"] for sp in json.loads(r.read())["speakers"] if sp["status"] == "online"}
    assert online == {sp.id for sp in DEMO_SPEAKERS}, online
    for sp in DEMO_SPEAKERS:
        text = (run_dir / "provisioning" / f"speaker-{sp.id}.yaml").read_text()
        assert f"client_id: speaker.yen_dinh.{sp.commune}.{sp.id}" in text

    # The demo's recorder: read through ISAPI by the box, its market camera streams but is not recorded.
    def alerts() -> list[dict[str, Any]]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{ports['http']}/api/v1/alerts?kind=recorder_not_recording",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return list(json.loads(r.read())["items"])

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not alerts():
        time.sleep(1)
    assert [a["device"] for a in alerts()] == ["yen_dinh/dinh_long/nga-ba-cho-dl"], d.output

    # The map: the demo's camera points hold every camera, the speakers have positions, and the base map is the
    # hub's own PMTiles file, read by ranges.
    auth = {"Authorization": f"Bearer {token}"}
    req = urllib.request.Request(f"http://127.0.0.1:{ports['http']}/api/v1/map/features", headers=auth)
    with urllib.request.urlopen(req, timeout=5) as r:
        layers = json.loads(r.read())
    assert len(layers["points"]) == len(POINTS) and len(layers["speakers"]) == len(DEMO_SPEAKERS)
    assert sum(len(p["cameras"]) for p in layers["points"]) == 9
    req = urllib.request.Request(
        f"http://127.0.0.1:{ports['http']}/map/base.pmtiles", headers={**auth, "Range": "bytes=0-126"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 206 and r.read()[:7] == b"PMTiles"

    children = json.loads((run_dir / "demo.json").read_text())["children"]
    receivers = [sp.child_name for sp in DEMO_SPEAKERS]
    assert set(children) == {"mosquitto", "influxd", "camsim", "hub", "nvr", "edge-agent", *receivers}
    rc = d.stop()
    assert rc == 0, d.output
    assert "SIGINT: stopped" in d.output
    stops = [m[1] for m in (re.search(r"\| (\S+) stopped \(\d", line) for line in d.lines) if m]
    assert stops == [*reversed(receivers), "edge-agent", "nvr", "hub", "camsim", "influxd", "mosquitto"], (
        stops
    )
    assert not [p for p in children.values() if pid_alive(p)], "a child outlived the demo"
    assert processes_with_env("OPS_DEMO_CHILD_OF", str(run_dir.resolve())) == []


def test_demo_refuses_a_taken_port(tmp_path: Path) -> None:
    ports = demo_ports()
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports["mqtt"]))
        s.listen()
        d = DemoProcess(tmp_path / "run", ports)
        rc = d.proc.wait(60)
        d._reader.join(5)
    assert rc == 2, d.output
    assert f"port {ports['mqtt']} (MQTT broker) is already in use" in d.output and "--mqtt-port" in d.output
    assert "started" not in d.output
