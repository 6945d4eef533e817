"""Batched, buffered writes of line-protocol points to InfluxDB.

`InfluxWriter` keeps points in a bounded in-memory buffer and sends them in batches from one task, so ingest never
waits on InfluxDB. While InfluxDB is down (connection errors, 5xx, auth errors) batches go back to the front of
the buffer and are retried with exponential backoff; when the buffer is full the oldest points are dropped and
counted. A batch InfluxDB refuses as bad data (4xx) is not retried: the points it could not take are counted and
logged, the rest are written (InfluxDB 1.x writes the good lines of a "partial write"; otherwise the batch is
split until the bad lines are found).

With a spill file (hub/core/influx_spill.py; the hub always has one) points are not dropped: a batch InfluxDB
could not take, the buffer's overflow, and while InfluxDB is down everything buffered go to the file, which is
written back oldest first once InfluxDB answers again; only the file's own bound drops points (counted).

Durability for MQTT acknowledgements: every point gets a sequence number (hub/core/influx_marks.py);
`on_durable` is called whenever `marks.mark()` may have moved.

The HTTP side is a `Sender` (hub/core/influx_send.py): `V1Sender` (POST /write) or `V2Sender` (influxdb_client,
hub/core/influx_v2.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from hub.core.config import InfluxConfig
from hub.core.influx_marks import SeqMarks
from hub.core.influx_retention import FieldTypes, InfluxSchemaError, RetentionV1
from hub.core.influx_retention_v2 import RetentionV2
from hub.core.influx_send import InfluxRejected, InfluxUnavailable, Sender, V1Sender
from hub.core.influx_spill import InfluxSpill
from hub.core.influx_v2 import V2Sender
from hub.core.stats import HubStats, RateLimitedLog

log = logging.getLogger("hub.influx")

# Two batches in flight: InfluxDB parses one while the next is on the wire (1.x took ~1.8x the points per second
# with two writers in shared/research/perf_limits.md); more gained nothing there.
MAX_IN_FLIGHT = 2
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
SPILL_DRAIN_PER_TICK = 4  # spilled batches written back per round, before the buffer gets its turn


def make_sender(cfg: InfluxConfig) -> Sender:
    if cfg.api == "v2":
        return V2Sender(cfg)
    return V1Sender(cfg)


class Retention(Protocol):
    """InfluxDB's layout: tiers, downsampling, `rp_config` (hub/core/influx_retention*.py)."""

    async def apply(self, now_ms: int) -> list[str]: ...

    async def backfill(self, start: datetime, end: datetime) -> int: ...


def make_retention(cfg: InfluxConfig, fields: FieldTypes) -> Retention | None:
    if not cfg.enabled or not cfg.retention.manage:
        return None
    if cfg.api == "v2":
        return RetentionV2(cfg, fields)
    return RetentionV1(cfg, fields)


