"""Hub ingest end to end: paho → real Mosquitto → Hub → SQLite rows, transitions and InfluxDB points."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlalchemy import select

from devtools.services import Service, influx_query
from hub.compose import Hub
from hub.core.db import Agent, Camera, Snapshot, Transition
from tests.fixtures_hub import Publisher, wait_for

D, C = "yen_dinh", "dinh_long"
HEALTH = f"ops/v1/{D}/{C}/camera/cam-01/health"
STATUS = f"ops/v1/{D}/{C}/edge/box-1/status"
SNAP = f"ops/v1/{D}/{C}/camera/cam-01/snapshot"


def make_jpeg(width: int = 16, height: int = 8) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return bytes(buf)


JPEG = make_jpeg()


def health(seq: int, ts: float | None = None, **kw: Any) -> dict[str, Any]:
    return {"ts": ts or time.time(), "seq": seq, "online": True, "agent": "box-1", "boot": "b1", **kw}


def status(state: str = "online", **kw: Any) -> dict[str, Any]:
    return {"state": state, "ts": time.time(), "version": "1.0", "boot": "b1", **kw}


async def camera(hub: Hub, key: str) -> Camera | None:
    return await hub.db.run(lambda s: s.get(Camera, key))


async def transitions(hub: Hub, key: str) -> list[tuple[str | None, str, list[str]]]:
    rows = await hub.db.run(
        lambda s: list(
            s.scalars(select(Transition).where(Transition.subject_key == key).order_by(Transition.id))
        )
    )
    return [(t.from_status, t.to_status, list(t.problems)) for t in rows]


async def test_health_to_sql_transitions_and_influx(
    hub: Hub, publisher: Publisher, influxd: Service, influx_db: str
) -> None:
    t0 = time.time() - 30
    publisher.publish(HEALTH, health(0, ts=t0, fps=14.5, width=640, height=360, brightness=90.5))
    publisher.publish(HEALTH, health(1, ts=t0 + 10, problems=["frozen", "low_fps"], fps=3.0))
    publisher.publish(HEALTH, health(2, ts=t0 + 20, online=False, problems=["unreachable"], reason="refused"))

    key = f"{D}/{C}/cam-01"
    cam = await wait_for(lambda: hub.store.cameras.get(key) and hub.store.cameras[key].last_seq == 2)
    assert cam
    await hub.flush()
    row = await camera(hub, key)
    assert row is not None
    assert (row.status, row.problems, row.reason, row.online) == (
        "offline",
        ["unreachable"],
        "refused",
        False,
    )
    assert row.agent_key == f"{D}/{C}/box-1"
    assert abs(row.last_ts.timestamp() - (t0 + 20)) < 0.01 if row.last_ts else False
    assert await transitions(hub, key) == [
        ("unknown", "ok", []),
        ("ok", "problem", ["frozen", "low_fps"]),
        ("problem", "offline", ["unreachable"]),
    ]

    def points() -> list[Any]:
        res = influx_query(influxd.port, influx_db, "SELECT * FROM camera_health")
        series = res["results"][0].get("series")  # type: ignore[index]
        return series[0]["values"] if series else []

    values = await wait_for(lambda: len(points()) == 3 and points(), what="3 points in InfluxDB")
    cols = influx_query(influxd.port, influx_db, "SELECT * FROM camera_health")["results"][0]["series"][0][  # type: ignore[index]
        "columns"
    ]
    first = dict(zip(cols, values[0], strict=True))
    assert first["camera"] == "cam-01" and first["district"] == D and first["agent"] == "box-1"
    assert first["fps"] == 14.5 and first["width"] == 640 and first["online"] is True
    assert first["time"] == int(t0)  # device time, not arrival time
    last = dict(zip(cols, values[2], strict=True))
    assert last["status"] == "offline" and last["problems"] == "unreachable" and last["problem_count"] == 1
    assert hub.stats.accepted == 3 and hub.stats.snapshot()["rejected_total"] == 0


async def test_inventory_lwt_stale_and_back(hub: Hub, mosquitto: Service) -> None:
    inventory = [
        {"id": "cam-01", "commune": C, "name": "Cổng UBND xã"},
        {"id": "cam-02", "commune": "dinh_tan", "name": "Ngã ba chợ"},
    ]
    box = Publisher(mosquitto.port, will=(STATUS, b'{"state":"offline","ts":1763880000,"version":"1.0"}'))
    box.publish(STATUS, status(inventory=inventory, cameras=2), retain=True)
    box.publish(HEALTH, health(0))
    key1, key2 = f"{D}/{C}/cam-01", f"{D}/dinh_tan/cam-02"
    await wait_for(lambda: hub.store.cameras.get(key1) and hub.store.cameras[key1].status == "ok")
    await hub.flush()
    row2 = await camera(hub, key2)
    # A box registers cameras only in its own commune: the neighbouring one waits for an administrator.
    assert row2 is None and hub.stats.rejected["inventory_outside_area"] == 1
    assert (await camera(hub, key1)).name == "Cổng UBND xã"  # type: ignore[union-attr]

    box.kill()  # no DISCONNECT: the broker publishes the Last Will
    await wait_for(lambda: hub.store.cameras[key1].status == "stale", what="stale after the Last Will")
    await hub.flush()
    agent = await hub.db.run(lambda s: s.get(Agent, f"{D}/{C}/box-1"))
    assert agent is not None and agent.state == "offline"
    assert (await transitions(hub, key1))[-1] == ("ok", "stale", [])
    edge = await hub.db.run(
        lambda s: [
            t.to_status for t in s.scalars(select(Transition).where(Transition.subject_kind == "edge"))
        ]
    )
    assert edge == ["online", "offline"]

    box2 = Publisher(mosquitto.port)
    box2.publish(STATUS, status(boot="b2"), retain=True)
    box2.publish(HEALTH, health(0, boot="b2", problems=["blurred"]))
    await wait_for(lambda: hub.store.cameras[key1].status == "problem", what="real status again")
    box2.close()


async def test_stale_on_silence_with_fixed_now(hub: Hub, publisher: Publisher) -> None:
    publisher.publish(HEALTH, health(0))
    key = f"{D}/{C}/cam-01"
    await wait_for(lambda: hub.store.cameras.get(key) and hub.store.cameras[key].status == "ok")
    stale_after = hub.config.ingest.stale_after_s
    assert hub.check_stale(time.time() + stale_after / 2) == 0
    changed = hub.check_stale(time.time() + stale_after + 1)
    assert changed == 1  # the camera; its agent never sent a status, so it stays "unknown"
    assert hub.store.cameras[key].status == "stale"
    await hub.flush()
    assert (await camera(hub, key)).status == "stale"  # type: ignore[union-attr]
    publisher.publish(HEALTH, health(1))
    await wait_for(lambda: hub.store.cameras[key].status == "ok", what="ok after health returns")


async def test_seq_gaps_duplicates_and_out_of_order(hub: Hub, publisher: Publisher) -> None:
    t0 = time.time() - 100
    for seq, dt in ((0, 0), (1, 1), (5, 5), (5, 5), (3, 3)):
        publisher.publish(HEALTH, health(seq, ts=t0 + dt))
    await wait_for(lambda: hub.stats.accepted == 5)
    agent = hub.store.agents[f"{D}/{C}/box-1"]
    assert agent.seq_gaps == 3  # 2, 3, 4 missing when 5 arrived (3 came late: still counted as a gap)
    assert hub.stats.snapshot()["duplicates"] == 1 and hub.stats.snapshot()["out_of_order"] == 1
    assert hub.store.cameras[f"{D}/{C}/cam-01"].last_seq == 5
    publisher.publish(HEALTH, health(0, ts=t0 + 10, boot="b2"))  # new boot: seq restarts, no gap
    await wait_for(lambda: hub.stats.accepted == 6)
    assert agent.seq_gaps == 3


async def test_retained_snapshot_with_metadata(hub: Hub, publisher: Publisher, mosquitto: Service) -> None:
    ts = time.time() - 5
    publisher.publish(SNAP, JPEG, retain=True, user_props={"ts": str(ts), "seq": "7"})
    key = f"{D}/{C}/cam-01"
    await wait_for(lambda: hub.stats.snapshots == 1)
    await hub.flush()
    snap = await hub.db.run(lambda s: s.get(Snapshot, key))
    assert snap is not None and (snap.width, snap.height) == (16, 8)
    assert abs(snap.ts.timestamp() - ts) < 0.01
    # the bytes are a file of the snapshot store; SQL holds where it is and what it holds
    assert snap.path == f"{key}/{round(ts * 1000)}.jpg" and snap.size == len(JPEG)
    assert snap.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert (hub.config.snapshot_dir / snap.path).read_bytes() == JPEG
    cam = await camera(hub, key)
    assert cam is not None and cam.snapshot_ts == snap.ts and cam.status == "unknown"


async def test_live_events_and_hub_stats_point(
    hub: Hub, publisher: Publisher, influxd: Service, influx_db: str
) -> None:
    import asyncio

    got: list[dict[str, Any]] = []

    async def listen() -> None:
        async for ev in hub.events.subscribe():
            got.append(ev)

    task = asyncio.create_task(listen())
    await wait_for(lambda: hub.events.subscribers == 1)
    publisher.publish(STATUS, status(), retain=True)
    publisher.publish(HEALTH, health(0, fps=1.0))
    for i in range(1, 10):  # metrics only: coalesced into periodic events
        publisher.publish(HEALTH, health(i, fps=float(i + 1)))
    publisher.publish(SNAP, JPEG)
    key = f"{D}/{C}/cam-01"

    def camera_events() -> list[dict[str, Any]]:
        return [e["camera"] for e in got if e["type"] == "camera" and e["camera"]["key"] == key]

    await wait_for(lambda: any(c["fps"] == 10.0 for c in camera_events()), what="latest metrics announced")
    await wait_for(
        lambda: any(e["type"] == "snapshot" and e["key"] == key for e in got), what="snapshot event"
    )
    assert any(e["type"] == "agent" and e["agent"]["state"] == "online" for e in got)
    first = camera_events()[0]
    assert first["status"] == "ok" and first["name"] is None and first["agent"] == f"{D}/{C}/box-1"
    assert len(camera_events()) < 10  # 10 messages, fewer events
    task.cancel()

    # hub_stats: the counters as one InfluxDB point (written every 10 s; here at once).
    assert hub.influx is not None
    hub.influx.add(hub.stats_line(time.time()))
    await hub.influx.flush()

    def stats_point() -> Any:
        res: Any = influx_query(
            influxd.port, influx_db, "SELECT last(accepted), last(mqtt_connected) FROM hub_stats"
        )
        series = res["results"][0].get("series")
        return series[0]["values"][0] if series else None

    point = await wait_for(stats_point, what="hub_stats point")
    assert point[1] >= 11 and point[2] is True


async def test_extra_handlers_get_validated_messages(hub: Hub, publisher: Publisher) -> None:
    from contract import Channel, Kind, SpeakerEvent

    seen: list[tuple[str, Any]] = []

    def on_event(topic: Any, value: Any, received: float) -> None:
        seen.append((topic.id, value))

    def broken(topic: Any, value: Any, received: float) -> None:
        raise RuntimeError("bug in a consumer")

    hub.add_handler(Kind.SPEAKER, Channel.EVENT, on_event)
    hub.add_handler(Kind.SPEAKER, Channel.EVENT, broken)
    spk = f"ops/v1/{D}/{C}/speaker/loa-1"
    publisher.publish(f"{spk}/event", {"event": "started", "ts": time.time(), "airing": "a1"})
    await wait_for(lambda: hub.stats.accepted == 1)
    assert len(seen) == 1 and seen[0][0] == "loa-1" and isinstance(seen[0][1], SpeakerEvent)
    assert seen[0][1].airing == "a1"
    snap = hub.stats.snapshot()
    assert snap["handler_errors"] == 1  # the broken consumer is counted; the others still got the message
