"""Device runtime: the MQTT link thread against a real Mosquitto (connect, publish/ack, commands in, backoff,
broker restart, a clean stop without the Last Will, and waiting for a sane clock)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_runtime.config import MqttSection
from device_runtime.link import Acked, ConnectFailed, Incoming, LinkDown, LinkEvent, LinkUp, MqttLink
from device_runtime.outbox import OutMessage
from devtools.services import Service, free_port, start_mosquitto

WILL_TOPIC = "ops/v1/d/c/edge/box/status"


class Events:
    def __init__(self) -> None:
        self.q: queue.Queue[LinkEvent] = queue.Queue()

    def post(self, event: LinkEvent) -> None:
        self.q.put(event)

    def next(self, kind: type, timeout: float = 20.0) -> LinkEvent:
        while True:
            event = self.q.get(timeout=timeout)
            if isinstance(event, kind):
                return event


def make_link(
    port: int, events: Events, will: bytes = b'{"state":"offline"}', **mqtt_opts: float
) -> MqttLink:
    settings = MqttSection(port=port, backoff_min_s=0.1, backoff_max_s=0.4, connect_timeout_s=2, **mqtt_opts)
    return MqttLink(settings, "edge-test-link", WILL_TOPIC, lambda: will, events.post, rng=lambda: 0.0)


@pytest.fixture
def events() -> Iterator[Events]:
    yield Events()


def retained(port: int, topic: str) -> bytes | None:
    got: list[bytes] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="edge-test-retained", protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(bytes(msg.payload))
        done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(1.5)  # a retained message comes right after SUBACK; none means there is none
    client.loop_stop()
    client.disconnect()
    return got[0] if got else None


def test_publish_acks_commands_in_and_a_clean_stop(mosquitto: Service, events: Events) -> None:
    link = make_link(mosquitto.port, events)
    link.start()
    try:
        up = events.next(LinkUp)
        assert isinstance(up, LinkUp)
        assert link.subscribe(up.gen, "ops/v1/d/c/edge/box/cmd", 1)
        mid = link.publish(up.gen, OutMessage(WILL_TOPIC, b'{"state":"online"}', qos=1, retain=True))
        assert mid is not None
        ack = events.next(Acked)
        assert ack == Acked(up.gen, mid, None)
        assert link.publish(up.gen + 1, OutMessage("t", b"x")) is None  # not the live connection

        hub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="edge-test-hub", protocol=mqtt.MQTTv5)
        hub.connect("127.0.0.1", mosquitto.port)
        hub.loop_start()
        hub.publish("ops/v1/d/c/edge/box/cmd", b'{"action":"probe"}', qos=1).wait_for_publish(5)
        hub.loop_stop()
        hub.disconnect()
        incoming = events.next(Incoming)
        assert incoming == Incoming(up.gen, "ops/v1/d/c/edge/box/cmd", b'{"action":"probe"}')
    finally:
        link.stop()
    # A clean stop says DISCONNECT: the broker does not publish the Last Will over our retained status.
    assert retained(mosquitto.port, WILL_TOPIC) == b'{"state":"online"}'


def test_unreachable_broker_backs_off(events: Events) -> None:
    link = make_link(free_port(), events)
    link.start()
    try:
        delays = []
        for _ in range(4):
            failed = events.next(ConnectFailed)
            assert isinstance(failed, ConnectFailed) and "cannot connect to 127.0.0.1" in failed.reason
            delays.append(failed.retry_in)
    finally:
        link.stop()
    assert delays == [0.05, 0.1, 0.2, 0.2]  # doubling from backoff_min_s, capped at backoff_max_s (jitter 0)


def test_broker_restart_gives_a_new_connection(mosquitto: Service, events: Events, tmp_path: Path) -> None:
    link = make_link(mosquitto.port, events)
    link.start()
    restarted: Service | None = None
    try:
        first = events.next(LinkUp)
        assert isinstance(first, LinkUp)
        mosquitto.stop()
        down = events.next(LinkDown)
        assert isinstance(down, LinkDown) and down.gen == first.gen
        assert link.publish(first.gen, OutMessage("t", b"x")) is None
        restarted = start_mosquitto(tmp_path / "again", port=mosquitto.port)
        again = events.next(LinkUp, timeout=30)
        assert isinstance(again, LinkUp) and again.gen > first.gen
        mid = link.publish(again.gen, OutMessage("t/x", b"after", qos=1))
        assert mid is not None and events.next(Acked) == Acked(again.gen, mid, None)
    finally:
        link.stop()
        if restarted is not None:
            restarted.stop()


def test_no_connection_until_the_last_will_can_be_built(mosquitto: Service, events: Events) -> None:
    calls = {"n": 0}

    def will() -> bytes:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ValueError("ts: Input should be greater than or equal to 1500000000")
        return b'{"state":"offline"}'

    settings = MqttSection(port=mosquitto.port, backoff_min_s=0.1, backoff_max_s=0.2)
    link = MqttLink(settings, "edge-test-clock", WILL_TOPIC, will, events.post, rng=lambda: 0.0)
    link.start()
    try:
        for _ in range(2):
            failed = events.next(ConnectFailed)
            assert isinstance(failed, ConnectFailed) and "Last Will is invalid" in failed.reason
        assert isinstance(events.next(LinkUp), LinkUp)
    finally:
        link.stop()
