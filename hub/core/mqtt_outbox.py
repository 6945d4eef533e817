"""The hub's MQTT publishes: queued on the event loop, written by the bridge's network thread.

paho writes directly from whichever thread calls `publish()` (hub/core/mqtt_bridge.py says why the bridge runs
its own network loop), so publishes from asyncio wait here until the network thread drains the queue: only that
thread ever touches the socket. Each publish's future resolves on the event loop once the broker acknowledged
it (QoS 1) or it was written (QoS 0).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

PUBLISH_TIMEOUT_S = 10.0


class PublishError(RuntimeError):
    pass


class PublishOutbox:
    def __init__(self, call_in_loop: Callable[[Callable[[], Any]], None]) -> None:
        self.queue: deque[tuple[str, bytes, int, bool, asyncio.Future[None]]] = deque()
        self.inflight: dict[int, asyncio.Future[None]] = {}
        self._call_in_loop = call_in_loop

    def __bool__(self) -> bool:
        return bool(self.queue)

    def send(self, client: mqtt.Client) -> None:
        """Hands the queued publishes to paho (network thread)."""
        while self.queue:
            topic, payload, qos, retain, fut = self.queue.popleft()
            try:
                info = client.publish(topic, payload, qos=qos, retain=retain)
            except (ValueError, RuntimeError) as exc:
                self.resolve(fut, PublishError(str(exc)))
                continue
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                self.resolve(fut, PublishError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}"))
            elif qos == 0 and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.resolve(fut, None)
            else:
                self.inflight[info.mid] = fut  # resolved by on_publish (PUBACK), resent after a reconnect

    def on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        fut = self.inflight.pop(mid, None)
        if fut is not None:
            failed = getattr(reason, "is_failure", False)
            self.resolve(fut, PublishError(f"broker refused the message: {reason}") if failed else None)

    def resolve(self, fut: asyncio.Future[None], error: Exception | None) -> None:
        def done() -> None:
            if fut.done():
                return
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)

        self._call_in_loop(done)

    def fail_inflight(self) -> None:
        """The network thread has stopped: nobody will acknowledge what is still in flight."""
        for fut in list(self.inflight.values()):
            if not fut.done():
                fut.set_exception(PublishError("hub stopped before the broker acknowledged"))
        self.inflight.clear()

    def publish_nowait(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Fire and forget (live events between hubs): a failure is counted, nobody waits for it."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.queue.append((topic, payload, qos, retain, fut))

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Queues a message for the network thread; returns when the broker acknowledged it (QoS 1) or it was
        written (QoS 0). Raises PublishError when refused or not acknowledged within PUBLISH_TIMEOUT_S."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.append((topic, payload, qos, retain, fut))
        try:
            await asyncio.wait_for(fut, PUBLISH_TIMEOUT_S)
        except TimeoutError as exc:
            raise PublishError(
                f"no acknowledgement for {topic} within {PUBLISH_TIMEOUT_S:.0f} s (broker unreachable?)"
            ) from exc
