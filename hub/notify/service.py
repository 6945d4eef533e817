"""The notifier: turns alert notices into outbox rows (routing, quiet hours, text), sends due rows to Zalo
with retries, sends the daily digest, and reports its own channels failing. One instance per hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.orm import Session

from hub.core.areas import area_names, config_area_names
from hub.core.db import Database, Snapshot, to_db_time
from hub.core.facts import AlertNotice, DigestSection, Fact
from hub.core.features import ServiceKey
from hub.notify import outbox
from hub.notify.config import NotifyConfig, RetryConfig, notify_settings
from hub.notify.digest import (
    DigestTarget,
    digest_targets,
    due_today,
    load_digest,
    next_digest_at,
    render_digest,
)
from hub.notify.health import ChannelHealth, channel_facts
from hub.notify.images import shrink_jpeg
from hub.notify.models import (
    CHANNEL_BOT,
    CHANNEL_NONE,
    CHANNEL_OA,
    DEAD,
    DRY_RUN,
    FAILED,
    PENDING,
    SENT,
    UNROUTED,
    OutboxRow,
)
from hub.notify.outbox import NewRow
from hub.notify.render import render_notice
from hub.notify.routing import Target, exempt_from_quiet, quiet_until, route_notice
from hub.notify.tokens import TokenStore, TokenUnavailable
from hub.notify.zalo import Outcome, Result, ZaloBot, ZaloOa

if TYPE_CHECKING:
    from hub.core.config import CoreConfig

log = logging.getLogger("hub.notify")
BATCH = 20
IDLE_S = 30.0  # the sender looks at the outbox at least this often (a row retried by another worker)
STOP_WAIT_S = 3.0
RESTART_S = 5.0
NAMES_TTL_S = 300.0


class HubParts(Protocol):
    """What the notifier needs of the hub (a `FeatureContext` has both)."""

    config: CoreConfig
    db: Database


def backoff_s(attempt: int, outcome: Outcome, cfg: RetryConfig, rng: random.Random) -> float:
    """Exponential (base · 2^(attempt-1), capped) with jitter in [½, 1] of it, so retries of many rows spread."""
    delay: float = cfg.base_s * 2.0 ** max(0, attempt - 1)
    if outcome == Outcome.RATE_LIMIT:
        delay = max(delay, cfg.rate_limit_s)
    delay = min(cfg.max_s, delay)
    return delay * (0.5 + rng.random() * 0.5)


class Notifier:
    name = "notify"

    def __init__(
        self,
        hub: HubParts,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        digest_sections: Sequence[DigestSection] = (),
    ):
        self.hub = hub
        self.digest_sections = digest_sections  # other features' lines in the daily digest
        self.cfg: NotifyConfig = notify_settings(hub.config)
        self.db = hub.db
        self.tz = ZoneInfo(hub.config.timezone)
        self.public_url = hub.config.http.public_url
        self.names = config_area_names(hub.config)
        self._names_at = 0.0
        self.clock = clock
        self.rng = rng or random.Random()
        self.tokens = TokenStore(self.db, self.cfg.oa, clock)
        self.health = {CHANNEL_OA: ChannelHealth(CHANNEL_OA), CHANNEL_BOT: ChannelHealth(CHANNEL_BOT)}
        self.oa: ZaloOa | None = None
        self.bot: ZaloBot | None = None
        self.submitted = 0
        self.digests = 0
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: asyncio.Task[None] | None = None

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

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        now = to_db_time(self.clock())
        n = await self.db.run(lambda s: outbox.recover_interrupted(s, now))
        if n:
            log.warning(
                "notify: %d message(s) were being sent when the hub stopped; marked unknown, not resent", n
            )
        self._session = aiohttp.ClientSession()
        if self.live(CHANNEL_OA):
            self.oa = ZaloOa(self.cfg.oa, self._session)
            self.tokens.api = self.oa
            await self.tokens.load()
            if self.tokens.blocked:
                self.health[CHANNEL_OA].block(self.clock(), self.tokens.blocked)
        if self.live(CHANNEL_BOT):
            self.bot = ZaloBot(self.cfg.bot, self._session)
        self._tasks = [
            asyncio.create_task(self._guard("sender", self._send_loop), name="notify-sender"),
            asyncio.create_task(self._guard("digest", self._digest_loop), name="notify-digest"),
        ]
        log.info(
            "notify: started (oa %s, bot %s)",
            "live" if self.live(CHANNEL_OA) else "dry-run",
            "live" if self.live(CHANNEL_BOT) else "dry-run",
        )

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._sending is not None and not self._sending.done():
            # Let messages already on the wire finish; a row cut off here is `unknown` at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._sending), STOP_WAIT_S)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _guard(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await fn()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notify %s failed; restarting it in %.0f s", name, RESTART_S)
                await asyncio.sleep(RESTART_S)

    def wake(self) -> None:
        self._wake.set()

    async def replace_refresh_token(
        self, refresh_token: str, also: Callable[[Session], None] | None = None
    ) -> None:
        """After a re-authorisation: store the new refresh token (and `also`, e.g. the audit row, in the same
        transaction), lift the block, send what waited."""
        await self.tokens.replace(refresh_token, also)
        self.health[CHANNEL_OA].unblock()
        self.health[CHANNEL_OA].streak = 0
        self._wake.set()

    # notices → rows ---------------------------------------------------------------------------------------
    async def submit(self, notice: AlertNotice) -> None:
        """Stores the notice's rows (once per event_id/channel/target) and wakes the sender. Raises when the
        outbox cannot be written, so the caller can submit the same event again."""
        if not self.cfg.enabled:
            return
        now = self.clock()
        now_dt = to_db_time(now)
        await self._refresh_names(now)
        targets, missing = route_notice(
            self.cfg.routes, self.cfg.groups, notice.kind, notice.severity, notice.district, notice.commune
        )
        text = render_notice(notice, self.names, self.tz, self.public_url, self.cfg.max_chars)
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
        added = await self.db.run(lambda s: outbox.store(s, rows, now_dt))
        self.submitted += 1
        if added and any(r.state == PENDING for r in rows):
            self._wake.set()
        if any(r.state == UNROUTED for r in rows):
            log.warning("notify: notice %s has receivers that could not be resolved", notice.event_id)

    async def _refresh_names(self, now: float) -> None:
        """Area names as people edited them on the admin page (hub.core.areas), re-read every few minutes."""
        if now - self._names_at < NAMES_TTL_S:
            return
        self._names_at = now
        try:
            self.names = await self.db.run(lambda s: area_names(s, self.hub.config))
        except Exception as exc:  # names are cosmetic: keep the previous ones
            log.warning("notify: area names not refreshed: %r", exc)

    # sending ----------------------------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            wait = await self._send_due()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def _send_due(self) -> float:
        """Sends one batch of due rows; returns how long to wait before looking again (0: at once)."""
        now_dt = to_db_time(self.clock())
        paused = self.paused()
        rows = await self.db.run(lambda s: outbox.claim_due(s, now_dt, BATCH, paused))
        if rows:
            self._sending = asyncio.create_task(self._send_batch(rows))
            await asyncio.shield(self._sending)
            return 0.0
        due = await self.db.run(lambda s: outbox.next_due(s, paused))
        return IDLE_S if due is None else min(IDLE_S, max(0.05, (due - now_dt).total_seconds()))

    async def _send_batch(self, rows: list[OutboxRow]) -> None:
        """Receivers in parallel (up to send_concurrency), each receiver's rows in order."""
        by_target: dict[tuple[str, str], list[OutboxRow]] = defaultdict(list)
        for r in rows:
            by_target[(r.channel, r.target)].append(r)
        slots = asyncio.Semaphore(self.cfg.send_concurrency)

        async def one_target(items: list[OutboxRow]) -> None:
            async with slots:
                for r in items:
                    await self._send_row(r)

        await asyncio.gather(*(one_target(v) for v in by_target.values()))

    async def _send_row(self, row: OutboxRow) -> None:
        note: str | None = None
        try:
            if row.channel == CHANNEL_OA:
                res, note = await self._send_oa(row)
            elif row.channel == CHANNEL_BOT and self.bot is not None:
                res = await self.bot.send_message(row.target, row.text)
            else:
                res = Result(Outcome.PERMANENT, None, f"kênh {row.channel!r} chưa được cấu hình")
        except Exception as exc:  # a bug must cost one attempt, not the sender
            log.exception("notify: sending row %s failed unexpectedly", row.id)
            res = Result(Outcome.RETRY, None, f"lỗi nội bộ: {exc!r}"[:300])
        await self._record(row, res, note)

    async def _send_oa(self, row: OutboxRow) -> tuple[Result, str | None]:
        if self.oa is None:
            return Result(Outcome.PERMANENT, None, "Zalo OA chưa được cấu hình"), None
        try:
            token = await self.tokens.token()
        except TokenUnavailable as exc:
            return exc.result, None
        attachment, note = None, None
        if row.snapshot_camera and self.cfg.oa.attach_snapshot:
            attachment, note, token = await self._upload_snapshot(row.snapshot_camera, token)
        res = await self.oa.send_group(token, row.target, row.text, attachment)
        if res.outcome == Outcome.TOKEN:
            try:
                token = await self.tokens.after_rejected(token)
            except TokenUnavailable as exc:
                return exc.result, note
            res = await self.oa.send_group(token, row.target, row.text, attachment)
            if res.outcome == Outcome.TOKEN:
                res = Result(Outcome.RETRY, res.code, f"token mới vẫn bị từ chối: {res.message}")
        return res, note

    async def _upload_snapshot(self, camera: str, token: str) -> tuple[str | None, str, str]:
        """(attachment id or None, what happened to the picture, the token now in use)."""
        assert self.oa is not None

        def read(s: Session) -> bytes | None:
            snap = s.get(Snapshot, camera)
            return None if snap is None else bytes(snap.jpeg)

        jpeg = await self.db.run(read)
        if jpeg is None:
            return None, "camera chưa có ảnh chụp", token
        try:
            jpeg = await asyncio.to_thread(shrink_jpeg, jpeg)
        except ValueError as exc:
            return None, f"không gửi ảnh: {exc}", token
        res = await self.oa.upload_image(token, jpeg)
        if res.outcome == Outcome.TOKEN:
            try:
                token = await self.tokens.after_rejected(token)
            except TokenUnavailable as exc:
                return None, f"không tải được ảnh lên: {exc.result.describe()}", token
            res = await self.oa.upload_image(token, jpeg)
        if res.ok and res.message_id:
            return res.message_id, f"kèm ảnh chụp ({max(1, len(jpeg) // 1024)} KB)", token
        return None, f"không tải được ảnh lên, chỉ gửi chữ: {res.describe()}"[:300], token

    async def _record(self, row: OutboxRow, res: Result, note: str | None) -> None:
        now = self.clock()
        now_dt = to_db_time(now)
        h = self.health.get(row.channel) or ChannelHealth(row.channel)
        values: dict[str, Any] = {"image": note, "last_code": res.code}
        if res.ok:
            h.succeeded()
            values.update(state=SENT, sent_at=now_dt, message_id=res.message_id, last_error=None)
        elif res.outcome == Outcome.REAUTH:
            # Not the message's fault: it waits (pending, attempt not counted) until the channel works again.
            reason = res.describe()
            if row.channel == CHANNEL_OA:
                if not self.tokens.blocked:
                    await self.tokens.block(f"Zalo yêu cầu cấp quyền lại: {reason}")
                h.block(now, self.tokens.blocked or reason)
            else:
                h.block(now, f"Zalo Bot từ chối token: {reason}")
            values.update(
                state=PENDING, attempts=max(0, row.attempts - 1), next_try_at=now_dt, last_error=reason
            )
            log.error("notify: channel %s needs re-authorisation: %s", row.channel, reason)
        elif res.outcome == Outcome.PERMANENT:
            h.failed_for_good(now, res.describe())
            values.update(state=FAILED, last_error=res.describe())
            log.error(
                "notify: row %s to %s/%s failed for good: %s", row.id, row.channel, row.target, res.describe()
            )
        elif row.attempts >= self.cfg.retry.max_attempts:
            h.failed_for_good(now, res.describe())
            values.update(state=DEAD, last_error=f"hết {row.attempts} lần thử: {res.describe()}"[:500])
            log.error("notify: row %s dead after %d attempts: %s", row.id, row.attempts, res.describe())
        else:
            h.retried += 1
            delay = backoff_s(row.attempts, res.outcome, self.cfg.retry, self.rng)
            values.update(state=PENDING, next_try_at=to_db_time(now + delay), last_error=res.describe())
            log.warning("notify: row %s retry in %.1f s: %s", row.id, delay, res.describe())
        await self.db.run(lambda s: outbox.finish(s, row.id, **values))

    # channel health ---------------------------------------------------------------------------------------
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

    # digest -----------------------------------------------------------------------------------------------
    async def prune(self) -> int:
        """Deletes rows older than keep_days, except those still waiting to be sent."""
        cutoff = to_db_time(self.clock() - self.cfg.keep_days * 86400)
        n = await self.db.run(lambda s: outbox.prune(s, cutoff))
        if n:
            log.info("notify: %d outbox row(s) older than %g days deleted", n, self.cfg.keep_days)
        return n

    async def _digest_loop(self) -> None:
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
            self._wake.set()
        log.info("notify: daily digest for %s: %d message(s) stored", day.isoformat(), added)
        return added

    async def _digest_for(self, dt: DigestTarget, day: date, now_dt: datetime) -> int:
        await self._refresh_names(self.clock())
        data = await self.db.run(
            lambda s: load_digest(
                s, dt, day, now_dt, self.tz, self.cfg.digest.down_over_h, self.digest_sections
            )
        )
        text = render_digest(dt, data, self.names, self.tz, now_dt, self.public_url, self.cfg.max_chars)
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
            state=PENDING if self.live(t.channel) else DRY_RUN,
            next_try_at=held or now_dt,
            held_until=held,
        )
        return await self.db.run(lambda s: outbox.store(s, [row], now_dt))


NOTIFIER = ServiceKey("notifier", Notifier)
