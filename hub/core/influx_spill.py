"""Points InfluxDB cannot take yet, kept on disk until it can: the hub's spill file.

The file is device_runtime's crash-safe queue (`DiskOutbox`: SQLite in WAL mode, `synchronous=FULL`, group
commit in a writer thread), the same one the edge boxes use for their outbox, so a point handed to `put` is on
disk when it returns and a SIGKILL or power cut loses nothing that was spilled. One entry holds one batch of
line protocol; its number of points travels in the entry's properties.

The bound (`influx.spill_max_bytes`) is kept here rather than by the queue, so the points of each batch dropped
for space are counted exactly (`influx_dropped`, logged): the queue itself is opened without a bound of its own.
Entries leave oldest first, and only once InfluxDB took them (`ack`); a failed write puts them back (`rewind`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from device_runtime.diskqueue import DiskOutbox
from device_runtime.outbox import Entry, OutMessage
from hub.core.stats import HubStats

log = logging.getLogger("hub.influx")

TOPIC = "influx"  # the queue's messages need a topic; every entry here is a batch of points
_UNBOUNDED = 2**62


def points_of(entry: Entry) -> int:
    for k, v in entry.message.user_properties:
        if k == "points":
            return int(v)
    return entry.message.payload.count(b"\n") + 1


class InfluxSpill:
    def __init__(self, path: Path, max_bytes: int, stats: HubStats) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.stats = stats
        self.queue = DiskOutbox(path, _UNBOUNDED, _UNBOUNDED)
        self.spilled = 0  # points written to the file by this process
        self.unspilled = 0  # points taken back out and written to InfluxDB
        self.dropped = 0  # points dropped for space
        if len(self.queue):
            log.warning("InfluxDB spill %s: %d batches from before, written first", path, len(self.queue))

    def __len__(self) -> int:
        return len(self.queue)

    @property
    def bytes(self) -> int:
        return self.queue.bytes

    async def put(self, lines: list[str]) -> None:
        """Returns once the points are on disk (a failing disk: the queue counts and logs the loss)."""
        body = "\n".join(lines).encode()
        self._make_room(len(body) + len(TOPIC))
        failures = self.queue.write_failures
        await self.queue.put(OutMessage(TOPIC, body, user_properties=(("points", str(len(lines))),)))
        if self.queue.write_failures > failures:  # disk full or failing: these points are lost
            self.dropped += len(lines)
            self.stats.influx_dropped += len(lines)
            self.stats.error(f"InfluxDB spill {self.path}: cannot write {len(lines)} points")
            return
        self.spilled += len(lines)

    def _make_room(self, size: int) -> None:
        dropped = 0
        while len(self.queue) and self.queue.bytes + size > self.max_bytes:
            entry = self.queue.next_unsent()
            if entry is None:  # only the batch being written to InfluxDB is left
                break
            dropped += points_of(entry)
            self.queue.ack(entry.id)
        if dropped:
            self.dropped += dropped
            self.stats.influx_dropped += dropped
            self.stats.error(f"InfluxDB spill full: {dropped} oldest points dropped")
            log.error(
                "InfluxDB spill %s reached %d bytes: dropped its %d oldest points (%d so far)",
                self.path,
                self.max_bytes,
                dropped,
                self.dropped,
            )

    def next(self) -> Entry | None:
        """The oldest batch not yet taken since the last rewind."""
        return self.queue.next_unsent()

    def ack(self, entry: Entry) -> None:
        self.queue.ack(entry.id)
        self.unspilled += points_of(entry)

    def rewind(self) -> None:
        self.queue.rewind()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.queue.close)
