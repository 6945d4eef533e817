"""The OA's access/refresh tokens: persisted in SQL, refreshed by one task at a time.

The refresh token is single-use: two concurrent refreshes burn it, and a new token that is used before it is
stored is lost at the next crash. So every refresh runs under one asyncio lock, and the new pair is committed
(one transaction) before the new access token is handed to anyone. A configured refresh token seeds the store
once; the store then keeps the newest (the configured one is spent). A *different* configured value later means
a person authorised the app again: it replaces the stored one and lifts the block.

Several hubs: only the `notify` leader refreshes, and the refresh is claimed in SQL first (row lock, fencing
token checked in the same transaction): when the stored refresh token is no longer the one in hand, another hub
refreshed already and its pair is taken instead; when a refresh started less than REFRESH_GUARD_S ago (a leader
that may still be waiting for Zalo's answer), nobody starts another. A single-use token is never sent twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.db import Database, to_db_time, utc
from hub.core.leases import Lead, LeaseLost, SoleLeader
from hub.notify.config import OaConfig
from hub.notify.models import ChannelToken
from hub.notify.sealed import Sealer, SealError
from hub.notify.zalo import Outcome, Result, Tokens, ZaloOa

log = logging.getLogger("hub.notify")
CHANNEL = "oa"
REFRESH_MARGIN_S = 600.0  # refresh this long before expiry, so no message goes out on a dying token
UNKNOWN_EXPIRY_S = 3600.0  # a configured access token without known expiry is trusted this long
REFRESH_GUARD_S = 60.0  # a refresh started this recently may still be in flight on another hub


class TokenUnavailable(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.describe())
        self.result = result


def _hash(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()


class TokenStore:
    def __init__(
        self,
        db: Database,
        cfg: OaConfig,
        clock: Callable[[], float],
        sealer: Sealer | None = None,
        lead: Lead | None = None,
    ) -> None:
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.db = db
        self.cfg = cfg
        self.clock = clock
        self.sealer = sealer if sealer is not None else Sealer.from_env()  # tokens encrypted at rest
        self.api: ZaloOa | None = None  # set by the notifier once its HTTP session exists
        self.lock = asyncio.Lock()
        self.access: str | None = None
        self.expires_at: float | None = None
        self.refresh_token: str | None = None
        self.blocked: str | None = None
        self.refreshes = 0
        self.refresh_failures = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None  # first refresh failure of the current run of failures
        self.interrupted_refresh = False  # a refresh was in flight when the hub stopped

    async def load(self) -> None:
        cfg, now = self.cfg, self.clock()
        seal = self.sealer.seal

        def read(s: Session) -> ChannelToken:
            row = s.get(ChannelToken, CHANNEL)
            if row is None:
                row = ChannelToken(channel=CHANNEL, generation=0)
                s.add(row)
            if cfg.refresh_token and row.seed_hash != _hash(cfg.refresh_token):
                log.info("zalo oa: using the configured refresh token (new authorisation)")
                row.refresh_token = seal(cfg.refresh_token)
                row.seed_hash = _hash(cfg.refresh_token)
                row.access_token = seal(cfg.access_token)
                row.access_expires_at = to_db_time(now + UNKNOWN_EXPIRY_S) if cfg.access_token else None
                row.blocked_reason = None
                row.updated_at = to_db_time(now)
            elif not row.refresh_token and not row.access_token and cfg.access_token:
                row.access_token = seal(cfg.access_token)
                row.access_expires_at = to_db_time(now + UNKNOWN_EXPIRY_S)
            if self.sealer.armed:  # rows from before the key was set: encrypted now
                for name in ("access_token", "refresh_token"):
                    value = getattr(row, name)
                    if self.sealer.is_plain(value):
                        setattr(row, name, seal(value))
            s.flush()
            s.expunge(row)
            return row

        try:
            row = await self.db.run(read)
        except IntegrityError:  # another hub inserted the row at the same moment: read theirs
            row = await self.db.run(read)
        try:
            self.access, self.refresh_token = (
                self.sealer.open(row.access_token),
                self.sealer.open(row.refresh_token),
            )
        except SealError as exc:
            log.error("zalo oa: %s; sending waits for a new authorisation", exc)
            self.access, self.refresh_token = None, None
        self.blocked = row.blocked_reason
        exp = utc(row.access_expires_at)
        self.expires_at = exp.timestamp() if exp else None
        if row.refresh_started_at is not None:
            self.interrupted_refresh = True
            log.warning(
                "zalo oa: a token refresh was interrupted by a stop; the stored refresh token is tried once"
            )

    def valid(self, now: float) -> bool:
        return (
            self.access is not None
            and self.expires_at is not None
            and self.expires_at - REFRESH_MARGIN_S > now
        )

    async def token(self) -> str:
        """A usable access token; refreshes first when it is missing or about to expire."""
        if self.blocked:
            raise TokenUnavailable(Result(Outcome.REAUTH, None, self.blocked))
        if self.valid(self.clock()):
            assert self.access is not None
            return self.access
        async with self.lock:
            if self.valid(self.clock()):  # another task refreshed while this one waited
                assert self.access is not None
                return self.access
            return await self._refresh()

    async def after_rejected(self, used: str) -> str:
        """Zalo said `used` is invalid (-216/-220): refresh, unless another task already replaced it."""
        async with self.lock:
            if self.blocked:
                raise TokenUnavailable(Result(Outcome.REAUTH, None, self.blocked))
            if self.access is not None and self.access != used and self.valid(self.clock()):
                return self.access
            return await self._refresh()

    async def _refresh(self) -> str:
        assert self.lock.locked()
        rt = self.refresh_token
        if not rt or self.api is None or not (self.cfg.app_id and self.cfg.secret_key):
            await self._block("không có refresh token hoặc app_id/secret_key: cần cấp quyền lại cho ứng dụng")
            raise TokenUnavailable(Result(Outcome.REAUTH, None, self.blocked or ""))
        started = to_db_time(self.clock())

        def claim(s: Session) -> ChannelToken | str | None:
            """None: ours to refresh; a row: another hub refreshed already; a string: why not now."""
            self.lead.fence(s)
            row = s.get(ChannelToken, CHANNEL, with_for_update=True)
            if row is None:
                return None
            if row.refresh_token != rt:
                s.expunge(row)
                return row
            busy = row.refresh_started_at
            if busy is not None and busy > started - timedelta(seconds=REFRESH_GUARD_S):
                return "một lần làm mới token khác đang chạy; thử lại sau"
            row.refresh_started_at = started
            return None

        try:
            claimed = await self.db.run(claim)
        except LeaseLost:
            raise TokenUnavailable(
                Result(Outcome.RETRY, None, "hub này không còn gửi tin (hub khác đảm nhận)")
            ) from None
        if isinstance(claimed, str):
            raise TokenUnavailable(Result(Outcome.RETRY, None, claimed))
        if claimed is not None:  # refreshed by another hub, or a person authorised the app again
            self.access, self.refresh_token = claimed.access_token, claimed.refresh_token
            self.blocked = claimed.blocked_reason
            exp = utc(claimed.access_expires_at)
            self.expires_at = exp.timestamp() if exp else None
            if self.access is not None and self.valid(self.clock()):
                return self.access
            raise TokenUnavailable(Result(Outcome.RETRY, None, "token vừa được thay ở hub khác; thử lại"))
        got = await self.api.refresh(rt)
        now = self.clock()
        if isinstance(got, Tokens):
            await self.db.run(lambda s: self._store(s, got, now))  # committed before the token is used
            self.access, self.refresh_token = got.access_token, got.refresh_token
            self.expires_at = now + got.expires_in
            self.refreshes += 1
            self.refresh_failures = 0
            self.failing_since = None
            self.last_error = None
            self.interrupted_refresh = False
            log.info("zalo oa: access token refreshed (valid %.0f h)", got.expires_in / 3600)
            return got.access_token
        self.refresh_failures += 1
        self.failing_since = self.failing_since or now
        self.last_error = got.describe()
        if got.outcome == Outcome.REAUTH:
            await self._block(f"Zalo từ chối refresh token: {got.describe()}")
        else:
            await self.db.run(lambda s: self._clear_mark(s))
        log.error("zalo oa: token refresh failed: %s", got.describe())
        raise TokenUnavailable(
            got if got.outcome != Outcome.TOKEN else Result(Outcome.RETRY, got.code, got.message)
        )

    def _store(self, s: Session, t: Tokens, now: float) -> None:
        row = s.get(ChannelToken, CHANNEL)
        if row is None:
            row = ChannelToken(channel=CHANNEL, generation=0)
            s.add(row)
        row.access_token = self.sealer.seal(t.access_token)
        row.refresh_token = self.sealer.seal(t.refresh_token)
        row.access_expires_at = to_db_time(now) + timedelta(seconds=t.expires_in)
        row.generation = (row.generation or 0) + 1
        row.refresh_started_at = None
        row.refreshed_at = to_db_time(now)
        row.blocked_reason = None
        row.updated_at = to_db_time(now)

    @staticmethod
    def _clear_mark(s: Session) -> None:
        row = s.get(ChannelToken, CHANNEL)
        if row is not None:
            row.refresh_started_at = None

    async def _block(self, reason: str) -> None:
        self.blocked = reason[:300]
        now = to_db_time(self.clock())

        def save(s: Session) -> None:
            row = s.get(ChannelToken, CHANNEL)
            if row is not None:
                row.blocked_reason = reason[:300]
                row.refresh_started_at = None
                row.updated_at = now

        await self.db.run(save)

    async def replace(self, refresh_token: str, also: Callable[[Session], None] | None = None) -> None:
        """A person pasted the refresh token of a new authorisation: it replaces the stored one and lifts the
        block; the next send refreshes with it."""
        async with self.lock:
            now = self.clock()

            def save(s: Session) -> None:
                row = s.get(ChannelToken, CHANNEL)
                if row is None:
                    row = ChannelToken(channel=CHANNEL, generation=0)
                    s.add(row)
                row.refresh_token = self.sealer.seal(refresh_token)
                row.access_token = None
                row.access_expires_at = None
                row.blocked_reason = None
                row.refresh_started_at = None
                row.updated_at = to_db_time(now)
                if also is not None:
                    also(s)

            await self.db.run(save)
            self.refresh_token, self.access, self.expires_at, self.blocked = refresh_token, None, None, None
            self.refresh_failures, self.failing_since, self.last_error = 0, None, None

    async def block(self, reason: str) -> None:
        """A send answered -118/-14014: nothing goes out until a person authorises the app again."""
        async with self.lock:
            await self._block(reason)
