"""Dispatch on a real hub and Mosquitto, with receivers played by MQTT clients speaking the contract: prepare
commands out, receiver events in, receipts and airing totals in SQL, points in InfluxDB, alert facts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.config import DispatchConfig
from broadcast.orders import AiringOrder, PlayItem, Priority
from contract import (
    Channel,
    SpeakerCommand,
    SpeakerEvent,
    SpeakerEventData,
    SpeakerHealth,
    SpeakerStatus,
    StopData,
    encode,
)
from contract.orders import SignedOrder
from contract.topics import speaker_topic
from devtools.services import Service
from hub.compose import Hub, open_database
from hub.core.facts import FactKind
from hub.core.speaker_models import Speaker
from tests.fixtures_hub import Publisher, make_hub_config, started_hub, wait_for

D, C = "dinh-hoa", "dinh-long"
SHA = "ab" * 32


@pytest.fixture
async def bhub(tmp_path: Path, mosquitto: Service, influxd: Service, influx_db: str) -> AsyncIterator[Hub]:
    cfg = make_hub_config(tmp_path, mosquitto.port, influxd.url, influx_db)
    cfg.broadcast.dispatch = DispatchConfig(answer_margin_s=1, finish_margin_s=1, speaker_stale_after_s=60)
    async with started_hub(cfg) as h:
        yield h


class CommandLog:
    """Subscribes to every speaker's cmd topic and keeps the validated commands."""

    def __init__(self, port: int) -> None:
        self.commands: list[tuple[str, SpeakerCommand]] = []
        self.lock = threading.Lock()
        sub = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cmd-log", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *a: c.subscribe("ops/v1/+/+/speaker/+/cmd", qos=1)
        self.client.on_subscribe = lambda *a: sub.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert sub.wait(10)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            # Every order is in the hub's signed envelope: only its content is kept here.
            order = SignedOrder.model_validate_json(msg.payload).order
            self.commands.append((msg.topic.split("/")[5], SpeakerCommand.model_validate(order)))

    def of(self, action: str) -> list[tuple[str, SpeakerCommand]]:
        with self.lock:
            return [x for x in self.commands if x[1].action == action]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def cmdlog(mosquitto: Service) -> Iterator[CommandLog]:
    log = CommandLog(mosquitto.port)
    yield log
    log.close()


def _online(port: int, sp: str, name: str | None = None) -> Publisher:
    t = speaker_topic(D, C, sp, Channel.STATUS)
    will = SpeakerStatus(state="offline", ts=time.time(), version="t")
    p = Publisher(port, client_id=f"rx-{sp}-{time.monotonic_ns()}", will=(str(t), encode(will)))
    p.publish(
        str(t), encode(SpeakerStatus(state="online", ts=time.time(), version="t", name=name)), retain=True
    )
    return p


def _event(p: Publisher, sp: str, event: str, airing: str, ts: float, **data: Any) -> None:
    ev = SpeakerEvent.model_validate({"event": event, "ts": ts, "airing": airing, "data": data})
    p.publish(str(speaker_topic(D, C, sp, Channel.EVENT)), encode(ev))


def _order(
    airing: str, speakers: tuple[str, ...], start_at: float, prio: Priority = Priority.NORMAL
) -> AiringOrder:
    item = PlayItem(content_id=1, sha256=SHA, size=1000, duration_s=1.0, title="Thông báo")
    return AiringOrder(airing, 1, "Thông báo lịch tiêm", D, C, speakers, (item,), 1, 0.0, start_at, prio)


def _airing(h: Hub, airing_id: str) -> tuple[Airing, dict[str, AiringReceipt]]:
    with h.db.session() as s:
        a = s.get(Airing, airing_id)
        assert a is not None
        rs = {
            r.speaker_key.rsplit("/", 1)[1]: r
            for r in s.scalars(select(AiringReceipt).where(AiringReceipt.airing_id == airing_id))
        }
        return a, rs


