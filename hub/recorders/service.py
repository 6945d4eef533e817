"""Recorder reports in: validated by the contract, kept in memory (`RecorderStates`), written to SQL in batches
and to InfluxDB (`recorder_health`: free space, capacity, days kept, disks failed, channels not recording).

Runs on the event loop; SQL goes through `Database.run`. With several hubs, only the owner of a district's
partition writes its recorders, and the others re-read them from SQL every `MIRROR_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import Model, RecorderHealth, Topic
from hub.core.db import Database, to_db_time, utc
from hub.core.influx import InfluxWriter
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.recorder_state import RecorderStates, RecorderView
from hub.recorders.models import RecorderRow

log = logging.getLogger(__name__)

FLUSH_S = 5.0
MIRROR_S = 30.0


def _epoch(dt: datetime) -> float:
    u = utc(dt)
    assert u is not None
    return u.timestamp()


def row_of(v: RecorderView) -> dict[str, object]:
    h = v.health
    return {
        "key": v.key,
        "district": v.district,
        "commune": v.commune,
        "slug": v.slug,
        "agent": h.agent,
        "name": h.name or "",
        "online": h.online,
        "ts": to_db_time(h.ts),
        "received": to_db_time(v.received),
        "days_kept": h.days_kept,
        "free_mb": sum(d.free_mb or 0 for d in h.disks) if h.disks else None,
        "capacity_mb": sum(d.capacity_mb or 0 for d in h.disks) if h.disks else None,
        "report": h.model_dump(mode="json"),
    }


def view_of(row: RecorderRow) -> RecorderView:
    return RecorderView(row.key, row.district, row.commune, row.slug,
                        RecorderHealth.model_validate(row.report), _epoch(row.received))  # fmt: skip


def influx_line(v: RecorderView) -> str:
    h = v.health
    fields: dict[str, float | int | bool | str | None] = {
        "online": h.online,
        "days_kept": h.days_kept,
        "disks": len(h.disks),
        "disks_failed": sum(d.state != "ok" for d in h.disks),
        "free_mb": sum(d.free_mb or 0 for d in h.disks) if h.disks else None,
        "capacity_mb": sum(d.capacity_mb or 0 for d in h.disks) if h.disks else None,
        "channels": len(h.channels),
        "channels_not_recording": sum(c.recording is False for c in h.channels),
    }
    tags = {"district": v.district, "commune": v.commune, "recorder": v.slug}
    return line(series_key("recorder_health", tags), fields, ts_ms(h.ts))


class RecorderService:
    name = "recorders"

    def __init__(
        self,
        db: Database,
        influx: InfluxWriter | None,
        owns: Callable[[str], bool],
        states: RecorderStates | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.influx = influx
        self.owns = owns
        self.states = states if states is not None else RecorderStates()
        self.clock = clock or time.time
        self._dirty: dict[str, RecorderView] = {}
        self._task: asyncio.Task[None] | None = None
        self.accepted = 0
        self.out_of_order = 0

    # ingest (event loop, called by the core's ingest for every valid recorder message) ------------------------
    def on_health(self, t: Topic, value: Model | bytes, received: float) -> None:
        if not isinstance(value, RecorderHealth):
            return
        key = f"{t.district}/{t.commune}/{t.id}"
        prev = self.states.items.get(key)
        if prev is not None and value.ts <= prev.health.ts:
            self.out_of_order += 1  # a replay from the box's outbox after a newer report: history only
        else:
            view = RecorderView(key, t.district, t.commune, t.id, value, received)
            self.states.put(view)
            self._dirty[key] = view
        self.accepted += 1
        if self.influx is not None:
            self.influx.add(influx_line(RecorderView(key, t.district, t.commune, t.id, value, received)))

    # SQL --------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.load()
        self._task = asyncio.create_task(self._run(), name="hub-recorders")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def load(self, only_others: bool = False) -> None:
        rows = await self.db.run(lambda s: list(s.scalars(select(RecorderRow))))
        for row in rows:
            if only_others and self.owns(row.district):
                continue
            try:
                view = view_of(row)
            except ValueError as exc:  # written by a newer or older contract: skip it, keep the rest
                log.warning("recorder %s: stored report unreadable: %s", row.key, exc)
                continue
            prev = self.states.items.get(view.key)
            if prev is None or view.health.ts > prev.health.ts:
                self.states.put(view)

    async def flush(self) -> None:
        batch = [v for v in self._dirty.values() if self.owns(v.district)]
        self._dirty.clear()
        if not batch:
            return

        def write(s: Session) -> None:
            for v in batch:
                s.merge(RecorderRow(**row_of(v)))
            s.commit()

        try:
            await self.db.run(write)
        except Exception:
            for v in batch:  # written at the next flush unless a newer report replaced it meanwhile
                self._dirty.setdefault(v.key, v)
            raise

    async def _run(self) -> None:
        since_mirror = 0.0
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await self.flush()
                since_mirror += FLUSH_S
                if since_mirror >= MIRROR_S:
                    since_mirror = 0.0
                    await self.load(only_others=True)
            except Exception:  # the database may be away for a while: keep the reports, try again
                log.exception("recorders: SQL write failed")
