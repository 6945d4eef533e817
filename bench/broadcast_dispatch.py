"""Hub-side dispatch at commune-to-district scale: `.venv/bin/python bench/broadcast_dispatch.py [--speakers 2000]`.

A real hub (its MQTT bridge, ingest, SQL thread on SQLite) and a real Mosquitto; the receivers are played by one
MQTT client that registers N speakers (retained status), then answers the airing's prepare commands with
`ready`, `started` and `finished` events the way receivers do. Measured: time for `dispatch()` to publish the N
prepare commands (each acknowledged by the broker), time from the first event sent until every receipt is
`finished` in SQL (3 N events), and time until the airing is totalled. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.config import DispatchConfig
from broadcast.orders import AiringOrder, PlayItem, Priority
from contract import Channel, SpeakerEvent, SpeakerStatus, encode
from contract.topics import speaker_topic
from devtools.services import free_port, start_mosquitto
from hub.compose import Hub, HubConfig
from hub.core.config import DatabaseConfig, HttpConfig, InfluxConfig
from hub.core.config_mqtt import MqttConfig

D, C = "bench", "commune"
TIMEOUT_S = 600


def _client(port: int) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-rx-{time.monotonic_ns()}", protocol=mqtt.MQTTv5
    )
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    ready = threading.Event()
    c.on_connect = lambda *a: ready.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not ready.wait(10):
        raise RuntimeError("bench client could not connect")
    return c


def _publish_all(c: mqtt.Client, msgs: list[tuple[str, bytes, bool]]) -> None:
    infos = [c.publish(t, p, qos=1, retain=r) for t, p, r in msgs]
    for i in infos:
        i.wait_for_publish(60)


async def _until(cond: Callable[[], bool], what: str) -> None:
    for _ in range(TIMEOUT_S * 20):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


async def _count(h: Hub, airing: str, state: str) -> int:
    return await h.db.run(
        lambda s: int(
            s.scalar(
                select(func.count()).where(AiringReceipt.airing_id == airing, AiringReceipt.state == state)
            )
            or 0
        )
    )


async def run(n: int, workdir: Path) -> dict[str, Any]:
    broker = start_mosquitto(workdir / "mosquitto", extra_conf="max_queued_messages 1000000\n")
    cfg = HubConfig(
        data_dir=workdir / "hub",
        mqtt=MqttConfig(port=broker.port, client_id="bench-hub"),
        influx=InfluxConfig(enabled=False),
        database=DatabaseConfig(url=f"sqlite:///{workdir / 'hub.db'}"),
        http=HttpConfig(port=free_port(), secure_cookies=False),
    )
    cfg.broadcast.dispatch = DispatchConfig(answer_margin_s=1, finish_margin_s=1)
    hub = Hub(cfg)
    await hub.start()
    rx = _client(broker.port)
    try:
        ids = [f"loa-{i:05d}" for i in range(n)]
        now = time.time()
        status = [
            (str(speaker_topic(D, C, sp, Channel.STATUS)), encode(SpeakerStatus(state="online", ts=now, version="b")), True)
            for sp in ids
        ]  # fmt: skip
        t0 = time.perf_counter()
        await asyncio.to_thread(_publish_all, rx, status)
        await _until(lambda: len(hub.broadcast.speakers.speakers) >= n, "speakers registered")
        register_s = time.perf_counter() - t0

        start_at = time.time() + 30
        item = PlayItem(1, "ab" * 32, 480_000, 30.0, "Bản tin")
        order = AiringOrder(
            "bench-1", 1, "Bản tin", D, C, tuple(ids), (item,), 1, 0.0, start_at, Priority.NORMAL
        )
        t0 = time.perf_counter()
        await hub.broadcast.dispatcher.dispatch(order)
        dispatch_s = time.perf_counter() - t0

        events: list[tuple[str, bytes, bool]] = []
        for i, sp in enumerate(ids):
            t = str(speaker_topic(D, C, sp, Channel.EVENT))
            first = start_at + (i % 7) / 1000
            for ev in (
                {"event": "ready", "ts": start_at - 20, "airing": "bench-1", "data": {"start_at": start_at}},
                {"event": "started", "ts": first, "airing": "bench-1",
                 "data": {"start_at": start_at, "first_sample_at": first, "offset_ms": (i % 7) * 1.0}},
                {"event": "finished", "ts": start_at + 30, "airing": "bench-1", "data": {"played_s": 30.0}},
            ):  # fmt: skip
                events.append((t, encode(SpeakerEvent.model_validate(ev)), False))
        t0 = time.perf_counter()
        await asyncio.to_thread(_publish_all, rx, events)
        publish_s = time.perf_counter() - t0
        for _ in range(TIMEOUT_S * 5):
            if await _count(hub, "bench-1", "finished") >= n:
                break
            await asyncio.sleep(0.2)
        else:
            raise TimeoutError("receipts not all finished")
        receipts_s = time.perf_counter() - t0
        # total now rather than waiting for the planned end (the timer path is the same function)
        await hub.broadcast.dispatcher._finalise("bench-1")
        a = await hub.db.run(lambda s: s.get(Airing, "bench-1"))
        return {
            "speakers": n,
            "register_s": round(register_s, 2),
            "dispatch_s": round(dispatch_s, 2),
            "prepares_per_s": round(n / dispatch_s),
            "events": len(events),
            "events_publish_s": round(publish_s, 2),
            "receipts_done_s": round(receipts_s, 2),
            "events_per_s": round(len(events) / receipts_s),
            "status": a.status,
            "played": a.played,
            "skew_ms": a.skew_ms,
        }
    finally:
        rx.disconnect()
        rx.loop_stop()
        await hub.stop()
        broker.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--speakers", type=int, default=2000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        res = asyncio.run(run(args.speakers, Path(tmp)))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
