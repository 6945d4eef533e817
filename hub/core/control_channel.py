"""A hub's own MQTT connection when several hubs run (`{mqtt.client_id}-h-{hub_id}`, no device traffic): it
carries the hub's publishes (commands to devices), live events between hubs, and device replies awaited here.

Live events: while any other hub has pages listening, every event a hub publishes on its bus also goes out, QoS 0,
on `hub/v1/events/{hub_id}`; every hub subscribes to `hub/v1/events/+` (MQTT 5 No Local: not its own) and hands
the others' events to its own web pages. Whether a hub has listeners is its retained `hub/v1/listeners/{hub_id}`
(its Last Will says 0), so no event is built or sent when nobody watches. Why MQTT and not
PostgreSQL LISTEN/NOTIFY: fan-out to every subscriber is the broker's job and it is already there, live events
are best-effort (a page that reconnects reloads the state), and the database — the one part every hub shares —
stays free of hundreds of notifications a second; NOTIFY would also cap an event at 8000 bytes.

Replies: a reply travels on the device's own topic, which belongs to the partition of another hub. While a
command waits, the hub that sent it also subscribes to that exact reply topic here (`replies`), so the reply
reaches it whichever hub owns the device.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from contract import ContractError, Topic, TopicError, decode, parse
from hub.core.config import CoreConfig
from hub.core.events import EventBus
from hub.core.ingest import Handler
from hub.core.mqtt_bridge import MqttBridge
from hub.core.stats import HubStats, RateLimitedLog

log = logging.getLogger("hub.control")
EVENTS_ROOT = "hub/v1/events"
LISTENERS_ROOT = "hub/v1/listeners"


class RelayedEvent(BaseModel):
    """What a hub sends its peers: its id and one live event (a JSON object with a `type`)."""

    model_config = ConfigDict(extra="forbid")
    hub: str
    event: dict[str, Any]


class Listeners(BaseModel):
    """Retained on `hub/v1/listeners/{hub_id}`: whether that hub has web pages waiting for live events."""

    model_config = ConfigDict(extra="forbid")
    hub: str
    listeners: int


class ControlChannel:
    def __init__(self, bridge: MqttBridge, events: EventBus, hub_id: str, stats: HubStats) -> None:
        self.bridge = bridge
        self.events = events
        self.hub_id = hub_id
        self.stats = stats
        self.topic = f"{EVENTS_ROOT}/{hub_id}"
        self.relayed_out = 0
        self.relayed_in = 0
        self.rejected = 0
        self._listeners: dict[str, list[Handler]] = {}
        self._rlog = RateLimitedLog(log)
        self._interest: dict[str, int] = {}  # other hub → its pages listening
        self._announced: bool | None = None
        bridge.no_local = True
        bridge.filters += [f"{EVENTS_ROOT}/+", f"{LISTENERS_ROOT}/+"]
        bridge.set_will(f"{LISTENERS_ROOT}/{hub_id}", self._listeners_body(0))
        events.relay = self._send
        events.on_local_change = self._local_listeners
        stats.gauges.update(
            events_relayed_out=lambda: self.relayed_out, events_relayed_in=lambda: self.relayed_in
        )

    def _listeners_body(self, n: int) -> bytes:
        return Listeners(hub=self.hub_id, listeners=n).model_dump_json().encode()

    def _local_listeners(self, n: int) -> None:
        if (n > 0) != self._announced:  # only 0 ↔ some: a page opening or closing is not news
            self._announced = n > 0
            topic = f"{LISTENERS_ROOT}/{self.hub_id}"
            self.bridge.publish_nowait(topic, self._listeners_body(n), qos=1, retain=True)

    def announce(self) -> None:
        """At start: this hub's listeners (none yet), replacing what a previous run left retained."""
        self._local_listeners(self.events.local_subscribers)

    @classmethod
    def open(cls, config: CoreConfig, stats: HubStats, events: EventBus, hub_id: str) -> ControlChannel:
        channel: ControlChannel | None = None

        def wake() -> None:
            if channel is not None:
                channel.on_messages()

        bridge = MqttBridge(
            config.mqtt,
            stats,
            wake,
            queue_max=config.ingest.queue_max,
            session_expiry_s=0,  # nothing to keep: replies awaited and live events are of the moment
            client_id=f"{config.mqtt.client_id}-h-{hub_id}",
            filters=[],
            device=False,
        )
        channel = cls(bridge, events, hub_id, stats)
        return channel

    def _send(self, event: dict[str, Any]) -> None:
        try:
            body = json.dumps({"hub": self.hub_id, "event": event}, default=str).encode()
        except (TypeError, ValueError) as exc:
            self._rlog.log(logging.ERROR, "encode", "live event not relayed: %r", exc)
            return
        self.bridge.publish_nowait(self.topic, body, qos=0)
        self.relayed_out += 1

    def on_messages(self) -> None:
        """The bridge's wakeup (event loop): live events from the other hubs, replies awaited here."""
        inbox = self.bridge.inbox
        while inbox:
            topic, payload, _props, received, _retain, _ack = inbox.popleft()
            if topic is None:
                continue
            if topic.startswith(EVENTS_ROOT + "/"):
                if topic != self.topic:
                    self._event(topic, payload)
                continue
            if topic.startswith(LISTENERS_ROOT + "/"):
                self._interest_of(topic, payload)
                continue
            for fn in list(self._listeners.get(topic, ())):
                self._reply(topic, payload, received, fn)

    def _event(self, topic: str, payload: bytes) -> None:
        try:
            msg = RelayedEvent.model_validate_json(payload)
            if not isinstance(msg.event.get("type"), str):
                raise ValueError("event without a string `type`")
        except (ValidationError, ValueError) as exc:
            self.rejected += 1
            self.stats.rejected["bad_relayed_event"] += 1
            self._rlog.log(logging.WARNING, "event", "live event on %s rejected: %s", topic, str(exc)[:200])
            return
        self.relayed_in += 1
        self.events.publish_local(msg.event)

    def _interest_of(self, topic: str, payload: bytes) -> None:
        try:
            msg = Listeners.model_validate_json(payload)
        except ValidationError as exc:
            self.rejected += 1
            self.stats.rejected["bad_relayed_event"] += 1
            self._rlog.log(logging.WARNING, "interest", "%s rejected: %s", topic, str(exc)[:200])
            return
        if msg.hub != self.hub_id:
            self._interest[msg.hub] = msg.listeners
            self.events.remote_interest = any(n > 0 for n in self._interest.values())

    def _reply(self, topic: str, payload: bytes, received: float, fn: Handler) -> None:
        try:
            t = parse(topic)
            value = decode(t, payload)
        except (TopicError, ContractError) as exc:
            self.stats.rejected["bad_reply"] += 1
            self._rlog.log(logging.WARNING, "reply", "reply on %s rejected: %s", topic, str(exc)[:200])
            return
        try:
            fn(t, value, received)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("reply listener %r failed on %s", fn, topic)

    @contextlib.asynccontextmanager
    async def replies(self, topic: Topic, fn: Handler) -> AsyncIterator[None]:
        """While inside, messages on `topic` (exact) also go to `fn`, whichever hub owns the device."""
        key = str(topic)
        self._listeners.setdefault(key, []).append(fn)
        try:
            if not await self.bridge.add_filter(key):
                log.warning("subscription to %s not acknowledged yet; its reply may be missed", key)
            yield
        finally:
            handlers = self._listeners.get(key, [])
            if fn in handlers:
                handlers.remove(fn)
            if not handlers:
                self._listeners.pop(key, None)
                self.bridge.remove_filter(key)
