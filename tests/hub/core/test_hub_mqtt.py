"""The hub's MQTT connection: broker restarts, the kept session across hub restarts, publishing commands."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract import topics
from devtools.services import Service, start_mosquitto
from hub.compose import Hub
from tests.fixtures_hub import Publisher, make_hub_config, wait_for

HEALTH = "ops/v1/yen_dinh/dinh_long/camera/cam-{}/health"


def health(seq: int) -> dict[str, object]:
    return {"ts": time.time(), "seq": seq, "online": True}


async def test_broker_restart_hub_reconnects_and_keeps_ingesting(tmp_path: Path, mosquitto: Service) -> None:
    hub = Hub(make_hub_config(tmp_path, mosquitto.port, None))
    await hub.start()
    broker = mosquitto
    try:
        pub = Publisher(broker.port)
        pub.publish(HEALTH.format(1), health(0))
        await wait_for(lambda: hub.stats.accepted == 1)
        pub.close()

        broker.stop()
        await wait_for(lambda: not hub.stats.mqtt_connected, what="hub notices the broker is gone")
        broker = start_mosquitto(mosquitto.workdir, port=mosquitto.port)
        await wait_for(lambda: hub.stats.mqtt_connects == 2, within=40, what="hub reconnected")
        await hub.bridge.wait_subscribed(10)

        pub = Publisher(broker.port)
        for i in range(1, 6):
            pub.publish(HEALTH.format(2), health(i))
        await wait_for(lambda: hub.stats.accepted == 6, what="messages after the restart")
        pub.close()
        assert hub.store.cameras["yen_dinh/dinh_long/cam-2"].last_seq == 5
    finally:
        await hub.stop()
        if broker is not mosquitto:
            broker.stop()


async def test_qos1_messages_sent_while_hub_is_down_are_delivered(tmp_path: Path, mosquitto: Service) -> None:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    hub = Hub(cfg)
    await hub.start()
    await hub.stop()

    pub = Publisher(mosquitto.port)
    for i in range(20):
        pub.publish(HEALTH.format(i), health(i))
    pub.close()

    hub = Hub(cfg)  # same client id: the broker resumes the session it kept
    await hub.start()
    try:
        await wait_for(lambda: hub.stats.accepted == 20, what="queued messages delivered")
        assert len(hub.store.cameras) == 20  # the registry came back from SQL too
    finally:
        await hub.stop()


async def test_publish_command_reaches_the_agent(hub: Hub, mosquitto: Service) -> None:
    got: list[bytes] = []
    ready = threading.Event()
    agent = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="box-1", protocol=mqtt.MQTTv5)
    topic = topics.edge_cmd("yen_dinh", "dinh_long", "box-1")
    agent.on_connect = lambda c, *a: c.subscribe(str(topic), qos=1)
    agent.on_subscribe = lambda *a: ready.set()
    agent.on_message = lambda c, u, m: got.append(m.payload)
    agent.connect("127.0.0.1", mosquitto.port)
    agent.loop_start()
    try:
        assert ready.wait(10)
        cmd = {"transaction": "t1", "action": "snapshot", "camera": "cam-01", "ts": time.time()}
        await hub.publish(topic, json.dumps(cmd).encode(), qos=1)
        await wait_for(lambda: got, what="the command at the agent")
        assert json.loads(got[0])["transaction"] == "t1"
    finally:
        agent.disconnect()
        agent.loop_stop()


async def test_hub_starts_without_broker_and_connects_later(tmp_path: Path, mosquitto: Service) -> None:
    mosquitto.stop()
    hub = Hub(make_hub_config(tmp_path, mosquitto.port, None))
    hub.connect_wait_s = 0.5
    await hub.start()  # must not fail; it keeps retrying in the background
    assert not hub.stats.mqtt_connected
    broker = start_mosquitto(mosquitto.workdir, port=mosquitto.port)
    try:
        await wait_for(lambda: hub.stats.mqtt_connected, within=40)
        await hub.bridge.wait_subscribed(10)
        pub = Publisher(broker.port)
        pub.publish(HEALTH.format(1), health(0))
        pub.close()
        await wait_for(lambda: hub.stats.accepted == 1)
    finally:
        await hub.stop()
        broker.stop()


async def test_backpressure_when_ingest_is_behind_loses_nothing(tmp_path: Path, mosquitto: Service) -> None:
    """The event loop is held up (as by a long stall): the MQTT thread stops reading at `queue_max` messages
    instead of growing memory or dropping; TCP and the broker hold the rest until ingest catches up."""
    hub = Hub(make_hub_config(tmp_path, mosquitto.port, None, queue_max=100))
    await hub.start()
    pub = Publisher(mosquitto.port)
    try:
        for i in range(500):  # synchronous: the hub's event loop cannot drain meanwhile
            pub.publish(HEALTH.format(i % 20), health(i))
        time.sleep(0.5)  # noqa: ASYNC251  (blocking on purpose: the stall under test)
        assert len(hub.bridge.inbox) <= 100
        await wait_for(lambda: hub.stats.accepted == 500, what="every message after the stall")
        assert hub.stats.backpressure_waits >= 1
    finally:
        pub.close()
        await hub.stop()
