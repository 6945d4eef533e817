"""The hub's MQTT connection: one paho client in one dedicated network thread, handing messages to asyncio.

The network thread does no work on messages. `on_message` appends `(topic, payload, properties, received,
retain)` to a deque and, only if no wakeup is pending, schedules one `call_soon_threadsafe`; the loop drains the
deque BATCH_DELAY_S later (hub/core/ingest.py), so one wakeup serves a batch instead of one message (a per-message
wakeup costs a self-pipe write, an epoll return and a GIL hand-over each).

Why a hand-written network loop (`client.loop()` in our thread) and not `loop_start()`: paho writes PUBACKs
directly when it believes it is single-threaded, while `loop_start()` sends each PUBACK through a socketpair
wakeup (measured ~30 % fewer messages/s at QoS 1, shared/research/perf_limits.md). Because paho then also writes
directly from whichever thread calls `publish()`, publishes from asyncio go through an outbox that this thread
drains (hub/core/mqtt_outbox.py) — only this thread ever touches the socket.

Session: MQTT 5, clean start false and a session expiry (`mqtt.session_expiry_s`), so the broker keeps the
hub's subscriptions and queues QoS 1 messages while the hub restarts; they are delivered on reconnect. The hub's
device bridges acknowledge by hand (`queue_acks`, hub/core/acks.py): once the message is durable. The cost
is that a broker keeps queueing for an absent hub up to that expiry (bounded by its max_queued_messages).
Subscriptions use retain-handling 1: retained messages (edge status, snapshots) are sent when the subscription
is new (first start, expired session, restarted broker) and not again on every reconnect of a kept session,
where the queue already holds what changed.

Backpressure: if the deque holds `ingest.queue_max` messages the network thread stops reading until it drains
to half; TCP and the broker's queue hold the rest, nothing is dropped.

Several hubs (hub/core/partitions.py): a bridge per held partition (its stable client id and filters) acknowledges
a message (`queue_acks`) only after the SQL flush holding its effects committed, so the next owner gets again what
a killed hub had not written; a handle `(bridge, connection, mid)` from an earlier connection is void. A control
bridge (hub/core/control_channel.py) carries publishes, live events between hubs and reply listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from contract.topics import hub_subscriptions
from hub.core.config_mqtt import MqttConfig
from hub.core.mqtt_fast import make_client, step
from hub.core.mqtt_outbox import PublishOutbox
from hub.core.stats import HubStats

log = logging.getLogger("hub.mqtt")

# (topic, payload, MQTT 5 properties, receive time (epoch s), retained flag, acknowledgement handle or None).
# topic is None if not UTF-8.
RawMessage = tuple[str | None, bytes, Any, float, bool, Any]
AckHandle = tuple["MqttBridge", int, int]  # (bridge, connection number, mid)

LOOP_TIMEOUT_S = 0.05  # also the longest a publish waits in the outbox
# See _run: a trickle of messages waits at most COALESCE_S more to be read and acknowledged.
COALESCE_S = 0.01
COALESCE_BELOW = 50
# The loop drains the deque this long after the first message of a batch arrives. Waking the loop per message
# (it drains faster than paho reads) cost ~5 messages per wakeup and a GIL hand-over each: measured 2x the CPU.
BATCH_DELAY_S = 0.005
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0


class MqttBridge:
    def __init__(
        self,
        cfg: MqttConfig,
        stats: HubStats,
        on_messages: Callable[[], None],
        queue_max: int,
        session_expiry_s: int,
        *,
        client_id: str | None = None,
        filters: Sequence[str] | None = None,
        manual_ack: bool = False,
        receive_max: int | None = None,
        inbox: deque[RawMessage] | None = None,
        name: str = "mqtt-network",
        main: bool = True,
        device: bool = True,
    ) -> None:
        self.cfg = cfg
        self.stats = stats
        self.client_id = client_id or cfg.client_id
        self.filters: list[str] = list(hub_subscriptions() if filters is None else filters)
        self.manual_ack = manual_ack
        self.receive_max = receive_max
        self.name = name
        self.main = main  # the hub's own connection: its state is the `mqtt_connected` of hub_stats
        self.device = device  # device traffic (counted as `received`), not messages between hubs
        self.no_local = False  # MQTT 5 No Local: not sent back what this connection published itself
        # A partition's session may only be taken while its lease is held: two hubs connecting with one
        # client id would take the session from each other in turn.
        self.may_connect: Callable[[], bool] = lambda: True
        self.is_connected = False
        self.read = 0  # messages this connection's thread has read (its trickle pause)
        self.inbox: deque[RawMessage] = inbox if inbox is not None else deque()
        self.closing = (
            False  # set before a graceful hand-over: what arrives from then on is left unacknowledged
        )
        self.connection = 0  # bumped at every CONNACK: acknowledgement handles of older connections are void
        self._acks: deque[tuple[int, int]] = deque()
        self._sub_changes: deque[tuple[bool, str, asyncio.Future[None] | None]] = deque()
        self._sub_waiters: dict[int, asyncio.Future[None]] = {}
        self._on_messages = on_messages
        self._queue_max = queue_max
        self._session_expiry_s = session_expiry_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup_pending = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outbox = PublishOutbox(self._call_in_loop)
        self._connected = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._client = self._make_client()

    # setup ------------------------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        c = make_client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=self.manual_ack,
        )
        if self.cfg.username is not None:
            c.username_pw_set(self.cfg.username, self.cfg.secret())
        tls = self.cfg.ssl_context()
        if tls is not None:
            c.tls_set_context(tls)
        c.max_queued_messages_set(10_000)
        c.on_connect, c.on_disconnect, c.on_message = self._on_connect, self._on_disconnect, self._on_message
        c.on_publish, c.on_subscribe = self._outbox.on_publish, self._on_subscribe
        return c

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    async def wait_connected(self, within_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), within_s)
        return self._connected.is_set()

    async def wait_subscribed(self, within_s: float) -> bool:
        """True once the broker acknowledged the hub's subscriptions on the current connection."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), within_s)
        return self._subscribed.is_set()

    async def stop(self, grace_s: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, grace_s)
            if self._thread.is_alive():
                log.warning("MQTT network thread did not stop within %.1f s", grace_s)
        self._outbox.fail_inflight()

    # network thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        c = self._client
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry_s
        if self.receive_max is not None:
            # Acknowledgements wait for the SQL flush: the broker must let that many messages be in flight.
            props.ReceiveMaximum = self.receive_max
        first = True
        delay = RECONNECT_MIN_S
        while not self._stop.is_set():
            if not self.may_connect():
                self._stop.wait(RECONNECT_MIN_S)
                continue
            try:
                if first:
                    c.connect(
                        self.cfg.host, self.cfg.port, self.cfg.keepalive, clean_start=False, properties=props
                    )
                    first = False
                else:
                    c.reconnect()
            except (OSError, ValueError) as exc:
                self._note_error(f"MQTT connect to {self.cfg.host}:{self.cfg.port} failed: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            why = ""
            try:
                while not self._stop.is_set() and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    before = self.read
                    rc = step(c, LOOP_TIMEOUT_S)
                    sent = bool(self._outbox)
                    if sent:
                        self._outbox.send(c)
                    if self._acks or self._sub_changes:
                        self._send_acks_and_subscriptions()
                    if not sent and 0 < self.read - before < COALESCE_BELOW:
                        # A trickle (a province's steady ~800 messages/s arrive one by one): wait a moment so
                        # the next read takes several at once. Each read costs a wake-up and a GIL hand-over
                        # whatever it holds; a backlog is read without pause.
                        self._stop.wait(COALESCE_S)
                    if self.is_connected:
                        delay = RECONNECT_MIN_S
                why = rc.name if hasattr(rc, "name") else str(rc)
            except Exception as exc:  # a bug here must not end the thread: reconnect instead
                log.exception("MQTT network loop failed")
                why = repr(exc)
            if self._stop.is_set():
                break
            if self.is_connected:
                self._on_disconnect(c, None, None, None, None)
            self._note_error(f"MQTT connection lost ({why}); reconnecting")
            self._stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
        with contextlib.suppress(Exception):
            if self._acks:
                self._send_acks_and_subscriptions()
            c.disconnect()
            for _ in range(20):  # let the DISCONNECT go out
                if step(c, 0.01) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break

    def _note_error(self, text: str) -> None:
        self.stats.error(text)
        log.warning("%s", text)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._note_error(f"MQTT broker refused the connection: {reason}")
            return
        self.connection += 1
        self._acks.clear()  # for the previous connection: the broker sends those messages again
        opts = SubscribeOptions(
            self.cfg.qos, self.no_local, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
        )
        if self.filters:
            client.subscribe([(f, opts) for f in self.filters])
        else:
            self._call_in_loop(self._subscribed.set)
        self.is_connected = True
        if self.main:
            self.stats.mqtt_connected = True
        self.stats.mqtt_connects += 1
        log.info(
            "MQTT %s connected to %s:%s (session %s)",
            self.client_id,
            self.cfg.host,
            self.cfg.port,
            "resumed" if flags.session_present else "new",
        )
        self._call_in_loop(self._connected.set)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if self.is_connected:
            self.stats.mqtt_disconnects += 1
        self.is_connected = False
        if self.main:
            self.stats.mqtt_connected = False
        self._call_in_loop(self._connected.clear)
        self._call_in_loop(self._subscribed.clear)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        failed = [r for r in reasons if getattr(r, "is_failure", False)]
        waiter = self._sub_waiters.pop(mid, None)
        if failed:
            self._note_error(f"MQTT broker refused subscriptions: {failed}")
            return
        if waiter is not None:
            self._outbox.resolve(waiter, None)
        self._call_in_loop(self._subscribed.set)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic: str | None = msg.topic
        except UnicodeDecodeError:
            topic = None
        if self.closing:
            return  # not acknowledged: the partition's next owner receives it
        inbox = self.inbox
        ack = (self, self.connection, msg.mid) if self.manual_ack else None
        inbox.append((topic, bytes(msg.payload), msg.properties, time.time(), bool(msg.retain), ack))
        self.stats.received += self.device
        self.read += 1
        if not self._wakeup_pending:
            self._wakeup_pending = True
            self._call_in_loop(self._wakeup)
        if len(inbox) >= self._queue_max:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        self.stats.backpressure_waits += 1
        low = self._queue_max // 2
        while len(self.inbox) > low and not self._stop.is_set():
            time.sleep(0.005)

    def _call_in_loop(self, fn: Callable[[], Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
            loop.call_soon_threadsafe(fn)

    def set_will(self, topic: str, payload: bytes) -> None:
        self._client.will_set(topic, payload, qos=1, retain=True)

    def queue_acks(self, handles: Sequence[AckHandle]) -> None:
        """Acknowledges these messages (their effects are committed); called from the event loop."""
        self._acks.extend((conn, mid) for _bridge, conn, mid in handles)

    async def add_filter(self, topic_filter: str, within_s: float = 5.0) -> bool:
        """Subscribes (now, and again after every reconnect); True once the broker acknowledged it."""
        if topic_filter in self.filters:
            return True
        self.filters.append(topic_filter)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sub_changes.append((True, topic_filter, fut))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fut, within_s)
        return fut.done() and not fut.cancelled()

    def remove_filter(self, topic_filter: str) -> None:
        if topic_filter in self.filters:
            self.filters.remove(topic_filter)
            self._sub_changes.append((False, topic_filter, None))

    def _send_acks_and_subscriptions(self) -> None:
        c, current = self._client, self.connection
        while self._acks:
            conn, mid = self._acks.popleft()
            if conn == current and mid:
                c.ack(mid, 1)
        while self._sub_changes:
            add, f, fut = self._sub_changes.popleft()
            if add:
                _rc, sub_mid = c.subscribe(f, options=SubscribeOptions(self.cfg.qos, self.no_local))
                if fut is not None and sub_mid is not None:
                    self._sub_waiters[sub_mid] = fut
            else:
                c.unsubscribe(f)

    # event loop -------------------------------------------------------------------------------------------
    def _wakeup(self) -> None:
        assert self._loop is not None
        self._loop.call_later(BATCH_DELAY_S, self._deliver)

    def _deliver(self) -> None:
        # Cleared before draining: a message appended from now on schedules the next batch.
        self._wakeup_pending = False
        self._on_messages()

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Fire and forget (live events between hubs): a failure is counted, nobody waits for it."""
        self._outbox.publish_nowait(topic, payload, qos, retain)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queues a message for the network thread; returns when the broker acknowledged it (QoS 1) or it was
        written (QoS 0). Raises PublishError when refused or not acknowledged within PUBLISH_TIMEOUT_S."""
        await self._outbox.publish(topic, payload, qos, retain)