def _influx(url: str, db: str, q: str) -> list[Any]:
    qs = urllib.parse.urlencode({"db": db, "q": q})
    with urllib.request.urlopen(f"{url}/query?{qs}", timeout=5) as r:
        res: dict[str, Any] = json.load(r)["results"][0]
    series: list[Any] = res.get("series", [])
    return series


async def test_one_receiver_offline_at_air_time_then_reports_late(
    bhub: Hub, mosquitto: Service, influxd: Service, influx_db: str, cmdlog: CommandLog
) -> None:
    bc = bhub.broadcast
    rx = {sp: _online(mosquitto.port, sp, name=f"Cụm loa {sp}") for sp in ("loa-1", "loa-2", "loa-3")}
    await wait_for(
        lambda: len(bc.speakers.speakers) == 3 and all(s.online for s in bc.speakers.speakers.values()),
        what="3 speakers online",
    )
    rx["loa-3"].kill()  # link lost: the broker publishes its Last Will
    await wait_for(lambda: bc.speakers.get(f"{D}/{C}/loa-3").status == "offline", what="loa-3 offline")

    start = time.time() + 1.0
    await bc.dispatcher.dispatch(_order("tb-1", ("loa-1", "loa-2", "loa-3"), start))
    prepares = await wait_for(
        lambda: len(cmdlog.of("prepare")) == 3 and cmdlog.of("prepare"), what="3 prepare commands"
    )
    data = prepares[0][1].data
    assert data.airing == "tb-1" and data.start_at == start and data.priority == "normal"
    assert data.items[0].url == f"http://127.0.0.1:8080/media/{SHA}.mp3" and data.items[0].sha256 == SHA

    for sp, off in (("loa-1", 0.8), ("loa-2", 3.1)):
        _event(rx[sp], sp, "ready", "tb-1", start - 0.5, start_at=start)
        _event(
            rx[sp],
            sp,
            "started",
            "tb-1",
            start + off / 1000,
            start_at=start,
            first_sample_at=start + off / 1000,
            offset_ms=off,
        )
    for sp in ("loa-1", "loa-2"):
        _event(rx[sp], sp, "finished", "tb-1", start + 1.0, played_s=1.0)

    a, rs = await wait_for(
        lambda: (x := _airing(bhub, "tb-1"))[0].status == "partial" and x, what="partial airing"
    )
    assert (a.targeted, a.played) == (3, 2)
    assert a.skew_ms == pytest.approx(2.3, abs=0.01)
    assert rs["loa-3"].state == "no_answer" and rs["loa-3"].error == "loa mất kết nối"
    assert (
        rs["loa-1"].state == "finished"
        and rs["loa-1"].started_offset_ms == 0.8
        and rs["loa-1"].played_s == 1.0
    )
    facts = bc.dispatcher.facts(time.time())
    assert [(f.kind, f.device) for f in facts] == [(FactKind.BROADCAST_PARTIAL, "tb-1")]
    # They registered themselves: named in no alert while they wait for an administrator's approval.
    assert bc.speakers.facts(time.time()) == []
    for sp in bc.speakers.speakers.values():
        sp.pending = False
    offline = bc.speakers.facts(time.time())
    assert [(f.kind, f.device) for f in offline] == [(FactKind.SPEAKER_OFFLINE, f"{D}/{C}/loa-3")]
    assert bc.speakers.facts in bhub.alerts.sources and bc.dispatcher.facts in bhub.alerts.sources

    # loa-3 had prepared, played from its cache while its link was down, and reports when it reconnects
    rx["loa-3"] = _online(mosquitto.port, "loa-3")
    _event(
        rx["loa-3"],
        "loa-3",
        "started",
        "tb-1",
        start + 0.0012,
        start_at=start,
        first_sample_at=start + 0.0012,
        offset_ms=1.2,
    )
    _event(rx["loa-3"], "loa-3", "finished", "tb-1", start + 1.0, played_s=1.0)
    a, rs = await wait_for(
        lambda: (x := _airing(bhub, "tb-1"))[0].status == "aired" and x, what="aired after the late report"
    )
    assert (a.targeted, a.played, rs["loa-3"].state) == (3, 3, "finished")
    assert bc.dispatcher.facts(time.time()) == []

    await bhub.influx.flush()  # type: ignore[union-attr]
    series = await wait_for(
        lambda: _influx(influxd.url, influx_db, "SELECT * FROM airing"), what="airing point"
    )
    cols, row = series[0]["columns"], series[0]["values"][-1]
    point = dict(zip(cols, row, strict=True))
    assert (point["played"], point["targeted"], point["status"], point["commune"]) == (3, 3, "aired", C)
    health = _influx(influxd.url, influx_db, "SELECT online FROM speaker_health WHERE speaker = 'loa-3'")
    assert [v[1] for v in health[0]["values"]][:2] == [1, 0]
    for p in rx.values():
        p.close()


