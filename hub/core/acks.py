"""When the hub acknowledges an MQTT message: once it is durable.

A message is durable when the SQL flush holding its effects committed and its InfluxDB points are written or on
disk in the spill file (hub/core/influx_marks.py numbers the points; ingest notes, per message, how many had been
added after it). Until then the broker keeps it in the hub's session: a hub killed at any moment gets again
what it had not kept, and applying it twice changes nothing (the device timestamp already in SQL marks it as
seen; its point overwrites the same point in InfluxDB).

The network threads send the acknowledgements (`MqttBridge.queue_acks`); this gate runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from hub.core.cluster import acknowledge
from hub.core.mqtt_bridge import AckHandle


class AckGate:
    def __init__(self, mark: Callable[[], int] | None) -> None:
        """`mark`: the InfluxDB writer's `marks.mark` (None without InfluxDB: SQL alone decides)."""
        self.mark = mark
        self.waiting: deque[tuple[AckHandle, int]] = deque()  # committed, points not yet safe
        self.in_flush = 0  # messages whose SQL flush is running now
        self._empty = asyncio.Event()

    def committed(self, acks: list[tuple[AckHandle, int]]) -> None:
        self.in_flush = 0
        self.waiting.extend(acks)
        self.release()

    def release(self) -> None:
        """Acknowledges, in order, the committed messages whose points are safe."""
        wait = self.waiting
        if not wait:
            return
        mark = self.mark() if self.mark is not None else None
        ready: list[AckHandle] = []
        while wait and (mark is None or wait[0][1] <= mark):
            ready.append(wait.popleft()[0])
        if ready:
            acknowledge(ready)
        if not wait:
            self._empty.set()

    async def settle(self, within_s: float) -> bool:
        """Waits until every committed message is acknowledged."""
        if self.waiting:
            self._empty.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._empty.wait(), within_s)
        return not self.waiting
