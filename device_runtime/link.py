"""The MQTT connection: one network thread that owns paho, and events handed to asyncio in one place.

The thread only does network I/O: connect, `loop()`, wait out the reconnect backoff. Every paho callback turns
into a small event passed through `post` (which the agent binds to `loop.call_soon_threadsafe`); all decisions
are taken on the asyncio side.

Each connection attempt gets a fresh paho client and a generation number. paho keeps its own copy of unacked
QoS 1 messages and replays them after a reconnect; with a fresh client that copy is dropped, so the outbox is the
only store and nothing is sent twice by two different mechanisms. Events carry the generation so that a late
PUBACK from a dead connection is never mistaken for one from the live connection.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from contract import format_validation_error
from device_runtime.config import MqttSection
from device_runtime.outbox import OutMessage

log = logging.getLogger(__name__)

INFLIGHT_WINDOW = 20  # QoS 1 messages on the wire before waiting for PUBACKs (paho's default limit)
DISCONNECT_FLUSH_S = 1.0


@dataclass(frozen=True, slots=True)
class LinkUp:
    gen: int


@dataclass(frozen=True, slots=True)
class LinkDown:
    gen: int
    reason: str
    retry_in: float


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    reason: str
    retry_in: float


@dataclass(frozen=True, slots=True)
class Acked:
    gen: int
    mid: int
    refused: str | None  # MQTT 5 PUBACK with a failure reason code (e.g. not authorised by the broker ACL)


@dataclass(frozen=True, slots=True)
class Incoming:
    gen: int
    topic: str
    payload: bytes


LinkEvent = LinkUp | LinkDown | ConnectFailed | Acked | Incoming


def backoff_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random (jitter in [0, 1)).

    Boxes that lost the broker together (a district link flapping) must not all come back in the same second.
    """
    ceiling = min(cap, base * (1 << min(attempt, 30)))
    return ceiling / 2 + jitter * ceiling / 2


class MqttLink:
    def __init__(
        self,
        settings: MqttSection,
        client_id: str,
        will_topic: str,
        will_payload: Callable[[], bytes],
        post: Callable[[LinkEvent], None],
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.will_topic = will_topic
        self.will_payload = will_payload
        self._post = post
        self._rng = rng
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._gen = 0
        self._up = False
        self._broker_reason: str | None = None
        self._thread: threading.Thread | None = None

    # --- called from asyncio -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Disconnect cleanly (no Last Will) and end the network thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def publish(self, gen: int, message: OutMessage) -> int | None:
        """Hand a message to the live connection `gen`; its mid, or None when that connection is gone."""
        with self._lock:
            client = self._client if self._up and self._gen == gen else None
        if client is None:
            return None
        props = None
        if message.user_properties:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = list(message.user_properties)
        info = client.publish(message.topic, message.payload, message.qos, message.retain, props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def subscribe(self, gen: int, topic: str, qos: int = 1) -> bool:
        with self._lock:
            client = self._client if self._up and self._gen == gen else None
        if client is None:
            return False
        rc, _ = client.subscribe(topic, qos)
        return bool(rc == mqtt.MQTT_ERR_SUCCESS)

    # --- the network thread --------------------------------------------------------------------------------

    def _new_client(self, gen: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        client.connect_timeout = self.settings.connect_timeout_s
        client.max_inflight_messages_set(INFLIGHT_WINDOW)
        client.max_queued_messages_set(0)
        client.will_set(self.will_topic, self.will_payload(), qos=1, retain=True)
        if self.settings.username is not None:
            client.username_pw_set(self.settings.username, self.settings.password)
        tls = self.settings.ssl_context()
        if tls is not None:
            client.tls_set_context(tls)

        def on_connect(c: mqtt.Client, u: object, flags: object, rc: mqtt.ReasonCode, p: object) -> None:
            if rc.is_failure:
                self._broker_reason = f"broker refused the connection: {rc}"
                return
            with self._lock:
                self._up = True
            self._post(LinkUp(gen))

        def on_disconnect(
            c: mqtt.Client, u: object, flags: mqtt.DisconnectFlags, rc: mqtt.ReasonCode, p: object
        ) -> None:
            # Only a DISCONNECT sent by the broker carries a reason worth reporting (e.g. a session taken
            # over by another box with the same client id); paho's own "Unspecified error" says nothing.
            if flags.is_disconnect_packet_from_server:
                self._broker_reason = f"broker closed the connection: {rc}"

        def on_publish(c: mqtt.Client, u: object, mid: int, rc: mqtt.ReasonCode, p: object) -> None:
            self._post(Acked(gen, mid, str(rc) if rc.is_failure else None))

        def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
            self._post(Incoming(gen, msg.topic, bytes(msg.payload)))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        return client

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            self._gen += 1
            was_up, reason = self._serve_one_connection(self._gen)
            if self._stop.is_set():
                break
            if was_up:
                attempt = 0  # a connection that worked starts the backoff afresh
            delay = backoff_delay(
                attempt, self.settings.backoff_min_s, self.settings.backoff_max_s, self._rng()
            )
            attempt += 1
            self._post(LinkDown(self._gen, reason, delay) if was_up else ConnectFailed(reason, delay))
            self._stop.wait(delay)
        with self._lock:
            self._up, self._client = False, None

    def _serve_one_connection(self, gen: int) -> tuple[bool, str]:
        """One connection with a fresh paho client, served until it ends: (whether it came up, why it ended)."""
        where = f"{self.settings.host}:{self.settings.port}"
        self._broker_reason = None
        try:
            client = self._new_client(gen)
        except ValueError as exc:  # the Last Will cannot be built: the system clock is not set yet
            why = format_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            return False, f"not connecting: the Last Will is invalid ({why})"
        except (OSError, ssl.SSLError) as exc:  # a CA or client certificate file that cannot be read
            return False, f"not connecting: the TLS settings cannot be used ({exc})"
        try:
            client.connect(self.settings.host, self.settings.port, self.settings.keepalive, clean_start=True)
        except ssl.SSLCertVerificationError as exc:
            return (
                False,
                f"cannot connect to {where}: the broker's certificate is not trusted ({exc.verify_message})",
            )
        except (OSError, ValueError) as exc:
            return False, f"cannot connect to {where}: {exc}"
        with self._lock:
            self._client = client
        reason = self._pump(client)
        if self._stop.is_set():
            self._disconnect(client)
            return False, "stopping"
        with self._lock:
            was_up, self._up, self._client = self._up, False, None
        # paho closes this client's sockets when it is collected; the next attempt builds a new one.
        return was_up, reason if was_up else f"{where}: {reason}"

    def _pump(self, client: mqtt.Client) -> str:
        """Run paho's network loop until the connection ends or stop is asked; the reason it ended."""
        connack_by = time.monotonic() + self.settings.connect_timeout_s
        while not self._stop.is_set():
            rc = client.loop(timeout=0.2)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return self._broker_reason or mqtt.error_string(rc)
            if not self._up and time.monotonic() > connack_by:
                return self._broker_reason or "no answer to CONNECT (CONNACK) in time"
        return "stopping"

    def _disconnect(self, client: mqtt.Client) -> None:
        if self._up:
            client.disconnect()
            until = time.monotonic() + DISCONNECT_FLUSH_S
            while client.is_connected() and time.monotonic() < until:
                client.loop(timeout=0.1)
        with self._lock:
            self._up, self._client = False, None
