"""What every device agent is built on: the MQTT link, the outbox and the publisher, wired on one asyncio loop.

The link's paho thread hands every event over in one place (`_post`); one task (`_consume_link_events`) feeds
them to the publisher, which moves the outbox onto the wire in order and calls back when the connection comes
up (the agent subscribes to its command topic and sends its retained online status) and when a command
arrives. `_supervise` runs the agent's tasks until it is told to stop or one of them dies; `_shutdown` stops the
agent's own work, gives the backlog a moment, sends the retained offline status, keeps what is unsent on disk
for the next start and closes the link.

A subclass sets `log`, `unsent` and the shutdown timings, and provides `_publish_status`, `_offline_payload`,
`_can_send`, `_on_incoming`, `_stop_work` and `stats`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from device_runtime.config import MqttSection, OutboxSection
from device_runtime.diskqueue import DiskOutbox, open_outbox
from device_runtime.link import Incoming, LinkEvent, MqttLink
from device_runtime.outbox import MemoryOutbox, OutMessage
from device_runtime.publisher import Publisher

STATS_EVERY_S = 300.0


class DeviceAgent:
    log: ClassVar[logging.Logger]  # the subclass's own logger: log lines keep its module's name
    unsent: ClassVar[str] = "messages"  # what the outbox holds, in the shutdown log line
    drain_on_stop_s: ClassVar[float] = 2.0  # time given to the backlog before the offline status on shutdown
    offline_ack_s: ClassVar[float] = 2.0

    def __init__(
        self,
        mqtt: MqttSection,
        client_id: str,
        status_topic: str,
        cmd_topic: str,
        outbox: OutboxSection,
        base_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.boot = secrets.token_hex(6)
        self.seq = 0
        self.status_topic = status_topic
        self.cmd_topic = cmd_topic
        # Raises DiskQueueError when the queue file cannot be opened.
        self.outbox: DiskOutbox | MemoryOutbox = open_outbox(outbox, base_dir)
        self.link = MqttLink(mqtt, client_id, status_topic, self._offline_payload, self._post)
        self.publisher = Publisher(self.link, self.outbox, self._on_link_up, self._on_incoming)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue[LinkEvent] = asyncio.Queue()

    # --- what a subclass provides -----------------------------------------------------------------------------

    def _publish_status(self) -> None:
        """Send the retained online status now (the connection just came up, or something in it changed)."""
        raise NotImplementedError

    def _offline_payload(self) -> bytes:
        """The retained offline status, also the Last Will (may raise ValueError while the clock is unset)."""
        raise NotImplementedError

    def _can_send(self) -> bool:
        """Whether a message stamped now would be valid (the system clock is set)."""
        raise NotImplementedError

    def _on_incoming(self, event: Incoming) -> None:
        """A message on the command topic."""
        raise NotImplementedError

    async def _stop_work(self) -> None:
        """Stop the agent's own work first on shutdown, while the link is still up for its last messages."""
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    # --- the one place where the paho thread hands over to asyncio -------------------------------------------

    def _post(self, event: LinkEvent) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:
            pass  # the loop closed while we were shutting down; nothing is left to receive it

    async def _consume_link_events(self) -> None:
        while True:
            self.publisher.handle(await self._events.get())

    def _on_link_up(self, gen: int) -> None:
        if not self.link.subscribe(gen, self.cmd_topic, 1):
            self.log.error("could not subscribe to %s", self.cmd_topic)
        self._publish_status()

    def _publish_online(self, payload: bytes) -> None:
        """The retained online status, straight onto the wire: on a reconnect it must come before the backlog."""
        if self.publisher.publish_now(OutMessage(self.status_topic, payload, qos=1, retain=True)) is None:
            self.log.warning("could not publish the online status")

    # --- life cycle --------------------------------------------------------------------------------------------

    def _attach(self) -> None:
        """Called first in `run`: from now on link events reach this loop."""
        self._loop = asyncio.get_running_loop()

    async def _supervise(self, stop: asyncio.Event, background: list[asyncio.Task[None]]) -> int:
        """Wait for `stop` or for a background task to end, then shut down; the exit code (1: a task died)."""
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *background], return_when=asyncio.FIRST_COMPLETED)
        failed = False
        for task in done:
            if task is not stopped:
                failed = True
                self.log.error("internal task %s ended: %r", task.get_name(), task.exception())
        stopped.cancel()
        await self._shutdown(background)
        return 1 if failed else 0

    async def _shutdown(self, background: list[asyncio.Task[None]]) -> None:
        self.log.info("stopping")
        await self._stop_work()
        await self.publisher.drain(self.drain_on_stop_s)
        if self.publisher.gen is not None and self._can_send():
            offline = OutMessage(self.status_topic, self._offline_payload(), qos=1, retain=True)
            if not await self.publisher.publish_and_wait(offline, self.offline_ack_s):
                self.log.warning("broker did not acknowledge the offline status")
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        # Closed only now: with the event consumer gone nothing on the loop touches the outbox any more.
        if isinstance(self.outbox, DiskOutbox):
            if len(self.outbox):
                self.log.info(
                    "%d unsent %s stay in %s for the next start",
                    len(self.outbox),
                    self.unsent,
                    self.outbox.path,
                )
            await asyncio.to_thread(self.outbox.close)
        elif len(self.outbox):
            self.log.warning("discarding %d unsent %s at shutdown", len(self.outbox), self.unsent)
        await asyncio.to_thread(self.link.stop)
        self._log_stats()
        self.log.info("stopped")

    # --- statistics --------------------------------------------------------------------------------------------

    def _log_stats(self) -> None:
        self.log.info("stats %s", " ".join(f"{k}={v}" for k, v in self.stats().items()))

    async def _stats_forever(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            self._log_stats()
