"""The notifier's two Zalo channels: which are live, which wait for a re-authorisation, the OA token store, and
how each is doing (facts for the alert engine, the outbox page's status, the hub_stats gauges)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from sqlalchemy.orm import Session

from hub.core.db import Database
from hub.core.facts import Fact
from hub.core.leases import Lead
from hub.notify.config import NotifyConfig
from hub.notify.health import ChannelHealth, channel_facts
from hub.notify.models import CHANNEL_BOT, CHANNEL_OA
from hub.notify.tokens import TokenStore
from hub.notify.zalo import ZaloBot, ZaloOa


class Channels:
    def __init__(self, cfg: NotifyConfig, db: Database, clock: Callable[[], float], lead: Lead | None = None):
        self.cfg = cfg
        self.clock = clock
        self.tokens = TokenStore(db, cfg.oa, clock, lead=lead)
        self.health = {CHANNEL_OA: ChannelHealth(CHANNEL_OA), CHANNEL_BOT: ChannelHealth(CHANNEL_BOT)}
        self.oa: ZaloOa | None = None
        self.bot: ZaloBot | None = None

    # configuration ----------------------------------------------------------------------------------------
    def live(self, channel: str) -> bool:
        if self.cfg.dry_run:
            return False
        if channel == CHANNEL_OA:
            return self.cfg.oa.configured
        if channel == CHANNEL_BOT:
            return self.cfg.bot.configured
        return False

    def paused(self) -> frozenset[str]:
        out = set()
        if self.tokens.blocked:
            out.add(CHANNEL_OA)
        if self.health[CHANNEL_BOT].blocked:
            out.add(CHANNEL_BOT)
        return frozenset(out)

    async def open(self, session: aiohttp.ClientSession) -> None:
        """The live channels' clients on `session`; the OA's stored tokens (and a block they still carry)."""
        if self.live(CHANNEL_OA):
            self.oa = ZaloOa(self.cfg.oa, session)
            self.tokens.api = self.oa
            await self.tokens.load()
            if self.tokens.blocked:
                self.health[CHANNEL_OA].block(self.clock(), self.tokens.blocked)
        if self.live(CHANNEL_BOT):
            self.bot = ZaloBot(self.cfg.bot, session)

    async def replace_refresh_token(
        self, refresh_token: str, also: Callable[[Session], None] | None = None
    ) -> None:
        await self.tokens.replace(refresh_token, also)
        self.health[CHANNEL_OA].unblock()
        self.health[CHANNEL_OA].streak = 0

    # channel health ---------------------------------------------------------------------------------------
    def gauges(self) -> dict[str, Callable[[], int]]:
        """The notify_* gauges of the hub_stats measurement."""
        return {
            "notify_sent": lambda: sum(h.sent for h in self.health.values()),
            "notify_failed": lambda: sum(h.failed for h in self.health.values()),
            "notify_retried": lambda: sum(h.retried for h in self.health.values()),
            "notify_in_doubt": lambda: sum(h.in_doubt for h in self.health.values()),
            "notify_possible_duplicates": lambda: sum(h.possible_duplicates for h in self.health.values()),
            "notify_blocked": lambda: len(self.paused()),
        }

    def _facts_for(self, channel: str, now: float) -> list[Fact]:
        if not self.live(channel):
            return []
        if channel == CHANNEL_OA:
            t = self.tokens
            if t.blocked and self.health[channel].blocked is None:  # blocked by a refresh just now
                self.health[channel].block(now, t.blocked)
            return channel_facts(self.health[channel], now, t.refresh_failures, t.last_error, t.failing_since)
        return channel_facts(self.health[channel], now)

    def channel_facts(self, now: float) -> list[Fact]:
        """A FactSource for the alert engine: the notification channels that cannot deliver now."""
        return self._facts_for(CHANNEL_OA, now) + self._facts_for(CHANNEL_BOT, now)

    def status(self) -> list[dict[str, Any]]:
        """What the outbox page shows about each channel."""
        out = []
        for ch in (CHANNEL_OA, CHANNEL_BOT):
            h = self.health[ch]
            blocked = self.tokens.blocked if ch == CHANNEL_OA else h.blocked
            mode = "blocked" if blocked else ("live" if self.live(ch) else "dry_run")
            item: dict[str, Any] = {
                "channel": ch,
                "mode": mode,
                "blocked": blocked,
                "sent": h.sent,
                "failed": h.failed,
                "retried": h.retried,
                "in_doubt": h.in_doubt,
                "possible_duplicates": h.possible_duplicates,
                "streak": h.streak,
                "last_error": h.last_error,
                "failing": [f.summary for f in self._facts_for(ch, self.clock())],
            }
            if ch == CHANNEL_OA:
                item["token_expires_at"] = self.tokens.expires_at
                item["refreshes"] = self.tokens.refreshes
                item["refresh_failures"] = self.tokens.refresh_failures
            out.append(item)
        return out
