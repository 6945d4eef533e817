"""Once a day at the digest time: prune the outbox, then store one digest row per digest receiver (what it
says is hub/notify/digest.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hub.core.db import Database, to_db_time
from hub.core.facts import DigestSection
from hub.core.maintenance_rules import MaintenanceWindows
from hub.notify import outbox
from hub.notify.area_names import AreaNameCache
from hub.notify.channels import Channels
from hub.notify.config import NotifyConfig
from hub.notify.digest import (
    DigestTarget,
    digest_targets,
    due_today,
    load_digest,
    next_digest_at,
    render_digest,
)
from hub.notify.models import DRY_RUN, PENDING
from hub.notify.outbox import NewRow
from hub.notify.routing import quiet_until

log = logging.getLogger("hub.notify")


class DigestSchedule:
    def __init__(
        self,
        cfg: NotifyConfig,
        db: Database,
        tz: ZoneInfo,
        public_url: str,
        clock: Callable[[], float],
        names: AreaNameCache,
        channels: Channels,
        wake: Callable[[], None],
        sections: Sequence[DigestSection] = (),
    ):
        self.cfg = cfg
        self.db = db
        self.tz = tz
        self.public_url = public_url
        self.clock = clock
        self.names = names
        self.channels = channels
        self.wake = wake
        self.sections = sections  # other features' lines (broadcasts), hub/core/features.py DIGEST_SECTIONS
        self.digests = 0
        self.maintenance: Callable[[], MaintenanceWindows | None] = lambda: None  # set by the feature

    async def prune(self) -> int:
        """Deletes rows older than keep_days, except those still waiting to be sent."""
        cutoff = to_db_time(self.clock() - self.cfg.keep_days * 86400)
        n = await self.db.run(lambda s: outbox.prune(s, cutoff))
        if n:
            log.info("notify: %d outbox row(s) older than %g days deleted", n, self.cfg.keep_days)
        return n

    async def run(self) -> None:
        """Once a day at the digest time: prune the outbox, then store the digest."""
        dcfg = self.cfg.digest
        if not self.cfg.enabled:
            return
        if not dcfg.enabled:
            while True:
                await self.prune()
                await asyncio.sleep(86400)
        day = due_today(self.clock(), dcfg.at, self.tz)
        if day is not None:
            await self.send_digest(day)
        while True:
            await self.prune()
            nxt = next_digest_at(self.clock(), dcfg.at, self.tz)
            while (left := nxt - self.clock()) > 0:  # noqa: ASYNC110 - short naps follow clock steps
                await asyncio.sleep(min(left, 60.0))
            local = datetime.fromtimestamp(nxt, self.tz).date()
            await self.send_digest(date.fromordinal(local.toordinal() - 1))

    async def send_digest(self, day: date) -> int:
        """Stores one digest row per digest receiver for the local `day` (idempotent); returns rows added."""
        now = self.clock()
        now_dt = to_db_time(now)
        added = 0
        for dt in digest_targets(self.cfg):
            added += await self._digest_for(dt, day, now_dt)
        self.digests += added
        if added:
            self.wake()
        log.info("notify: daily digest for %s: %d message(s) stored", day.isoformat(), added)
        return added

    async def _digest_for(self, dt: DigestTarget, day: date, now_dt: datetime) -> int:
        await self.names.refresh(self.clock())
        data = await self.db.run(
            lambda s: load_digest(
                s, dt, day, now_dt, self.tz, self.cfg.digest.down_over_h, self.sections, self.maintenance()
            )
        )
        text = render_digest(dt, data, self.names.names, self.tz, now_dt, self.public_url, self.cfg.max_chars)
        t = dt.target
        held = quiet_until(now_dt, t.quiet_hours, self.tz)
        district = dt.districts[0] if len(dt.districts) == 1 else ""
        commune = dt.communes[0].split("/", 1)[1] if len(dt.communes) == 1 else ""
        row = NewRow(
            event_id=f"digest:{day.isoformat()}:{dt.scope_key}"[:200],
            channel=t.channel,
            target=t.target,
            target_name=t.name,
            route=t.route,
            kind="digest",
            severity="info",
            notice_status="digest",
            district=district,
            commune=commune,
            text=text,
            snapshot_camera=None,
            state=PENDING if self.channels.live(t.channel) else DRY_RUN,
            next_try_at=held or now_dt,
            held_until=held,
        )
        return await self.db.run(lambda s: outbox.store(s, [row], now_dt))
