"""The asyncio side of the MQTT link: consumes the link's events, moves the outbox onto the wire in order.

The link thread posts events (`device_runtime.link`); this class is the only consumer. It keeps the generation of
the live connection, a window of unacknowledged messages (paho mid → outbox entry), and hands the agent what
is its business: a connection that just came up (to subscribe and send its birth message) and incoming
commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from device_runtime.link import (
    INFLIGHT_WINDOW,
    Acked,
    ConnectFailed,
    Incoming,
    LinkDown,
    LinkEvent,
    LinkUp,
    MqttLink,
)
from device_runtime.outbox import Outbox, OutMessage

log = logging.getLogger(__name__)


@dataclass
class LinkCounters:
    connects: int = 0
    disconnects: int = 0
    broker_refused: int = 0  # messages the broker answered with a failure PUBACK (ACL)


class Publisher:
    def __init__(
        self,
        link: MqttLink,
        outbox: Outbox,
        on_up: Callable[[int], None],
        on_incoming: Callable[[Incoming], None],
    ) -> None:
        self.link = link
        self.outbox = outbox
        self._on_up = on_up
        self._on_incoming = on_incoming
        self.counters = LinkCounters()
        self.gen: int | None = None  # the live connection, None while disconnected
        self._inflight: dict[int, int] = {}  # paho mid -> outbox entry id
        self._ack_waiters: dict[int, asyncio.Future[None]] = {}
        self._drained = asyncio.Event()  # set while the outbox is empty

    def handle(self, event: LinkEvent) -> None:
        if isinstance(event, Acked):
            self._acked(event)
        elif isinstance(event, Incoming):
            self._on_incoming(event)
        elif isinstance(event, LinkUp):
            self._up(event)
        elif isinstance(event, LinkDown):
            self._down(event)
        elif isinstance(event, ConnectFailed):
            log.warning("broker unreachable: %s; retry in %.1f s", event.reason, event.retry_in)

    def _up(self, event: LinkUp) -> None:
        self.gen = event.gen
        self.counters.connects += 1
        self._inflight.clear()
        self.outbox.rewind()
        self._on_up(event.gen)  # birth message first: it goes straight onto the wire, before the backlog
        log.info("connected to broker; %d messages waiting", len(self.outbox))
        self.send()

    def _down(self, event: LinkDown) -> None:
        if event.gen != self.gen:
            return
        self.gen = None
        self.counters.disconnects += 1
        self._inflight.clear()
        self.outbox.rewind()
        for waiter in self._ack_waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(event.reason))
        self._ack_waiters.clear()
        log.warning(
            "lost the broker: %s; retry in %.1f s; %d messages kept",
            event.reason,
            event.retry_in,
            len(self.outbox),
        )

    def _acked(self, event: Acked) -> None:
        if event.gen != self.gen:
            return  # a late acknowledgement from a dead connection: its messages were rewound
        entry_id = self._inflight.pop(event.mid, None)
        if entry_id is not None:
            self.outbox.ack(entry_id)
        if event.refused is not None:
            # Retrying cannot help (typically the broker's ACL): count it and let it go.
            self.counters.broker_refused += 1
            log.error("broker refused a message: %s", event.refused)
        waiter = self._ack_waiters.pop(event.mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if not len(self.outbox):
            self._drained.set()
        self.send()

    def send(self) -> None:
        """Move messages from the outbox onto the wire, oldest first, keeping at most a window in flight."""
        gen = self.gen
        while gen is not None and len(self._inflight) < INFLIGHT_WINDOW:
            entry = self.outbox.next_unsent()
            if entry is None:
                return
            mid = self.link.publish(gen, entry.message)
            if mid is None:
                return  # the connection just went; its LinkDown event rewinds the outbox
            self._inflight[mid] = entry.id

    async def enqueue(self, message: OutMessage) -> None:
        """Returns once the outbox holds the message (on disk for the disk queue), then sends what it can."""
        await self.outbox.put(message)
        self._drained.clear()
        self.send()

    def publish_now(self, message: OutMessage) -> int | None:
        """Straight onto the live connection, bypassing the outbox (the agent's own status)."""
        return None if self.gen is None else self.link.publish(self.gen, message)

    async def publish_and_wait(self, message: OutMessage, limit_s: float) -> bool:
        """publish_now, then wait for the broker's acknowledgement; False when it did not come."""
        mid = self.publish_now(message)
        if mid is None:
            return False
        waiter = asyncio.get_running_loop().create_future()
        self._ack_waiters[mid] = waiter
        try:
            await asyncio.wait_for(waiter, limit_s)
        except (TimeoutError, ConnectionError):
            return False
        return True

    async def drain(self, limit_s: float) -> None:
        """Give the backlog up to `limit_s` seconds to reach the broker (while connected)."""
        if self.gen is None or not len(self.outbox):
            return
        try:
            await asyncio.wait_for(self._drained.wait(), limit_s)
        except TimeoutError:
            pass
