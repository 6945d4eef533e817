"""The hub's side of the edge agent's store-and-forward queue: a backlog replayed after an outage is written to
InfluxDB at its device times, drives transitions in order at those times, and neither rewinds a camera's
status nor makes it flap stale ↔ ok. Pure rules with fixed times, then end to end on Mosquitto, SQLite and
InfluxDB."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from typing import Any

from sqlalchemy import select

from contract import CameraHealth, EdgeStatus
from devtools.services import Service
from hub.compose import Hub
from hub.core.db import Transition
from hub.core.state import StateStore
from tests.fixtures_hub import Publisher, wait_for

NOW = 1_763_880_000.0
STALE = 180.0
D, C = "yen_dinh", "dinh_long"
HEALTH = f"ops/v1/{D}/{C}/camera/cam-01/health"
STATUS = f"ops/v1/{D}/{C}/edge/box-1/status"


def h(ts: float, seq: int, online: bool = True, **kw: Any) -> CameraHealth:
    return CameraHealth.model_validate(
        {"ts": ts, "seq": seq, "online": online, "agent": "box", "boot": "b", **kw}
    )


def status(state: str, **kw: Any) -> EdgeStatus:
    return EdgeStatus.model_validate({"state": state, "ts": NOW, "version": "1", "boot": "b", **kw})


def camera_log(s: StateStore) -> list[tuple[str | None, str, float]]:
    return [(t.from_status, t.to_status, t.at) for t in s.drain().transitions if t.kind == "camera"]


def test_replayed_backlog_gives_transitions_at_device_times_in_order() -> None:
    s = StateStore(STALE)
    s.apply_edge_status("d", "c", "box", status("online"), NOW)
    cam = s.camera("d", "c", "k1")
    s.apply_health(cam, h(NOW + 1, 0), NOW + 1)
    # The link breaks at NOW+5; the broker publishes the Last Will at NOW+50 (1.5 x keepalive later).
    s.apply_edge_status("d", "c", "box", status("offline"), NOW + 50)
    assert cam.status == "stale"
    # Back at NOW+130 with 5 messages queued: the camera stays stale until its own reports arrive.
    s.apply_edge_status("d", "c", "box", status("online", queue=5), NOW + 130)
    assert cam.status == "stale"
    backlog = [
        h(NOW + 10, 1),  # probed before the Will
        h(NOW + 40, 2, online=False, problems=["unreachable"]),
        h(NOW + 70, 3, online=False, problems=["unreachable"]),
        h(NOW + 100, 4),
        h(NOW + 125, 5),
    ]
    for i, msg in enumerate(backlog):
        assert s.apply_health(cam, msg, NOW + 131 + i * 0.01)
    for msg in backlog[:3]:  # at-least-once: a repeat of the replay changes nothing
        assert not s.apply_health(cam, msg, NOW + 132)
    s.apply_health(cam, h(NOW + 140, 6), NOW + 140)
    log = camera_log(s)
    assert log == [
        ("unknown", "ok", NOW + 1),
        ("ok", "stale", NOW + 50),  # the hub's own judgement when the Will came
        # Reports probed before that judgement are placed at its end, so the log never goes back in time.
        ("stale", "ok", NOW + 50),
        ("ok", "offline", NOW + 50),
        ("offline", "ok", NOW + 100),  # device time
    ]
    assert [t for _, _, t in log] == sorted(t for _, _, t in log)
    assert cam.status == "ok" and cam.last_ts == NOW + 140 and s.duplicates == 0 and s.out_of_order == 3


def test_agent_back_without_backlog_restores_its_cameras_at_once() -> None:
    s = StateStore(STALE)
    s.apply_edge_status("d", "c", "box", status("online"), NOW)
    cam = s.camera("d", "c", "k1")
    s.apply_health(cam, h(NOW + 1, 0, problems=["blurred"]), NOW + 1)
    s.apply_edge_status("d", "c", "box", status("offline"), NOW + 10)
    s.apply_edge_status("d", "c", "box", status("online", queue=0), NOW + 20)
    assert cam.status == "problem"


def influx_points(port: int, db: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"db": db, "q": "SELECT online FROM camera_health", "epoch": "ms"})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/query?{q}", timeout=10) as r:
        res = json.loads(r.read())["results"][0].get("series")
    if not res:
        return []
    return [dict(zip(res[0]["columns"], v, strict=True)) for v in res[0]["values"]]


async def test_replay_after_an_outage_end_to_end(
    hub: Hub, mosquitto: Service, influxd: Service, influx_db: str
) -> None:
    key = f"{D}/{C}/cam-01"
    will = json.dumps({"state": "offline", "ts": time.time(), "version": "1", "boot": "b1"}).encode()
    box = Publisher(mosquitto.port, will=(STATUS, will))
    base = {"agent": "box-1", "boot": "b1"}
    box.publish(STATUS, {"state": "online", "ts": time.time(), "version": "1", "boot": "b1"}, retain=True)
    box.publish(HEALTH, {"ts": time.time() - 60, "seq": 0, "online": True, **base})
    await wait_for(lambda: key in hub.store.cameras and hub.store.cameras[key].status == "ok")
    box.kill()  # the link breaks: the Last Will makes the camera stale
    await wait_for(lambda: hub.store.cameras[key].status == "stale", what="stale after the Last Will")
    will_at = time.time()
    await asyncio.sleep(
        1.5
    )  # let device time pass beyond the Will, as a real outage does (no assertion on it)
    device = [will_at + 0.3 * k for k in range(1, 5)]
    problems = [[], ["unreachable"], ["unreachable"], []]

    back = Publisher(mosquitto.port)
    back.publish(
        STATUS, {"state": "online", "ts": time.time(), "version": "1", "boot": "b1", "queue": 4}, retain=True
    )
    for seq, (ts, probs) in enumerate(zip(device, problems, strict=True), start=1):
        back.publish(HEALTH, {"ts": ts, "seq": seq, "online": not probs, "problems": probs, **base})
    back.publish(HEALTH, {"ts": device[1], "seq": 2, "online": False, "problems": ["unreachable"], **base})
    await wait_for(lambda: hub.store.cameras[key].last_seq == 4, what="the backlog applied")
    back.close()
    await hub.flush()

    rows = await hub.db.run(
        lambda s: [
            (t.from_status, t.to_status, t.at.timestamp())
            for t in s.scalars(
                select(Transition).where(Transition.subject_key == key).order_by(Transition.id)
            )
        ]
    )
    assert [(f, t) for f, t, _ in rows] == [
        ("unknown", "ok"),
        ("ok", "stale"),
        ("stale", "ok"),
        ("ok", "offline"),
        ("offline", "ok"),
    ]
    # At the device times, in order (SQL keeps microseconds; the stale one is the hub's receive time).
    assert [round(at, 3) for _, _, at in rows[2:]] == [
        round(device[0], 3),
        round(device[1], 3),
        round(device[3], 3),
    ]
    assert [at for _, _, at in rows] == sorted(at for _, _, at in rows)

    points = await wait_for(
        lambda: len(influx_points(influxd.port, influx_db)) == 5 and influx_points(influxd.port, influx_db),
        what="5 points",
    )
    replayed = points[1:]  # the first is the report from before the outage
    assert [p["time"] for p in replayed] == [int(ts * 1000 + 0.5) for ts in device]  # true times, no repeat
    assert [p["online"] for p in replayed] == [True, False, False, True]