async def test_emergency_interrupts_a_normal_programme(
    bhub: Hub, mosquitto: Service, cmdlog: CommandLog
) -> None:
    bc = bhub.broadcast
    rx = {sp: _online(mosquitto.port, sp) for sp in ("loa-1", "loa-2")}
    await wait_for(lambda: len(bc.speakers.speakers) == 2, what="speakers registered")
    start = time.time() + 0.5
    await bc.dispatcher.dispatch(_order("tb-2", ("loa-1", "loa-2"), start))
    for sp in rx:
        _event(rx[sp], sp, "started", "tb-2", start, start_at=start, first_sample_at=start, offset_ms=0.5)
    await wait_for(lambda: bc.speakers.get(f"{D}/{C}/loa-1").playing == "tb-2", what="playing shown")

    await bc.dispatcher.dispatch(_order("khan-cap-1", ("loa-1",), time.time() + 0.2, Priority.EMERGENCY))
    await wait_for(
        lambda: any(c.data.airing == "khan-cap-1" for _, c in cmdlog.of("prepare")), what="emergency prepare"
    )
    now = time.time()
    _event(rx["loa-1"], "loa-1", "stopped", "tb-2", now, reason="preempted", by="khan-cap-1", played_s=0.4)
    _event(
        rx["loa-1"], "loa-1", "started", "khan-cap-1", now + 0.01, first_sample_at=now + 0.01, offset_ms=1.0
    )
    _event(rx["loa-1"], "loa-1", "finished", "khan-cap-1", now + 1.0, played_s=1.0)
    _event(rx["loa-2"], "loa-2", "finished", "tb-2", start + 1.0, played_s=1.0)

    a, rs = await wait_for(
        lambda: (x := _airing(bhub, "tb-2"))[0].status == "interrupted" and x, within=15, what="interrupted"
    )
    assert (a.status, a.interrupted_by, a.played) == ("interrupted", "khan-cap-1", 2)
    assert rs["loa-1"].state == "stopped" and "khẩn cấp" in (rs["loa-1"].error or "")
    assert rs["loa-2"].state == "finished"
    e, _ = await wait_for(
        lambda: (x := _airing(bhub, "khan-cap-1"))[0].status == "aired" and x,
        within=15,
        what="emergency aired",
    )
    assert (e.status, e.played, e.priority) == ("aired", 1, "emergency")
    for p in rx.values():
        p.close()


