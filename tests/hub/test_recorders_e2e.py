"""Recorder health end to end on real parts: the fake Hikvision NVR (ISAPI paths, XML, Digest auth) →
`python -m edge_agent` → Mosquitto → the hub (SQL, InfluxDB, alert engine). The test changes the NVR's state
and sees the alerts follow; no timing assertions."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from aiohttp import web
from sqlalchemy import select

from devtools.fakerecorder import Disk, FakeRecorder, RecorderState
from devtools.services import Service, free_port
from hub.alerts.config import AlertsConfig
from hub.compose import Hub
from hub.core.facts import FactKind
from hub.recorders.models import RecorderRow
from tests.edge_support import AgentProcess
from tests.fixtures_hub import Publisher, make_hub_config, wait_for

D, C = "yen_dinh", "dinh_long"


def influx_days_kept(url: str, db: str) -> list[float]:
    q = urllib.parse.urlencode({"db": db, "q": "SELECT days_kept FROM recorder_health"})
    with urllib.request.urlopen(f"{url}/query?{q}", timeout=10) as r:
        series = json.loads(r.read())["results"][0].get("series") or []
    return [v[1] for s in series for v in s["values"]]


async def test_a_recorder_that_stops_recording_and_loses_its_disk(
    tmp_path: Path, mosquitto: Service, influxd: Service, influx_db: str, publisher: Publisher
) -> None:
    now = time.time()
    nvr = RecorderState.with_channels(4, days=30, now=now)
    nvr.channels[1].oldest_ts = now - 6 * 86400  # overwritten after 6 days: below the commune's 10
    nvr.channels[2].recording = False
    runner = web.AppRunner(FakeRecorder(nvr).app())
    await runner.setup()
    nvr_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", nvr_port).start()

    fast = {"for_s": 0, "group_wait_s": 0, "clear_s": 0}
    alerts = AlertsConfig.model_validate(
        {"eval_interval_s": 0.2, "startup_grace_s": 0, "footage_min_days": {f"{D}/{C}": 10},
         "rules": dict.fromkeys(("recorder_not_recording", "recorder_disk_failed", "recorder_footage_short"), fast)}
    )  # fmt: skip
    cfg = make_hub_config(tmp_path, mosquitto.port, influxd.url, influx_db).model_copy(
        update={"alerts": alerts}
    )
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump({
        "agent": {"id": "box-rec", "district": D, "commune": C},
        "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "backoff_min_s": 0.5, "backoff_max_s": 2},
        "recorders": [{"id": "nvr1", "name": "Đầu ghi UBND", "url": f"http://127.0.0.1:{nvr_port}",
                       "username": "admin", "password": nvr.password, "channels": {1: "cong", 2: "cho"},
                       "interval_s": 10, "timeout_s": 3}],
    }, allow_unicode=True), encoding="utf-8")  # fmt: skip
    hub = Hub(cfg)
    await hub.start()
    agent = AgentProcess(config, tmp_path / "edge.log")
    try:
        for slug in ("cong", "cho"):  # both cameras stream a picture
            publisher.publish(
                f"ops/v1/{D}/{C}/camera/{slug}/health", {"ts": time.time(), "seq": 1, "online": True}
            )

        def active() -> set[tuple[str, str]]:
            return {(a.kind, a.device) for a in hub.alerts.alerts.values() if a.status == "firing"}

        first = {("recorder_not_recording", f"{D}/{C}/cho"), ("recorder_footage_short", f"{D}/{C}/nvr1")}
        await wait_for(lambda: first <= active(), 30, f"{first} firing; agent log:\n{agent.log()}")
        assert "Hik12345!" not in agent.log()  # the recorder's password never reaches the log

        nvr.disks = [Disk(1, status="smartFailed")]
        nvr.channels[2].recording = True
        await wait_for(
            lambda: (FactKind.RECORDER_DISK_FAILED.value, f"{D}/{C}/nvr1") in active(), 30, "disk failed"
        )
        await wait_for(
            lambda: ("recorder_not_recording", f"{D}/{C}/cho") not in active(), 10, "recording again"
        )

        def stored() -> RecorderRow | None:
            with hub.db.session() as s:
                row = s.scalar(select(RecorderRow))
            return row if row is not None and row.report["disks"][0]["state"] == "failed" else None

        row = await wait_for(stored, 15, "the failed disk in SQL")
        assert row.key == f"{D}/{C}/nvr1" and row.agent == "box-rec"
        assert row.days_kept is None  # with its only disk failed, the search finds no footage
        days = await wait_for(lambda: influx_days_kept(influxd.url, influx_db), 10, "recorder_health points")
        assert any(5.9 < d < 6.1 for d in days)  # what the first looks found
        assert (
            "GET /ISAPI/ContentMgmt/Storage" in nvr.requests and nvr.refused >= 1
        )  # Digest: challenge first
    finally:
        agent.proc.terminate()
        agent.proc.wait(10)
        await hub.stop()
        await runner.cleanup()
