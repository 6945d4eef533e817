"""The hub's SQL flush: what the state store and ingest drained goes to SQL in bounded transactions.

Status transitions are written at once (`wake`), live metrics every `ingest.state_flush_s`; messages are
acknowledged once their effects are committed (hub/core/acks.py). A failed flush keeps everything for the next
attempt and marks the hub not ready (`failing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hub.core.batching import split_changes
from hub.core.persist import FlushBatch, write_batch
from hub.core.snapshots import SnapshotRow, StoredSnapshot
from hub.core.state import Changes
from hub.core.stats import RateLimitedLog

if TYPE_CHECKING:
    from hub.core.runtime import HubCore

log = logging.getLogger("hub")

SQL_RETRY_S = 1.0
# Rows per SQL transaction: a first start registering 20,000 cameras must not hold the one SQL thread (which
# the web API shares) for seconds; the rest follows in the next transaction at once.
MAX_FLUSH_ROWS = 5000


class SqlFlush:
    def __init__(self, core: HubCore) -> None:
        self.core = core
        self.config = core.config
        self.store = core.store
        self.ingest = core.ingest
        self.acks = core.acks
        self.db = core.db
        self.stats = core.stats
        self.feed = core.feed
        self.events = core.events
        self.snapshots = core.snapshots
        self._flush_wake: asyncio.Event | None = None
        self._flush_lock = asyncio.Lock()
        self._rlog = RateLimitedLog(log)
        self.failing = False  # the latest SQL flush failed (readiness)

    def started(self) -> None:
        self._flush_wake = asyncio.Event()

    def wake(self) -> None:
        """Flushes now rather than at the end of the period (transitions, a filling broker window)."""
        if self._flush_wake is not None:
            self._flush_wake.set()

    async def flush(self) -> None:
        """Writes every pending change to SQL now (tests, shutdown)."""
        async with self._flush_lock:
            while await self._flush_once() and self.pending():
                pass

    def pending(self) -> bool:
        ch = self.store.changes
        return bool(
            ch.transitions
            or ch.cameras
            or ch.metrics
            or ch.agents
            or self.ingest.snapshots
            or self.ingest.acks
        )

    async def run(self) -> None:
        """The periodic flush (a hub task)."""
        assert self._flush_wake is not None
        interval = self.config.ingest.state_flush_s
        loop = asyncio.get_running_loop()
        due = loop.time() + interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_wake.wait(), max(0.0, due - loop.time()))
            self._flush_wake.clear()
            # The period counts from the start of a flush, so a slow one does not stretch the API's lag.
            due = loop.time() + interval
            async with self._flush_lock:
                ok = await self._flush_once()
            if not ok:
                await asyncio.sleep(SQL_RETRY_S)

    async def _flush_once(self) -> bool:
        # Messages handled so far have their effects in what is drained now: acknowledged after the commit.
        acks, self.ingest.acks = self.ingest.acks, []
        changes = self.store.drain()
        snaps, self.ingest.snapshots = self.ingest.snapshots, {}
        rest = split_changes(changes, MAX_FLUSH_ROWS, must_keep=snaps.keys())
        if rest is not None:  # the rest goes in the next transaction, right after this one
            self._requeue(rest)
            self.ingest.acks[:0], acks = acks, []  # some effects wait for that transaction
            if self._flush_wake is not None:
                self._flush_wake.set()
        self.acks.in_flush = len(acks)
        stored = await self._store_snapshots(snaps.values()) if snaps else []
        batch = FlushBatch.collect(
            self.store, changes.cameras, changes.metrics, changes.agents, changes.transitions, stored
        )
        if not len(batch):
            self.acks.committed(acks)
            return True
        t0 = time.perf_counter()
        cluster = self.core.cluster
        try:
            if cluster is None:
                await self.db.run(lambda s: write_batch(s, batch))
            else:
                await self.db.run(lambda s: cluster.write_fenced(s, batch))
        except Exception as exc:
            # Keep everything for the next attempt: transitions are the availability record.
            self.stats.sql_errors += 1
            self.stats.error(f"SQL flush failed: {exc!r}")
            self._rlog.log(logging.ERROR, "sql", "SQL flush of %d rows failed: %r", len(batch), exc)
            self._requeue(changes)
            for k, v in snaps.items():
                self.ingest.snapshots.setdefault(k, v)
            self.ingest.acks[:0] = acks
            self.acks.in_flush = 0
            self.failing = True
            return False
        self.failing = False
        self.acks.committed(acks)
        ms = (time.perf_counter() - t0) * 1000
        for k in batch.camera_keys:
            c = self.store.cameras.get(k)
            if c is not None:
                c.in_db = True
        for k in batch.agent_keys:
            a = self.store.agents.get(k)
            if a is not None:
                a.in_db = True
        st = self.stats
        st.sql_flushes += 1
        st.sql_rows += len(batch)
        st.sql_flush_ms_max = max(st.sql_flush_ms_max, ms)
        st.sql_flush_ms_last = ms
        st.transitions += len(changes.transitions)
        self.feed.flushed(changes)
        if stored and self.events.subscribers:
            self.feed.snapshots(stored)
        return True

    async def _store_snapshots(self, rows: Iterable[SnapshotRow]) -> list[StoredSnapshot]:
        errors = self.snapshots.errors
        stored = await self.snapshots.write(rows, time.time())
        if self.snapshots.errors > errors and self.snapshots.last_error:
            self.stats.error(self.snapshots.last_error)
            self._rlog.log(logging.ERROR, "snapshot", "%s", self.snapshots.last_error)
        return stored

    def _requeue(self, changes: Changes) -> None:
        pending = self.store.changes
        pending.cameras |= changes.cameras
        pending.metrics |= changes.metrics
        pending.agents |= changes.agents
        pending.transitions[:0] = changes.transitions