async def test_registry_cancel_and_volume(bhub: Hub, mosquitto: Service, cmdlog: CommandLog) -> None:
    bc = bhub.broadcast
    rx = _online(mosquitto.port, "loa-9", name="Cụm loa thôn Đông")
    health = SpeakerHealth(
        ts=time.time(), seq=1, volume=70, amplifier="on", signal_dbm=-71.5, disk_free_mb=900.0
    )
    rx.publish(str(speaker_topic(D, C, "loa-9", Channel.HEALTH)), encode(health))

    def row() -> Speaker | None:
        with bhub.db.session() as s:
            return s.get(Speaker, f"{D}/{C}/loa-9")

    sp = await wait_for(lambda: (r := row()) is not None and r.volume == 70 and r, what="speaker row")
    assert (sp.name, sp.status, sp.amplifier, sp.signal_dbm) == ("Cụm loa thôn Đông", "online", "on", -71.5)

    await bc.dispatcher.dispatch(_order("tb-3", ("loa-9",), time.time() + 60))
    await bc.dispatcher.cancel("tb-3", "Chương trình bị thay thế")
    stops = await wait_for(lambda: cmdlog.of("stop"), what="stop command")
    assert stops[0][0] == "loa-9" and stops[0][1].data == StopData(airing="tb-3")
    a, rs = _airing(bhub, "tb-3")
    assert (a.status, a.reason, rs["loa-9"].state) == ("cancelled", "Chương trình bị thay thế", "stopped")

    async def answer() -> None:
        cmd = await wait_for(lambda: cmdlog.of("volume"), what="volume command")
        tx = cmd[0][1].transaction
        ev = SpeakerEvent(event="reply", ts=time.time(), transaction=tx, data=SpeakerEventData(volume=35))
        rx.publish(str(speaker_topic(D, C, "loa-9", Channel.EVENT)), encode(ev))

    task = asyncio.create_task(answer())
    reply = await bc.dispatcher.set_volume(f"{D}/{C}/loa-9", 35, wait_s=10)
    await task
    assert reply is not None and reply.data.volume == 35
    await wait_for(lambda: (r := row()) is not None and r.volume == 35, what="volume stored")
    rx.close()


async def test_restart_follows_airings_in_flight_and_admin_edits(
    tmp_path: Path, mosquitto: Service, cmdlog: CommandLog
) -> None:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg.broadcast.dispatch = DispatchConfig(answer_margin_s=1, finish_margin_s=1)
    first = Hub(cfg)
    await first.start()
    rx = _online(mosquitto.port, "loa-5", name="Cụm loa bến đò")
    silent = _online(mosquitto.port, "loa-6")
    await wait_for(lambda: len(first.broadcast.speakers.speakers) == 2, what="speakers registered")
    silent.close()  # clean shutdown of its connection; the speaker stays registered
    start = time.time() + 1.5
    await first.broadcast.dispatcher.dispatch(_order("tb-r", ("loa-5",), start))
    await wait_for(lambda: cmdlog.of("prepare"), what="prepare sent")
    await first.stop()  # the hub goes down before the airing is totalled

    # the receiver plays and reports while the hub is down: the broker keeps the events for the hub's session
    _event(rx, "loa-5", "started", "tb-r", start, start_at=start, first_sample_at=start, offset_ms=0.7)
    _event(rx, "loa-5", "finished", "tb-r", start + 1.0, played_s=1.0)
    with open_database(cfg.database.url).session() as s, s.begin():
        row = s.get(Speaker, f"{D}/{C}/loa-5")
        assert row is not None
        row.name = "Cụm loa bến đò (đã đổi tên)"  # an administrator renames it while the hub is down

    second = Hub(cfg)
    await second.start()
    try:
        a, rs = await wait_for(
            lambda: (x := _airing(second, "tb-r"))[0].status == "aired" and x, what="aired"
        )
        assert (a.played, a.targeted, rs["loa-5"].started_offset_ms) == (1, 1, 0.7)
        reg = second.broadcast.speakers
        assert reg.speakers[f"{D}/{C}/loa-5"].name == "Cụm loa bến đò (đã đổi tên)"  # loaded from the table
        await reg.flush()  # nothing of loa-6 left to write
        with second.db.session() as s, s.begin():
            old = s.get(Speaker, f"{D}/{C}/loa-6")
            assert old is not None
            s.delete(old)  # decommissioned by an administrator
        assert await reg.reconcile(time.time() + 3600) == 1
        assert set(reg.speakers) == {f"{D}/{C}/loa-5"}
        assert reg.speakers[f"{D}/{C}/loa-5"].name == "Cụm loa bến đò (đã đổi tên)"
    finally:
        await second.stop()
        rx.close()
