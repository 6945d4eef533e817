"""The outbox sender: claims due rows, sends them over Zalo (receivers in parallel, each one's rows in order;
the OA token refreshed once when Zalo rejects it; the camera's snapshot attached) and records each outcome —
sent, retried with backoff, failed for good, or waiting for a re-authorisation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from hub.core.db import Database, to_db_time
from hub.core.leases import Lead, LeaseLost, SoleLeader
from hub.core.snapshots import SnapshotStore, read_latest
from hub.notify import outbox
from hub.notify.channels import Channels
from hub.notify.config import NotifyConfig, RetryConfig
from hub.notify.health import ChannelHealth
from hub.notify.images import shrink_jpeg
from hub.notify.models import CHANNEL_BOT, CHANNEL_OA, DEAD, FAILED, PENDING, SENT, OutboxRow
from hub.notify.tokens import TokenUnavailable
from hub.notify.zalo import Outcome, Result

log = logging.getLogger("hub.notify")
BATCH = 20
IDLE_S = 30.0  # the sender looks at the outbox at least this often (a row retried by another worker)
CLUSTER_IDLE_S = 1.0  # ... and this often when other hubs add rows (their alert engine, their web pages)
STOP_WAIT_S = 3.0


def backoff_s(attempt: int, outcome: Outcome, cfg: RetryConfig, rng: random.Random) -> float:
    """Exponential (base · 2^(attempt-1), capped) with jitter in [½, 1] of it, so retries of many rows spread."""
    delay: float = cfg.base_s * 2.0 ** max(0, attempt - 1)
    if outcome == Outcome.RATE_LIMIT:
        delay = max(delay, cfg.rate_limit_s)
    delay = min(cfg.max_s, delay)
    return delay * (0.5 + rng.random() * 0.5)


class OutboxSender:
    def __init__(
        self,
        cfg: NotifyConfig,
        db: Database,
        channels: Channels,
        clock: Callable[[], float],
        rng: random.Random,
        snapshots: SnapshotStore,
        lead: Lead | None = None,
        idle_s: float = IDLE_S,
    ):
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.idle_s = idle_s
        self.cfg = cfg
        self.db = db
        self.snapshots = snapshots
        self.channels = channels
        self.tokens = channels.tokens
        self.health = channels.health
        self.clock = clock
        self.rng = rng
        self.stopping = False
        self._wake = asyncio.Event()
        self._sending: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Ends the loop after the batch on the wire (waited for up to STOP_WAIT_S)."""
        self.stopping = True
        self._wake.set()
        if self._sending is not None and not self._sending.done():
            # Let messages already on the wire finish; a row cut off here is `unknown` at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._sending), STOP_WAIT_S)

    async def run(self) -> None:
        while not self.stopping:
            self._wake.clear()
            wait = await self._send_due()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def _send_due(self) -> float:
        """Sends one batch of due rows; returns how long to wait before looking again (0: at once)."""
        now_dt = to_db_time(self.clock())
        paused = self.channels.paused()

        def claim(s: Session) -> list[OutboxRow]:
            token = self.lead.fence(s)  # a hub that no longer leads claims nothing
            return outbox.claim_due(s, now_dt, BATCH, paused, token)

        try:
            rows = await self.db.run(claim)
        except LeaseLost:
            return self.idle_s
        if rows:
            self._sending = asyncio.create_task(self._send_batch(rows))
            await asyncio.shield(self._sending)
            return 0.0
        due = await self.db.run(lambda s: outbox.next_due(s, paused))
        return self.idle_s if due is None else min(self.idle_s, max(0.05, (due - now_dt).total_seconds()))

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
            elif row.channel == CHANNEL_BOT and self.channels.bot is not None:
                res = await self.channels.bot.send_message(row.target, row.text)
            else:
                res = Result(Outcome.PERMANENT, None, f"kênh {row.channel!r} chưa được cấu hình")
        except Exception as exc:  # a bug must cost one attempt, not the sender
            log.exception("notify: sending row %s failed unexpectedly", row.id)
            res = Result(Outcome.RETRY, None, f"lỗi nội bộ: {exc!r}"[:300])
        await self._record(row, res, note)

    async def _send_oa(self, row: OutboxRow) -> tuple[Result, str | None]:
        oa = self.channels.oa
        if oa is None:
            return Result(Outcome.PERMANENT, None, "Zalo OA chưa được cấu hình"), None
        try:
            token = await self.tokens.token()
        except TokenUnavailable as exc:
            return exc.result, None
        attachment, note = None, None
        if row.snapshot_camera and self.cfg.oa.attach_snapshot:
            attachment, note, token = await self._upload_snapshot(row.snapshot_camera, token)
        res = await oa.send_group(token, row.target, row.text, attachment)
        if res.outcome == Outcome.TOKEN:
            try:
                token = await self.tokens.after_rejected(token)
            except TokenUnavailable as exc:
                return exc.result, note
            res = await oa.send_group(token, row.target, row.text, attachment)
            if res.outcome == Outcome.TOKEN:
                res = Result(Outcome.RETRY, res.code, f"token mới vẫn bị từ chối: {res.message}")
        return res, note

    async def _upload_snapshot(self, camera: str, token: str) -> tuple[str | None, str, str]:
        """(attachment id or None, what happened to the picture, the token now in use)."""
        oa = self.channels.oa
        assert oa is not None

        latest = await read_latest(self.db, self.snapshots, camera)
        if latest is None:
            return None, "camera chưa có ảnh chụp", token
        jpeg = latest[1]
        try:
            jpeg = await asyncio.to_thread(shrink_jpeg, jpeg)
        except ValueError as exc:
            return None, f"không gửi ảnh: {exc}", token
        res = await oa.upload_image(token, jpeg)
        if res.outcome == Outcome.TOKEN:
            try:
                token = await self.tokens.after_rejected(token)
            except TokenUnavailable as exc:
                return None, f"không tải được ảnh lên: {exc.result.describe()}", token
            res = await oa.upload_image(token, jpeg)
        if res.ok and res.message_id:
            return res.message_id, f"kèm ảnh chụp ({max(1, len(jpeg) // 1024)} KB)", token
        return None, f"không tải được ảnh lên, chỉ gửi chữ: {res.describe()}"[:300], token

    async def _record(self, row: OutboxRow, res: Result, note: str | None) -> None:
        now = self.clock()
        now_dt = to_db_time(now)
        h = self.health.get(row.channel) or ChannelHealth(row.channel)
        values: dict[str, Any] = {"image": note, "last_code": res.code}
        if res.in_doubt and not res.ok:
            # Zalo may have delivered it: the retry below can only resend (its API takes no idempotency key).
            h.in_doubt += 1
            values["doubtful"] = row.doubtful + 1
        if res.ok:
            h.succeeded()
            values.update(state=SENT, sent_at=now_dt, message_id=res.message_id, last_error=None)
            if row.doubtful:
                h.possible_duplicates += 1
                log.warning(
                    "notify: row %s sent after %d attempt(s) that may have arrived: possibly twice in %s/%s",
                    row.id, row.doubtful, row.channel, row.target,
                )  # fmt: skip
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
            error = res.describe() + (
                " — có thể đã tới nhóm, lần gửi lại có thể trùng" if res.in_doubt else ""
            )
            values.update(state=PENDING, next_try_at=to_db_time(now + delay), last_error=error[:500])
            log.warning("notify: row %s retry in %.1f s: %s", row.id, delay, error)
        await self.db.run(lambda s: outbox.finish(s, row.id, **values))
