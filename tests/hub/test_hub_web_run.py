"""`python -m hub run` as a real process: MQTT in, JSON API and live stream out, clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.lifeline import die_with_parent
from devtools.services import Service, free_port, wait_until
from hub.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def test_run_serves_ingested_cameras_and_stops_on_sigterm(tmp_path: Path, mosquitto: Service, capsys) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path}/hub\n"
        f"database:\n  url: sqlite:///{tmp_path}/hub.db\n"
        f"mqtt:\n  port: {mosquitto.port}\n  client_id: hub-web-test\n"
        "influx:\n  enabled: false\n"
        f"http:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
        "ingest:\n  state_flush_s: 0.2\n  legacy_reports: true\n"
        "districts:\n  soc-son:\n    name: Huyện Sóc Sơn\n    communes:\n      phu-linh: Xã Phù Linh\n",
        encoding="utf-8",
    )
    assert (
        main(
            [
                "--config",
                str(cfg),
                "user",
                "add",
                "bot",
                "--role",
                "police",
                "--province-wide",
                "--password",
                "du-dai-roi-day",
            ]
        )
        == 0
    )
    assert main(["--config", str(cfg), "token", "create", "--user", "bot", "--name", "test"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]

    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", str(cfg), "run"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _get(base + "/healthz")[0] == 200, 20, "hub web", proc)  # type: ignore[arg-type]
        assert _get(base + "/api/v1/me")[0] == 401
        health = {
            "ts": time.time(),
            "seq": 0,
            "online": True,
            "agent": "box-1",
            "fps": 12.5,
            "problems": ["blurred"],
        }
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(mosquitto.port),
                "-q",
                "1",
                "-t",
                "ops/v1/soc-son/phu-linh/camera/cam-1/health",
                "-m",
                json.dumps(health),
            ],
            check=True,
            timeout=10,
        )

        def camera_visible() -> bool:
            status, body = _get(base + "/api/v1/cameras/soc-son/phu-linh/cam-1", token)
            return status == 200 and json.loads(body)["status"] == "problem"

        wait_until(camera_visible, 15, "camera in the API", proc)  # type: ignore[arg-type]
        status, body = _get(base + "/api/v1/areas", token)
        assert status == 200 and "Xã Phù Linh" in body.decode()
        status, body = _get(base + "/api/v1/stats", token)
        assert status == 403  # police: no stats.view
        # a live stream is open while we stop: it must not hold up the shutdown
        stream = urllib.request.urlopen(
            urllib.request.Request(base + "/api/v1/events", headers={"Authorization": f"Bearer {token}"}),
            timeout=5,
        )
        assert stream.readline().startswith(b"retry:")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
        assert time.monotonic() - started < 10, "stopped within a few seconds"
        assert f"listening on http://127.0.0.1:{port}" in out and "stopped" in out
        assert token not in out and "du-dai-roi-day" not in out  # no secrets in the log
        stream.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
