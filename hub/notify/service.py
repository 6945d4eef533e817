"""The notifier: turns alert notices into outbox rows (routing, quiet hours, text), sends due rows to Zalo
with retries, sends the daily digest, and reports its own channels failing. One instance per hub; with several
hubs, any of them stores rows, and the one holding the `notify` leader lease sends them, refreshes the OA token
and writes the digest.

The parts: hub/notify/channels.py (live, paused, health), sender.py (the outbox sender loop), digest_schedule.py
(the daily prune and digest), area_names.py (the names in the text)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.orm import Session

from hub.core.db import Database, to_db_time
from hub.core.facts import AlertNotice, DigestSection, Fact
from hub.core.features import ServiceKey
from hub.core.leases import Lead, SoleLeader
from hub.core.snapshots import SnapshotStore
from hub.core.tasks import guarded
from hub.notify import outbox
from hub.notify.area_names import AreaNameCache
from hub.notify.channels import Channels
from hub.notify.config import NotifyConfig, notify_settings
from hub.notify.digest_schedule import DigestSchedule
from hub.notify.escalation import Escalator, plan, store_plan
from hub.notify.models import CHANNEL_BOT, CHANNEL_NONE, CHANNEL_OA, DRY_RUN, PENDING, UNROUTED
from hub.notify.outbox import NewRow
from hub.notify.render import render_notice
from hub.notify.routing import Target, exempt_from_quiet, quiet_until, route_notice
from hub.notify.sender import CLUSTER_IDLE_S, IDLE_S, OutboxSender

if TYPE_CHECKING:
    from hub.core.config import CoreConfig

log = logging.getLogger("hub.notify")
RESTART_S = 5.0
TOKEN_CHECK_S = 5.0


class HubParts(Protocol):
    """What the notifier needs of the hub (a `FeatureContext` has both)."""

    config: CoreConfig
    db: Database


def _task_failed(name: str, exc: Exception) -> None:
    log.exception("notify %s failed; restarting it in %.0f s", name, RESTART_S)


class Notifier:
    name = "notify"

    def __init__(
        self,
        hub: HubParts,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        digest_sections: Sequence[DigestSection] = (),
        lead: Lead | None = None,
    ):
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.lead.on_change(self._lead_changed)
        self._running = False
        self.hub = hub
        self.cfg: NotifyConfig = notify_settings(hub.config)
        self.db = hub.db
        self.tz = ZoneInfo(hub.config.timezone)
        self.public_url = hub.config.http.public_url
        self.names = AreaNameCache(hub.config, self.db)
        self.clock = clock
        self.rng = rng or random.Random()
        self.channels = Channels(self.cfg, self.db, clock, self.lead)
        self.tokens = self.channels.tokens
        self.health = self.channels.health
        idle = CLUSTER_IDLE_S if hub.config.cluster.enabled else IDLE_S
        self.sender = OutboxSender(
            self.cfg,
            self.db,
            self.channels,
            clock,
            self.rng,
            SnapshotStore.for_config(hub.config),
            self.lead,
            idle,
        )
        self.daily = DigestSchedule(
            self.cfg,
            self.db,
            self.tz,
            self.public_url,
            clock,
            self.names,
            self.channels,
            self.sender.wake,
            digest_sections,
        )
        self.escalator = Escalator(self.cfg, self.db, self.tz, self.public_url, clock,
                                   lambda: self.names.names, self.live, self.sender.wake)  # fmt: skip
        self.submitted = 0
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def digests(self) -> int:
        return self.daily.digests

    # configuration ----------------------------------------------------------------------------------------
    def live(self, channel: str) -> bool:
        return self.channels.live(channel)

    def paused(self) -> frozenset[str]:
        return self.channels.paused()

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        await self.channels.open(self._session)
        self._running = True
        if self.lead.is_leader:
            await self._lead_changed(True)
        log.info(
            "notify: started (oa %s, bot %s)",
            "live" if self.live(CHANNEL_OA) else "dry-run",
            "live" if self.live(CHANNEL_BOT) else "dry-run",
        )

    async def _lead_changed(self, leading: bool) -> None:
        if not leading:
            await self._stop_sending()
            return
        if not self._running or self._tasks:
            return
        self.sender.stopping = False
        now = to_db_time(self.clock())
        token = self.lead.token
        # Only rows claimed by earlier senders (a hub that died, this one before a restart) are in doubt.
        n = await self.db.run(lambda s: outbox.recover_interrupted(s, now, token))
        if n:
            log.warning("notify: %d message(s) were being sent when their sender stopped; marked unknown", n)
        if self.channels.oa is not None:
            await self.tokens.load()  # what the previous sender stored last
        self._tasks = [
            asyncio.create_task(
                guarded("sender", self.sender.run, _task_failed, RESTART_S), name="notify-sender"
            ),
            asyncio.create_task(
                guarded("digest", self.daily.run, _task_failed, RESTART_S), name="notify-digest"
            ),
            asyncio.create_task(
                guarded("escalation", self.escalator.run, _task_failed, RESTART_S), name="notify-escalation"
            ),
        ]
        if self.hub.config.cluster.enabled and self.channels.oa is not None:
            self._tasks.append(
                asyncio.create_task(
                    guarded("tokens", self._follow_reauthorisation, _task_failed, RESTART_S),
                    name="notify-tokens",
                )
            )
        log.info("notify: sending (leader token %s)", token)

    async def _follow_reauthorisation(self) -> None:
        """Several hubs: a person may paste the new refresh token on another hub's page. While the OA channel
        waits for that, the sender re-reads the stored tokens, and sends again once they are there."""
        while True:
            await asyncio.sleep(TOKEN_CHECK_S)
            if not self.tokens.blocked:
                continue
            stored = await self.db.run(lambda s: outbox.token_block(s))
            if stored is None:
                await self.tokens.load()
                self.channels.health[CHANNEL_OA].unblock()
                log.info("notify: the OA channel was authorised again on another hub; sending")
                self.sender.wake()

    async def _stop_sending(self) -> None:
        await self.sender.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()

    async def stop(self) -> None:
        self._running = False
        await self._stop_sending()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        self.sender.wake()

    async def replace_refresh_token(
        self, refresh_token: str, also: Callable[[Session], None] | None = None
    ) -> None:
        """After a re-authorisation: store the new refresh token (and `also`, e.g. the audit row, in the same
        transaction), lift the block, send what waited."""
        await self.channels.replace_refresh_token(refresh_token, also)
        self.sender.wake()

    # notices → rows ---------------------------------------------------------------------------------------
    async def submit(self, notice: AlertNotice) -> None:
        """Stores the notice's rows (once per event_id/channel/target) and wakes the sender. Raises when the
        outbox cannot be written, so the caller can submit the same event again."""
        if not self.cfg.enabled:
            return
        now = self.clock()
        now_dt = to_db_time(now)
        await self.names.refresh(now)
        targets, missing = route_notice(
            self.cfg.routes, self.cfg.groups, notice.kind, notice.severity, notice.district, notice.commune
        )
        text = render_notice(notice, self.names.names, self.tz, self.public_url, self.cfg.max_chars)
        exempt = exempt_from_quiet(notice)

        def row(
            t: Target | None, state: str, held: datetime | None = None, error: str | None = None
        ) -> NewRow:
            return NewRow(
                event_id=notice.event_id,
                channel=t.channel if t else CHANNEL_NONE,
                target=t.target if t else (error or "")[:100],
                target_name=t.name if t else "",
                route=t.route if t else "",
                kind=str(notice.kind),
                severity=str(notice.severity),
                notice_status=notice.status,
                district=notice.district,
                commune=notice.commune,
                text=text,
                snapshot_camera=notice.snapshot_camera if t is None or t.channel == CHANNEL_OA else None,
                state=state,
                next_try_at=held or now_dt,
                held_until=held,
                last_error=error,
            )

        rows = []
        for t in targets:
            held = None if exempt else quiet_until(now_dt, t.quiet_hours, self.tz)
            rows.append(row(t, PENDING if self.live(t.channel) else DRY_RUN, held))
        for m in missing:
            rows.append(row(None, UNROUTED, error=f"{m.route}: {m.reason}"))
        if not targets and not missing:
            rows.append(row(None, UNROUTED, error="không tuyến nào khớp thông báo này"))
        escalations = plan(self.cfg, notice, now_dt)
        added = await self.db.run(lambda s: (outbox.store(s, rows, now_dt), store_plan(s, escalations))[0])
        self.submitted += 1
        if added and any(r.state == PENDING for r in rows):
            self.sender.wake()
        if any(r.state == UNROUTED for r in rows):
            log.warning("notify: notice %s has receivers that could not be resolved", notice.event_id)

    # channel health ---------------------------------------------------------------------------------------
    def channel_facts(self, now: float) -> list[Fact]:
        """A FactSource for the alert engine: the notification channels that cannot deliver now."""
        return self.channels.channel_facts(now)

    def status(self) -> list[dict[str, Any]]:
        """What the outbox page shows about each channel."""
        return self.channels.status()

    # digest -----------------------------------------------------------------------------------------------
    async def prune(self) -> int:
        """Deletes rows older than keep_days, except those still waiting to be sent."""
        return await self.daily.prune()

    async def send_digest(self, day: date) -> int:
        """Stores one digest row per digest receiver for the local `day` (idempotent); returns rows added."""
        return await self.daily.send_digest(day)


NOTIFIER = ServiceKey("notifier", Notifier)