class InfluxWriter:
    """Bounded buffer + one flushing task. `add()` is the hot path: an append and a length check."""

    def __init__(
        self,
        cfg: InfluxConfig,
        stats: HubStats,
        sender: Sender | None = None,
        fields: FieldTypes = dict,
        spill: InfluxSpill | None = None,
    ) -> None:
        """`fields`: the `hub_stats` field types, for its downsampling (the hub's runtime knows them).
        `spill`: where points go instead of being dropped (without one: the oldest are dropped, counted)."""
        self._cfg = cfg
        self._stats = stats
        self._sender = sender or make_sender(cfg)
        # With retention.manage, the layout decides where raw points go: it is made before the first write.
        self.retention = make_retention(cfg, fields)
        self._buf: deque[str] = deque()
        self._max = cfg.buffer_max_points
        self._batch = cfg.batch_size
        self._wake = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = False
        self._backoff = BACKOFF_MIN_S
        self._rlog = RateLimitedLog(log)
        self.spill = spill
        self.on_durable: Callable[[], None] = lambda: None
        self.marks = SeqMarks()
        self._retry_at = 0.0  # with a spill: InfluxDB is down, the next write is tried at this loop time
        self._spilling: set[asyncio.Task[None]] = set()
        self._inflight: set[asyncio.Task[None]] = set()  # batches on their way to InfluxDB

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def add(self, line: str) -> None:
        buf = self._buf
        if len(buf) >= self._max:
            self._overflow()
        buf.append(line)
        self.marks.added += 1
        if len(buf) >= self._batch and not self._wake.is_set():
            self._wake.set()

    def _overflow(self) -> None:
        if self.spill is None:
            self._buf.popleft()
            self.marks.consume(1)
            self._stats.influx_dropped += 1
            self.on_durable()
            return
        self._spill_later(*self._take(min(self._batch, len(self._buf))))

    def _take(self, n: int) -> tuple[list[str], int]:
        buf = self._buf
        lines = [buf.popleft() for _ in range(n)]
        return lines, self.marks.taken(n)

    def _settled(self, low: int) -> None:
        self.marks.settled(low)
        self.on_durable()

    # spill ----------------------------------------------------------------------------------------------
    def _spill_later(self, lines: list[str], low: int) -> None:
        task = asyncio.get_running_loop().create_task(self._spill_batch(lines, low))
        self._spilling.add(task)
        task.add_done_callback(self._spilling.discard)

    async def _spill_batch(self, lines: list[str], low: int) -> None:
        assert self.spill is not None
        try:
            await self.spill.put(lines)
        finally:
            self._settled(low)

    async def _spill_buffer(self) -> None:
        while self._buf:
            self._spill_later(*self._take(min(self._batch, len(self._buf))))
        if self._spilling:
            await asyncio.wait(list(self._spilling))

    async def _drain_spill(self) -> None:
        """Writes spilled batches back, oldest first; raises InfluxUnavailable (they stay on disk)."""
        spill = self.spill
        if spill is None:
            return
        for _ in range(SPILL_DRAIN_PER_TICK):
            entry = spill.next()
            if entry is None:
                return
            try:
                await self._send(entry.message.payload.decode().split("\n"))
            except InfluxUnavailable:
                spill.rewind()
                raise
            spill.ack(entry)
            self._stats.influx_batches += 1
        self._wake.set()  # more to write back: another round soon, after the buffer's turn

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="influx-writer")

    async def stop(self, grace_s: float = 3.0) -> None:
        """Writes what it can within `grace_s`; what is left goes to the spill file (without one: counted
        as dropped)."""
        self._stopping = True
        self._stop_event.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, grace_s)
            except TimeoutError:
                log.warning("InfluxDB flush did not finish in %.1f s at shutdown", grace_s)
        for t in self._inflight:  # each puts its batch back in the buffer, spilled below
            t.cancel()
        if self._inflight:  # bounded: a stop must end even if a write never answers its cancellation
            _, stuck = await asyncio.wait(list(self._inflight), timeout=grace_s)
            if stuck:
                log.warning("%d InfluxDB writes did not end at shutdown", len(stuck))
        left = len(self._buf)
        if left and self.spill is not None:
            await self._spill_buffer()
            log.info("%d points kept in the spill file for the next start", left)
        elif left:
            self._stats.influx_dropped += left
            log.warning("%d points not written to InfluxDB at shutdown", left)
            self._buf.clear()
            self.marks.consume(left)
            self.on_durable()
        if self._spilling:
            await asyncio.wait(list(self._spilling))
        self._stats.influx_buffered = 0
        await self._sender.close()
        if self.spill is not None:
            await self.spill.close()

    async def apply_layout(self) -> None:
        """Retention policies/buckets and downsampling before the first write (they decide where raw points
        go). Unreachable: raised, so the batch waits and this is retried. Refused (no admin rights): logged
        and counted, and writing goes on; the hourly refresh tries again."""
        if self.retention is None:
            return
        try:
            await self.retention.apply(int(time.time() * 1000))
        except InfluxSchemaError as exc:
            self._stats.error(f"InfluxDB layout: {exc}")
            self._rlog.log(logging.ERROR, "layout", "InfluxDB refused the retention layout: %s", exc)

    async def flush(self) -> None:
        """Send everything buffered now (used by tests and shutdown)."""
        while self._buf and self._ready:
            await self._send_one_batch()

    async def _run(self) -> None:
        interval = self._cfg.flush_interval_s
        inflight = self._inflight
        loop = asyncio.get_running_loop()
        while True:
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._retry_at > loop.time() and not self._stopping:
                # Down, with a spill: what arrives goes to disk, so its messages can be acknowledged.
                await self._spill_buffer()
                self._stats.influx_buffered = len(self._buf)
                continue
            try:
                self._reap(inflight, block=False)
                if self.spill is not None and len(self.spill) and not self._stopping:
                    if not self._ready:
                        await self._sender.prepare()
                        await self.apply_layout()
                        self._ready = True
                    await self._drain_spill()
                    self._up(True)
                    self._retry_at = 0.0
                while self._buf:
                    if not self._ready:
                        await self._sender.prepare()
                        await self.apply_layout()
                        self._ready = True
                        self._up(True)
                    if len(inflight) >= MAX_IN_FLIGHT:
                        await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                        self._reap(inflight, block=False)
                        continue
                    n = min(self._batch, len(self._buf))
                    task = asyncio.create_task(self._send_batch(*self._take(n)))
                    task.add_done_callback(lambda _t: self._wake.set())
                    inflight.add(task)
                    if len(self._buf) < self._batch and not self._stopping:
                        break  # partial batches wait for the next tick
                if self._stopping and inflight:
                    await asyncio.wait(inflight)
                    self._reap(inflight, block=False)
            except InfluxUnavailable as exc:
                if inflight:  # the others requeue themselves if they fail too
                    await asyncio.wait(inflight)
                    with contextlib.suppress(InfluxUnavailable):
                        self._reap(inflight, block=False)
                    inflight.clear()
                self._down(str(exc))
                if self._stopping:
                    return
                if self.spill is not None:
                    self._retry_at = loop.time() + self._next_backoff()
                    await self._spill_buffer()
                else:
                    await self._sleep_backoff()
            self._stats.influx_buffered = len(self._buf)
            if self._stopping and not self._buf and not inflight:
                return

    @staticmethod
    def _reap(inflight: set[asyncio.Task[None]], block: bool) -> None:
        """Removes finished sends; re-raises the first InfluxUnavailable among them."""
        error: InfluxUnavailable | None = None
        for t in [t for t in inflight if t.done()]:
            inflight.discard(t)
            exc = t.exception()
            if isinstance(exc, InfluxUnavailable):
                error = error or exc
            elif exc is not None:
                raise exc
        if error is not None:
            raise error

    async def _send_batch(self, batch: list[str], low: int) -> None:
        try:
            await self._send(batch)
        except InfluxUnavailable:
            if self.spill is not None:
                self._spill_later(batch, low)
            else:
                self._requeue(batch, low)
            raise
        except asyncio.CancelledError:  # shutdown: kept (spilled) rather than lost
            self._requeue(batch, low)
            raise
        except BaseException:  # a bug: the batch is lost, counted
            self._stats.influx_dropped += len(batch)
            self._settled(low)
            raise
        self._settled(low)
        self._stats.influx_batches += 1
        self._backoff = BACKOFF_MIN_S
        self._retry_at = 0.0
        self._up(True)

    async def _send_one_batch(self) -> None:
        n = min(self._batch, len(self._buf))
        await self._send_batch(*self._take(n))

    async def _send(self, batch: list[str]) -> None:
        try:
            await self._sender.send("\n".join(batch).encode())
        except InfluxRejected as exc:
            if exc.rejected is not None:
                rejected = min(exc.rejected, len(batch))
                self._stats.influx_rejected += rejected
                self._stats.influx_written += len(batch) - rejected
                self._rlog.log(
                    logging.ERROR,
                    "rejected",
                    "InfluxDB refused %d of %d points: %s",
                    rejected,
                    len(batch),
                    exc.text[:500],
                )
                self._stats.error(f"InfluxDB refused points: {exc.text[:300]}")
                return
            if len(batch) == 1:
                self._stats.influx_rejected += 1
                self._rlog.log(
                    logging.ERROR, "rejected", "InfluxDB refused a point (%s): %.300s", exc.text, batch[0]
                )
                self._stats.error(f"InfluxDB refused a point: {exc.text[:300]}")
                return
            # Unknown which lines are bad: halve until the bad ones stand alone (good halves go through).
            mid = len(batch) // 2
            await self._send(batch[:mid])
            await self._send(batch[mid:])
            return
        self._stats.influx_written += len(batch)

    def _requeue(self, batch: list[str], low: int) -> None:
        overflow = len(self._buf) + len(batch) - self._max
        if overflow > 0:
            # The batch holds the oldest points: those are the ones to drop.
            self._stats.influx_dropped += min(overflow, len(batch))
            batch = batch[overflow:]
        self._buf.extendleft(reversed(batch))
        self.marks.put_back(low, len(batch))
        self.on_durable()

    def _up(self, up: bool) -> None:
        if up and not self._stats.influx_up:
            log.info("InfluxDB (%s) is writable", self._sender.name)
        self._stats.influx_up = up

    def _down(self, why: str) -> None:
        self._stats.influx_failed_writes += 1
        self._stats.error(f"InfluxDB: {why}")
        if self._stats.influx_up:
            log.warning("InfluxDB write failed, buffering (%d points): %s", len(self._buf), why)
        else:
            self._rlog.log(logging.WARNING, "down", "InfluxDB still unavailable: %s", why)
        self._stats.influx_up = False
        if "database not found" in why:
            self._ready = False

    def _next_backoff(self) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
        return delay

    async def _sleep_backoff(self) -> None:
        delay = self._next_backoff()
        # Waits on the stop event, not on `_wake`: a full buffer sets `_wake` continually while InfluxDB is down.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), delay)
